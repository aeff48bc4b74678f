"""`crm ticket import`: history imports that keep their original timestamps and statuses.

Same contract as the customer import: importing.open_csv (encoding, delimiter, aliases,
--map), a rejects CSV with line and reason, an ImportSummary, a progress bar on a terminal,
and ONE transaction (a failure, --dry-run or --strict with rejects leaves the database as it
was). Rows are resolved in batches (one customer lookup and one external-id lookup per
batch); every imported ticket gets a timeline rebuilt from its timestamps, so reports as of
an earlier time see the status it had then. Imports do not auto-assign or auto-reply.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from crmcli.core.clock import from_iso, to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import PRIORITIES, clean_text, normalize_enum, parse_datetime
from crmcli.db import Database, audit
from crmcli.db import tickets as repo
from crmcli.importing.source import (
    ImportSummary,
    Progress,
    RejectWriter,
    default_rejects_path,
    open_csv,
)
from crmcli.tickets.policy import TicketPolicy, load_policy
from crmcli.tickets.workflow import normalize_status

BATCH = 2000
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
COLUMN_OF = {
    "customer_id": "id",
    "customer_external_id": "external_id",
    "customer_email": "email",
    "customer_phone": "phone",
}


class _Reject(Exception):
    pass


class _Rollback(Exception):
    pass


_STORED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _time(record: dict[str, str], key: str, zone: tzinfo) -> str | None:
    """A cell as a stored UTC time. ISO forms take a fast path (history files are big)."""
    raw = (record.get(key) or "").strip()
    if not raw:
        return None
    if _STORED.match(raw):
        return raw
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        try:
            return to_iso(parse_datetime(raw, key))
        except InvalidInput as exc:
            raise _Reject(exc.message) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise_row(
    record: dict[str, str], policy: TicketPolicy, imported_at: str, zone: tzinfo
) -> dict[str, Any]:
    """Validate one CSV record into a ticket row (customer still unresolved)."""
    row: dict[str, Any] = {k: _time(record, k, zone) for k in TIME_FIELDS}
    row["subject"] = clean_text(record.get("subject"))
    if not row["subject"]:
        raise _Reject("no subject")
    row["description"] = (record.get("description") or "").strip() or None
    row["external_id"] = clean_text(record.get("external_id"))
    row["category"] = clean_text(record.get("category"))
    row["assignee"] = clean_text(record.get("assignee"))
    row["channel"] = (clean_text(record.get("channel")) or "").lower() or None
    row["satisfaction_comment"] = (record.get("satisfaction_comment") or "").strip() or None
    try:
        row["priority"] = normalize_enum(record.get("priority") or "normal", PRIORITIES, "priority")
        raw_status = (record.get("status") or "").strip()
        if raw_status:
            row["status"] = normalize_status(raw_status)
        else:
            row["status"] = (
                "closed" if row["closed_at"] else "resolved" if row["resolved_at"] else "open"
            )
    except InvalidInput as exc:
        raise _Reject(exc.message) from None
    created = row["created_at"] = row["created_at"] or imported_at
    status = row["status"]
    if status in ("resolved", "closed"):
        row["resolved_at"] = row["resolved_at"] or row["closed_at"] or row["first_response_at"]
        row["resolved_at"] = row["resolved_at"] or created
        if status == "closed":
            row["closed_at"] = row["closed_at"] or row["resolved_at"]
        else:
            row["closed_at"] = None
    elif row["resolved_at"] or row["closed_at"]:
        raise _Reject(f"status {status} but resolved_at/closed_at given")
    for key in ("first_response_at", "resolved_at", "closed_at"):
        if row[key] and row[key] < created:
            raise _Reject(f"{key} before created_at")
    if row["closed_at"] and row["resolved_at"] and row["closed_at"] < row["resolved_at"]:
        raise _Reject("closed_at before resolved_at")
    raw_score = (record.get("satisfaction") or "").strip()
    row["satisfaction"] = None
    row["rated_at"] = None
    if raw_score:
        try:
            score = int(float(raw_score))
        except ValueError:
            raise _Reject(f"satisfaction {raw_score!r} is not a number 1..5") from None
        if not 1 <= score <= 5 or float(raw_score) != score:
            raise _Reject(f"satisfaction {raw_score!r} is not a whole number 1..5")
        if status not in ("resolved", "closed"):
            raise _Reject(f"satisfaction given but status is {status}")
        row["satisfaction"] = score
        row["rated_at"] = row["closed_at"] or row["resolved_at"]
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
    row["updated_at"] = max(t for t in (row[k] for k in TIME_FIELDS[:4]) if t)
    return row


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


def import_tickets(
    db: Database,
    path: Path,
    *,
    encoding: str | None = None,
    mapping: list[str] | None = None,
    customer_key: str | None = None,
    rejects: Path | None = None,
    strict: bool = False,
    dry_run: bool = False,
) -> ImportSummary:
    """Import a ticket CSV in one transaction; returns what happened (or would have)."""
    if customer_key is not None and customer_key not in CUSTOMER_KEYS:
        raise InvalidInput(f"--customer-key must be one of: {', '.join(CUSTOMER_KEYS)}")
    from crmcli.core.clock import local_zone, now_iso

    policy = load_policy()
    source = open_csv(path, ALIASES, FIELDS, encoding=encoding, mapping=mapping)
    try:
        present = [k for k in CUSTOMER_KEYS if k in source.fields]
        keys = [customer_key] if customer_key else present
        if customer_key and customer_key not in present:
            raise InvalidInput(f"--customer-key {customer_key}: the file has no such column")
        if not keys:
            raise InvalidInput(
                f"{Path(path).name} names no customer; give one of the columns "
                + ", ".join(CUSTOMER_KEYS)
            )
        if "subject" not in source.fields:
            raise InvalidInput(f"{Path(path).name} has no subject column (use --map SRC=subject)")
        summary = ImportSummary(str(path), source.encoding, source.delimiter, dry_run=dry_run)
        summary.unknown_columns = source.unknown_columns
        writer = RejectWriter(rejects or default_rejects_path(Path(path)), source.header)
        imported_at = now_iso()
        zone = local_zone()
        try:
            with db.transaction(), Progress(f"Importing {source.path.name}") as progress:
                batch: list[tuple[int, list[str], dict[str, Any]]] = []
                seen: set[str] = set()
                for line, record, cells, problem in source.rows():
                    summary.rows += 1
                    if problem:
                        writer.add(line, problem, cells)
                        continue
                    try:
                        row = normalise_row(record, policy, imported_at, zone)
                        row["_ref"] = next(
                            ((k, record[k].strip()) for k in keys if (record.get(k) or "").strip()),
                            None,
                        )
                        if row["_ref"] is None:
                            raise _Reject("no customer reference")
                    except _Reject as exc:
                        writer.add(line, str(exc), cells)
                        continue
                    if row["external_id"]:
                        if row["external_id"] in seen:
                            summary.duplicates += 1
                            writer.add(line, "duplicate external_id in file", cells)
                            continue
                        seen.add(row["external_id"])
                    batch.append((line, cells, row))
                    if len(batch) >= BATCH:
                        _flush(db, batch, summary, writer, source.path.name)
                        batch = []
                        progress.update(source.progress_fraction())
                _flush(db, batch, summary, writer, source.path.name)
                summary.rejected = writer.count - summary.duplicates
                if dry_run or (strict and writer.count):
                    raise _Rollback
                audit.record(db, "import", "ticket", None, summary.as_dict())
        except _Rollback:
            pass
        except BaseException:
            writer.discard()
            raise
    finally:
        source.close()
    written = writer.finish()
    summary.rejects_file = str(written) if written else None
    if strict and writer.count:
        raise InvalidInput(
            f"{writer.count} row(s) rejected in {source.path.name}; nothing imported (--strict)"
        )
    return summary


def _flush(
    db: Database,
    batch: list[tuple[int, list[str], dict[str, Any]]],
    summary: ImportSummary,
    writer: RejectWriter,
    file: str,
) -> None:
    if not batch:
        return
    wanted: dict[str, set[str]] = {}
    for _, _, row in batch:
        key, value = row["_ref"]
        if key == "customer_email":
            value = value.lower()
            row["_ref"] = (key, value)
        wanted.setdefault(key, set()).add(value)
    found = {
        key: repo.customer_ids(db, COLUMN_OF[key], sorted(values)) for key, values in wanted.items()
    }
    existing = repo.ids_by_external_id(
        db, [r["external_id"] for _, _, r in batch if r["external_id"]]
    )
    events: list[tuple[Any, ...]] = []
    fresh: list[dict[str, Any]] = []
    for line, cells, row in batch:
        key, value = row.pop("_ref")
        customer_id = found[key].get(value)
        if customer_id is None:
            writer.add(line, f"no customer with {key.removeprefix('customer_')} {value}", cells)
            continue
        row["customer_id"] = customer_id
        ticket_id = existing.get(row["external_id"]) if row["external_id"] else None
        if ticket_id is not None:
            current = repo.get_ticket(db, ticket_id)
            changes = {
                k: v
                for k, v in row.items()
                if k in repo.WRITABLE and k != "sla_paused_seconds" and current.get(k) != v
            }
            if current["customer_id"] != customer_id:
                writer.add(
                    line, f"external_id {row['external_id']} belongs to another customer", cells
                )
                continue
            if changes:
                repo.update_fields(db, ticket_id, changes)
                repo.add_event(
                    db, ticket_id, "updated", details={"import": file, "fields": sorted(changes)}
                )
                summary.updated += 1
            else:
                summary.unchanged += 1
            continue
        fresh.append(row)
    for ticket_id, row in zip(repo.insert_tickets(db, fresh), fresh, strict=True):
        events.extend(timeline(ticket_id, row, db.actor, file))
    summary.inserted += len(fresh)
    repo.add_events(db, events)
