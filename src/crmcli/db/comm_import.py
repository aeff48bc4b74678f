"""`crm comm import`: communications from CSV, with the same contract as customer import.

One transaction per file (a crash or Ctrl-C leaves the database as it was; --dry-run and
--strict with rejects roll it back), encodings / delimiters / header aliases from
`importing.open_csv`, invalid rows to a rejects CSV with line and reason, one audit row.

Row semantics:
- the customer is named by `customer_id`, `customer_external_id`, `customer_email` or
  `customer_phone`; `--customer-key` picks one column, otherwise the first non-empty of them
  (in that order) is used; an unknown customer rejects the row;
- a row with an `external_id` that is already stored updates that communication (or leaves
  it unchanged); a row identical to a stored one (same customer, time, channel, direction
  and subject) is unchanged, so importing a file twice adds nothing; a repeat of an earlier
  row of the same file is a duplicate (to the rejects file).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from crmcli.core.clock import now_iso, to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import (
    CHANNELS,
    DIRECTIONS,
    clean_text,
    normalize_email,
    normalize_enum,
    normalize_phone,
    parse_datetime,
    parse_duration,
)
from crmcli.db import audit
from crmcli.db.database import Database
from crmcli.importing.source import (
    CountingRejects,
    ImportSummary,
    Progress,
    RejectWriter,
    default_rejects_path,
    open_csv,
)

CUSTOMER_KEYS = ("id", "external_id", "email", "phone")
KEY_FIELDS = {k: f"customer_{k}" for k in CUSTOMER_KEYS}
IMPORT_FIELDS = (
    *KEY_FIELDS.values(),
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
COMPARED = ("channel", "direction", "occurred_at", "subject", "content", "agent", "duration_s")
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


_ISO_LIKE = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


class TimeParser:
    """Stored form of a time cell: a regex fast path for ISO-like cells (the zone's offset
    cached per local hour), validate.parse_datetime for every other form."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self.offsets: dict[tuple[int, int, int, int], timedelta] = {}

    def __call__(self, text: str, field: str) -> str:
        m = _ISO_LIKE.match(text)
        if m is None:
            return to_iso(parse_datetime(text, field))
        y, mo, d, h, mi, sec, tz = m.groups()
        try:
            naive = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0))
        except ValueError:
            raise InvalidInput(f"invalid {field} {text!r}") from None
        if tz is None:
            key = (naive.year, naive.month, naive.day, naive.hour)
            offset = self.offsets.get(key)
            if offset is None:
                # The same instant as parse_datetime gives (aware local time -> UTC).
                local = naive.replace(minute=0, second=0, tzinfo=self.zone)
                offset = local.utcoffset() or timedelta(0)
                self.offsets[key] = offset
        elif tz == "Z":
            offset = timedelta(0)
        else:
            sign = -1 if tz[0] == "-" else 1
            digits = tz[1:].replace(":", "")
            offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return (naive - offset).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Rollback(Exception):
    """Raised inside the transaction to undo it (dry run, strict mode with rejects)."""


class CommImporter:
    """Normalise rows, resolve customers (memoised), insert / update / skip."""

    def __init__(self, db: Database, key: str | None, region: str) -> None:
        self.db = db
        self.key = key
        self.region = region
        self.cache: dict[tuple[str, str], int | None] = {}
        self.seen: dict[tuple[Any, ...], int] = {}
        self.now = now_iso()
        from crmcli.core.clock import local_zone

        self.parse_time = TimeParser(local_zone())

    def customer(self, record: dict[str, str]) -> int:
        keys = [self.key] if self.key else list(CUSTOMER_KEYS)
        for key in keys:
            raw = (record.get(KEY_FIELDS[key]) or "").strip()
            if not raw:
                continue
            value: Any = raw
            if key == "id":
                if not raw.isdigit():
                    raise InvalidInput(f"invalid customer_id {raw!r}")
                value = int(raw)
            elif key == "email":
                value = normalize_email(raw)
            elif key == "phone":
                value = normalize_phone(raw, self.region)
            hit = self.cache.get((key, str(value)), -1)
            if hit == -1:
                row = self.db.execute(
                    f"SELECT id FROM customers WHERE {key} = ? ORDER BY id LIMIT 1", (value,)
                ).fetchone()
                hit = None if row is None else int(row[0])
                if len(self.cache) > 200_000:
                    self.cache.clear()
                self.cache[(key, str(value))] = hit
            if hit is None:
                raise InvalidInput(f"no customer with {key} {value}")
            return hit
        wanted = KEY_FIELDS[self.key] if self.key else "customer_id/_external_id/_email/_phone"
        raise InvalidInput(f"no customer named (empty {wanted})")

    def normalise(self, record: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {"customer_id": self.customer(record)}
        channel = (record.get("channel") or "").strip()
        if not channel:
            raise InvalidInput("no channel")
        values["channel"] = normalize_enum(channel, CHANNELS, "channel")
        direction = (record.get("direction") or "").strip()
        values["direction"] = (
            normalize_enum(direction, DIRECTIONS, "direction") if direction else "outbound"
        )
        when = (record.get("occurred_at") or "").strip()
        if not when:
            raise InvalidInput("no occurred_at")
        values["occurred_at"] = self.parse_time(when, "occurred_at")
        for name in ("follow_up_at", "done_at"):
            raw = (record.get(name) or "").strip()
            values[name] = self.parse_time(raw, name) if raw else None
        duration = (record.get("duration_s") or "").strip()
        values["duration_s"] = parse_duration(duration) if duration else None
        for name in ("subject", "agent", "external_id"):
            values[name] = clean_text(record.get(name))
        content = (record.get("content") or "").strip()
        values["content"] = content or None
        return values

    def apply(self, values: dict[str, Any], line: int, summary: ImportSummary) -> str | None:
        """Write one normalised row; returns a duplicate reason, or None."""
        ident = (
            values["customer_id"],
            values["occurred_at"],
            values["channel"],
            values["direction"],
            values["subject"],
        )
        if ident in self.seen:
            return f"duplicate of line {self.seen[ident]}"
        self.seen[ident] = line
        if values["external_id"]:
            current = self.db.query_one(
                f"SELECT id, {', '.join(STORED)} FROM communications WHERE external_id = ?",
                (values["external_id"],),
            )
            if current is not None:
                changes = {
                    k: values[k]
                    for k in STORED
                    if values[k] is not None and current[k] != values[k]
                }
                if not changes:
                    summary.unchanged += 1
                    return None
                sets = ", ".join(f"{k} = :{k}" for k in changes)
                self.db.execute(
                    f"UPDATE communications SET {sets}, updated_at = :now WHERE id = :id",
                    {**changes, "now": self.now, "id": current["id"]},
                )
                summary.updated += 1
                return None
        elif self.db.execute(
            "SELECT 1 FROM communications WHERE customer_id = ? AND occurred_at = ?"
            " AND channel = ? AND direction = ? AND subject IS ?",
            ident,
        ).fetchone():
            summary.unchanged += 1
            return None
        try:
            self.db.execute(
                f"INSERT INTO communications({', '.join(STORED)}, created_at, updated_at)"
                f" VALUES ({', '.join(':' + k for k in STORED)}, :now, :now)",
                {**values, "now": self.now},
            )
        except sqlite3.IntegrityError as exc:
            raise InvalidInput(f"cannot store: {exc}") from None
        summary.inserted += 1
        return None


def import_communications(
    db: Database,
    path: Path,
    *,
    encoding: str | None = None,
    mapping: list[str] | None = None,
    customer_key: str | None = None,
    region: str = "CN",
    rejects: Path | None = None,
    strict: bool = False,
    dry_run: bool = False,
) -> ImportSummary:
    """Import a communications CSV in one transaction; returns what happened (or would)."""
    if customer_key is not None and customer_key not in CUSTOMER_KEYS:
        raise InvalidInput(f"--customer-key must be one of: {', '.join(CUSTOMER_KEYS)}")
    source = open_csv(path, ALIASES, IMPORT_FIELDS, encoding=encoding, mapping=mapping)
    try:
        present = {f for f in source.fields if f}
        keys = [k for k in CUSTOMER_KEYS if KEY_FIELDS[k] in present]
        if customer_key and KEY_FIELDS[customer_key] not in present:
            raise InvalidInput(
                f"--customer-key {customer_key}: {Path(path).name} has no "
                f"{KEY_FIELDS[customer_key]} column"
            )
        if not keys:
            raise InvalidInput(
                f"{Path(path).name}: no column names the customer; give one of "
                + ", ".join(KEY_FIELDS.values())
                + " (or --map SRC=FIELD)"
            )
        missing = [f for f in ("channel", "occurred_at") if f not in present]
        if missing:
            raise InvalidInput(
                f"{Path(path).name}: no {' or '.join(missing)} column (use --map SRC=FIELD)"
            )
        summary = ImportSummary(str(path), source.encoding, source.delimiter, dry_run=dry_run)
        summary.unknown_columns = source.unknown_columns
        summary.extra["customer_key"] = customer_key or keys[0]
        writer: RejectWriter | CountingRejects
        if dry_run and rejects is None:
            writer = CountingRejects()
        else:
            writer = RejectWriter(rejects or default_rejects_path(Path(path)), source.header)
        try:
            _run(db, source, summary, writer, customer_key, region, strict, dry_run)
        except BaseException:
            writer.discard()
            raise
    finally:
        source.close()
    return summary


def _run(
    db: Database,
    source: Any,
    summary: ImportSummary,
    writer: RejectWriter | CountingRejects,
    key: str | None,
    region: str,
    strict: bool,
    dry_run: bool,
) -> None:
    failed = False
    importer = CommImporter(db, key, region)
    try:
        with db.transaction(), Progress(f"Importing {source.path.name}") as progress:
            for line, record, cells, problem in source.rows():
                summary.rows += 1
                if problem:
                    writer.add(line, problem, cells)
                    summary.rejected += 1
                    continue
                try:
                    values = importer.normalise(record)
                    duplicate = importer.apply(values, line, summary)
                except InvalidInput as exc:
                    writer.add(line, exc.message, cells)
                    summary.rejected += 1
                    continue
                if duplicate:
                    writer.add(line, duplicate, cells)
                    summary.duplicates += 1
                if summary.rows % 2000 == 0:
                    progress.update(source.progress_fraction())
            failed = strict and bool(summary.rejected or summary.duplicates)
            if failed or dry_run:
                raise _Rollback
            details = {
                k: v
                for k, v in summary.as_dict().items()
                if k not in ("dry_run", "unknown_columns", "rejects_file")
            }
            audit.record(db, "import", "communication", None, details)
    except _Rollback:
        pass
    written = writer.finish()
    summary.rejects_file = str(written) if written else None
    if failed:
        where = f"; see {written}" if written else ""
        raise InvalidInput(
            f"{summary.rejected} row(s) rejected and {summary.duplicates} duplicate(s) in "
            f"{source.path.name}; nothing imported (--strict){where}"
        )
