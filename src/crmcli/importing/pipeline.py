"""The one import runner behind every CSV import (customer, comm, order, ticket, campaign
import-results).

    source (encoding, delimiter, header, --map)  ->  conventions (money, dates: pass 1)
    ->  STAGING, no lock: entity.row() per row (read, normalize, validate) into a TEMP
        table of the import's connection (db/staging.py)
    ->  [an entity with `plans` (customers): PLAN, no lock: in a read snapshot
        (Database.read_snapshot) entity.start() and entity.merge() per batch decide every
        row's outcome and record the writes in TEMP tables of their own]
    ->  MERGE, one write transaction (BEGIN IMMEDIATE): for a planning entity apply() the
        plan (or, when the data it rests on changed since the snapshot, plan again here and
        apply that); for the others entity.start(), entity.merge() per batch of staged rows
        (resolve against the current data, write); entity.end()  ->  rejects file made
        durable  ->  audit entry  ->  commit (or roll back: --dry-run, --strict)
    ->  entity.after_commit(): work that needs no atomicity (the customer search index,
        db/search_index.py, in short transactions of its own)

Other processes write freely while a file is staged and planned; during the merge they
wait on the busy timeout (db/database.py) and then go ahead. A kill at any point leaves the
database as it was (the merge is one transaction) and no staging file (SQLite unlinks its
temp file when it opens it).

The Entity interface (an entity module holds only its field rules: customers.py,
comms.py, orders.py, tickets.py, campaigns.py):

- class attributes: name, audit_entity, audit_action, fields, aliases, money_fields,
  date_fields, fit_checks, needs_customer, create_customers, ignored_fields;
- check_columns(present): before any row is read; raise InvalidInput for a missing column;
- precheck(): before staging, may read the database (fail fast, e.g. a closed campaign);
  whatever it checks must be checked again in start();
- row(line, record, cells) -> data: STAGING. Normalize and validate one record and return
  its JSON-able data (dicts, lists, str, int, float, None), or raise Reject. It must not
  read or write the database: nothing that depends on the stored data is decided here. A
  customer reference is normalized with `ctx.resolver.reference(record)` and looked up in
  merge() with `ctx.resolver.lookup(ref)`. Field-level warnings go through
  ctx.optional() (or are deferred with `into=` and emitted by ctx.warn() in merge);
- group(data) -> str | None: rows with the same key are merged in one batch (the lines of
  one order), groups in the file order of their first row; None: its own group;
- start(): MERGE, inside the transaction, before the first batch;
- merge(rows): MERGE, a list of Staged(line, cells, data) in merge order: resolve against
  the current data (keys, duplicates, customer references), write, count outcomes in
  ctx.summary and reject with ctx.reject(line, cells, ...);
- end(): after the last batch, still inside the transaction (indexes, search, summary);
- audit_id(): the id the audit entry names.

A set-based entity (orders.py) names `staged_columns`: row() then returns a tuple of their
values, staged in typed columns of the staging table, and merge_staged(staging) replaces
the merge() batches: one pass of SQL over the staging table (staging.table).

This module holds everything they share: options, the rejects sink with field-level
warnings, the customer-reference resolver, the summary and the progress bar.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from crmcli.core import clock, validate
from crmcli.core.errors import CrmError, InvalidInput
from crmcli.core.sanitize import FORMULA_PREFIXES, csv_cell

_ENCODE = msgspec.msgpack.Encoder().encode  # the rejects spool (see RejectSink)
_DECODE = msgspec.msgpack.Decoder().decode
BATCH = 5000
CUSTOMER_KEYS = ("id", "external_id", "email", "phone")
FUTURE_SLACK = validate.FUTURE_SLACK  # history more than this after "now" is refused


class Reject(Exception):  # noqa: N818 - a row outcome, not an error to the user
    """A row that cannot be stored: the field (or "") and value that decide it, and why."""

    def __init__(self, reason: str, field: str = "", value: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.value = value


class _Rollback(Exception):
    """Raised inside the transaction to undo it (--dry-run, --strict with rejects)."""


# ------------------------------------------------------------------------ progress


class QuietProgress:
    """The progress the pipeline reports to when the command gives none: nothing shown.
    A command passes `crmcli.output.progress.Progress` (a bar on a terminal) instead, so
    importing/ never writes to the terminal itself."""

    def __init__(self, description: str) -> None:
        self.description = description

    def __enter__(self) -> QuietProgress:
        return self

    def update(self, fraction: float) -> None:
        """Called after each batch with the share of the file read."""

    def step(self, name: str) -> None:
        """Names the work after the last row (merging, index building)."""

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass
class ImportOptions:
    """The options every import shares (commands/options.py defines them once)."""

    encoding: str | None = None
    mapping: list[str] | None = None
    rejects: Path | None = None
    strict: bool = False
    strict_fields: bool = False
    dry_run: bool = False
    customer_key: str | None = None
    region: str | None = None  # None: CN for phones, no convention for money and dates
    decimal: str | None = None
    date_order: str | None = None
    # (description) -> a context manager with update(fraction) and step(name)
    progress: Callable[[str], Any] = QuietProgress

    @property
    def phone_region(self) -> str:
        return (self.region or "CN").upper()


def customer_key_option(value: str | None) -> str | None:
    """--customer-key: id|external_id|email|phone (customer_-prefixed spellings too)."""
    if value is None:
        return None
    key = value.strip().lower().removeprefix("customer_")
    if key not in CUSTOMER_KEYS:
        raise InvalidInput(
            f"invalid --customer-key {value!r}; choose one of: {', '.join(CUSTOMER_KEYS)}"
        )
    return key


# ------------------------------------------------------------------------ rejects sink

OWN_COLUMNS = ("line", "field", "value", "reason")
_FORMULA_STARTS = frozenset(FORMULA_PREFIXES)
assert all(len(p) == 1 for p in FORMULA_PREFIXES)  # RejectSink.finish relies on it


class RejectSink:
    """Rejected rows and field-level warnings, written in line order to a CSV (UTF-8 with
    BOM): line, field, value, reason, then the row's original cells. `path` None counts only
    (a dry run without --rejects). finish() makes the file durable before the commit.

    Memory stays flat however many entries there are (a million-row file whose every row
    has a warning): each entry is spooled to an anonymous temporary file (unlinked when it
    is made, so nothing is left whatever ends the process) as MessagePack (msgspec); only its line
    and offset stay in memory, 16 bytes an entry."""

    def __init__(self, path: Path | None, header: list[str]) -> None:
        self.path = path
        self.header = header
        self.rejected = 0
        self.warnings = 0
        self.duplicates = 0
        self._lines = array("q")  # per entry: its line, and where it starts in the spool
        self._offsets = array("q")
        self._spool: Any = None
        self._end = 0

    def add(
        self, line: int, field: str, value: str, reason: str, cells: list[str], kind: str
    ) -> None:
        if kind == "warning":
            self.warnings += 1
        elif kind == "duplicate":
            self.duplicates += 1
        else:
            self.rejected += 1
        if self.path is not None:
            if self._spool is None:
                import tempfile

                self._spool = tempfile.TemporaryFile(prefix="crm-rejects-")  # noqa: SIM115
            blob = _ENCODE((field, value, reason, cells))
            self._spool.write(blob)
            self._lines.append(line)
            self._offsets.append(self._end)
            self._end += len(blob)

    @property
    def count(self) -> int:
        return len(self._lines)

    def truncate(self, count: int) -> None:
        """Forget every entry after the first `count` (a plan taken back)."""
        if count < len(self._lines):
            self._end = self._offsets[count]
            del self._lines[count:]
            del self._offsets[count:]
            self._spool.seek(self._end)
            self._spool.truncate(self._end)

    def _in_line_order(self) -> Iterator[tuple[int, tuple[str, str, str, list[str]]]]:
        """(line, entry) in line order, entries of one line in the order they came."""
        lines, offsets, spool = self._lines, self._offsets, self._spool
        n = len(lines)
        ends = offsets[1:]
        ends.append(self._end)
        ordered = all(lines[i] <= lines[i + 1] for i in range(n - 1))
        order = range(n) if ordered else sorted(range(n), key=lines.__getitem__)  # stable
        spool.flush()
        spool.seek(0)
        pos = 0
        for i in order:
            start = offsets[i]
            if start != pos:
                spool.seek(start)
            blob = spool.read(ends[i] - start)
            pos = ends[i]
            yield lines[i], _DECODE(blob)

    def finish(self) -> Path | None:
        """Write the file if there is anything in it, with the one safe writer
        (core.files: private mode, unguessable temporary name, no writing through a
        symbolic link unless --follow-symlinks, fsync of file and folder, atomic rename)."""
        from crmcli.core.files import follow_default, open_atomic

        if self.path is None or not self._lines:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open_atomic(
            self.path, follow_symlinks=follow_default(), encoding="utf-8-sig", newline=""
        ) as fh:
            writer = csv.writer(fh)
            writer.writerow([*OWN_COLUMNS, *self.header])
            risky = _FORMULA_STARTS
            for line, (fld, value, reason, cells) in self._in_line_order():
                # csv_cell() of each cell (text cells; every formula prefix is one character)
                row = [line, fld, csv_cell(value), reason]
                row += ["'" + c if c[:1] in risky else c for c in cells]
                writer.writerow(row)
        # the spool stays: a plan taken back (truncate) writes the file again
        return self.path

    def discard(self, written: Path | None) -> None:
        """The import did not commit: remove the file finish() wrote."""
        if written is not None:
            written.unlink(missing_ok=True)


# ------------------------------------------------------------------------ summary


@dataclass
class ImportSummary:
    """What an import did; printed on stderr, or as JSON with --format json."""

    file: str
    encoding: str
    delimiter: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0
    warnings: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    conventions: dict[str, dict[str, str]] = field(default_factory=dict)
    rejects_file: str | None = None
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "extra"}
        data["delimiter"] = {"\t": "tab"}.get(self.delimiter, self.delimiter)
        data.update(self.extra)
        return data

    def line(self) -> str:
        head = "Dry run: would import" if self.dry_run else "Imported"
        text = (
            f"{head} {self.file}: {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )
        if self.duplicates:
            text += f", {self.duplicates} duplicates"
        if self.warnings:
            text += f", {self.warnings} field warning(s)"
        if self.rejects_file:
            text += f" (see {self.rejects_file})"
        for name, words in _NOTED.items():
            count = self.extra.get(name)
            if isinstance(count, int) and count:
                text += f"; {count} {words}"
        for name, words in _NOTED_TEXT.items():
            said = self.extra.get(name)
            if said:
                text += f"; {words} {', '.join(said) if isinstance(said, list) else said}"
        if self.encoding not in ("utf-8", "utf-8-sig", "ascii"):
            text += f"; read as {self.encoding}"
        for name, conv in self.conventions.items():
            if conv.get("decided_by") not in (None, "values"):
                what = conv.get("decimal") or conv.get("date_order")
                text += f"; {name}: {what} ({conv['decided_by']})"
        return text


# Counts an entity puts in the summary's extra that the one-line summary names too: what
# was stored but is not what the file might be taken to say.
_NOTED = {
    "suspect_phones": "suspect phone(s)",
    "resolved_without_time": "resolved without a time",
    "closed_without_time": "closed without a time",
    "unknown_status": "unknown status(es) stored as the default",
    "unknown_priority": "unknown priorit(y/ies) stored as the default",
}
# Decisions an entity puts in the summary's extra that the one-line summary says too.
_NOTED_TEXT = {
    "name_from": "name joined from",
    "name_parts_not_read": "name from its column, not read:",
    "external_id_from": "external_id from column",
    "currency_from": "currency",
    "phones_from": "phone: the first usable of",
    "emails_from": "email: the first usable of",
}


# ------------------------------------------------------------------------ one import


# A time relative to now (validate.parse_datetime reads these for --at and --follow-up).
_RELATIVE = re.compile(
    r"(?i)\s*(?:(?:now|today|tomorrow|yesterday)\b|今天|明天|昨天|现在|[+-]\d+\s*[a-z]+\b)"
)


EARLIEST = "1900-01-01T00:00:00Z"  # an import's times start here (see Context.time)


class Context:
    """What an entity's field rules see of the running import: the options, the decided
    conventions, the sink, the summary, and the shared parsers."""

    def __init__(
        self, db: Any, options: ImportOptions, source: Any, summary: ImportSummary, sink: RejectSink
    ) -> None:
        from crmcli.core.clock import now_iso

        self.db = db
        self.options = options
        self.source = source
        self.summary = summary
        self.sink = sink
        self.now = now_iso()
        self.horizon = clock.to_iso(clock.from_iso(self.now) + FUTURE_SLACK)
        self.decimal: dict[str, str] = {}
        self.date_order: dict[str, str | None] = {}
        self.reasons: Counter[str] = Counter()
        self.resolver: CustomerResolver | None = None
        self._zone = clock.local_zone()  # fixed for the import, as is every cell's time
        self._times: dict[tuple[str, str], str] = {}
        self._offsets: dict[str, timedelta | None] = {}  # wall-clock hour -> UTC offset

    # -- outcomes ------------------------------------------------------------------------
    def reject(
        self, line: int, cells: list[str], exc: Reject | CrmError | str, duplicate: bool = False
    ) -> None:
        if isinstance(exc, Reject):
            fld, value, reason = exc.field, exc.value, exc.reason
        else:
            fld, value, reason = "", "", exc if isinstance(exc, str) else exc.message
        self.sink.add(line, fld, value, reason, cells, "duplicate" if duplicate else "reject")
        if not duplicate:
            kind = _reason_kind(reason)
            if kind not in self.reasons and len(self.reasons) >= REASON_KINDS_MAX:
                kind = "other reasons"
            self.reasons[kind] += 1

    def optional(
        self,
        line: int,
        cells: list[str],
        fld: str,
        raw: str,
        parse: Callable[[str], Any],
        into: list[list[str]] | None = None,
    ) -> Any:
        """An optional field: a bad value is a warning and the row keeps going without it
        (with --strict-fields it rejects the row). With `into`, the warning is kept there
        as [field, value, reason] for warn() to emit in the merge (when the row is not
        rejected before it)."""
        try:
            return parse(raw)
        except InvalidInput as exc:
            if self.options.strict_fields:
                raise Reject(exc.message, fld, raw) from None
            if into is not None:
                into.append([fld, raw, exc.message])
            else:
                self.sink.add(line, fld, raw, exc.message, cells, "warning")
            return None

    def warn(self, line: int, cells: list[str], deferred: list[list[str]]) -> None:
        """Emit the field-level warnings optional(into=...) kept."""
        for fld, raw, reason in deferred:
            self.sink.add(line, fld, raw, reason, cells, "warning")

    @staticmethod
    def required(fld: str, raw: str | None, parse: Callable[[str], Any]) -> Any:
        text = (raw or "").strip()
        if not text:
            raise Reject(f"no {fld}", fld, "")
        try:
            return parse(text)
        except InvalidInput as exc:
            raise Reject(exc.message, fld, text) from None

    # -- shared parsers ------------------------------------------------------------------
    def money(self, fld: str, raw: str) -> int:
        return validate.parse_money_as(raw, self.decimal.get(fld, "point"), fld)

    def time(self, fld: str, raw: str, history: bool = True) -> str:
        # The lines of one order repeat its time: each distinct cell is parsed once.
        key = (fld, raw)
        stored = self._times.get(key)
        if stored is None:
            text = raw.strip()
            stored = self._local_iso(text) if _ISO_LOCAL.fullmatch(text) else None
            if stored is None and _RELATIVE.match(text):
                # 'now', 'yesterday', '+3d' mean something on a command line; in a file they
                # would be read relative to whenever the import happens to run
                raise InvalidInput(
                    f"{fld} {text!r} is relative to when the import runs; write the date"
                )
            if stored is None:
                moment = validate.parse_local_iso(text, self._zone)
                if moment is None:
                    moment = validate.parse_datetime_as(raw, self.date_order.get(fld), fld)
                stored = clock.to_iso(moment)
            if len(self._times) >= 100_000:
                self._times.clear()
            self._times[key] = stored
        if history and stored > self.horizon:
            raise InvalidInput(f"{fld} {raw.strip()!r} is more than a day in the future")
        if stored < EARLIEST:
            # 0001-01-01, 1899-12-30: what ERPs and spreadsheets write for "no date"
            raise InvalidInput(f"{fld} {raw.strip()!r} is before 1900: a placeholder, not a date")
        return stored

    def _local_iso(self, text: str) -> str | None:
        """clock.to_iso() of a 'YYYY-MM-DD HH:MM[:SS]' cell in the import's zone, with the
        zone's offset looked up once per hour of the wall clock: an hour whose first and
        last second have the same offset has it throughout (a transition inside it: None,
        and the general path decides). None also for an impossible date or a year outside
        1000-9998 (the general path words the refusal, and pads years alike)."""
        if not "1000" <= text[:4] <= "9998":
            return None
        try:
            naive = datetime.fromisoformat(text)
        except ValueError:
            return None
        hour = text[:13]
        offsets = self._offsets
        if hour in offsets:
            offset = offsets[hour]
        else:
            zone = self._zone
            first = datetime.fromisoformat(hour + ":00:00").replace(tzinfo=zone).utcoffset()
            last = datetime.fromisoformat(hour + ":59:59").replace(tzinfo=zone).utcoffset()
            offset = first if first == last else None
            if len(offsets) >= 100_000:
                offsets.clear()
            offsets[hour] = offset
        if offset is None:
            return None
        return (naive - offset).isoformat() + "Z"


_ISO_LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?")


# A reject reason without the row's own values (the summary's and the audit entry's
# reject_reasons count kinds of reasons, not one key per unknown email).
_REASON_VALUES = (
    (re.compile(r"^(no customer with \w+) .*"), r"\1"),
    (re.compile(r"^(line of )?order \S+ "), r"\1order "),
    (re.compile(r"^(\w+) .* in the future\b.*"), r"\1 in the future"),
    (re.compile(r"^customer_(\w+) \S+ and customer_(\w+) \S+ "), r"customer_\1 and customer_\2 "),
)
REASON_KINDS_MAX = 30  # distinct kinds counted; the rest under "other reasons"


def _reason_kind(reason: str) -> str:
    for pattern, kind in _REASON_VALUES:
        reason = pattern.sub(kind, reason)
    return re.split(r" '|[:;]| \(| of customer| \d", reason, maxsplit=1)[0].strip()


class CustomerResolver:
    """The one customer-reference resolver: a row names its customer by customer_id,
    customer_external_id, customer_email or customer_phone; --customer-key picks one column,
    otherwise the first non-empty of those is used, and the row's other reference cells
    must not name another customer (an export of another database: its customer_id is that
    database's, its email says who is meant). Lookups go through db/customers.py."""

    def __init__(self, ctx: Context, present: set[str], create: bool = False) -> None:
        key = ctx.options.customer_key
        self.ctx = ctx
        self.keys = [key] if key else [k for k in CUSTOMER_KEYS if f"customer_{k}" in present]
        if key and f"customer_{key}" not in present:
            raise InvalidInput(f"--customer-key {key}: the file has no customer_{key} column")
        if not self.keys:
            raise InvalidInput(
                "no column names the customer; give one of customer_id, customer_external_id, "
                "customer_email, customer_phone (or --map SRC=FIELD)"
            )
        self.create = create
        self.created = 0
        self.cache: dict[tuple[str, Any], int | None] = {}
        ctx.summary.extra["customer_key"] = self.keys[0]

    def reference(self, record: dict[str, str]) -> list[Any]:
        """STAGING: the row's customer reference, normalized: [key, value, raw cell, name,
        others], others the row's further reference cells that parse ((key, value, raw),
        checked against it in the merge); raises Reject for a missing or malformed one.
        Looked up by lookup() in the merge."""
        for i, key in enumerate(self.keys):
            raw = (record.get(f"customer_{key}") or "").strip()
            if not raw:
                continue
            try:
                value = self._value(key, raw)
            except InvalidInput as exc:
                raise Reject(exc.message, f"customer_{key}", raw) from None
            name = (record.get("customer_name") or "").strip() if self.create else ""
            others: list[tuple[str, Any, str]] = []
            for other in self.keys[i + 1 :]:
                cell = (record.get(f"customer_{other}") or "").strip()
                if cell:
                    with contextlib.suppress(InvalidInput):
                        others.append((other, self._value(other, cell), cell))
            return [key, value, raw, name, others]
        wanted = f"customer_{self.keys[0]}" if len(self.keys) == 1 else "customer reference"
        raise Reject(f"no {wanted}", f"customer_{self.keys[0]}", "")

    def _value(self, key: str, raw: str) -> Any:
        if key == "id":
            if not raw.isdigit():
                raise InvalidInput(f"invalid customer_id {raw!r}")
            return int(raw)
        if key == "email":
            return validate.normalize_email(raw)
        if key == "phone":
            phone = validate.parse_phone(raw, self.ctx.options.phone_region)
            return phone.e164 if phone else None
        return raw

    def prefetch(self, refs: list[list[Any]]) -> None:
        """MERGE: look a batch's references up in one query per key (into the cache)."""
        from crmcli.db import customers as repo

        if len(self.cache) > 200_000:
            self.cache.clear()
        wanted: dict[str, set[Any]] = {}
        for key, value, *rest in refs:
            others = rest[2] if len(rest) > 2 else ()  # (order refs: checked apart)
            for k, v in ((key, value), *((k, v) for k, v, _ in others)):
                if v is not None and (k, v) not in self.cache:
                    wanted.setdefault(k, set()).add(v)
        for key, values in wanted.items():
            found = repo.import_customer_ids(self.ctx.db, key, sorted(values))
            for value in values:
                self.cache[(key, value)] = found.get(value)

    def lookup(self, ref: list[Any]) -> int:
        """MERGE: the customer id a reference names (created with --create-customers), or
        Reject."""
        from crmcli.db import customers as repo

        key, value, raw, name, *_ = ref
        hit = self._found(key, value)
        if hit is not None and (problem := self.conflict(ref)) is not None:
            raise problem
        if hit is None and self.create and key != "id":
            hit = repo.add_customer_for_import(
                self.ctx.db, key, value, name or str(value), self.ctx.now
            )
            self.created += 1
            self.cache[(key, value)] = hit
        if hit is None:
            raise Reject(f"no customer with {key} {value}", f"customer_{key}", raw)
        return int(hit)

    def conflict(self, ref: list[Any]) -> Reject | None:
        """MERGE: the Reject when the reference's other cells name another known customer
        than the reference itself does (None also when the reference names none)."""
        key, value, raw, _name, *rest = ref
        hit = self._found(key, value)
        for k, v, cell in rest[0] if rest and hit is not None else ():
            other = self._found(k, v)
            if other is not None and other != hit:
                return Reject(
                    f"customer_{key} {raw} and customer_{k} {cell} name two different "
                    "customers; give --customer-key to say which column names them",
                    f"customer_{k}",
                    cell,
                )
        return None

    def _found(self, key: str, value: Any) -> int | None:
        from crmcli.db import customers as repo

        hit = self.cache.get((key, value), -1)
        if hit == -1:
            hit = None if value is None else repo.import_customer_id(self.ctx.db, key, value)
            self.cache[(key, value)] = hit
        return hit


class Staged:
    """One staged row as merge() sees it: its line, its original cells (read from the
    staging table when first asked for: only rejects and warnings need them), row()'s
    data."""

    __slots__ = ("_cells", "_text", "data", "line")

    def __init__(self, line: int, cells: bytes | list[str], data: Any) -> None:
        self.line = line
        self.data = data
        self._text = cells if isinstance(cells, bytes) else None  # as the staging stored it
        self._cells = cells if isinstance(cells, list) else None

    @property
    def cells(self) -> list[str]:
        if self._cells is None:
            from crmcli.db.staging import Staging

            self._cells = Staging.cells_of(self._text) if self._text is not None else []
        return self._cells


class Entity:
    """Field rules of one kind of record: see the module docstring for the interface.
    row() stages (no database), merge() writes (inside the write transaction)."""

    name = ""
    audit_entity = ""
    audit_action = "import"
    fields: tuple[str, ...] = ()
    aliases: dict[str, str] = {}
    money_fields: tuple[str, ...] = ()
    date_fields: tuple[str, ...] = ()
    # automatic header matches checked against their values (pass 1)
    fit_checks: dict[str, Callable[[str], Any]] = {}
    needs_customer = True
    create_customers = False
    # with a header of these only (our own exports), no warning about them
    ignored_fields: tuple[str, ...] = ()
    # set-based merge: row() returns a tuple of these staged columns; merge_staged() merges
    staged_columns: tuple[str, ...] = ()
    # values the merge looks rows of the file up by (RepeatedKeys): key_values() gives the
    # dict a row's are read from, and `repeated` gets, per key, the hashes of those on more
    # than one row
    key_columns: tuple[str, ...] = ()
    repeated: tuple[set[int], ...] = ()

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def check_columns(self, present: set[str]) -> None:
        """Raise InvalidInput (before any row is read) when a needed column is missing."""

    def precheck(self) -> None:
        """Before staging (may read the database); checked again in start()."""

    def row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        """STAGING: the row's JSON-able data, or raise Reject. No database access."""
        raise NotImplementedError

    def group(self, data: Any) -> str | None:
        """Rows with the same key are merged together (in one batch)."""
        return None

    def key_values(self, data: Any) -> dict[str, Any]:
        """The dict of the staged row `data` its key_columns are read from."""
        return {}

    def start(self) -> None:
        """MERGE: inside the transaction, before the first batch."""

    def merge(self, rows: list[Staged]) -> None:
        """MERGE: resolve a batch of staged rows against the current data and write them."""
        raise NotImplementedError

    def merge_staged(self, staging: Any) -> None:
        """MERGE (set-based, with staged_columns): the whole staging table at once."""
        raise NotImplementedError

    def end(self) -> None:
        """After the last batch, still inside the transaction (indexes, search, summary)."""

    def audit_id(self) -> int | None:
        return None

    # -- planned merge (an entity with `plans = True`) -------------------------------------
    # merge() then only PLANS: it reads the database and records what it would write in
    # temp tables of its own, never writing the database. The pipeline runs start() and the
    # batches in a read transaction (no lock), then in the write transaction calls apply(),
    # which writes the plan when nothing it rests on changed since snapshot() (else the
    # pipeline plans again under the lock, from a reset(), and applies that).
    plans = False

    def snapshot(self) -> Any:
        """Inside the planning read transaction: what apply() checks for changes."""
        return None

    def plan_outside_lock(self) -> bool:
        """False: plan under the write lock (e.g. the plan needs records created first)."""
        return True

    def planned(self) -> None:
        """After planning outside the lock, still in its read snapshot (no lock): e.g. lay
        the plan out for the write."""

    def merge_without_foreign_keys(self) -> bool:
        """True: the write transaction runs with foreign keys off (a pragma set before it
        begins); apply() then checks what they would have checked itself."""
        return False

    def reset(self) -> None:
        """Forget a plan (before planning again under the lock)."""

    def apply(self, token: Any) -> bool:
        """Inside the write transaction: write the plan and return True, or return False
        (writing nothing) when the data `token` describes changed."""
        return True

    def after_commit(self, progress: Any) -> None:
        """After the commit, outside the transaction (e.g. build the search index)."""


def default_rejects_path(path: str) -> Path:
    if path == "-":
        return Path("stdin.rejects.csv")
    src = Path(path)
    return src.with_name(src.stem + ".rejects.csv")


def run_import(
    db: Any, path: str | Path, entity_cls: type[Entity], options: ImportOptions, **entity_args: Any
) -> ImportSummary:
    """Import one CSV file (or '-' for stdin): staged without a lock, merged in one write
    transaction; returns the summary.

    Raises InvalidInput (exit 2) for an unreadable file, options that do not fit it, a
    money or date column whose convention is contradictory or undecided, and (after writing
    the rejects file) when --strict and any row was rejected; the database is then unchanged.
    """
    from crmcli.importing.source import open_csv

    text_path = str(path)
    source = open_csv(
        text_path,
        entity_cls.aliases,
        (*entity_cls.fields, *entity_cls.ignored_fields),
        encoding=options.encoding,
        mapping=options.mapping,
    )
    try:
        unread = sorted(source.mapped_fields & set(entity_cls.ignored_fields))
        if unread:  # (accepted as columns of our own exports, never stored)
            raise InvalidInput(
                f"--map: {', '.join(unread)} cannot be imported (an export writes it; an"
                " import never sets it)"
            )
        summary = ImportSummary(
            text_path, source.encoding, source.delimiter, dry_run=options.dry_run
        )
        summary.unknown_columns = source.unknown_columns
        summary.ignored_columns = source.ignored_columns + [
            cell.strip()
            for cell, fld in zip(source.header, source.fields, strict=True)
            if fld in entity_cls.ignored_fields
        ]
        if options.dry_run and options.rejects is None:
            sink = RejectSink(None, source.header)
        else:
            sink = RejectSink(options.rejects or default_rejects_path(text_path), source.header)
        ctx = Context(db, options, source, summary, sink)
        entity = entity_cls(ctx, **entity_args)
        _decide_conventions(ctx, entity, set(source.field_indexes()))
        present = set(source.field_indexes())
        entity.check_columns(present)
        if entity.needs_customer:
            ctx.resolver = CustomerResolver(ctx, present, entity.create_customers)
        entity.precheck()
        written, failed = _stage_and_merge(ctx, entity)
    finally:
        source.close()
    if options.rejects is None and not options.dry_run and written is None and text_path != "-":
        _remove_stale_rejects(default_rejects_path(text_path))
    if failed:
        where = f"; see {written}" if written else ""
        raise InvalidInput(
            f"{summary.rejected} row(s) rejected and {summary.duplicates} duplicate(s) in "
            f"{source.display_name}; nothing imported (--strict){where}"
        )
    return summary


def _stage_and_merge(ctx: Context, entity: Entity) -> tuple[Path | None, bool]:
    """Stage every row (no lock), then merge them in one write transaction; returns the
    rejects file written (or None) and whether --strict failed the import."""
    from crmcli.core import faults
    from crmcli.db.staging import Staging

    db, source = ctx.db, ctx.source
    staging = Staging(db)
    try:
        with ctx.options.progress(f"Importing {source.display_name}") as progress:
            staging.open(entity.staged_columns)
            _stage(ctx, entity, staging, progress)
            staging.seal()
            faults.point("import.staged")
            progress.step(f"Merging {source.display_name} (writes, indexes, search, audit)")
            written, failed, committed = _merge(ctx, entity, staging)
            if committed:
                entity.after_commit(progress)
                if os.environ.get("CRM_IMPORT_STAGE_HOOK"):
                    _touch(os.environ["CRM_IMPORT_STAGE_HOOK"], "done")
            return written, failed
    finally:
        staging.close()


def _stage(ctx: Context, entity: Entity, staging: Any, progress: Any) -> None:
    """STAGING: read, normalize and validate every row into the staging table."""
    from crmcli.core import faults

    summary = ctx.summary
    hook = os.environ.get("CRM_IMPORT_STAGE_HOOK")  # tests: a file touched while staging
    batch: list[tuple[str | None, int, list[str], Any]] = []
    # rows are grouped only by an entity that says how (one call less per row otherwise)
    group = entity.group if type(entity).group is not Entity.group else None
    keys = RepeatedKeys(entity.key_columns) if entity.key_columns else None
    for line, record, cells, problem in ctx.source.rows():
        summary.rows += 1
        if problem:
            ctx.reject(line, cells, Reject(problem))
            continue
        try:
            data = entity.row(line, record, cells)
        except (Reject, InvalidInput) as exc:
            ctx.reject(line, cells, exc)
            continue
        if keys:
            keys.add(entity.key_values(data))
        batch.append((group(data) if group else None, line, cells, data))
        if len(batch) >= BATCH:
            staging.add(batch)
            batch = []
            progress.update(ctx.source.progress_fraction())
            if hook and staging.rows <= BATCH:
                _touch(hook, "staging")
            if staging.rows <= BATCH:
                faults.point("import.staging")
    staging.add(batch)
    if keys:
        entity.repeated = keys.repeated()


class RepeatedKeys:
    """Which key values occur on more than one staged row, per key (#12 memory).

    An entity that looks rows up by values of the file itself (the customer import: a
    later row updates the customer an earlier row inserted, by email, phone or external
    id) needs to remember only the values that occur again: a value on one row is never
    looked up. Staging records each value's hash, 8 bytes a value (a dict of every value
    would hold a string, an int and an entry, about 110 bytes: 330 MB for three keys of a
    million rows); repeated() sorts them once. Hashes are Python's hash() of the value,
    stable within the one process that stages and merges; a collision only makes a value
    be remembered needlessly."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        from array import array

        self.hashes = [array("q") for _ in columns]
        self._columns = [
            (column, hashes.append) for column, hashes in zip(columns, self.hashes, strict=True)
        ]

    def add(self, values: dict[str, Any]) -> None:
        """A row's values of the key columns (a list: several values of one column)."""
        for column, append in self._columns:
            value = values.get(column)
            if value is None:
                continue
            if type(value) is list:
                for one in value:
                    append(hash(one))
            else:
                append(hash(value))

    def repeated(self) -> tuple[set[int], ...]:
        import numpy as np

        out: list[set[int]] = []
        for hashes in self.hashes:
            sorted_ = np.sort(np.frombuffer(hashes, dtype=np.int64)) if hashes else None
            if sorted_ is None or len(sorted_) < 2:
                out.append(set())
                continue
            same = sorted_[1:][sorted_[1:] == sorted_[:-1]]
            out.append(set(np.unique(same).tolist()))
        self.hashes = []
        return tuple(out)


def phase(what: str) -> None:
    """Mark a phase in $CRM_IMPORT_STAGE_HOOK (benchmarks/bench_lock.py prints them)."""
    hook = os.environ.get("CRM_IMPORT_STAGE_HOOK")
    if hook:
        _touch(hook, what)


def _touch(path: str, what: str) -> None:
    """$CRM_IMPORT_STAGE_HOOK (tests, benchmarks/bench_lock.py): one line per phase, with
    the wall and CPU time, so another process can act while this import stages or merges
    and a benchmark can tell how long the write lock was held."""
    import time

    with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{what} {time.time():.6f} {time.process_time():.6f}\n")


def _plan(entity: Entity, staging: Any) -> None:
    """start() and every staged row through merge() (or merge_staged())."""
    entity.start()
    if entity.staged_columns:
        entity.merge_staged(staging)
    else:
        for batch in staging.batches(BATCH):
            entity.merge([Staged(line, cells, data) for line, cells, data in batch])


class _Outcomes:
    """What planning added to the sink and the summary, taken back to plan again."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        sink, summary = ctx.sink, ctx.summary
        self.sink = (sink.count, sink.rejected, sink.warnings, sink.duplicates)
        self.summary = (summary.inserted, summary.updated, summary.unchanged)
        self.extra = dict(summary.extra)
        self.reasons = Counter(ctx.reasons)

    def restore(self) -> None:
        sink, summary = self.ctx.sink, self.ctx.summary
        sink.truncate(self.sink[0])
        sink.rejected, sink.warnings, sink.duplicates = self.sink[1:]
        summary.inserted, summary.updated, summary.unchanged = self.summary
        summary.extra = dict(self.extra)
        self.ctx.reasons = Counter(self.reasons)


def _plan_outside_lock(ctx: Context, entity: Entity, staging: Any) -> tuple[Any, _Outcomes]:
    """PLAN (an entity with `plans`): resolve every staged row against a read snapshot of
    the database, without the write lock; returns the snapshot token for apply()."""
    from crmcli.core import faults

    outcomes = _Outcomes(ctx)
    hook = os.environ.get("CRM_IMPORT_STAGE_HOOK")
    if hook:
        _touch(hook, "plan")
    with ctx.db.read_snapshot():
        token = entity.snapshot()
        _plan(entity, staging)
        entity.planned()
    faults.point("import.planned")
    return token, outcomes


def _finish_sink(ctx: Context) -> tuple[Path | None, bool]:
    """The outcomes into the summary, the rejects file written and made durable; returns
    it (or None) and whether --strict fails the import."""
    from crmcli.core import faults

    summary, sink = ctx.summary, ctx.sink
    summary.rejected = sink.rejected
    summary.duplicates = sink.duplicates
    summary.warnings = sink.warnings
    if ctx.reasons:
        summary.extra["reject_reasons"] = dict(ctx.reasons.most_common())
    failed = ctx.options.strict and bool(sink.rejected or sink.duplicates)
    written = sink.finish()  # durable before the commit
    summary.rejects_file = str(written) if written else None
    faults.point("import.rejects_written")
    return written, failed


def _merge(ctx: Context, entity: Entity, staging: Any) -> tuple[Path | None, bool, bool]:
    """MERGE: one write transaction; the rejects file is durable before the commit (for a
    planning entity it is written after the plan, before the lock is taken, and again
    under the lock only if the plan had to be made again). Returns the rejects file
    written, whether --strict failed, whether it committed."""
    from crmcli.core import faults
    from crmcli.db import audit

    db, summary, sink, options = ctx.db, ctx.summary, ctx.sink, ctx.options
    written: Path | None = None
    failed = False
    hook = os.environ.get("CRM_IMPORT_STAGE_HOOK")
    planned = entity.plans and entity.plan_outside_lock()
    try:
        token, outcomes = None, None
        if planned:
            token, outcomes = _plan_outside_lock(ctx, entity, staging)
            written, failed = _finish_sink(ctx)
        fast = planned and entity.merge_without_foreign_keys()
        with _foreign_keys_off(db, fast), db.transaction():
            if hook:
                _touch(hook, "merge")
            faults.point("import.merge")
            if not planned:
                _plan(entity, staging)
            if entity.plans and not entity.apply(token if planned else None):
                # the data the plan rests on changed meanwhile: plan again, under the lock
                if outcomes is not None:
                    outcomes.restore()
                sink.discard(written)
                written, planned = None, False
                entity.reset()
                _plan(entity, staging)
                if not entity.apply(None):
                    raise AssertionError("a plan made under the write lock must apply")
            entity.end()
            if not planned:
                written, failed = _finish_sink(ctx)
            if failed or options.dry_run:
                raise _Rollback
            details = {
                k: v
                for k, v in summary.as_dict().items()
                if k not in ("dry_run", "unknown_columns", "ignored_columns", "conventions")
            }
            audit.record(db, entity.audit_action, entity.audit_entity, entity.audit_id(), details)
            phase("audited")
            faults.point("import.before_commit")
        if hook:
            _touch(hook, "committed")
    except _Rollback:
        return written, failed, False
    except BaseException:
        sink.discard(written)
        raise
    return written, failed, True


@contextlib.contextmanager
def _foreign_keys_off(db: Any, off: bool) -> Iterator[None]:
    """PRAGMA foreign_keys OFF for the transaction inside (it is a no-op within one), ON
    again after it whatever ends it."""
    if not off:
        yield
        return
    db.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        db.execute("PRAGMA foreign_keys = ON")


def _remove_stale_rejects(path: Path) -> None:
    """A clean import removes the rejects file an earlier run left beside the input, so a
    script testing for FILE.rejects.csv sees this run's outcome (only a file we wrote)."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            ours = fh.readline().startswith(("line,field,value,reason", "line,reason"))
        if ours:
            path.unlink()
    except (OSError, UnicodeDecodeError):
        pass


def _decide_conventions(ctx: Context, entity: Entity, present: set[str]) -> None:
    """Pass 1: read the money, date and checked enum columns whole; decide each money and
    date column's convention, and drop an automatic header match whose values mostly do
    not fit its field (a `status` column of warm/cold is no lifecycle)."""
    money = [f for f in entity.money_fields if f in present]
    dates = [f for f in entity.date_fields if f in present]
    checks = {
        f: check
        for f, check in entity.fit_checks.items()
        if f in present and f not in ctx.source.mapped_fields
    }
    if not money and not dates and not checks:
        return
    if not money and not dates and _fit_by_counts(ctx, checks):
        return
    evidence: dict[str, Counter[str]] = {f: Counter() for f in (*money, *dates, *checks)}
    currencies: set[str] = set()
    has_currency = "currency" in present
    wanted = [*money, *dates, *checks, *(["currency"] if has_currency else [])]
    _FIT_SEEN.clear()
    _EVIDENCE_SEEN.clear()
    chunks = ctx.source.column_chunks(wanted)
    if chunks is not None:
        _evidence_by_counts(chunks, money, dates, checks, evidence, currencies)
    else:
        for record in ctx.source.column_values(wanted):
            _money_evidence(record, money, evidence)
            _date_evidence(record, dates, evidence)
            _fit_evidence(record, checks, evidence)
            if has_currency:
                cur = (record.get("currency") or "").strip().upper()
                if cur:
                    currencies.add(cur)
    ctx.source.rewind()
    for f in checks:
        if evidence[f]["misfits"] > evidence[f]["fits"]:
            ctx.source.drop_field(f)
    currency = next(iter(currencies)) if len(currencies) == 1 else None
    _FIT_SEEN.clear()  # (pass 1's caches: up to 200k cells, not kept for the import)
    _EVIDENCE_SEEN.clear()
    _apply_conventions(ctx, money, dates, evidence, currency)


def _fit_by_counts(ctx: Context, checks: dict[str, Callable[[str], Any]]) -> bool:
    """Pass 1 when only enum columns are checked (a customer file's lifecycle): each
    distinct cell checked once, weighted by how often it occurs (the same evidence as
    _fit_evidence row by row, counted in C). False: the row-by-row pass decides."""
    counts = ctx.source.column_counts(list(checks))
    if counts is None:
        return False
    ctx.source.rewind()
    for f, check in checks.items():
        evidence: Counter[str] = Counter()
        for cell, n in counts[f].items():
            raw = cell.strip()
            if raw:
                try:
                    check(raw)
                    evidence["fits"] += n
                except InvalidInput:
                    evidence["misfits"] += n
        if evidence["misfits"] > evidence["fits"]:
            ctx.source.drop_field(f)
    return True


def _money_says(f: str, raw: str) -> str | None:
    """What one money cell says about its column's decimal convention (each distinct
    cell read once: the lines of an order repeat their prices)."""
    key = (f, raw)
    says = _EVIDENCE_SEEN.get(key, _UNSEEN)
    if says is _UNSEEN:
        says = None
        if raw.strip():
            # a cell that is no amount is rejected in pass 2, with the reason
            with contextlib.suppress(InvalidInput):
                says = validate.money_evidence(raw, f)
        if len(_EVIDENCE_SEEN) < 200_000:
            _EVIDENCE_SEEN[key] = says
    return says  # type: ignore[no-any-return]


def _date_says(f: str, raw: str) -> str | None:
    """What one date cell says about its column's day/month order."""
    key = (f, raw)
    says = _EVIDENCE_SEEN.get(key, _UNSEEN)
    if says is _UNSEEN:
        says = validate.date_evidence(raw)
        if len(_EVIDENCE_SEEN) < 200_000:
            _EVIDENCE_SEEN[key] = says
    return says  # type: ignore[no-any-return]


def _fit_says(check: Callable[[str], Any], raw: str) -> str:
    """Whether one (stripped, non-empty) cell fits the field its column was matched to
    (each distinct cell checked once: an enum column repeats a handful of values)."""
    key = (check, raw)
    verdict = _FIT_SEEN.get(key)
    if verdict is None:
        try:
            check(raw)
            verdict = "fits"
        except InvalidInput:
            verdict = "misfits"
        if len(_FIT_SEEN) < 10_000:
            _FIT_SEEN[key] = verdict
    return verdict


def _money_evidence(
    record: dict[str, str], money: list[str], evidence: dict[str, Counter[str]]
) -> None:
    """Count what one record's money cells say about their columns' decimal convention."""
    for f in money:
        raw = record.get(f)
        if raw:
            says = _money_says(f, raw)
            if says:
                evidence[f][says] += 1


def _date_evidence(
    record: dict[str, str], dates: list[str], evidence: dict[str, Counter[str]]
) -> None:
    """Count what one record's date cells say about their columns' day/month order."""
    for f in dates:
        raw = record.get(f)
        if raw:
            says = _date_says(f, raw)
            if says:
                evidence[f][says] += 1


def _fit_evidence(
    record: dict[str, str],
    checks: dict[str, Callable[[str], Any]],
    evidence: dict[str, Counter[str]],
) -> None:
    """Count whether one record's cells fit the fields their columns were matched to."""
    for f, check in checks.items():
        raw = (record.get(f) or "").strip()
        if raw:
            evidence[f][_fit_says(check, raw)] += 1


def _evidence_by_counts(
    chunks: Iterator[dict[str, Counter[str]]],
    money: list[str],
    dates: list[str],
    checks: dict[str, Callable[[str], Any]],
    evidence: dict[str, Counter[str]],
    currencies: set[str],
) -> None:
    """Pass 1 from cell counts (CsvSource.column_chunks, counted in C): the same evidence
    as the row-by-row functions above, each distinct cell of a chunk weighed by how often
    it occurs."""
    for counts in chunks:
        for f in money:
            for raw, n in counts[f].items():
                says = _money_says(f, raw) if raw else None
                if says:
                    evidence[f][says] += n
        for f in dates:
            for raw, n in counts[f].items():
                says = _date_says(f, raw) if raw else None
                if says:
                    evidence[f][says] += n
        for f, check in checks.items():
            for cell, n in counts[f].items():
                raw = cell.strip()
                if raw:
                    evidence[f][_fit_says(check, raw)] += n
        if "currency" in counts:
            currencies.update(c.strip().upper() for c in counts["currency"] if c.strip())


_FIT_SEEN: dict[tuple[Callable[[str], Any], str], str] = {}  # (check, cell) -> verdict
_EVIDENCE_SEEN: dict[tuple[str, str], Any] = {}  # (field, cell) -> what it says
_UNSEEN = object()


def _apply_conventions(
    ctx: Context,
    money: list[str],
    dates: list[str],
    evidence: dict[str, Counter[str]],
    currency: str | None,
) -> None:
    """Decide each money and date column's convention from its evidence and the options,
    and record the decisions that rest on evidence in the summary."""
    opts = ctx.options
    for f in money:
        conv, by = validate.decide_decimal(evidence[f], f, opts.decimal, currency, opts.region)
        ctx.decimal[f] = conv
        if evidence[f]:
            ctx.summary.conventions[f] = {"decimal": conv, "decided_by": by}
    for f in dates:
        order, by = validate.decide_date_order(evidence[f], f, opts.date_order, opts.region)
        ctx.date_order[f] = order
        if order is not None:
            ctx.summary.conventions[f] = {"date_order": order, "decided_by": by}
