"""`crm db check`: SQLite's own checks plus the CRM's invariants.

Each check returns a list of problems ({"check", "detail"}); an empty list means the
database is sound. The checks tolerate older schemas (a backup being verified before
migration), skipping what the schema does not have yet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crmcli.db import search_index
from crmcli.db.database import columns, fts_tables, table_exists

if TYPE_CHECKING:
    from crmcli.db.database import Database

Problem = dict[str, Any]
MAX_EXAMPLES = 20
ISO_GLOB = "[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z"
# Core tables whose *_at columns must hold the stored time form (validate.to_iso).
TIME_TABLES = ("customers", "communications", "tickets", "ticket_events", "campaigns", "orders")


def _problem(check: str, detail: str) -> Problem:
    return {"check": check, "detail": detail}


def _rows_problems(
    db: Database, check: str, sql: str, describe: Callable[[Any], str]
) -> list[Problem]:
    rows = db.execute(sql + f" LIMIT {MAX_EXAMPLES + 1}").fetchall()
    out = [_problem(check, describe(r)) for r in rows[:MAX_EXAMPLES]]
    if len(rows) > MAX_EXAMPLES:
        total = int(db.scalar(f"SELECT count(*) FROM ({sql})"))
        out.append(_problem(check, f"... and {total - MAX_EXAMPLES} more like these"))
    return out


def check_integrity(db: Database) -> list[Problem]:
    rows = [r[0] for r in db.execute("PRAGMA integrity_check(100)")]
    if rows == ["ok"]:
        return []
    return [_problem("integrity_check", str(r)) for r in rows]


def check_foreign_keys(db: Database) -> list[Problem]:
    return [
        _problem("foreign_key_check", f"{table} rowid {rowid} points to a missing {parent} row")
        for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check").fetchall()[
            :MAX_EXAMPLES
        ]
    ]


def check_migrations(db: Database) -> list[Problem]:
    from crmcli.db.migrations import all_migrations

    if not table_exists(db, "_migrations"):
        return [_problem("migrations", "no _migrations table: not a crm database")]
    names = [r[0] for r in db.execute("SELECT name FROM _migrations")]
    out = []
    version = int(db.scalar("PRAGMA user_version"))
    if version != len(names):
        out.append(_problem("migrations", f"user_version {version} but {len(names)} applied"))
    known = {m.__name__ for m in all_migrations()}
    for name in sorted(set(names) - known):
        out.append(_problem("migrations", f"unknown migration {name} (written by a newer crm?)"))
    return out


def check_customers(db: Database) -> list[Problem]:
    if not table_exists(db, "customers"):
        return []
    out = _rows_problems(
        db,
        "customers.email",
        "SELECT id, email FROM customers WHERE email IS NOT NULL AND email != lower(email)",
        lambda r: f"customer {r[0]}: email {r[1]!r} is not lower-case",
    )
    out += _rows_problems(
        db,
        "customers.email",
        "SELECT lower(email), count(*) FROM customers WHERE email IS NOT NULL"
        " GROUP BY lower(email) HAVING count(*) > 1",
        lambda r: f"email {r[0]!r} is held by {r[1]} customers",
    )
    out += _rows_problems(
        db,
        "customers.phone",
        "SELECT id, phone FROM customers WHERE phone IS NOT NULL AND (phone NOT GLOB '+[1-9]*'"
        " OR substr(phone, 2) GLOB '*[^0-9]*' OR length(phone) NOT BETWEEN 8 AND 16)",
        lambda r: f"customer {r[0]}: phone {r[1]!r} is not E.164",
    )
    out += _rows_problems(
        db,
        "customers.name",
        "SELECT id FROM customers WHERE trim(name) = ''",
        lambda r: f"customer {r[0]}: empty name",
    )
    if "erased_at" in columns(db, "customers"):
        out += _rows_problems(
            db,
            "customers.erased",
            "SELECT id FROM customers WHERE erased_at IS NOT NULL AND (phone IS NOT NULL"
            " OR email IS NOT NULL OR address IS NOT NULL OR notes IS NOT NULL"
            " OR name != '[erased]' OR EXISTS (SELECT 1 FROM customer_tags t"
            " WHERE t.customer_id = customers.id))",
            lambda r: f"customer {r[0]}: erased but still holds personal data",
        )
    return out


def check_times(db: Database) -> list[Problem]:
    out: list[Problem] = []
    for table in TIME_TABLES:
        if not table_exists(db, table):
            continue
        for column in columns(db, table):
            if not column.endswith("_at"):
                continue
            out += _rows_problems(
                db,
                f"{table}.{column}",
                f"SELECT '{table} ' || rowid || ': {column} ' || quote(\"{column}\")"
                f' || \' is not a UTC ISO time\' FROM "{table}" WHERE "{column}" IS NOT NULL'
                f" AND \"{column}\" NOT GLOB '{ISO_GLOB}'",
                lambda r: str(r[0]),
            )
    return out


def check_tickets(db: Database) -> list[Problem]:
    if not table_exists(db, "tickets"):
        return []
    out: list[Problem] = []
    for later, earlier in (
        ("first_response_at", "created_at"),
        ("resolved_at", "created_at"),
        ("closed_at", "created_at"),
    ):
        out += _rows_problems(
            db,
            "tickets.order",
            f"SELECT 'ticket ' || id || ': {later} ' || {later} || ' is before {earlier} '"
            f" || {earlier} FROM tickets WHERE {later} < {earlier}",
            lambda r: str(r[0]),
        )
    out += _rows_problems(
        db,
        "tickets.resolved",
        "SELECT id FROM tickets WHERE status IN ('resolved', 'closed') AND resolved_at IS NULL"
        " AND closed_at IS NULL",
        lambda r: f"ticket {r[0]}: resolved/closed without resolved_at or closed_at",
    )
    out += _rows_problems(
        db,
        "tickets.resolved",
        "SELECT id FROM tickets WHERE status = 'resolved' AND resolved_at IS NULL",
        lambda r: f"ticket {r[0]}: status resolved but no resolved_at",
    )
    if table_exists(db, "ticket_events"):
        out += _rows_problems(
            db,
            "ticket_events.order",
            "SELECT e.id, e.ticket_id FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
            " WHERE e.at < t.created_at",
            lambda r: f"ticket event {r[0]} of ticket {r[1]} is before the ticket was created",
        )
    return out


def check_campaigns(db: Database) -> list[Problem]:
    if not table_exists(db, "campaign_members"):
        return []
    out = _rows_problems(
        db,
        "campaign_members.variant",
        "SELECT campaign_id, customer_id, variant FROM campaign_members"
        " WHERE NOT (variant = 'control' OR variant GLOB '[A-Z]' OR variant GLOB '[A-Z][0-9]')",
        lambda r: f"campaign {r[0]} member {r[1]}: variant {r[2]!r} is not A..Z or control",
    )
    out += _rows_problems(
        db,
        "campaign_members.revenue",
        "SELECT campaign_id, customer_id FROM campaign_members WHERE revenue < 0",
        lambda r: f"campaign {r[0]} member {r[1]}: negative revenue",
    )
    if table_exists(db, "campaigns"):
        out += _rows_problems(
            db,
            "campaigns.dates",
            "SELECT id FROM campaigns WHERE ends_at < starts_at",
            lambda r: f"campaign {r[0]}: ends before it starts",
        )
    return out


def check_orders(db: Database) -> list[Problem]:
    if not table_exists(db, "orders"):
        return []
    return _rows_problems(
        db,
        "orders.amount",
        "SELECT id, amount, currency FROM orders WHERE typeof(amount) != 'integer'"
        " OR currency NOT GLOB '[A-Z][A-Z][A-Z]'",
        lambda r: (
            f"order {r[0]}: amount {r[1]!r} {r[2]!r} is not integer minor units + ISO currency"
        ),
    )


def check_pending_purges(db: Database) -> list[Problem]:
    """An erasure whose files outside the database are not cleaned yet (a killed forget)."""
    if not table_exists(db, "pending_purges"):
        return []
    pending = db.query(
        "SELECT customer_id, created_at FROM pending_purges WHERE done_at IS NULL ORDER BY id"
    )
    return [
        _problem(
            "pending_purge",
            f"the erasure of customer {p['customer_id']} ({p['created_at']}) left files to"
            " clean: run `crm db check --repair` or `crm customer forget` again",
        )
        for p in pending
    ]


def check_audit(db: Database) -> list[Problem]:
    from crmcli.db.audit import verify

    result = verify(db)
    if result["ok"]:
        return []
    broken = result["broken"]
    where = f"row {broken['id']}: " if broken.get("id") is not None else ""
    return [_problem("audit_chain", where + broken["reason"])]


def check_fts(db: Database) -> list[Problem]:
    out: list[Problem] = []
    for name, sql in fts_tables(db):
        external = "content=" in sql.replace(" ", "") and "content=''" not in sql.replace(" ", "")
        if external and name == "customers_fts" and search_index.pending_count(db):
            external = False  # customers an import committed wait for their index entries
        try:
            if external:
                db.execute(f'INSERT INTO "{name}"("{name}", rank) VALUES (\'integrity-check\', 1)')
            else:
                db.execute(f'INSERT INTO "{name}"("{name}") VALUES (\'integrity-check\')')
        except sqlite3.DatabaseError as exc:
            if "readonly" in str(exc):
                # FTS5 runs its check as a write; a read-only file cannot, which says nothing
                # about the index (integrity_check above covered its pages).
                continue
            out.append(_problem("fts", f"{name}: index does not match its content ({exc})"))
    return out


CHECKS: list[Callable[[Database], list[Problem]]] = [
    check_integrity,
    check_foreign_keys,
    check_migrations,
    check_customers,
    check_times,
    check_tickets,
    check_campaigns,
    check_orders,
    check_audit,
    check_pending_purges,
    check_fts,
]


def run_checks(db: Database) -> list[Problem]:
    """Every check; stops after a failed integrity_check (the rest would be unreliable)."""
    problems = check_integrity(db)
    if problems:
        return problems
    for check in CHECKS[1:]:
        problems += check(db)
    return problems
