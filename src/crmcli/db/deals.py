"""Repository functions for deals, their stages and their history (deal_events).

Every change of a deal appends a deal_events row that snapshots the deal after it (stage,
amount, close date, probability), so that the deal as of any earlier time is its last event
up to then (`deal_states`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from crmcli.core.clock import now_iso
from crmcli.core.errors import Conflict, InvalidInput, NotFound
from crmcli.db import Database, audit, integrity_error_to_conflict

DEAL_FIELDS = (
    "external_id",
    "customer_id",
    "company_id",
    "title",
    "amount",
    "currency",
    "stage",
    "probability",
    "close_date",
    "owner",
    "source",
    "campaign_id",
)
UPDATABLE = ("external_id", "customer_id", "company_id", "title", "amount", "currency",
             "probability", "close_date", "owner", "source", "campaign_id")  # fmt: skip
COLUMNS = (
    "d.id, d.external_id, d.title, d.customer_id, d.company_id, d.amount, d.currency, d.stage,"
    " coalesce(d.probability, s.probability) AS probability, d.close_date, d.owner, d.source,"
    " d.campaign_id, d.created_at, d.updated_at, d.stage_changed_at, d.won_at, d.lost_at,"
    " d.lost_reason"
)
FROM = "deals d JOIN deal_stages s ON s.name = d.stage"


# ---------------------------------------------------------------- stages


def list_stages(db: Database) -> list[dict[str, Any]]:
    return db.query(
        "SELECT name, alias, position, probability, kind,"
        " (SELECT count(*) FROM deals d WHERE d.stage = deal_stages.name) AS deals"
        " FROM deal_stages ORDER BY position, name"
    )


def add_stage(
    db: Database, name: str, probability: int, alias: str | None, after: str | None
) -> None:
    with db.transaction():
        stages = [s for s in list_stages(db) if s["kind"] == "open"]
        if any(s["name"] == name for s in list_stages(db)):
            raise Conflict(f"a stage named {name!r} exists")
        names = [s["name"] for s in stages]
        index = names.index(after) + 1 if after else len(names)
        names.insert(index, name)
        try:
            db.execute(
                "INSERT INTO deal_stages(name, alias, position, probability, kind)"
                " VALUES (?, ?, 0, ?, 'open')",
                (name, alias, probability),
            )
        except sqlite3.IntegrityError as exc:
            raise integrity_error_to_conflict(exc, "cannot add stage") from None
        _renumber(db, names)
        audit.record(db, "create", "deal_stage", name, {"probability": probability, "alias": alias})


def _renumber(db: Database, names: list[str]) -> None:
    for position, stage in enumerate(names, start=1):
        db.execute("UPDATE deal_stages SET position = ? WHERE name = ?", (position, stage))


def update_stage(db: Database, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    with db.transaction():
        current = db.query_one("SELECT * FROM deal_stages WHERE name = ?", (name,))
        if current is None:
            raise NotFound(f"no deal stage {name!r}")
        if current["kind"] != "open" and "probability" in changes:
            raise Conflict(f"the probability of {name} is fixed")
        diff = {k: [current[k], v] for k, v in changes.items() if current[k] != v}
        if "name" in diff and db.scalar(
            "SELECT 1 FROM deal_stages WHERE name = ?", (diff["name"][1],)
        ):
            raise Conflict(f"a stage named {diff['name'][1]!r} exists")
        if diff:
            sets = ", ".join(f"{k} = :{k}" for k in diff)
            try:
                db.execute(
                    f"UPDATE deal_stages SET {sets} WHERE name = :old",
                    {**{k: v[1] for k, v in diff.items()}, "old": name},
                )
            except sqlite3.IntegrityError as exc:
                raise integrity_error_to_conflict(exc, f"cannot update stage {name}") from None
            if "name" in diff:  # the history keeps naming the stage the way it is called now
                new = diff["name"][1]
                db.execute(
                    "UPDATE deal_events SET from_stage = ? WHERE from_stage = ?", (new, name)
                )
                db.execute("UPDATE deal_events SET to_stage = ? WHERE to_stage = ?", (new, name))
            audit.record(db, "update", "deal_stage", name, {"changes": diff})
    return diff


def remove_stage(db: Database, name: str) -> None:
    with db.transaction():
        current = db.query_one("SELECT * FROM deal_stages WHERE name = ?", (name,))
        if current is None:
            raise NotFound(f"no deal stage {name!r}")
        if current["kind"] != "open":
            raise Conflict(f"{name} is a fixed stage (won and lost cannot be removed)")
        n = int(db.scalar("SELECT count(*) FROM deals WHERE stage = ?", (name,)))
        if n:
            raise Conflict(f"{n} deal(s) are in {name}; move them to another stage first")
        if int(db.scalar("SELECT count(*) FROM deal_stages WHERE kind = 'open'")) <= 1:
            raise Conflict("the last open stage cannot be removed")
        db.execute("DELETE FROM deal_stages WHERE name = ?", (name,))
        audit.record(db, "delete", "deal_stage", name, {})


def reorder_stages(db: Database, names: list[str]) -> None:
    with db.transaction():
        _renumber(db, names)
        audit.record(db, "reorder", "deal_stage", None, {"order": names})


# ---------------------------------------------------------------- deals


def _event(
    db: Database,
    deal_id: int,
    kind: str,
    from_stage: str | None,
    note: str | None,
    at: str | None = None,
) -> None:
    """Append the deal's snapshot after a change. Every caller also sets deals.updated_at to
    the same time: a deal not updated since T is, at T, exactly its row (deal_states)."""
    db.execute(
        "INSERT INTO deal_events(deal_id, at, actor, kind, from_stage, to_stage, amount,"
        " close_date, probability, note)"
        " SELECT id, ?, ?, ?, ?, stage, amount, close_date, probability, ? FROM deals WHERE id = ?",
        (at or now_iso(), db.actor, kind, from_stage, note, deal_id),
    )


def add_deal(db: Database, values: dict[str, Any]) -> int:
    """Insert one deal (values validated; stage a real open stage name) and its first event."""
    now = values.get("created_at") or now_iso()
    row = {k: values.get(k) for k in DEAL_FIELDS}
    with db.transaction():
        _check_links(db, row)
        try:
            cur = db.execute(
                f"INSERT INTO deals({', '.join(DEAL_FIELDS)}, created_at, updated_at,"
                f" stage_changed_at) VALUES ({', '.join(':' + k for k in DEAL_FIELDS)},"
                " :at, :at, :at)",
                {**row, "at": now},
            )
        except sqlite3.IntegrityError as exc:
            raise integrity_error_to_conflict(exc, "cannot add deal") from None
        deal_id = int(cur.lastrowid or 0)
        _event(db, deal_id, "create", None, None, at=now)
        audit.record(db, "create", "deal", deal_id, {k: v for k, v in row.items() if v is not None})
    return deal_id


def _check_links(db: Database, row: dict[str, Any]) -> None:
    for key, table, what in (
        ("customer_id", "customers", "customer"),
        ("company_id", "companies", "company"),
        ("campaign_id", "campaigns", "campaign"),
    ):
        value = row.get(key)
        if value is not None and not db.scalar(f"SELECT 1 FROM {table} WHERE id = ?", (value,)):
            raise NotFound(f"no {what} with id {value}")


def get_deal(db: Database, deal_id: int) -> dict[str, Any]:
    row = db.query_one(f"SELECT {COLUMNS}, s.kind FROM {FROM} WHERE d.id = ?", (deal_id,))
    if row is None:
        raise NotFound(f"no deal with id {deal_id}")
    return row


def deal_history(db: Database, deal_id: int) -> dict[str, Any]:
    """What `deal show` adds: events, linked communications and tickets."""
    return {
        "events": db.query(
            "SELECT at, actor, kind, from_stage, to_stage, amount, close_date, note"
            " FROM deal_events WHERE deal_id = ? ORDER BY at, id",
            (deal_id,),
        ),
        "communications": db.query(
            "SELECT id, occurred_at, channel, direction, subject, agent FROM communications"
            " WHERE deal_id = ? ORDER BY occurred_at, id",
            (deal_id,),
        ),
        "tickets": db.query(
            "SELECT id, subject, status, priority, created_at FROM tickets WHERE deal_id = ?"
            " ORDER BY id",
            (deal_id,),
        ),
    }


def update_deal(db: Database, deal_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change fields other than the stage; returns {field: [old, new]}."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidInput(f"unknown deal field(s): {', '.join(sorted(unknown))}")
    with db.transaction():
        current = db.query_one("SELECT * FROM deals WHERE id = ?", (deal_id,))
        if current is None:
            raise NotFound(f"no deal with id {deal_id}")
        diff = {k: [current[k], v] for k, v in changes.items() if current[k] != v}
        after = {**current, **{k: v[1] for k, v in diff.items()}}
        if after["customer_id"] is None and after["company_id"] is None:
            raise InvalidInput("a deal belongs to a customer or a company (or both)")
        _check_links(db, {k: v[1] for k, v in diff.items()})
        if diff:
            sets = ", ".join(f"{k} = :{k}" for k in diff)
            try:
                db.execute(
                    f"UPDATE deals SET {sets}, updated_at = :at WHERE id = :id",
                    {**{k: v[1] for k, v in diff.items()}, "at": now_iso(), "id": deal_id},
                )
            except sqlite3.IntegrityError as exc:
                raise integrity_error_to_conflict(exc, f"cannot update deal {deal_id}") from None
            if diff.keys() & {"amount", "close_date", "probability"}:
                _event(db, deal_id, "update", current["stage"], None)
            audit.record(db, "update", "deal", deal_id, {"changes": diff})
    return diff


def set_stage(
    db: Database,
    deal_id: int,
    stage: str,
    kind: str,
    *,
    note: str | None = None,
    amount: int | None = None,
    lost_reason: str | None = None,
) -> None:
    """Move a deal to `stage` (its kind given: open, won or lost) and record the event.
    The caller checked the move (sales.stages)."""
    now = now_iso()
    with db.transaction():
        current = db.query_one("SELECT stage FROM deals WHERE id = ?", (deal_id,))
        if current is None:
            raise NotFound(f"no deal with id {deal_id}")
        sets: dict[str, Any] = {
            "stage": stage,
            "probability": None,
            "stage_changed_at": now,
            "updated_at": now,
            "won_at": now if kind == "won" else None,
            "lost_at": now if kind == "lost" else None,
            "lost_reason": lost_reason if kind == "lost" else None,
        }
        if amount is not None:
            sets["amount"] = amount
        db.execute(
            f"UPDATE deals SET {', '.join(f'{k} = :{k}' for k in sets)} WHERE id = :id",
            {**sets, "id": deal_id},
        )
        event_kind = {"won": "won", "lost": "lost"}.get(kind, "move")
        _event(db, deal_id, event_kind, current["stage"], note or lost_reason)
        audit.record(
            db, event_kind, "deal", deal_id,
            {"from": current["stage"], "to": stage, "note": note, "reason": lost_reason},
        )  # fmt: skip


def reopen_deal(db: Database, deal_id: int, stage: str, note: str | None = None) -> None:
    now = now_iso()
    with db.transaction():
        current = db.query_one("SELECT stage FROM deals WHERE id = ?", (deal_id,))
        if current is None:
            raise NotFound(f"no deal with id {deal_id}")
        db.execute(
            "UPDATE deals SET stage = ?, probability = NULL, stage_changed_at = ?, updated_at = ?,"
            " won_at = NULL, lost_at = NULL, lost_reason = NULL WHERE id = ?",
            (stage, now, now, deal_id),
        )
        _event(db, deal_id, "reopen", current["stage"], note)
        audit.record(db, "reopen", "deal", deal_id, {"from": current["stage"], "to": stage})


def stage_before_close(db: Database, deal_id: int) -> str | None:
    """The open stage a won or lost deal closed from (its last event's from_stage)."""
    value = db.scalar(
        "SELECT e.from_stage FROM deal_events e JOIN deal_stages s ON s.name = e.from_stage"
        " WHERE e.deal_id = ? AND e.kind IN ('won', 'lost') AND s.kind = 'open'"
        " ORDER BY e.at DESC, e.id DESC LIMIT 1",
        (deal_id,),
    )
    return None if value is None else str(value)


def delete_deal(db: Database, deal_id: int) -> dict[str, Any]:
    with db.transaction():
        deal = get_deal(db, deal_id)
        db.execute("DELETE FROM deals WHERE id = ?", (deal_id,))
        audit.record(db, "delete", "deal", deal_id, {"title": deal["title"]})
    return deal


def list_deals(
    db: Database,
    *,
    stage: str | None = None,
    owner: str | None = None,
    kind: str | None = None,
    closing_before: str | None = None,
    stalled_before: str | None = None,
    customer_id: int | None = None,
    company_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Matching deals in id order (at most `limit`) and how many match in all."""
    clauses: list[str] = []
    params: list[Any] = []
    for sql, value in (
        ("d.stage = ?", stage),
        ("d.owner = ?", owner),
        ("s.kind = ?", kind),
        ("d.close_date < ?", closing_before),
        ("d.customer_id = ?", customer_id),
    ):
        if value is not None:
            clauses.append(sql)
            params.append(value)
    if company_id is not None:
        clauses.append(
            "(d.company_id = ? OR d.customer_id IN (SELECT id FROM customers WHERE company_id = ?))"
        )
        params += [company_id, company_id]
    if stalled_before is not None:
        clauses.append(
            "s.kind = 'open' AND d.stage_changed_at < ? AND NOT EXISTS (SELECT 1 FROM"
            " communications m WHERE m.deal_id = d.id AND m.occurred_at >= ?)"
        )
        params += [stalled_before, stalled_before]
    where = " AND ".join(clauses) or "1"
    sql = f"SELECT {COLUMNS} FROM {FROM} WHERE {where} ORDER BY d.id"
    if limit is None and not offset:
        rows = db.query(sql, params)  # every match: the count is the rows'
        return rows, len(rows)
    total = int(db.scalar(f"SELECT count(*) FROM {FROM} WHERE {where}", params))
    sql += " LIMIT ? OFFSET ?"
    return db.query(sql, [*params, -1 if limit is None else limit, offset]), total


def customer_deals(db: Database, customer_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """A customer's open deals and then its most recent closed ones (at most `limit` closed)."""
    rows = db.query(
        f"SELECT d.id, d.title, d.stage, d.amount, d.currency, d.close_date, d.owner, s.kind"
        f" FROM {FROM} WHERE d.customer_id = ? ORDER BY s.kind != 'open', d.updated_at DESC",
        (customer_id,),
    )
    open_rows = [r for r in rows if r["kind"] == "open"]
    closed = [r for r in rows if r["kind"] != "open"][:limit]
    return [
        {k: v for k, v in r.items() if k != "kind"} | {"amount": r["amount"] / 100}
        for r in open_rows + closed
    ]


def iter_deals(db: Database) -> list[dict[str, Any]]:
    """Every deal for `deal export`: its customer and company named by their own ids and
    by what names them in another database too (external id, email, company name), so the
    file can be read back anywhere with --customer-key external_id or email."""
    return db.query(
        f"SELECT {COLUMNS},"
        " (SELECT external_id FROM customers WHERE id = d.customer_id) AS customer_external_id,"
        " (SELECT email FROM customers WHERE id = d.customer_id) AS customer_email,"
        " (SELECT external_id FROM companies WHERE id = d.company_id) AS company_external_id,"
        " (SELECT name FROM companies WHERE id = d.company_id) AS company"
        f" FROM {FROM} ORDER BY d.id"
    )


def check_deal_link(db: Database, deal_id: int, customer_id: int) -> None:
    """A communication or ticket of `customer_id` may name deal `deal_id`: it exists and
    belongs to that customer or to the customer's company."""
    row = db.query_one(
        "SELECT d.customer_id, d.company_id, (SELECT company_id FROM customers WHERE id = ?)"
        " AS customer_company FROM deals d WHERE d.id = ?",
        (customer_id, deal_id),
    )
    if row is None:
        raise NotFound(f"no deal with id {deal_id}")
    if row["customer_id"] == customer_id:
        return
    if (
        row["customer_id"] is None
        and row["company_id"] is not None
        and (row["company_id"] == row["customer_company"])
    ):
        return
    raise InvalidInput(f"deal {deal_id} belongs to another customer")


def link_ticket(db: Database, ticket_id: int, deal_id: int) -> None:
    with db.transaction():
        db.execute("UPDATE tickets SET deal_id = ? WHERE id = ?", (deal_id, ticket_id))
        audit.record(db, "link_deal", "ticket", ticket_id, {"deal_id": deal_id})


def campaign_deals(db: Database, campaign_id: int) -> dict[str, Any]:
    """Won and open deals attributed to a campaign (amounts in minor units, per currency)."""
    return {
        "won": db.query(
            f"SELECT d.currency, count(*) AS deals, sum(d.amount) AS amount FROM {FROM}"
            " WHERE d.campaign_id = ? AND s.kind = 'won' GROUP BY d.currency ORDER BY d.currency",
            (campaign_id,),
        ),
        "open": int(
            db.scalar(
                f"SELECT count(*) FROM {FROM} WHERE d.campaign_id = ? AND s.kind = 'open'",
                (campaign_id,),
            )
        ),
    }


# ---------------------------------------------------------------- report data


def deal_states(
    db: Database, at: str, owner: str | None = None, brief: bool = False
) -> list[dict[str, Any]]:
    """Every deal created by `at` as it was then: stage, amount, close date, probability,
    when its stage last changed (`changed_at`), its last linked communication up to `at`,
    and those times as day numbers (`*_jd`, julian days) for arithmetic.

    A deal not updated since `at` is its row as it stands (every change bumps updated_at
    and writes its event at the same time); any other deal is its last event up to `at`
    (one window pass over those deals' events). The last communications come from one
    grouped pass over the linked ones. `+column` keeps SQLite from walking an index over
    what is, as of now, every row. `brief`: id, stage, amount, close_date and probability
    only (what a forecast made at `at` needs), without the contacts pass.
    """
    extra, params = (
        ("AND d.owner = :owner", {"t": at, "owner": owner}) if owner else ("", {"t": at})
    )
    return db.query(
        "WITH comm AS (SELECT deal_id, max(occurred_at) AS at FROM communications"
        "  WHERE deal_id IS NOT NULL AND occurred_at <= :t GROUP BY deal_id),"
        " ev AS (SELECT e.deal_id, e.to_stage, e.amount, e.close_date, e.probability,"
        "  row_number() OVER (PARTITION BY e.deal_id ORDER BY e.at DESC, e.id DESC) AS n,"
        "  max(CASE WHEN e.kind != 'update' THEN e.at END) OVER (PARTITION BY e.deal_id)"
        "   AS changed_at"
        "  FROM deals d JOIN deal_events e ON e.deal_id = d.id AND e.at <= :t"
        f"  WHERE +d.created_at <= :t AND d.updated_at > :t {extra}),"
        " s AS (SELECT d.id, d.title, d.owner, d.currency, d.created_at, d.stage, d.amount,"
        "  d.close_date, d.probability, d.stage_changed_at AS changed_at FROM deals d"
        f"  WHERE +d.created_at <= :t AND +d.updated_at <= :t {extra}"
        "  UNION ALL"
        "  SELECT d.id, d.title, d.owner, d.currency, d.created_at, ev.to_stage, ev.amount,"
        "  ev.close_date, ev.probability, ev.changed_at"
        "  FROM ev JOIN deals d ON d.id = ev.deal_id WHERE ev.n = 1)"
        + (
            " SELECT s.id, s.stage, s.amount, s.close_date, s.probability FROM s ORDER BY s.id"
            if brief
            else " SELECT s.*, comm.at AS last_comm_at, julianday(s.created_at) AS created_jd,"
            " julianday(s.changed_at) AS changed_jd, julianday(comm.at) AS last_comm_jd"
            " FROM s LEFT JOIN comm ON comm.deal_id = s.id ORDER BY s.id"
        ),
        params,
    )


def any_deal(db: Database, at: str) -> bool:
    return db.scalar("SELECT 1 FROM deals WHERE created_at <= ? LIMIT 1", (at,)) is not None


def reached_positions(db: Database, at: str) -> dict[int, int]:
    """{deal id: the highest position of an open stage it was moved into up to `at`}."""
    return dict(
        db.execute(
            "SELECT e.deal_id, max(s.position) FROM deal_events e"
            " JOIN deal_stages s ON s.name = e.to_stage AND s.kind = 'open' AND s.position > 0"
            " WHERE e.at <= ? AND e.kind IN ('create', 'move', 'reopen') GROUP BY e.deal_id",
            (at,),
        ).fetchall()
    )
