"""SQL for the data warehouse export: star-schema source queries, change tracking, watermarks.

The export reads inside one read transaction (a consistent WAL snapshot, no write lock), so
the watermark and the rows it covers agree. The watermark is the high-water `seq` of
`change_log` (migration m070): every insert, update and delete of a tracked table appends
(entity, key) there, so "changed since W" is exact, needs no clock and sees deletions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from crmcli.core.clock import now_iso
from crmcli.db import audit
from crmcli.db.database import Database

DELTA_TABLE = "temp.wh_delta"


@dataclass(frozen=True)
class Source:
    """Where one star-schema table comes from."""

    entity: str  # the change_log entity (= the source table)
    alias: str  # the source table's alias in `sql`
    keys: tuple[str, ...]  # source key columns (1 or 2), matched to change_log key1/key2
    sql: str  # SELECT ... FROM ... {where} ORDER BY ...; columns named as exported


_SECONDS_BETWEEN = "CAST(round((julianday({b}) - julianday({a})) * 86400) AS INTEGER)"

SOURCES: dict[str, Source] = {
    "dim_customer": Source(
        "customers",
        "c",
        ("id",),
        """SELECT c.id AS customer_id, c.external_id, c.name, c.phone, c.email,
                  CASE WHEN instr(c.email, '@') > 0
                       THEN substr(c.email, instr(c.email, '@') + 1) END AS email_domain,
                  c.address, c.company, c.company_id, c.lifecycle, c.owner,
                  (SELECT group_concat(tag, ';') FROM
                      (SELECT tag FROM customer_tags t WHERE t.customer_id = c.id ORDER BY tag)
                  ) AS tags,
                  c.notes, c.created_at, c.updated_at, c.erased_at
           FROM customers c {where} ORDER BY c.id""",
    ),
    "dim_agent": Source(
        "agents",
        "a",
        ("id",),
        """SELECT a.id AS agent_id, a.name, a.email, a.active, a.max_open,
                  (SELECT group_concat(category, ';') FROM
                      (SELECT category FROM agent_skills s WHERE s.agent_id = a.id
                       ORDER BY category)
                  ) AS skills,
                  a.created_at
           FROM agents a {where} ORDER BY a.id""",
    ),
    "dim_campaign": Source(
        "campaigns",
        "p",
        ("id",),
        """SELECT p.id AS campaign_id, p.name, p.channel, p.description, p.status, p.segment,
                  p.starts_at, p.ends_at, p.cost AS cost_cents, p.currency,
                  p.created_at, p.updated_at
           FROM campaigns p {where} ORDER BY p.id""",
    ),
    "fact_communication": Source(
        "communications",
        "m",
        ("id",),
        """SELECT m.id AS communication_id, m.customer_id,
                  (SELECT g.id FROM agents g WHERE g.name = m.agent) AS agent_id,
                  m.agent AS agent_name, m.channel, m.direction, m.occurred_at,
                  m.duration_s, m.follow_up_at, m.done_at, m.subject, m.content,
                  m.external_id, m.created_at, m.updated_at
           FROM communications m {where} ORDER BY m.id""",
    ),
    "fact_ticket": Source(
        "tickets",
        "t",
        ("id",),
        f"""SELECT t.id AS ticket_id, t.external_id, t.customer_id,
                  (SELECT g.id FROM agents g WHERE g.name = t.assignee) AS agent_id,
                  t.assignee AS agent_name, t.subject, t.description, t.category, t.priority,
                  t.status, t.channel, t.created_at, t.first_response_at, t.resolved_at,
                  t.closed_at, t.due_at,
                  {_SECONDS_BETWEEN.format(a="t.created_at", b="t.first_response_at")}
                      AS first_response_s,
                  {_SECONDS_BETWEEN.format(a="t.created_at", b="t.resolved_at")} AS resolution_s,
                  t.satisfaction, t.satisfaction_comment, t.updated_at
           FROM tickets t {{where}} ORDER BY t.id""",
    ),
    "fact_ticket_event": Source(
        "ticket_events",
        "e",
        ("id",),
        """SELECT e.id AS event_id, e.ticket_id, e.at AS occurred_at, e.actor, e.kind,
                  e.from_status, e.to_status, e.internal, e.body, e.details
           FROM ticket_events e {where} ORDER BY e.id""",
    ),
    "fact_campaign_member": Source(
        "campaign_members",
        "cm",
        ("campaign_id", "customer_id"),
        """SELECT cm.campaign_id, cm.customer_id, cm.variant, cm.contacted_at, cm.result,
                  cm.responded_at, cm.revenue AS revenue_cents
           FROM campaign_members cm {where} ORDER BY cm.campaign_id, cm.customer_id""",
    ),
    "fact_order": Source(
        "orders",
        "o",
        ("id",),
        """SELECT o.id AS order_id, o.external_id, o.customer_id, o.ordered_at,
                  o.amount AS amount_cents, o.currency, o.created_at, o.updated_at
           FROM orders o {where} ORDER BY o.id""",
    ),
    "dim_company": Source(
        "companies",
        "co",
        ("id",),
        """SELECT co.id AS company_id, co.external_id, co.name, co.domain, co.industry, co.size,
                  co.owner,
                  (SELECT group_concat(tag, ';') FROM
                      (SELECT tag FROM company_tags t WHERE t.company_id = co.id ORDER BY tag)
                  ) AS tags,
                  co.created_at, co.updated_at
           FROM companies co {where} ORDER BY co.id""",
    ),
    "fact_deal": Source(
        "deals",
        "d",
        ("id",),
        """SELECT d.id AS deal_id, d.external_id, d.customer_id, d.company_id, d.campaign_id,
                  d.title, d.amount AS amount_cents, d.currency, d.stage, s.kind AS stage_kind,
                  coalesce(d.probability, s.probability) AS probability, d.close_date,
                  d.owner, d.source, d.created_at, d.stage_changed_at, d.won_at, d.lost_at,
                  d.lost_reason, d.updated_at
           FROM deals d JOIN deal_stages s ON s.name = d.stage {where} ORDER BY d.id""",
    ),
    "fact_deal_event": Source(
        "deal_events",
        "de",
        ("id",),
        """SELECT de.id AS event_id, de.deal_id, de.at AS occurred_at, de.actor, de.kind,
                  de.from_stage, de.to_stage, de.amount AS amount_cents, de.close_date,
                  de.note
           FROM deal_events de {where} ORDER BY de.id""",
    ),
    "fact_custom_value": Source(
        "custom_values",
        "cv",
        ("field_id", "entity_id"),
        """SELECT cv.field_id, f.entity, cv.entity_id, f.name AS field_name,
                  f.type AS field_type, cv.value_text, cv.value_num
           FROM custom_values cv JOIN custom_fields f ON f.id = cv.field_id {where}
           ORDER BY cv.field_id, cv.entity_id""",
    ),
}


@contextmanager
def read_snapshot(db: Database) -> Iterator[None]:
    """A read transaction: every query inside sees the same committed state, writers go on."""
    db.execute("BEGIN DEFERRED")
    try:
        db.scalar("SELECT count(*) FROM sqlite_sequence")  # takes the snapshot now
        yield
    finally:
        if db.in_transaction:
            db.execute("COMMIT")


def current_watermark(db: Database) -> int:
    """The change log's high-water mark (AUTOINCREMENT: survives pruning, never reused)."""
    value = db.scalar("SELECT seq FROM sqlite_sequence WHERE name = 'change_log'")
    return int(value or 0)


def load_delta(db: Database, since: int, until: int) -> dict[str, int]:
    """Collect the keys changed in (since, until] into a temp table; counts per entity."""
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS wh_delta ("
        " entity TEXT NOT NULL, key1 INTEGER NOT NULL, key2 INTEGER NOT NULL,"
        " PRIMARY KEY (entity, key1, key2)) WITHOUT ROWID"
    )
    db.execute(f"DELETE FROM {DELTA_TABLE}")
    db.execute(
        f"INSERT OR IGNORE INTO {DELTA_TABLE}(entity, key1, key2)"
        " SELECT entity, key1, key2 FROM change_log WHERE seq > ? AND seq <= ?",
        (since, until),
    )
    return {
        str(entity): int(n)
        for entity, n in db.execute(
            f"SELECT entity, count(*) FROM {DELTA_TABLE} GROUP BY entity"
        ).fetchall()
    }


def _delta_clause(source: Source) -> str:
    """WHERE clause restricting a source query to the keys in the delta table."""
    a = source.alias
    if len(source.keys) == 1:
        return (
            f"WHERE {a}.{source.keys[0]} IN"
            f" (SELECT key1 FROM {DELTA_TABLE} WHERE entity = '{source.entity}')"
        )
    k1, k2 = source.keys
    return (
        f"WHERE EXISTS (SELECT 1 FROM {DELTA_TABLE} d WHERE d.entity = '{source.entity}'"
        f" AND d.key1 = {a}.{k1} AND d.key2 = {a}.{k2})"
    )


def iter_rows(
    db: Database, table: str, delta: bool, chunk: int = 50_000
) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
    """Stream one star table's source rows as (column names, row tuples) chunks."""
    source = SOURCES[table]
    cursor = db.execute(source.sql.format(where=_delta_clause(source) if delta else ""))
    names = [d[0] for d in cursor.description]
    while True:
        rows = cursor.fetchmany(chunk)
        if not rows:
            return
        yield names, rows


def deleted_keys(db: Database, table: str) -> list[tuple[int, int | None]]:
    """Keys in the delta whose rows no longer exist (deletions since the watermark)."""
    source = SOURCES[table]
    match = " AND ".join(f"x.{col} = d.key{i}" for i, col in enumerate(source.keys, start=1))
    rows = db.execute(
        f"SELECT d.key1, d.key2 FROM {DELTA_TABLE} d WHERE d.entity = ?"
        f" AND NOT EXISTS (SELECT 1 FROM {source.entity} x WHERE {match})"
        " ORDER BY d.key1, d.key2",
        (source.entity,),
    ).fetchall()
    composite = len(source.keys) == 2
    return [(int(k1), int(k2) if composite else None) for k1, k2 in rows]


def state_key(target: str) -> str:
    return f"export.warehouse:{target}"


def get_state(db: Database, target: str) -> dict[str, Any] | None:
    """The last export to `target` (a resolved directory path), or None."""
    value = db.scalar("SELECT value FROM settings WHERE key = ?", (state_key(target),))
    if value is None:
        return None
    try:
        state = json.loads(value)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


PRUNED_KEY = "export.warehouse.change_log_pruned_to"


def _put_setting(db: Database, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at",
        (key, value, now_iso()),
    )


def pruned_to(db: Database) -> int:
    """Change-log entries up to this watermark are gone: older watermarks cannot be served."""
    value = db.scalar("SELECT value FROM settings WHERE key = ?", (PRUNED_KEY,))
    try:
        return int(value or 0)
    except ValueError:
        return 0


def save_state(db: Database, target: str, state: dict[str, Any], counts: dict[str, int]) -> int:
    """Remember the export's watermark for `target`, audit the export, and prune the change
    log below the lowest watermark of all export targets (one transaction). Returns the
    number of change-log entries pruned."""
    with db.transaction():
        _put_setting(db, state_key(target), json.dumps(state, sort_keys=True))
        audit.record(db, "export", "warehouse", target, {**state, "rows": counts})
        marks = []
        for (value,) in db.execute(
            "SELECT value FROM settings WHERE key LIKE 'export.warehouse:%'"
        ).fetchall():
            try:
                marks.append(int(json.loads(value)["watermark"]))
            except (ValueError, KeyError, TypeError):
                continue
        floor = min(marks) if marks else 0
        if floor <= pruned_to(db):
            return 0
        pruned = db.execute("DELETE FROM change_log WHERE seq <= ?", (floor,)).rowcount
        _put_setting(db, PRUNED_KEY, str(floor))
    return int(pruned)
