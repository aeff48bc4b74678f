"""Writing the demo data set (crmcli.demo.data) into an empty database, in one transaction.

Bulk `executemany` inserts with the ids already assigned: 3000 customers and their history
take a second or two. Columns added by later migrations (tickets.rated_at) are filled only
when they exist, so the demo works at every schema version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmcli.core.clock import now_iso
from crmcli.core.errors import Conflict
from crmcli.db import audit
from crmcli.db.communications import COMM_FIELDS
from crmcli.db.customers import insert_new_customers
from crmcli.db.database import Database

if TYPE_CHECKING:
    from crmcli.demo.data import DemoData

COMPANY_COLUMNS = ("id", "name", "name_key", "domain", "industry", "size", "owner", "created_at")
DEAL_COLUMNS = (
    "id", "external_id", "customer_id", "company_id", "title", "amount", "currency", "stage",
    "close_date", "owner", "source", "created_at", "updated_at", "stage_changed_at", "won_at",
    "lost_at", "lost_reason",
)  # fmt: skip
TICKET_COLUMNS = (
    "id",
    "customer_id",
    "subject",
    "description",
    "category",
    "priority",
    "status",
    "channel",
    "assignee",
    "created_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "response_due_at",
    "due_at",
    "satisfaction",
)
CAMPAIGN_COLUMNS = (
    "id",
    "name",
    "channel",
    "description",
    "starts_at",
    "ends_at",
    "cost",
    "status",
    "segment",
)
MEMBER_COLUMNS = (
    "campaign_id",
    "customer_id",
    "variant",
    "contacted_at",
    "result",
    "responded_at",
    "revenue",
)
ORDER_COLUMNS = ("external_id", "customer_id", "ordered_at", "amount", "currency")


def _insert(
    db: Database,
    table: str,
    columns: tuple[str, ...],
    rows: list[dict[str, Any]],
    stamps: tuple[str, ...] = (),
    stamp_from: str | None = None,
) -> None:
    """executemany INSERT; `stamps` columns (created_at / updated_at) copy `stamp_from`."""
    cols = list(columns) + list(stamps)
    sql = f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    db.executemany(
        sql,
        (
            [r.get(c) for c in columns] + [r[stamp_from] if stamp_from else None for _ in stamps]
            for r in rows
        ),
    )


def ensure_empty(db: Database) -> None:
    if db.scalar("SELECT count(*) FROM customers"):
        raise Conflict("the database already has customers; give --db with a new file for the demo")


def write(db: Database, data: DemoData) -> dict[str, int]:
    """Insert everything in one transaction; returns the row count per table."""
    from crmcli.db.reporting import column_exists

    ensure_empty(db)
    has_rated_at = column_exists(db, "tickets", "rated_at")
    with db.transaction():
        _insert(db, "companies", COMPANY_COLUMNS, data.companies, ("updated_at",), "created_at")
        insert_new_customers(
            db, [c | {"updated_at": c["created_at"]} for c in data.customers], now_iso()
        )
        db.executemany("INSERT OR IGNORE INTO customer_tags VALUES (?, ?)", data.tags)
        first = data.customers[0]["created_at"] if data.customers else None
        for name, skills in data.agents:
            cur = db.execute(
                "INSERT INTO agents(name, email, active, created_at) VALUES (?, ?, 1, ?)",
                (name, f"{name}@example.com", first),
            )
            db.executemany(
                "INSERT INTO agent_skills(agent_id, category) VALUES (?, ?)",
                [(cur.lastrowid, s) for s in skills],
            )
        _insert(
            db,
            "communications",
            COMM_FIELDS,
            data.communications,
            ("created_at", "updated_at"),
            "occurred_at",
        )
        _insert(db, "tickets", TICKET_COLUMNS, data.tickets)
        if has_rated_at:
            db.executemany(
                "UPDATE tickets SET rated_at = ? WHERE id = ?",
                [(t["rated_at"], t["id"]) for t in data.tickets if t["rated_at"]],
            )
        db.executemany(
            "INSERT INTO ticket_events(ticket_id, at, actor, kind, from_status, to_status,"
            " body, internal) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            data.ticket_events,
        )
        _insert(
            db,
            "campaigns",
            CAMPAIGN_COLUMNS,
            data.campaigns,
            ("created_at", "updated_at"),
            "starts_at",
        )
        _insert(db, "campaign_members", MEMBER_COLUMNS, data.members)
        _insert(
            db, "orders", ORDER_COLUMNS, data.orders, ("created_at", "updated_at"), "ordered_at"
        )
        _insert(db, "deals", DEAL_COLUMNS, data.deals)
        db.executemany(
            "INSERT INTO deal_events(deal_id, at, actor, kind, from_stage, to_stage, amount,"
            " close_date, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            data.deal_events,
        )
        counts = {
            "companies": len(data.companies),
            "customers": len(data.customers),
            "communications": len(data.communications),
            "tickets": len(data.tickets),
            "ticket_events": len(data.ticket_events),
            "campaigns": len(data.campaigns),
            "campaign_members": len(data.members),
            "orders": len(data.orders),
            "deals": len(data.deals),
            "deal_events": len(data.deal_events),
        }
        audit.record(db, "demo", "database", None, counts)
    return counts
