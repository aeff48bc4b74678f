"""A customer's recent tickets, orders and campaign memberships, for `crm customer show`."""

from __future__ import annotations

from typing import Any

from crmcli.core.validate import money
from crmcli.db.database import Database


def recent_tickets(db: Database, customer_id: int, limit: int = 5) -> list[dict[str, Any]]:
    return db.query(
        "SELECT id, subject, category, priority, status, assignee, created_at, resolved_at,"
        " satisfaction FROM tickets WHERE customer_id = ? ORDER BY created_at DESC, id DESC"
        " LIMIT ?",
        (customer_id, limit),
    )


def recent_orders(db: Database, customer_id: int, limit: int = 5) -> list[dict[str, Any]]:
    rows = db.query(
        "SELECT id, external_id, ordered_at, amount, currency FROM orders"
        " WHERE customer_id = ? ORDER BY ordered_at DESC, id DESC LIMIT ?",
        (customer_id, limit),
    )
    for row in rows:
        row["amount"] = money(row["amount"])
    return rows


def order_totals(db: Database, customer_id: int) -> list[dict[str, Any]]:
    """Lifetime order count and spend per currency."""
    rows = db.query(
        "SELECT currency, count(*) AS orders, sum(amount) AS spend, min(ordered_at) AS first_at,"
        " max(ordered_at) AS last_at FROM orders WHERE customer_id = ? GROUP BY currency"
        " ORDER BY currency",
        (customer_id,),
    )
    for row in rows:
        row["spend"] = money(row["spend"])
    return rows


def campaign_memberships(db: Database, customer_id: int, limit: int = 5) -> list[dict[str, Any]]:
    rows = db.query(
        "SELECT m.campaign_id, c.name AS campaign, m.variant, m.result, m.contacted_at,"
        " m.responded_at, m.revenue FROM campaign_members m JOIN campaigns c ON c.id = m.campaign_id"
        " WHERE m.customer_id = ? ORDER BY m.campaign_id DESC LIMIT ?",
        (customer_id, limit),
    )
    for row in rows:
        row["revenue"] = money(row["revenue"])
    return rows
