"""Ticket field rules for the import pipeline (`crm ticket import`): history imports that
keep their original timestamps and statuses.

Rows are queued and written per batch (one external-id lookup per batch); every imported
ticket gets a timeline rebuilt from its timestamps, so reports as of an earlier time see the
status it had then. Imports do not auto-assign or auto-reply. Required: the customer and a
subject; a bad satisfaction score is a field-level warning.
"""

from __future__ import annotations

import json
from typing import Any

from crmcli.core.clock import from_iso, to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import PRIORITIES, clean_text, normalize_enum
from crmcli.db import tickets as repo
from crmcli.importing.pipeline import (
    Context,
    Entity,
    ImportOptions,
    Reject,
    Staged,
    run_import,
)
from crmcli.tickets.policy import TicketPolicy, load_policy
from crmcli.tickets.workflow import normalize_status

CUSTOMER_KEYS = ("customer_id", "customer_external_id", "customer_email", "customer_phone")
TIME_FIELDS = (
    "created_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "response_due_at",
    "due_at",
)
FIELDS = (
    "external_id",
    *CUSTOMER_KEYS,
    "subject",
    "description",
    "category",
    "priority",
    "status",
    "channel",
    "assignee",
    *TIME_FIELDS,
    "satisfaction",
    "satisfaction_comment",
    "id",
)
ALIASES = {
    "status": "status",
    "状态": "status",
    "subject": "subject",
    "title": "subject",
    "主题": "subject",
    "标题": "subject",
    "description": "description",
    "content": "description",
    "描述": "description",
    "内容": "description",
    "问题描述": "description",
    "category": "category",
    "类别": "category",
    "分类": "category",
    "priority": "priority",
    "优先级": "priority",
    "channel": "channel",
    "渠道": "channel",
    "来源": "channel",
    "assignee": "assignee",
    "agent": "assignee",
    "owner": "assignee",
    "处理人": "assignee",
    "负责人": "assignee",
    "客服": "assignee",
    "externalid": "external_id",
    "ticketno": "external_id",
    "工单号": "external_id",
    "工单编号": "external_id",
    "firstresponseat": "first_response_at",
    "首次响应时间": "first_response_at",
    "resolvedat": "resolved_at",
    "解决时间": "resolved_at",
    "处理时间": "resolved_at",
    "closedat": "closed_at",
    "关闭时间": "closed_at",
    "satisfaction": "satisfaction",
    "csat": "satisfaction",
    "rating": "satisfaction",
    "满意度": "satisfaction",
    "评价": "satisfaction_comment",
    "客户编号": "customer_external_id",
}


def normalize_row(
    ctx: Context, line: int, cells: list[str], record: dict[str, str], policy: TicketPolicy
) -> dict[str, Any]:
    """Validate one CSV record into a ticket row (customer still unresolved)."""
    row: dict[str, Any] = {}
    for key in TIME_FIELDS:
        raw = (record.get(key) or "").strip()
        history = key not in ("response_due_at", "due_at")
        try:
            row[key] = ctx.time(key, raw, history=history) if raw else None
        except InvalidInput as exc:
            raise Reject(exc.message, key, raw) from None
    row["subject"] = clean_text(record.get("subject"))
    if not row["subject"]:
        raise Reject("no subject", "subject", "")
    row["description"] = (record.get("description") or "").strip() or None
    row["external_id"] = clean_text(record.get("external_id"))
    row["category"] = clean_text(record.get("category"))
    row["assignee"] = clean_text(record.get("assignee"))
    row["channel"] = (clean_text(record.get("channel")) or "").lower() or None
    row["satisfaction_comment"] = (record.get("satisfaction_comment") or "").strip() or None
    raw_priority = (record.get("priority") or "").strip()
    row["priority"] = (
        ctx.optional(
            line,
            cells,
            "priority",
            raw_priority,
            lambda t: normalize_enum(t, PRIORITIES, "priority"),
        )
        if raw_priority
        else None
    ) or "normal"
    raw_status = (record.get("status") or "").strip()
    row["status"] = _status(row, raw_status)
    created = row["created_at"] = row["created_at"] or ctx.now
    status = row["status"]
    _fill_resolution(row, status, raw_status, created)
    _check_time_order(row, record, created)
    raw_score = (record.get("satisfaction") or "").strip()
    row["satisfaction"] = None
    row["rated_at"] = None
    if raw_score:
        score = ctx.optional(line, cells, "satisfaction", raw_score, lambda t: _score(t, status))
        if score is not None:
            row["satisfaction"] = score
            row["rated_at"] = row["closed_at"] or row["resolved_at"]
    _fill_sla(row, policy, status, created)
    row["updated_at"] = max(t for t in (row[k] for k in TIME_FIELDS[:4]) if t)
    return row


def _status(row: dict[str, Any], raw_status: str) -> str:
    """The row's status: the given one, or else what its resolved/closed times imply."""
    if raw_status:
        try:
            return normalize_status(raw_status)
        except InvalidInput as exc:
            raise Reject(exc.message, "status", raw_status) from None
    return "closed" if row["closed_at"] else "resolved" if row["resolved_at"] else "open"


def _fill_resolution(row: dict[str, Any], status: str, raw_status: str, created: str) -> None:
    """A resolved or closed ticket gets the resolved/closed times it lacks (from the
    nearest known time); any other status may not carry them."""
    if status in ("resolved", "closed"):
        row["resolved_at"] = row["resolved_at"] or row["closed_at"] or row["first_response_at"]
        row["resolved_at"] = row["resolved_at"] or created
        if status == "closed":
            row["closed_at"] = row["closed_at"] or row["resolved_at"]
        else:
            row["closed_at"] = None
    elif row["resolved_at"] or row["closed_at"]:
        raise Reject(f"status {status} but resolved_at/closed_at given", "status", raw_status)


def _check_time_order(row: dict[str, Any], record: dict[str, str], created: str) -> None:
    """Reject a row whose times run backwards (a reply or close before the ticket began)."""
    for key in ("first_response_at", "resolved_at", "closed_at"):
        if row[key] and row[key] < created:
            raise Reject(f"{key} before created_at", key, record.get(key) or "")
    if row["closed_at"] and row["resolved_at"] and row["closed_at"] < row["resolved_at"]:
        raise Reject("closed_at before resolved_at", "closed_at", record.get("closed_at") or "")


def _fill_sla(row: dict[str, Any], policy: TicketPolicy, status: str, created: str) -> None:
    """Due times the file leaves out come from the priority's SLA target; the SLA clock
    stands paused for a resolved, closed or waiting ticket."""
    target = policy.target(row["priority"])
    start = from_iso(created)
    if not row["response_due_at"]:
        row["response_due_at"] = to_iso(target.calendar.add(start, target.response_seconds))
    if not row["due_at"]:
        row["due_at"] = to_iso(target.calendar.add(start, target.resolution_seconds))
    row["sla_paused_seconds"] = 0
    row["sla_paused_at"] = None
    if status in ("resolved", "closed"):
        row["sla_paused_at"] = row["resolved_at"]
    elif status == "waiting":
        row["sla_paused_at"] = row["first_response_at"] or created


def _score(raw: str, status: str) -> int:
    try:
        score = int(float(raw))
    except ValueError:
        raise InvalidInput(f"satisfaction {raw!r} is not a number 1..5") from None
    if not 1 <= score <= 5 or float(raw) != score:
        raise InvalidInput(f"satisfaction {raw!r} is not a whole number 1..5")
    if status not in ("resolved", "closed"):
        raise InvalidInput(f"satisfaction given but status is {status}")
    return score


def timeline(ticket_id: int, row: dict[str, Any], actor: str, file: str) -> list[tuple[Any, ...]]:
    """Events rebuilt from an imported ticket's timestamps (status as it was at each time)."""

    def ev(at: str, kind: str, frm: str | None, to: str | None, details: Any = None) -> tuple:
        return (ticket_id, at, actor, kind, frm, to, None, 0, details)

    out = [ev(row["created_at"], "imported", None, "open", json.dumps({"file": file}))]
    status = row["status"]
    if status in ("in_progress", "waiting"):
        out.append(ev(row["first_response_at"] or row["created_at"], "status", "open", status))
    if row["resolved_at"]:
        out.append(ev(row["resolved_at"], "status", "open", "resolved"))
    if row["closed_at"]:
        out.append(ev(row["closed_at"], "status", "resolved", "closed"))
    if row["satisfaction"]:
        rating = json.dumps({"satisfaction": row["satisfaction"]})
        out.append(ev(row["rated_at"], "rated", None, None, rating))
    return out


class TicketImport(Entity):
    name = "ticket"
    audit_entity = "ticket"
    fields = FIELDS
    aliases = ALIASES
    date_fields = TIME_FIELDS

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.policy = load_policy()
        self.seen: set[str] = set()

    def check_columns(self, present: set[str]) -> None:
        if "subject" not in present:
            raise InvalidInput("the file has no subject column (use --map SRC=subject)")

    def row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        """STAGING: the normalized ticket row and its customer reference."""
        ctx = self.ctx
        row = normalize_row(ctx, line, cells, record, self.policy)
        assert ctx.resolver is not None
        return [row, ctx.resolver.reference(record)]

    def merge(self, rows: list[Staged]) -> None:
        ctx = self.ctx
        assert ctx.resolver is not None
        ctx.resolver.prefetch([r.data[1] for r in rows])
        batch: list[tuple[int, list[str], dict[str, Any]]] = []
        for staged in rows:
            line, cells = staged.line, staged.cells
            row, ref = staged.data
            try:
                row["customer_id"] = ctx.resolver.lookup(ref)
            except Reject as exc:
                ctx.reject(line, cells, exc)
                continue
            if row["external_id"]:
                if row["external_id"] in self.seen:
                    ctx.reject(
                        line,
                        cells,
                        Reject("duplicate external_id in file", "external_id", row["external_id"]),
                        duplicate=True,
                    )
                    continue
                self.seen.add(row["external_id"])
            batch.append((line, cells, row))
        self._write(batch)

    def _write(self, batch: list[tuple[int, list[str], dict[str, Any]]]) -> None:
        if not batch:
            return
        ctx = self.ctx
        db = ctx.db
        file = ctx.source.display_name
        existing = repo.ids_by_external_id(
            db, [r["external_id"] for _, _, r in batch if r["external_id"]]
        )
        events: list[tuple[Any, ...]] = []
        fresh: list[dict[str, Any]] = []
        for line, cells, row in batch:
            ticket_id = existing.get(row["external_id"]) if row["external_id"] else None
            if ticket_id is None:
                fresh.append(row)
                continue
            current = repo.get_ticket(db, ticket_id)
            if current["customer_id"] != row["customer_id"]:
                ctx.reject(
                    line,
                    cells,
                    Reject(
                        f"external_id {row['external_id']} belongs to another customer",
                        "external_id",
                        row["external_id"],
                    ),
                )
                continue
            changes = {
                k: v
                for k, v in row.items()
                if k in repo.WRITABLE and k != "sla_paused_seconds" and current.get(k) != v
            }
            if changes:
                repo.update_fields(db, ticket_id, changes)
                repo.add_event(
                    db, ticket_id, "updated", details={"import": file, "fields": sorted(changes)}
                )
                ctx.summary.updated += 1
            else:
                ctx.summary.unchanged += 1
        for ticket_id, row in zip(repo.insert_tickets(db, fresh), fresh, strict=True):
            events.extend(timeline(ticket_id, row, db.actor, file))
        ctx.summary.inserted += len(fresh)
        repo.add_events(db, events)


def import_tickets(db: Any, path: str, options: ImportOptions) -> Any:
    """Import a ticket CSV in one transaction (the pipeline); returns the summary."""
    return run_import(db, path, TicketImport, options)
