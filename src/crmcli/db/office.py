"""SQL for office imports (mail, calendar): agent lookups by email, leads (customers are
matched through db.customers' lookup functions),
communications keyed by external_id (mail:<Message-ID>, ics:<UID>:<start>)."""

from __future__ import annotations

from typing import Any

from crmcli.core.clock import now_iso
from crmcli.db import audit
from crmcli.db.customers import insert_customer
from crmcli.db.database import Database


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
    return insert_customer(db, {"name": name, "email": email, "lifecycle": "lead"})


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


_STORED = "id, external_id, customer_id, occurred_at, subject, content, duration_s"


def communications_with_key(db: Database, key: str) -> list[dict[str, Any]]:
    """The communications stored for one item key: `key` itself and `key#<customer id>`."""
    return db.query(
        f"SELECT {_STORED} FROM communications WHERE external_id = ?"
        " OR (external_id >= ? AND external_id < ?) ORDER BY id",
        (key, key + "#", key + "$"),
    )


def communications_with_key_prefix(db: Database, prefix: str) -> list[dict[str, Any]]:
    """The communications whose external_id starts with `prefix` (an index range scan)."""
    last = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return db.query(
        f"SELECT {_STORED} FROM communications WHERE external_id >= ? AND external_id < ?"
        " ORDER BY id",
        (prefix, last),
    )


def update_communication_fields(db: Database, comm_id: int, values: dict[str, Any]) -> None:
    """Set a re-imported occurrence's time, duration, subject, text (and key when moved)."""
    allowed = ("occurred_at", "subject", "content", "duration_s", "external_id")
    sets = {k: v for k, v in values.items() if k in allowed}
    assignments = ", ".join(f"{k} = :{k}" for k in sets)
    db.execute(
        f"UPDATE communications SET {assignments}, updated_at = :updated_at WHERE id = :id",
        {**sets, "updated_at": now_iso(), "id": comm_id},
    )


def delete_communications(db: Database, ids: list[int]) -> None:
    """Delete re-imported occurrences that were cancelled or removed from their series."""
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        db.execute(
            f"DELETE FROM communications WHERE id IN ({', '.join('?' * len(chunk))})",
            tuple(chunk),
        )
