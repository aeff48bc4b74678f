"""SQL of `crm comm import` (the field rules are in importing/comms.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

from crmcli.core.errors import InvalidInput
from crmcli.db.database import Database

STORED = (
    "customer_id",
    "external_id",
    "channel",
    "direction",
    "occurred_at",
    "subject",
    "content",
    "agent",
    "duration_s",
    "follow_up_at",
    "done_at",
)


DEFAULT_DIRECTION = "outbound"  # the column's default: a row without a direction


def apply_communication(db: Database, values: dict[str, Any], now: str) -> str:
    """Insert, update (same external_id) or leave alone (same customer, time, channel,
    direction and subject) one communication; returns "inserted", "updated" or "unchanged"."""
    if values["external_id"]:
        current = db.query_one(
            f"SELECT id, {', '.join(STORED)} FROM communications WHERE external_id = ?",
            (values["external_id"],),
        )
        if current is not None:
            if current["customer_id"] != values["customer_id"]:
                raise InvalidInput(
                    f"communication {values['external_id']} belongs to another customer"
                    f" (id {current['customer_id']}); it is not moved"
                )
            changes = {
                k: values[k] for k in STORED if values[k] is not None and current[k] != values[k]
            }
            if not changes:
                return "unchanged"
            sets = ", ".join(f"{k} = :{k}" for k in changes)
            db.execute(
                f"UPDATE communications SET {sets}, updated_at = :now WHERE id = :id",
                {**changes, "now": now, "id": current["id"]},
            )
            return "updated"
    elif db.execute(
        "SELECT 1 FROM communications WHERE customer_id = ? AND occurred_at = ?"
        " AND channel = ? AND direction = ? AND subject IS ?",
        (
            values["customer_id"],
            values["occurred_at"],
            values["channel"],
            values["direction"] or DEFAULT_DIRECTION,
            values["subject"],
        ),
    ).fetchone():
        return "unchanged"
    values = {**values, "direction": values["direction"] or DEFAULT_DIRECTION}
    try:
        db.execute(
            f"INSERT INTO communications({', '.join(STORED)}, created_at, updated_at)"
            f" VALUES ({', '.join(':' + k for k in STORED)}, :now, :now)",
            {**{k: values.get(k) for k in STORED}, "now": now},
        )
    except sqlite3.IntegrityError as exc:
        raise InvalidInput(f"cannot store: {exc}") from None
    return "inserted"
