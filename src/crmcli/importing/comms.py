"""Communication field rules for the import pipeline (`crm comm import`).

Row semantics:
- the customer is named by customer_id / _external_id / _email / _phone (the pipeline's
  resolver; `--customer-key` picks one); an unknown customer rejects the row;
- channel and occurred_at are required; a bad duration, follow_up_at or done_at is a
  field-level warning (the row is stored without it); a direction that is neither inbound
  nor outbound (aliases: 呼入, missed, dialled, ...) rejects the row: a communication
  always has a direction, and storing the default would be a guess (an empty cell, like no
  direction column, is the documented default, outbound);
- a row with an `external_id` already stored updates that communication (or leaves it
  unchanged; one stored for another customer is rejected, never moved); a row identical to a stored one (same customer, time, channel, direction and
  subject) is unchanged, so importing a file twice adds nothing; a repeat of an earlier row
  of the same file (the same external_id, or without one the same customer, time,
  channel, direction and subject) is a duplicate.
"""

from __future__ import annotations

from typing import Any

from crmcli.core.errors import InvalidInput
from crmcli.core.validate import CHANNELS, DIRECTIONS, clean_text, normalize_enum, parse_duration
from crmcli.db import comm_import as repo
from crmcli.importing.pipeline import (
    Context,
    Entity,
    ImportOptions,
    Reject,
    Staged,
    run_import,
)

IMPORT_FIELDS = (
    "customer_id",
    "customer_external_id",
    "customer_email",
    "customer_phone",
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
ALIASES = {
    "channel": "channel",
    "type": "channel",
    "medium": "channel",
    "渠道": "channel",
    "方式": "channel",
    "联系方式": "channel",
    "direction": "direction",
    "方向": "direction",
    "occurredat": "occurred_at",
    "date": "occurred_at",
    "time": "occurred_at",
    "datetime": "occurred_at",
    "when": "occurred_at",
    "时间": "occurred_at",
    "日期": "occurred_at",
    "starttime": "occurred_at",
    "calltime": "occurred_at",
    "calldate": "occurred_at",
    "通话时间": "occurred_at",
    "呼叫时间": "occurred_at",
    "开始时间": "occurred_at",
    "联系时间": "occurred_at",
    "沟通时间": "occurred_at",
    "subject": "subject",
    "title": "subject",
    "主题": "subject",
    "标题": "subject",
    "content": "content",
    "body": "content",
    "text": "content",
    "notes": "content",
    "note": "content",
    "内容": "content",
    "沟通内容": "content",
    "备注": "content",
    "agent": "agent",
    "rep": "agent",
    "salesrep": "agent",
    "坐席": "agent",
    "销售": "agent",
    "负责人": "agent",
    "duration": "duration_s",
    "durations": "duration_s",
    "时长": "duration_s",
    "callduration": "duration_s",
    "通话时长": "duration_s",
    "followup": "follow_up_at",
    "followupat": "follow_up_at",
    "跟进时间": "follow_up_at",
    "下次跟进": "follow_up_at",
    "doneat": "done_at",
    "commid": "external_id",
    "communicationid": "external_id",
    "externalid": "external_id",
    # a customer named by its own columns in a contact log
    "customerno": "customer_external_id",
    "客户编号": "customer_external_id",
    "email": "customer_email",
    "邮箱": "customer_email",
    "phone": "customer_phone",
    "mobile": "customer_phone",
    "电话": "customer_phone",
    "手机": "customer_phone",
}


def _channel(raw: str) -> str:
    return normalize_enum(raw, CHANNELS, "channel")


def _direction(raw: str) -> str:
    try:
        return normalize_enum(raw, DIRECTIONS, "direction")
    except InvalidInput as exc:
        raise InvalidInput(f"{exc.message} (not stored with a guessed one)") from None


class CommImport(Entity):
    name = "comm"
    audit_entity = "communication"
    fields = IMPORT_FIELDS
    aliases = ALIASES
    date_fields = ("occurred_at", "follow_up_at", "done_at")

    def __init__(self, ctx: Context, channel: str | None = None) -> None:
        super().__init__(ctx)
        self.seen: dict[tuple[Any, ...], int] = {}
        self.count = 0
        # --channel: the channel of rows without one (a call log has no channel column)
        self.channel = _channel(channel) if channel is not None else None

    def check_columns(self, present: set[str]) -> None:
        needed = ("occurred_at",) if self.channel else ("channel", "occurred_at")
        missing = [f for f in needed if f not in present]
        if missing:
            raise InvalidInput(f"no {' or '.join(missing)} column (use --map SRC=FIELD)")

    def row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        """STAGING: the normalized values, the customer reference and the field warnings
        (kept for the merge: a row whose customer is unknown is rejected without them)."""
        ctx = self.ctx
        values: dict[str, Any] = {}
        cell = record.get("channel")
        if self.channel is not None and not (cell or "").strip():
            values["channel"] = self.channel
        else:
            values["channel"] = ctx.required("channel", cell, _channel)
        values["occurred_at"] = ctx.required(
            "occurred_at", record.get("occurred_at"), lambda t: ctx.time("occurred_at", t)
        )
        assert ctx.resolver is not None
        ref = ctx.resolver.reference(record)
        warnings: list[list[str]] = []
        raw = (record.get("direction") or "").strip()
        # (None: a new communication gets the default, an update keeps the stored one). A
        # direction that is neither rejects the row: a communication always has one, so it
        # cannot be stored without it, and either would be a guess.
        values["direction"] = ctx.required("direction", raw, _direction) if raw else None
        raw = (record.get("follow_up_at") or "").strip()
        values["follow_up_at"] = (
            ctx.optional(
                line,
                cells,
                "follow_up_at",
                raw,
                lambda t: ctx.time("follow_up_at", t, history=False),
                warnings,
            )
            if raw
            else None
        )
        raw = (record.get("done_at") or "").strip()
        values["done_at"] = (
            ctx.optional(line, cells, "done_at", raw, lambda t: ctx.time("done_at", t), warnings)
            if raw
            else None
        )
        raw = (record.get("duration_s") or "").strip()
        values["duration_s"] = (
            ctx.optional(line, cells, "duration_s", raw, parse_duration, warnings) if raw else None
        )
        for name in ("subject", "agent", "external_id"):
            values[name] = clean_text(record.get(name))
        values["content"] = (record.get("content") or "").strip() or None
        return [values, ref, warnings]

    def merge(self, rows: list[Staged]) -> None:
        ctx = self.ctx
        assert ctx.resolver is not None
        ctx.resolver.prefetch([r.data[1] for r in rows])
        summary = ctx.summary
        for staged in rows:
            line, cells = staged.line, staged.cells
            values, ref, warnings = staged.data
            try:
                values["customer_id"] = ctx.resolver.lookup(ref)
            except Reject as exc:
                ctx.reject(line, cells, exc)
                continue
            ctx.warn(line, cells, warnings)
            # a row with an id is that communication; one without, its customer, time,
            # channel, direction and subject
            ident: tuple[Any, ...] = (
                ("external_id", values["external_id"])
                if values["external_id"]
                else (
                    values["customer_id"],
                    values["occurred_at"],
                    values["channel"],
                    values["direction"] or repo.DEFAULT_DIRECTION,
                    values["subject"],
                )
            )
            if ident in self.seen:
                ctx.reject(
                    line, cells, Reject(f"duplicate of line {self.seen[ident]}"), duplicate=True
                )
                continue
            self.seen[ident] = line
            try:
                outcome = repo.apply_communication(ctx.db, values, ctx.now)
            except InvalidInput as exc:
                ctx.reject(line, cells, exc)
                continue
            if outcome == "inserted":
                summary.inserted += 1
            elif outcome == "updated":
                summary.updated += 1
            else:
                summary.unchanged += 1


def import_communications(
    db: Any, path: str, options: ImportOptions, channel: str | None = None
) -> Any:
    """Import a communications CSV in one transaction (the pipeline); returns the summary.
    `channel` (--channel) is the channel of rows whose file gives none."""
    return run_import(db, path, CommImport, options, channel=channel)
