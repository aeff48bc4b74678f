"""The customer import pipeline behind `crm customer import`.

Streaming and batched: rows are read one at a time (importing.CsvSource.cells), normalised,
and handled in batches of BATCH rows: one lookup query per identity column per batch
(json_each), then executemany inserts and updates. The whole import is ONE transaction, so a
crash, a kill or Ctrl-C leaves the database exactly as it was; `--dry-run` and `--strict`
(with rejects) roll that transaction back at the end.

Row semantics:
- a row names a customer by the `--key` column (external_id, email or phone); a match is
  updated with the non-empty cells of the file (empty cells never erase data; a non-empty
  tags cell replaces the customer's tags), anything else is inserted;
- a row that would insert a customer whose email or external id another customer (in the
  database or earlier in the file) already has is a duplicate, not inserted; without
  `--key`, so is one whose phone another customer has (with a key, phones may be shared);
- invalid rows (no name, malformed email, impossible phone, invalid lifecycle, ragged row)
  go to the rejects CSV with their line number and the reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from crmcli.core.clock import now_iso, to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import (
    LIFECYCLES,
    normalize_email,
    normalize_enum,
    normalize_phone,
    parse_datetime,
    split_tags,
)
from crmcli.db import Database, audit
from crmcli.db import customers as repo
from crmcli.importing.source import (
    CountingRejects,
    CsvSource,
    ImportSummary,
    Progress,
    RejectWriter,
    default_rejects_path,
    open_csv,
    unneutralise,
)

BATCH = 5000
INDEX_REBUILD_MIN_ROWS = 50_000
KEYS = ("external_id", "email", "phone")
# Field names a customer CSV may carry (also the columns `customer export` writes).
IMPORT_FIELDS = (*repo.CUSTOMER_FIELDS, "tags", "created_at")
# Columns of our own exports that an import accepts but does not store.
IGNORED_FIELDS = ("id", "updated_at", "erased_at")
ALIASES = {
    "标签": "tags",
    "生命周期": "lifecycle",
    "外部编号": "external_id",
    "更新时间": "updated_at",
}
_TAG_SEPARATOR = re.compile(r"[;,；，|]")  # validate.split_tags splits on these
_FOLD = re.compile(r"\s\s|[^\S ]")  # whitespace that " ".join(text.split()) would change
_STORED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class _Reject(Exception):
    """A row that cannot be imported; the message is the reason in the rejects file."""


class _Rollback(Exception):
    """Raised inside the transaction to undo it (dry run, strict mode with rejects)."""


def _text(raw: str) -> str | None:
    """Trimmed, with inner whitespace runs folded to one space; blank is None."""
    if _FOLD.search(raw):
        return " ".join(raw.split()) or None
    return raw.strip() or None


def _notes(raw: str) -> str | None:
    return raw.strip() or None


@lru_cache(maxsize=256)
def _lifecycle(raw: str) -> str | None:
    return normalize_enum(raw, LIFECYCLES, "lifecycle") if raw.strip() else None


def _created_at(raw: str) -> str | None:
    text = raw.strip()
    if not text:
        return None
    if _STORED_TIME.match(text):
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = parse_datetime(text, "created_at")
    return to_iso(moment)


def _phone_normaliser(region: str) -> Callable[[str], str | None]:
    """normalize_phone with a bounded cache (lists repeat numbers; memory stays flat)."""
    cache: dict[str, str | InvalidInput | None] = {}
    china = region.upper() == "CN"

    def phone(raw: str) -> str | None:
        # The bulk of Chinese lists: a bare 11-digit mobile number (same result as
        # normalize_phone's own fast path, without its regular expressions).
        if (
            china
            and len(raw) == 11
            and raw[0] == "1"
            and raw[1] in "3456789"
            and raw.isascii()
            and raw.isdigit()
        ):
            return "+86" + raw
        hit = cache.get(raw)
        if hit is None:
            try:
                hit = normalize_phone(raw, region)
            except InvalidInput as exc:
                hit = exc
            if len(cache) >= 20_000:  # most numbers are unique: keep it small
                cache.clear()
            cache[raw] = hit
        if isinstance(hit, InvalidInput):
            raise hit
        return hit

    return phone


@dataclass(slots=True)
class _Row:
    line: int
    cells: list[str]
    values: dict[str, Any]
    tags: list[str] | None


def _reason_kind(reason: str) -> str:
    return re.split(r" '|:| \(| of customer| \d", reason, maxsplit=1)[0].strip()


class CustomerImporter:
    """One import: normalise rows, batch them, resolve keys and duplicates, write."""

    def __init__(
        self,
        db: Database,
        source: CsvSource,
        summary: ImportSummary,
        rejects: RejectWriter | CountingRejects,
        key: str | None,
        region: str,
        log_changes: bool = False,
    ) -> None:
        self.db = db
        self.log_changes = log_changes  # change_log insert triggers suspended: log by hand
        self.source = source
        self.summary = summary
        self.rejects = rejects
        self.key = key
        self.reasons: Counter[str] = Counter()
        indexes = source.field_indexes()
        self.file_fields = set(indexes) - set(IGNORED_FIELDS)
        normalisers: dict[str, Callable[[str], Any]] = {
            "external_id": _text,
            "name": _text,
            "phone": _phone_normaliser(region),
            "email": normalize_email,
            "address": _text,
            "company": _text,
            "lifecycle": _lifecycle,
            "owner": _text,
            "notes": _notes,
            "created_at": _created_at,
        }
        # Columns read by one header cell (the usual case) take the fast path of normalise().
        self.plan = [
            (name, cols[0], normalisers[name])
            for name, cols in indexes.items()
            if name in normalisers and len(cols) == 1
        ]
        self.multi_plan = [
            (name, cols, normalisers[name])
            for name, cols in indexes.items()
            if name in normalisers and len(cols) > 1
        ]
        self.tag_columns = indexes.get("tags")
        self.name_required = "name" in self.file_fields
        self.lookups = [c for c in repo.LOOKUP_COLUMNS if c in self.file_fields]
        # Columns an update may set: the file's own (created_at is kept from the first import).
        self.update_columns = [c for c in repo.CUSTOMER_FIELDS if c in self.file_fields]
        self.now = now_iso()
        self.next_id = repo.max_customer_id(db) + 1
        self.first_new_id = self.next_id

    # -- one row -----------------------------------------------------------------------
    def normalise(self, cells: list[str]) -> tuple[dict[str, Any], list[str] | None]:
        # Every normaliser returns None for blank text: no separate emptiness check needed.
        values: dict[str, Any] = {}
        for name, index, normaliser in self.plan:
            raw = cells[index]
            if raw:
                if raw[0] == "'":
                    raw = unneutralise(raw)
                value = normaliser(raw)
                if value is not None:
                    values[name] = value
        for name, cols, normaliser in self.multi_plan:
            raw = unneutralise(next((cells[i] for i in cols if cells[i].strip()), ""))
            value = normaliser(raw) if raw else None
            if value is not None:
                values[name] = value
        tags = None
        if self.tag_columns:
            cols = self.tag_columns
            raw = cells[cols[0]] if len(cols) == 1 else ";".join(cells[i] for i in cols)
            if raw:
                if _TAG_SEPARATOR.search(raw) is None:  # one tag: no split needed
                    tag = unneutralise(raw.strip())
                    tags = [tag] if tag else None
                else:
                    tags = split_tags(unneutralise(raw)) or None
        if self.name_required and "name" not in values:
            raise _Reject("no name")
        return values, tags

    def reject(self, line: int, reason: str, cells: list[str], duplicate: bool = False) -> None:
        self.rejects.add(line, reason, cells)
        if duplicate:
            self.summary.duplicates += 1
        else:
            self.summary.rejected += 1
            self.reasons[_reason_kind(reason)] += 1

    def run(self, progress: Progress) -> None:
        pending: list[_Row] = []
        for line, cells, problem in self.source.cells():
            self.summary.rows += 1
            if problem:
                self.reject(line, problem, cells)
                continue
            try:
                values, tags = self.normalise(cells)
            except (_Reject, InvalidInput) as exc:
                self.reject(line, str(exc), cells)
                continue
            pending.append(_Row(line, cells, values, tags))
            if len(pending) >= BATCH:
                self.flush(pending)
                pending = []
                progress.update(self.source.progress_fraction())
        self.flush(pending)
        progress.update(1.0)
        if self.reasons:
            self.summary.extra["reject_reasons"] = dict(self.reasons.most_common())

    # -- one batch ---------------------------------------------------------------------
    def flush(self, batch: list[_Row]) -> None:
        if not batch:
            return
        found = {
            col: repo.lookup_ids(
                self.db, col, sorted({r.values[col] for r in batch if col in r.values})
            )
            for col in self.lookups
        }
        existing: dict[int, dict[str, Any]] = {}
        if self.key:
            ids = list(set(found[self.key].values()))
            existing = repo.fetch_for_import(self.db, ids, self.update_columns)
        local: dict[str, dict[str, int]] = {col: {} for col in self.lookups}
        records: dict[int, dict[str, Any]] = {}
        new_ids: list[int] = []
        changed: set[int] = set()
        retagged: set[int] = set()
        for row in batch:
            values = row.values
            target = None
            if self.key and self.key in values:
                kv = values[self.key]
                target = local[self.key].get(kv) or found[self.key].get(kv)
            holder = None
            for col in self.lookups:
                value = values.get(col)
                # Phones are not unique: with a --key the key alone names a customer (two ERP
                # customers may share a switchboard number); without one, a shared phone is
                # the duplicate signal.
                if value is None or col == self.key or (col == "phone" and self.key):
                    continue
                holder = local[col].get(value) or found[col].get(value)
                if holder is not None and holder != target:
                    self.reject(
                        row.line, f"duplicate of customer {holder} (same {col})", row.cells, True
                    )
                    break
            else:
                if target is None:
                    self._insert(row, records, new_ids, local)
                else:
                    if target not in records:
                        records[target] = existing[target]
                    self._update(row, target, records[target], changed, retagged, local)
        self._write(records, new_ids, changed - set(new_ids), retagged - set(new_ids))

    def _remember(self, values: dict[str, Any], cid: int, local: dict[str, dict[str, int]]) -> None:
        for col in self.lookups:
            if col in values:
                local[col][values[col]] = cid

    def _insert(
        self,
        row: _Row,
        records: dict[int, dict[str, Any]],
        new_ids: list[int],
        local: dict[str, dict[str, int]],
    ) -> None:
        if "name" not in row.values:
            self.reject(row.line, "no name", row.cells)
            return
        cid = self.next_id
        self.next_id += 1
        record = row.values  # the row is done with it: no copy
        record["tags"] = row.tags or []
        record.setdefault("lifecycle", "lead")
        record.setdefault("created_at", self.now)
        records[cid] = record
        new_ids.append(cid)
        self._remember(row.values, cid, local)
        self.summary.inserted += 1

    def _update(
        self,
        row: _Row,
        cid: int,
        record: dict[str, Any],
        changed: set[int],
        retagged: set[int],
        local: dict[str, dict[str, int]],
    ) -> None:
        diff = {k: v for k, v in row.values.items() if k != "created_at" and record.get(k) != v}
        new_tags = row.tags is not None and sorted(row.tags) != sorted(record["tags"])
        if not diff and not new_tags:
            self.summary.unchanged += 1
            return
        record.update(diff)
        if new_tags:
            record["tags"] = row.tags
            retagged.add(cid)
        if diff:
            changed.add(cid)
        self._remember(row.values, cid, local)
        self.summary.updated += 1

    def _write(
        self,
        records: dict[int, dict[str, Any]],
        new_ids: list[int],
        changed: set[int],
        retagged: set[int],
    ) -> None:
        now = self.now
        fields = repo.CUSTOMER_FIELDS
        inserts = []
        tags: list[tuple[int, str]] = []
        for cid in new_ids:
            rec = records[cid]
            inserts.append((cid, *map(rec.get, fields), rec["created_at"], now))
            for tag in rec["tags"]:
                tags.append((cid, tag))
        repo.bulk_insert(self.db, list(fields), inserts, tags, self.log_changes)
        cols = self.update_columns
        updates = [
            (*(records[cid].get(c) for c in cols), now, cid) for cid in sorted(changed | retagged)
        ]
        repo.bulk_update(
            self.db,
            cols,
            updates,
            {cid: records[cid]["tags"] for cid in sorted(retagged)},
            self.log_changes,
        )


def import_customers(
    db: Database,
    path: Path,
    *,
    encoding: str | None = None,
    mapping: list[str] | None = None,
    key: str | None = None,
    region: str = "CN",
    rejects: Path | None = None,
    strict: bool = False,
    dry_run: bool = False,
    defer_search_index: bool = True,
) -> ImportSummary:
    """Import a customer CSV in one transaction; returns what happened (or would have).

    Raises InvalidInput for an unreadable file or options that do not fit it, and (after
    writing the rejects file) when `strict` and any row was rejected or a duplicate; the
    database is then unchanged.
    """
    if key is not None and key not in KEYS:
        raise InvalidInput(f"--key must be one of: {', '.join(KEYS)}")
    source = open_csv(
        path, ALIASES, (*IMPORT_FIELDS, *IGNORED_FIELDS), encoding=encoding, mapping=mapping
    )
    try:
        fields = set(source.field_indexes())
        if key and key not in fields:
            raise InvalidInput(f"--key {key}: {Path(path).name} has no {key} column")
        if not fields - set(IGNORED_FIELDS):
            raise InvalidInput(
                f"{Path(path).name}: no customer columns in the header; "
                "use --map SRC=FIELD (fields: " + ", ".join(IMPORT_FIELDS) + ")"
            )
        summary = ImportSummary(str(path), source.encoding, source.delimiter, dry_run=dry_run)
        summary.unknown_columns = source.unknown_columns
        summary.extra["key"] = key
        summary.extra["ignored_columns"] = [
            c for c, f in zip(source.header, source.fields, strict=True) if f in IGNORED_FIELDS
        ]
        writer: RejectWriter | CountingRejects
        if dry_run and rejects is None:
            writer = CountingRejects()
        else:
            writer = RejectWriter(rejects or default_rejects_path(Path(path)), source.header)
        try:
            _run(db, source, summary, writer, key, region, strict, dry_run, defer_search_index)
        except BaseException:
            writer.discard()
            raise
        if rejects is None and not dry_run and summary.rejects_file is None:
            _remove_stale_rejects(default_rejects_path(Path(path)))
    finally:
        source.close()
    return summary


def _remove_stale_rejects(path: Path) -> None:
    """A clean import removes the rejects file an earlier run left beside the input, so a
    script testing for FILE.rejects.csv sees this run's outcome (only a file we wrote)."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            ours = fh.readline().startswith("line,reason")
        if ours:
            path.unlink()
    except (OSError, UnicodeDecodeError):
        pass


def _run(
    db: Database,
    source: CsvSource,
    summary: ImportSummary,
    writer: RejectWriter | CountingRejects,
    key: str | None,
    region: str,
    strict: bool,
    dry_run: bool,
    defer_search_index: bool,
) -> None:
    failed = False
    try:
        with db.transaction(), Progress(f"Importing {source.path.name}") as progress:
            saved = repo.suspend_search_index(db) if defer_search_index else []
            # A big import into a small table: build the non-lookup indexes once at the end.
            big = source.estimated_rows >= max(INDEX_REBUILD_MIN_ROWS, repo.count_all_customers(db))
            indexes = repo.suspend_secondary_indexes(db) if big else []
            triggers = repo.suspend_change_log(db)
            importer = CustomerImporter(db, source, summary, writer, key, region, bool(triggers))
            importer.run(progress)
            failed = strict and bool(summary.rejected or summary.duplicates)
            if failed or dry_run:
                raise _Rollback  # the rollback also restores the search-index trigger
            repo.resume_change_log(db, triggers)
            repo.resume_secondary_indexes(db, indexes)
            repo.resume_search_index(db, saved, importer.first_new_id)
            if writer.count and writer.path is not None:
                summary.rejects_file = str(writer.path)  # for the audit entry
            audit.record(
                db,
                "import",
                "customer",
                None,
                {
                    k: v
                    for k, v in summary.as_dict().items()
                    if k not in ("dry_run", "unknown_columns", "ignored_columns")
                },
            )
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
