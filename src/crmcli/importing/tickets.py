"""Ticket field rules for the import pipeline (`crm ticket import`): history imports that
keep their original timestamps and statuses.

Rows are queued and written per batch (one external-id lookup per batch). Required: the
customer and a subject (and a readable created_at when the cell is given). Every other bad
cell (a time, status, priority or satisfaction score) is a field-level warning: the row is
stored as if that cell were empty. Statuses and priorities accept the common help-desk
spellings (Zendesk, Freshdesk, Jira) where they mean one of ours without doubt.

A new ticket gets a timeline rebuilt from its timestamps, so reports as of an earlier time
see the status it had then. A row whose external_id is already stored updates that ticket
with the cells the file gives (an empty cell or a missing column never erases anything);
a status change is recorded as the status event `crm ticket` would write, and moves the
SLA clock the same way. No history time is ever invented: a resolved or closed row without
resolved_at/closed_at stores them empty (counted in the summary as resolved_without_time /
closed_without_time). Imports do not auto-assign or auto-reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
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
from crmcli.tickets import workflow
from crmcli.tickets.policy import TicketPolicy, load_policy
from crmcli.tickets.sla import DONE, STOPPED

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
    "solvedat": "resolved_at",  # Zendesk
    "解决时间": "resolved_at",
    "处理时间": "resolved_at",
    "closedat": "closed_at",
    "关闭时间": "closed_at",
    "satisfaction": "satisfaction",
    "satisfactionscore": "satisfaction",  # Zendesk
    "csat": "satisfaction",
    "rating": "satisfaction",
    "满意度": "satisfaction",
    "评价": "satisfaction_comment",
    "客户编号": "customer_external_id",
    # the customer as help desks export them: Zendesk's and Freshdesk's requester, Jira's
    # reporter
    "requesteremail": "customer_email",
    "requesterphone": "customer_phone",
    "requesterexternalid": "customer_external_id",
    "reporteremail": "customer_email",
    "contactemail": "customer_email",
}

# Help-desk status names (case, spaces, '-' and '_' ignored) that mean one of ours without
# doubt. Not mapped, so a warning and the default: Zendesk's On-hold and Freshdesk's
# Waiting on Third Party (ours is waiting on the customer, the SLA clock stopped; theirs
# keeps the customer waiting), Jira's Backlog, Cancelled and the like.
STATUS_ALIASES = {
    "new": "open",  # Zendesk
    "reopened": "open",  # Jira
    "to do": "open",  # Jira
    "todo": "open",
    "in progress": "in_progress",  # Jira
    "pending": "waiting",  # Zendesk, Freshdesk
    "waiting on customer": "waiting",  # Freshdesk
    "waiting for customer": "waiting",  # Jira Service Management
    "solved": "resolved",  # Zendesk
    "done": "resolved",  # Jira: finished; closing is a step of its own here
}
# P1..P4 and Jira's five levels onto our four (the ends fold into urgent / low).
PRIORITY_ALIASES = {
    "p1": "urgent",
    "p2": "high",
    "p3": "normal",
    "p4": "low",
    "highest": "urgent",
    "critical": "urgent",
    "medium": "normal",
    "lowest": "low",
}
# Columns an update copies from a non-empty cell as they are.
PLAIN = (
    "subject",
    "description",
    "category",
    "assignee",
    "channel",
    "satisfaction_comment",
    "priority",
    "first_response_at",
    "response_due_at",
    "due_at",
)


def _key(raw: str) -> str:
    return re.sub(r"[\s_\-]+", " ", raw.strip().lower()).strip()


def parse_status(raw: str) -> str:
    """A status, one of its seed aliases (未处理, 处理中, ...) or a help-desk spelling."""
    found = STATUS_ALIASES.get(_key(raw)) or STATUS_ALIASES.get(_key(raw).replace(" ", ""))
    if found:
        return found
    try:
        return workflow.normalize_status(raw)
    except InvalidInput as exc:
        raise InvalidInput(f"{exc.message}; the row is stored as if the cell were empty") from None


def parse_priority(raw: str) -> str:
    """A priority, one of its aliases (低, 紧急, ...), P1..P4 or Jira's Highest..Lowest."""
    found = PRIORITY_ALIASES.get(_key(raw).replace(" ", ""))
    if found:
        return found
    try:
        return normalize_enum(raw, PRIORITIES, "priority")
    except InvalidInput as exc:
        raise InvalidInput(f"{exc.message}; the row is stored as if the cell were empty") from None


# What a help desk writes where a survey was not answered: no score.
UNRATED = frozenset(["offered", "unoffered", "not offered", "未评价", "n/a", "-"])


def _score(raw: str) -> int:
    if raw.strip().lower() in ("good", "bad", "satisfied", "dissatisfied"):
        raise InvalidInput(
            f"satisfaction {raw!r} is a good/bad rating (Zendesk), not a score 1..5: not "
            "stored, since turning it into a score would be a guess"
        )
    try:
        score = int(float(raw))
    except ValueError:
        raise InvalidInput(f"satisfaction {raw!r} is not a number 1..5") from None
    if not 1 <= score <= 5 or float(raw) != score:
        raise InvalidInput(f"satisfaction {raw!r} is not a whole number 1..5")
    return score


def _timer(ctx: Context, key: str, history: bool) -> Callable[[str], str]:
    return lambda text: ctx.time(key, text, history=history)


def normalize_row(
    ctx: Context, line: int, cells: list[str], record: dict[str, str], warnings: list[list[str]]
) -> dict[str, Any]:
    """STAGING: one CSV record as ticket values, None where the cell is empty or bad (its
    warning kept in `warnings`); `_raw` keeps the cells later messages quote, `_unknown`
    the status/priority cells that were not understood."""
    row: dict[str, Any] = {"_raw": {}, "_unknown": []}
    for key in TIME_FIELDS:
        raw = (record.get(key) or "").strip()
        row["_raw"][key] = raw
        history = key not in ("response_due_at", "due_at")
        if not raw:
            row[key] = None
        elif key == "created_at":  # the ticket's anchor: unreadable, the row cannot stand
            try:
                row[key] = ctx.time(key, raw)
            except InvalidInput as exc:
                raise Reject(exc.message, key, raw) from None
        else:
            row[key] = ctx.optional(line, cells, key, raw, _timer(ctx, key, history), warnings)
    row["subject"] = clean_text(record.get("subject"))
    if not row["subject"]:
        raise Reject("no subject", "subject", "")
    row["description"] = (record.get("description") or "").strip() or None
    row["external_id"] = clean_text(record.get("external_id"))
    row["category"] = clean_text(record.get("category"))
    row["assignee"] = clean_text(record.get("assignee"))
    row["channel"] = (clean_text(record.get("channel")) or "").lower() or None
    row["satisfaction_comment"] = (record.get("satisfaction_comment") or "").strip() or None
    for key, parse in (
        ("priority", parse_priority),
        ("status", parse_status),
        ("satisfaction", _score),
    ):
        raw = (record.get(key) or "").strip()
        if key == "satisfaction" and raw.lower() in UNRATED:
            raw = ""  # a survey sent but not answered: no score, nothing wrong
        row["_raw"][key] = raw
        row[key] = ctx.optional(line, cells, key, raw, parse, warnings) if raw else None
        if raw and row[key] is None and key != "satisfaction":
            row["_unknown"].append(key)
    return row


def _implied_status(row: dict[str, Any]) -> str:
    return "closed" if row["closed_at"] else "resolved" if row["resolved_at"] else "open"


def _action(before: str, after: str) -> str | None:
    """The workflow action that makes this move (None: the file jumps past the workflow)."""
    for name, (sources, dest) in workflow.TRANSITIONS.items():
        if dest == after and before in sources:
            return name
    return None


def _check_time_order(row: dict[str, Any], created: str, merged: dict[str, Any]) -> None:
    """Reject a row whose given times run backwards (a reply or close before the ticket
    began, a close before the resolution)."""
    for key in ("first_response_at", "resolved_at", "closed_at"):
        if row[key] and row[key] < created:
            raise Reject(f"{key} before created_at", key, row["_raw"][key])
    closed, resolved = merged["closed_at"], merged["resolved_at"]
    if closed and resolved and closed < resolved and (row["closed_at"] or row["resolved_at"]):
        key = "closed_at" if row["closed_at"] else "resolved_at"
        raise Reject("closed_at before resolved_at", key, row["_raw"][key])


def timeline(
    ticket_id: int, row: dict[str, Any], actor: str, file: str, now: str
) -> list[tuple[Any, ...]]:
    """Events rebuilt from an imported ticket's timestamps (status as it was at each time).
    A resolution or close the file gives no time for is recorded when it became known (the
    close, else the import), marked `time_unknown`."""

    def ev(at: str, kind: str, frm: str | None, to: str | None, details: Any = None) -> tuple:
        return (ticket_id, at, actor, kind, frm, to, None, 0, details)

    unknown = json.dumps({"import": file, "time_unknown": True})
    out = [ev(row["created_at"], "imported", None, "open", json.dumps({"file": file}))]
    status = row["status"]
    if status in ("in_progress", "waiting"):
        out.append(ev(row["first_response_at"] or row["created_at"], "status", "open", status))
    if status in DONE:
        if row["resolved_at"]:
            out.append(ev(row["resolved_at"], "status", "open", "resolved"))
        else:
            out.append(ev(row["closed_at"] or now, "status", "open", "resolved", unknown))
    if status == "closed":
        out.append(
            ev(row["closed_at"], "status", "resolved", "closed")
            if row["closed_at"]
            else ev(now, "status", "resolved", "closed", unknown)
        )
    if row["satisfaction"]:
        rating = json.dumps({"satisfaction": row["satisfaction"]})
        out.append(ev(row["rated_at"] or now, "rated", None, None, rating))
    return out


class TicketImport(Entity):
    name = "ticket"
    audit_entity = "ticket"
    fields = FIELDS
    aliases = ALIASES
    date_fields = TIME_FIELDS

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.policy: TicketPolicy = load_policy()
        self.seen: set[str] = set()
        self.id_is_external = False

    def check_columns(self, present: set[str]) -> None:
        if "subject" not in present:
            raise InvalidInput("the file has no subject column (use --map SRC=subject)")
        if "id" in present and "external_id" in present:
            raise InvalidInput(
                "the file has an id and an external_id column: a ticket file's id is its "
                "help desk's; say which is the ticket's id (--map id=external_id and "
                "--map external_id=-, or --map id=-)"
            )
        # crmcli has no ticket export: an id column is the help desk's ticket number
        # (Zendesk's Id, Jira's Issue id), the ticket's external id, so a re-import updates
        self.id_is_external = "id" in present
        if self.id_is_external:
            self.ctx.summary.extra["external_id_from"] = "id"

    def row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        """STAGING: the normalized ticket row, its customer reference and its warnings
        (emitted in the merge, unless the row is rejected there)."""
        ctx = self.ctx
        warnings: list[list[str]] = []
        if self.id_is_external:
            record["external_id"] = record.get("id") or ""
        row = normalize_row(ctx, line, cells, record, warnings)
        assert ctx.resolver is not None
        return [row, ctx.resolver.reference(record), warnings]

    def start(self) -> None:
        self.seen = set()
        for key in ("resolved_without_time", "closed_without_time"):
            self.ctx.summary.extra[key] = 0
        for key in ("unknown_status", "unknown_priority"):
            self.ctx.summary.extra[key] = 0

    def merge(self, rows: list[Staged]) -> None:
        ctx = self.ctx
        assert ctx.resolver is not None
        ctx.resolver.prefetch([r.data[1] for r in rows])
        batch: list[tuple[int, list[str], dict[str, Any], list[list[str]]]] = []
        for staged in rows:
            line, cells = staged.line, staged.cells
            row, ref, warnings = staged.data
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
            batch.append((line, cells, row, warnings))
        self._write(batch)

    # -- outcomes ------------------------------------------------------------------------
    def _warn(self, warnings: list[list[str]], fld: str, raw: str, reason: str) -> None:
        """A field-level warning decided in the merge (a Reject with --strict-fields)."""
        if self.ctx.options.strict_fields:
            raise Reject(reason, fld, raw)
        warnings.append([fld, raw, reason])

    def _done(
        self, line: int, cells: list[str], row: dict[str, Any], warnings: list[list[str]],
        final: dict[str, Any],
    ) -> None:  # fmt: skip
        """A row went through: emit its warnings and count what the summary reports."""
        ctx = self.ctx
        ctx.warn(line, cells, warnings)
        extra = ctx.summary.extra
        for key in row["_unknown"]:
            extra[f"unknown_{key}"] += 1
        if final["status"] in DONE and not final["resolved_at"]:
            extra["resolved_without_time"] += 1
        if final["status"] == "closed" and not final["closed_at"]:
            extra["closed_without_time"] += 1

    # -- writing -------------------------------------------------------------------------
    def _write(self, batch: list[tuple[int, list[str], dict[str, Any], list[list[str]]]]) -> None:
        if not batch:
            return
        ctx = self.ctx
        db = ctx.db
        file = ctx.source.display_name
        existing = repo.ids_by_external_id(
            db, [r["external_id"] for _, _, r, _ in batch if r["external_id"]]
        )
        events: list[tuple[Any, ...]] = []
        fresh: list[dict[str, Any]] = []
        for line, cells, row, warnings in batch:
            ticket_id = existing.get(row["external_id"]) if row["external_id"] else None
            try:
                if ticket_id is None:
                    self._complete_new(row, warnings)
                    fresh.append(row)
                    self._done(line, cells, row, warnings, row)
                    continue
                current = repo.get_ticket(db, ticket_id)
                if current["customer_id"] != row["customer_id"]:
                    raise Reject(
                        f"external_id {row['external_id']} belongs to another customer",
                        "external_id",
                        row["external_id"],
                    )
                changed = self._update(ticket_id, current, row, warnings, file)
            except Reject as exc:
                ctx.reject(line, cells, exc)
                continue
            self._done(line, cells, row, warnings, repo.get_ticket(db, ticket_id))
            if changed:
                ctx.summary.updated += 1
            else:
                ctx.summary.unchanged += 1
        for ticket_id, row in zip(repo.insert_tickets(db, fresh), fresh, strict=True):
            events.extend(timeline(ticket_id, row, db.actor, file, ctx.now))
        ctx.summary.inserted += len(fresh)
        repo.add_events(db, events)

    def _complete_new(self, row: dict[str, Any], warnings: list[list[str]]) -> None:
        """A new ticket: the defaults (open, normal, created now), the SLA due times from the
        policy; nothing the file does not say about its history."""
        created = row["created_at"] = row["created_at"] or self.ctx.now
        row["priority"] = row["priority"] or "normal"
        status = row["status"] = row["status"] or _implied_status(row)
        if status not in DONE and (row["resolved_at"] or row["closed_at"]):
            raise Reject(
                f"status {status} but resolved_at/closed_at given", "status", row["_raw"]["status"]
            )
        if status == "resolved" and row["closed_at"]:
            self._warn(
                warnings,
                "closed_at",
                row["_raw"]["closed_at"],
                "closed_at given but status is resolved",
            )
            row["closed_at"] = None
        _check_time_order(row, created, row)
        row["rated_at"] = None
        if row["satisfaction"] is not None:
            if self._rated(row, status, warnings):
                row["rated_at"] = row["closed_at"] or row["resolved_at"]
            else:
                row["satisfaction"] = None
        target = self.policy.target(row["priority"])
        start = from_iso(created)
        if not row["response_due_at"]:
            row["response_due_at"] = to_iso(target.calendar.add(start, target.response_seconds))
        if not row["due_at"]:
            row["due_at"] = to_iso(target.calendar.add(start, target.resolution_seconds))
        row["sla_paused_seconds"] = 0
        row["sla_paused_at"] = None
        if status in DONE:
            row["sla_paused_at"] = row["resolved_at"]  # unknown stays unknown
        elif status == "waiting":
            row["sla_paused_at"] = row["first_response_at"] or created
        row["updated_at"] = max(t for t in (row[k] for k in TIME_FIELDS[:4]) if t)

    def _update(
        self,
        ticket_id: int,
        current: dict[str, Any],
        row: dict[str, Any],
        warnings: list[list[str]],
        file: str,
    ) -> bool:
        """An update by external_id: the non-empty cells of the row, and what a status
        change entails (as `crm ticket` does it, but with the file's times, never invented
        ones). Returns whether anything changed."""
        from crmcli.tickets.service import due_for_priority

        db, now = self.ctx.db, self.ctx.now
        changes: dict[str, Any] = {k: row[k] for k in PLAIN if row[k] is not None}
        before = current["status"]
        after = self._resolution(current, row, warnings, changes)
        _check_time_order(row, current["created_at"], changes)
        side: set[str] = {"resolved_at", "closed_at"}  # columns the status change sets
        steps: list[tuple[str, str, str, dict[str, Any]]] = []
        if after != before:
            steps = self._status_change(current, row, after, changes, side)
        if "priority" in changes and changes["priority"] != current["priority"]:
            dues = due_for_priority(current | changes, changes["priority"], self.policy)
            changes.update({k: v for k, v in dues.items() if not row[k]})
        rated = self._rating(current, row, after, warnings, changes)
        real = {k: v for k, v in changes.items() if current[k] != v}
        if not real:
            return False
        repo.update_fields(db, ticket_id, real)
        for at, frm, to, details in steps:
            repo.add_event(
                db, ticket_id, "status", from_status=frm, to_status=to,
                details=details | {"import": file}, at=at,
            )  # fmt: skip
        fields = sorted(k for k in real if k != "status" and k not in side)
        if fields:
            repo.add_event(
                db, ticket_id, "updated", details={"import": file, "fields": fields}, at=now
            )
        if rated and "satisfaction" in real:
            repo.add_event(
                db, ticket_id, "rated",
                details={"satisfaction": row["satisfaction"], "previous": current["satisfaction"],
                         "import": file},
                at=rated,
            )  # fmt: skip
        return True

    def _resolution(
        self,
        current: dict[str, Any],
        row: dict[str, Any],
        warnings: list[list[str]],
        changes: dict[str, Any],
    ) -> str:
        """The status after the update (the file's, else what its resolved/closed times
        imply, else the stored one) with its resolved_at/closed_at put in `changes`."""
        before = current["status"]
        if row["status"]:
            after = row["status"]
        elif row["closed_at"]:
            after = "closed"
        elif row["resolved_at"] and before not in DONE:
            after = "resolved"
        else:
            after = before
        resolved = row["resolved_at"] or current["resolved_at"]
        closed = row["closed_at"] or current["closed_at"]
        if after not in DONE:
            if row["resolved_at"] or row["closed_at"]:
                raise Reject(
                    f"status {after} but resolved_at/closed_at given",
                    "status",
                    row["_raw"]["status"],
                )
            resolved = closed = None  # a reopen clears them, as `crm ticket reopen` does
        elif after == "resolved" and closed:
            if row["closed_at"]:
                self._warn(
                    warnings,
                    "closed_at",
                    row["_raw"]["closed_at"],
                    "closed_at given but status is resolved",
                )
            closed = None
        changes["resolved_at"], changes["closed_at"] = resolved, closed
        return after

    def _status_change(
        self,
        current: dict[str, Any],
        row: dict[str, Any],
        after: str,
        changes: dict[str, Any],
        side: set[str],
    ) -> list[tuple[str, str, str, dict[str, Any]]]:
        """A move to `after`: the SLA clock as `crm ticket` moves it (leaving a stopped
        status adds the stopped time to the due times; entering one stops the clock at the
        resolution, unknown when the file does not give it), and the status events."""
        from crmcli.tickets.service import shift_dues

        now = self.ctx.now
        before = current["status"]
        changes["status"] = after
        merged = current | changes
        extra: dict[str, Any] = {}
        if before in STOPPED and after not in STOPPED:
            moved: dict[str, Any] = {}
            calendar = self.policy.target(merged["priority"]).calendar
            paused = shift_dues(merged, calendar, from_iso(now), moved)
            for key in ("response_due_at", "due_at"):
                if row[key]:  # the file's own due times win
                    moved.pop(key, None)
            changes.update(moved)
            side.update(moved)
            if paused:
                extra["clock_stopped_minutes"] = paused // 60
        elif after in STOPPED and before not in STOPPED:
            changes["sla_paused_at"] = merged["resolved_at"] if after in DONE else now
            side.add("sla_paused_at")
        return self._status_steps(before, after, merged["resolved_at"], merged["closed_at"], extra)

    def _rated(self, row: dict[str, Any], status: str, warnings: list[list[str]]) -> bool:
        """Whether the row's satisfaction score can stand: only a resolved or closed ticket
        is rated (otherwise a field warning)."""
        if status in DONE:
            return True
        self._warn(
            warnings,
            "satisfaction",
            row["_raw"]["satisfaction"],
            f"satisfaction given but status is {status}",
        )
        return False

    def _rating(
        self,
        current: dict[str, Any],
        row: dict[str, Any],
        after: str,
        warnings: list[list[str]],
        changes: dict[str, Any],
    ) -> str | None:
        """The file's satisfaction score (a resolved or closed ticket only) into `changes`;
        returns the time of its event (the rating's time, else the import)."""
        if row["satisfaction"] is None or not self._rated(row, after, warnings):
            return None
        if row["satisfaction"] == current["satisfaction"]:
            return None
        changes["satisfaction"] = row["satisfaction"]
        changes["rated_at"] = changes["closed_at"] or changes["resolved_at"]
        return str(changes["rated_at"] or self.ctx.now)

    def _status_steps(
        self, before: str, after: str, resolved: str | None, closed: str | None,
        extra: dict[str, Any],
    ) -> list[tuple[str, str, str, dict[str, Any]]]:  # fmt: skip
        """The status events of a move, each (at, from, to, details) with the workflow
        action; a close of an unresolved ticket passes through resolved, as the rebuilt
        timeline of a new one does. An event the file gives no time for is at the import,
        marked time_unknown."""
        now = self.ctx.now
        steps = [(before, "resolved"), ("resolved", "closed")] if (
            after == "closed" and before not in DONE
        ) else [(before, after)]  # fmt: skip
        out = []
        for frm, to in steps:
            known = resolved if to == "resolved" else closed if to == "closed" else None
            details: dict[str, Any] = {"action": _action(frm, to)} | extra
            extra = {}
            if to in DONE and not known:
                details["time_unknown"] = True
            at = known or (closed if to == "resolved" and closed else now)
            out.append((at, frm, to, details))
        return out


def import_tickets(db: Any, path: str, options: ImportOptions) -> Any:
    """Import a ticket CSV in one transaction (the pipeline); returns the summary."""
    return run_import(db, path, TicketImport, options)
