"""Repository functions for tickets and their events (the timeline).

Callers that change several things at once (open = insert + classify + assign + SLA +
auto-reply events) wrap these in one `db.transaction()`; see crmcli.tickets.service.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from crmcli.core.clock import now_iso
from crmcli.core.errors import InvalidInput, NotFound
from crmcli.db.database import Database, integrity_error_to_conflict

ACTIVE = ("open", "in_progress", "waiting")
COLUMNS = (
    "id, external_id, customer_id, subject, description, category, priority, status, channel,"
    " assignee, created_at, updated_at, first_response_at, resolved_at, closed_at,"
    " response_due_at, due_at, satisfaction, satisfaction_comment, rated_at,"
    " sla_paused_at, sla_paused_seconds"
)
# Columns a caller may set through update_fields (allow-list: never user text in SQL).
WRITABLE = {
    "external_id",
    "subject",
    "description",
    "category",
    "priority",
    "status",
    "channel",
    "assignee",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "response_due_at",
    "due_at",
    "satisfaction",
    "satisfaction_comment",
    "rated_at",
    "sla_paused_at",
    "sla_paused_seconds",
}
INSERT_FIELDS = (
    "external_id",
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
    "satisfaction_comment",
    "rated_at",
    "sla_paused_at",
    "sla_paused_seconds",
)
# SQL for "this ticket has missed an SLA target as at :now" (due times are points in time).
# A stopped ticket that does not say when it stopped (imported resolved without its
# resolved_at) has no verdict: its clock is measured to nothing, never to :now.
BREACHED_SQL = (
    "((t.response_due_at IS NOT NULL AND COALESCE(t.first_response_at, t.sla_paused_at,"
    " CASE WHEN t.status IN ('open', 'in_progress') THEN :now END) > t.response_due_at)"
    " OR (t.due_at IS NOT NULL AND COALESCE(t.resolved_at, CASE WHEN t.status NOT IN"
    " ('resolved', 'closed') THEN COALESCE(t.sla_paused_at, :now) END) > t.due_at))"
)


def insert_ticket(db: Database, values: dict[str, Any]) -> int:
    """Insert one ticket row (inside the caller's transaction); returns its id."""
    row = {k: values.get(k) for k in INSERT_FIELDS}
    row["sla_paused_seconds"] = row["sla_paused_seconds"] or 0
    row["updated_at"] = row["updated_at"] or row["created_at"]
    try:
        cur = db.execute(
            f"INSERT INTO tickets({', '.join(INSERT_FIELDS)})"
            f" VALUES ({', '.join(':' + k for k in INSERT_FIELDS)})",
            row,
        )
    except sqlite3.IntegrityError as exc:
        raise integrity_error_to_conflict(exc, "cannot add ticket") from None
    return int(cur.lastrowid or 0)


def insert_tickets(db: Database, rows: list[dict[str, Any]]) -> list[int]:
    """Bulk insert (imports) with one executemany; returns the new ids in order.

    The ids are allocated from max(id) here, which is safe because imports run inside
    a BEGIN IMMEDIATE transaction: no other writer can insert in between.
    """
    start = int(db.scalar("SELECT COALESCE(max(id), 0) FROM tickets")) + 1
    ids = list(range(start, start + len(rows)))
    fields = ("id", *INSERT_FIELDS)
    try:
        db.executemany(
            f"INSERT INTO tickets({', '.join(fields)})"
            f" VALUES ({', '.join(':' + k for k in fields)})",
            [
                {"id": i} | {k: r.get(k) for k in INSERT_FIELDS}
                for i, r in zip(ids, rows, strict=True)
            ],
        )
    except sqlite3.IntegrityError as exc:
        raise integrity_error_to_conflict(exc, "cannot import tickets") from None
    return ids


def add_event(
    db: Database,
    ticket_id: int,
    kind: str,
    body: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    internal: bool = False,
    details: dict[str, Any] | None = None,
    at: str | None = None,
    actor: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO ticket_events(ticket_id, at, actor, kind, from_status, to_status, body,"
        " internal, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ticket_id,
            at or now_iso(),
            actor or db.actor,
            kind,
            from_status,
            to_status,
            body,
            int(internal),
            json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)
            if details
            else None,
        ),
    )


def add_events(db: Database, rows: list[tuple[Any, ...]]) -> None:
    """Bulk events: (ticket_id, at, actor, kind, from_status, to_status, body, internal, details)."""
    db.executemany(
        "INSERT INTO ticket_events(ticket_id, at, actor, kind, from_status, to_status, body,"
        " internal, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def get_ticket(db: Database, ticket_id: int) -> dict[str, Any]:
    row = db.query_one(f"SELECT {COLUMNS} FROM tickets WHERE id = ?", (ticket_id,))
    if row is None:
        raise NotFound(f"no ticket with id {ticket_id}")
    return row


def customer_contact(db: Database, customer_id: int) -> dict[str, Any]:
    row = db.query_one("SELECT id, name, email FROM customers WHERE id = ?", (customer_id,))
    if row is None:
        raise NotFound(f"no customer with id {customer_id}")
    return row


def events(db: Database, ticket_id: int) -> list[dict[str, Any]]:
    rows = db.query(
        "SELECT id, at, actor, kind, from_status, to_status, body, internal, details"
        " FROM ticket_events WHERE ticket_id = ? ORDER BY at, id",
        (ticket_id,),
    )
    for r in rows:
        r["internal"] = bool(r["internal"])
        r["details"] = json.loads(r["details"]) if r["details"] else None
    return rows


def update_fields(db: Database, ticket_id: int, fields: dict[str, Any]) -> None:
    """Set columns of one ticket (inside the caller's transaction); bumps updated_at.

    With no fields it only bumps updated_at (a comment changes the ticket's activity).
    """
    unknown = set(fields) - WRITABLE
    if unknown:
        raise InvalidInput(f"unknown ticket field(s): {', '.join(sorted(unknown))}")
    sets = "".join(f"{k} = :{k}, " for k in fields)
    try:
        db.execute(
            f"UPDATE tickets SET {sets}updated_at = :updated_at WHERE id = :id",
            {**fields, "updated_at": now_iso(), "id": ticket_id},
        )
    except sqlite3.IntegrityError as exc:
        raise integrity_error_to_conflict(exc, f"cannot update ticket {ticket_id}") from None


@dataclass
class TicketFilter:
    statuses: list[str] | None = None
    assignee: str | None = None
    category: str | None = None
    priority: str | None = None
    customer_id: int | None = None
    breached: bool = False
    since: str | None = None  # created at or after (stored form)

    def where(self, now: str) -> tuple[str, dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {"now": now}
        if self.statuses:
            marks = ", ".join(f":st{i}" for i in range(len(self.statuses)))
            clauses.append(f"t.status IN ({marks})")
            params.update({f"st{i}": s for i, s in enumerate(self.statuses)})
        for key in ("assignee", "category", "priority", "customer_id"):
            value = getattr(self, key)
            if value is not None:
                clauses.append(f"t.{key} = :{key}")
                params[key] = value
        if self.breached:
            clauses.append(BREACHED_SQL)
        if self.since:
            clauses.append("t.created_at >= :since")
            params["since"] = self.since
        return " AND ".join(clauses) or "1", params


def list_tickets(
    db: Database, flt: TicketFilter, now: str, limit: int | None = 50
) -> list[dict[str, Any]]:
    where, params = flt.where(now)
    sql = (
        "SELECT t.id, t.customer_id, c.name AS customer, t.subject, t.category, t.priority,"
        " t.status, t.assignee, t.channel, t.created_at, t.first_response_at,"
        " t.response_due_at, t.due_at, t.resolved_at, t.closed_at, t.satisfaction,"
        f" t.sla_paused_at, t.sla_paused_seconds, {BREACHED_SQL} AS breached"
        f" FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE {where}"
        " ORDER BY t.id DESC"
    )
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    rows = db.query(sql, params)
    for r in rows:
        r["breached"] = bool(r["breached"])
    return rows


def count_tickets(db: Database, flt: TicketFilter, now: str) -> int:
    """How many tickets list_tickets() would list without a limit."""
    where, params = flt.where(now)
    return int(
        db.scalar(
            f"SELECT count(*) FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE {where}",
            params,
        )
    )


def training_texts(db: Database) -> list[tuple[str, str]]:
    """(subject + description, category) of resolved and closed categorised tickets."""
    return [
        (f"{subject} {description or ''}".strip(), category)
        for subject, description, category in db.execute(
            "SELECT subject, description, category FROM tickets"
            " WHERE status IN ('resolved', 'closed') AND category IS NOT NULL"
            " AND trim(category) != '' ORDER BY id"
        )
    ]


def ids_by_external_id(db: Database, external_ids: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(external_ids), 900):
        chunk = external_ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        for ext, tid in db.execute(
            f"SELECT external_id, id FROM tickets WHERE external_id IN ({marks})", chunk
        ):
            out[ext] = int(tid)
    return out


def customer_ids(db: Database, column: str, values: list[str]) -> dict[str, int]:
    """Map customer references (id / external_id / email / phone) to customer ids."""
    if column not in ("id", "external_id", "email", "phone"):
        raise InvalidInput(f"cannot look customers up by {column!r}")
    out: dict[str, int] = {}
    for start in range(0, len(values), 900):
        chunk = values[start : start + 900]
        marks = ",".join("?" * len(chunk))
        for key, cid in db.execute(
            f"SELECT {column}, id FROM customers WHERE {column} IN ({marks}) ORDER BY id DESC",
            chunk,
        ):
            out[str(key)] = int(cid)
    return out
