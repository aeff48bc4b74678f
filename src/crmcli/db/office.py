"""SQL for office imports (mail, calendar): customer and agent lookups by email, leads,
communications keyed by external_id (mail:<Message-ID>, ics:<UID>:<start>)."""

from __future__ import annotations

from typing import Any

from crmcli.core.clock import now_iso
from crmcli.db import audit
from crmcli.db.database import Database


def customer_id_by_email(db: Database, email: str) -> int | None:
    row = db.execute(
        "SELECT id FROM customers WHERE email = ? ORDER BY id LIMIT 1", (email,)
    ).fetchone()
    return None if row is None else int(row[0])


def agents_by_email(db: Database) -> dict[str, str]:
    """Agent name per (lower-case) email address."""
    return {
        str(email).lower(): str(name)
        for name, email in db.execute(
            "SELECT name, email FROM agents WHERE email IS NOT NULL AND email <> ''"
        )
    }


def external_id_exists(db: Database, external_id: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM communications WHERE external_id = ? LIMIT 1", (external_id,)
    ).fetchone()
    return row is not None


def insert_lead(db: Database, name: str, email: str) -> int:
    """A new customer in the `lead` stage (the import's audit row lists it)."""
    now = now_iso()
    cur = db.execute(
        "INSERT INTO customers(name, email, lifecycle, created_at, updated_at)"
        " VALUES (?, ?, 'lead', ?, ?)",
        (name, email, now, now),
    )
    return int(cur.lastrowid or 0)


def insert_communication(db: Database, values: dict[str, Any]) -> int:
    now = now_iso()
    cur = db.execute(
        "INSERT INTO communications(customer_id, channel, direction, occurred_at, subject,"
        " content, agent, duration_s, external_id, created_at, updated_at)"
        " VALUES (:customer_id, :channel, :direction, :occurred_at, :subject, :content, :agent,"
        " :duration_s, :external_id, :created_at, :updated_at)",
        {**values, "created_at": now, "updated_at": now},
    )
    return int(cur.lastrowid or 0)


def record_import(db: Database, action: str, source: str, details: dict[str, Any]) -> None:
    audit.record(db, action, "communication", source, details)
