"""`crm export warehouse`: a star schema in Parquet or CSV with a manifest, full or incremental.

Layout of DIR after an export (the latest batch; a loader picks it up after each run):

    dim_customer.parquet  dim_agent  dim_campaign  dim_date
    fact_communication  fact_ticket  fact_ticket_event  fact_campaign_member  fact_order
    deleted_rows          keys deleted since the previous watermark (incremental only)
    manifest.json         written last: tables, row counts, columns, sha256, watermark

Every file is written to a temporary name, fsynced and renamed into place, so a reader never
sees half a file; the manifest goes last, and its checksums tell a reader whether the files
beside it belong to it. Rows stream from SQLite in chunks, so memory stays flat.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crmcli import __version__
from crmcli.core import clock
from crmcli.core.errors import InvalidInput, OperationalError
from crmcli.core.files import write_file
from crmcli.db import Database
from crmcli.db import warehouse as repo
from crmcli.warehouse.schema import (
    KEYS,
    STORED_TIME_FORMAT,
    TABLES,
    Col,
    DateKeys,
    columns_for,
    convert,
    date_rows,
    describe,
)

FILE_FORMATS = ("parquet", "csv")
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
CHUNK_ROWS = 50_000
STAR_TABLES = tuple(repo.SOURCES)  # in export order; dim_date and deleted_rows follow


# ---------------------------------------------------------------- file sinks


class _Sink:
    """Writes one table to a temporary file (core.files: unguessable name, 0600, never
    through a symlink); `finish` fsyncs and renames it into place."""

    def __init__(self, final: Path, cols: Sequence[Col]):
        from crmcli.core.files import AtomicFile

        self.final = final
        self.file = AtomicFile(final, text=False)
        self.tmp = self.file.tmp
        self.cols = list(cols)
        self.rows = 0

    @property
    def sink(self) -> Any:
        """What the library writes to: the temporary file's handle."""
        return self.file.fh

    def write(self, columns: dict[str, list[Any]]) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def finish(self) -> dict[str, Any]:
        self._close()
        if not self.file.fh.closed:
            self.file.fh.flush()
        digest = hashlib.sha256()
        size = 0
        if self.tmp is not None:
            with open(self.tmp, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
                    size += len(block)
        self.file.commit()
        return {"file": self.final.name, "rows": self.rows, "bytes": size,
                "sha256": digest.hexdigest()}  # fmt: skip

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # already failing; only clean up
            self._close()
        self.file.discard()


def _arrow_types() -> dict[str, Any]:
    import pyarrow as pa

    return {
        "int": pa.int64(),
        "str": pa.string(),
        "bool": pa.bool_(),
        "time": pa.timestamp("s", tz="UTC"),
        "money": pa.decimal128(18, 2),
        "date_key": pa.int32(),
        "date": pa.date32(),
        "float": pa.float64(),
    }


class _ArrowSink(_Sink):
    """Turns a chunk's columns (arrays or lists) into a table of the sink's schema."""

    def __init__(self, final: Path, cols: Sequence[Col]):
        super().__init__(final, cols)
        import pyarrow as pa

        self._pa = pa
        types = _arrow_types()
        self.schema = pa.schema([pa.field(c.name, types[c.kind]) for c in self.cols])

    def table(self, columns: dict[str, Any]) -> Any:
        arrays = []
        for field in self.schema:
            value = columns[field.name]
            if isinstance(value, list):
                value = self._pa.array(value, field.type)
            elif value.type != field.type:
                value = value.cast(field.type)
            arrays.append(value)
        return self._pa.Table.from_arrays(arrays, schema=self.schema)


class ParquetSink(_ArrowSink):
    """Parquet (zstd); times are stored as timestamp[ms, UTC] (Parquet has no seconds unit)."""

    def __init__(self, final: Path, cols: Sequence[Col]):
        super().__init__(final, cols)
        import pyarrow.parquet as pq

        pa = self._pa
        self.file_schema = pa.schema(
            [
                pa.field(f.name, pa.timestamp("ms", tz="UTC"))
                if pa.types.is_timestamp(f.type)
                else f
                for f in self.schema
            ]
        )
        self._writer: Any = pq.ParquetWriter(self.sink, self.file_schema, compression="zstd")

    def write(self, columns: dict[str, Any]) -> None:
        table = self.table(columns).cast(self.file_schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class CsvSink(_ArrowSink):
    """UTF-8 CSV (no BOM) with a header row: an empty cell is NULL, "" an empty string, times
    ISO-8601 UTC with Z. Text that a spreadsheet would run as a formula (it begins with
    = + - @, a tab, a CR or their full-width forms) is prefixed with an apostrophe, like
    every CSV the CRM writes (core.sanitize.csv_cell); cells with CR or LF are quoted."""

    def __init__(self, final: Path, cols: Sequence[Col]):
        super().__init__(final, cols)
        import pyarrow.csv as pcsv

        pa = self._pa
        self.file_schema = pa.schema(
            [
                pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) else f
                for f in self.schema
            ]
        )
        options = pcsv.WriteOptions(quoting_style="needed")
        self._writer: Any = pcsv.CSVWriter(self.sink, self.file_schema, write_options=options)

    def write(self, columns: dict[str, Any]) -> None:
        import pyarrow.compute as pc

        table = self.table(columns)
        arrays = [
            pc.strftime(col, format=STORED_TIME_FORMAT)
            if self._pa.types.is_timestamp(col.type)
            else _neutralised(col)
            if self._pa.types.is_string(col.type)
            else col
            for col in table.columns
        ]
        self._writer.write_table(self._pa.Table.from_arrays(arrays, schema=self.file_schema))
        self.rows += table.num_rows

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _neutralised(column: Any) -> Any:
    """core.sanitize.csv_cell over an Arrow string column (NULLs stay NULL)."""
    import pyarrow.compute as pc

    from crmcli.core.sanitize import FORMULA_PREFIXES

    pattern = "^[" + "".join(re.escape(c) for c in FORMULA_PREFIXES) + "]"
    risky = pc.match_substring_regex(column, pattern)
    if not pc.any(risky).as_py():
        return column
    quoted = pc.binary_join_element_wise("'", column, "")
    return pc.if_else(risky, quoted, column)


def _sink(fmt: str, final: Path, cols: Sequence[Col]) -> _Sink:
    return ParquetSink(final, cols) if fmt == "parquet" else CsvSink(final, cols)


# ---------------------------------------------------------------- previous state


def read_manifest(target: Path) -> dict[str, Any] | None:
    path = target / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path} is not a readable manifest: {exc}") from None
    return data if isinstance(data, dict) else None


def previous_state(db: Database, target: Path) -> dict[str, Any] | None:
    """The last export to this directory: from the settings table, else DIR's manifest."""
    state = repo.get_state(db, str(target))
    if state is not None:
        return state
    manifest = read_manifest(target)
    if manifest and isinstance(manifest.get("watermark"), int):
        return {
            "watermark": manifest["watermark"],
            "pii": manifest.get("pii"),
            "date_range": manifest.get("date_range"),
        }
    return None


def _zone_name() -> str:
    return os.environ.get("CRM_TZ") or str(clock.local_zone())


# ---------------------------------------------------------------- export


def export_warehouse(
    db: Database,
    target: Path,
    fmt: str = "parquet",
    since: int | None = None,
    incremental: bool = False,
    include_pii: bool = False,
    on_table: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Write the star schema into `target`; returns the manifest.

    `since` exports what changed after that watermark; `incremental` takes the watermark of
    the previous export to this directory (a full export when there was none).
    """
    fmt = fmt.lower()
    _check_options(fmt, since, incremental)
    target = _prepare_target(target)
    prev = previous_state(db, target)
    pii = "included" if include_pii else "masked"
    if incremental and prev is not None:
        since = int(prev["watermark"])
    if since is not None and prev is not None and prev.get("pii") not in (None, pii):
        raise InvalidInput(
            f"the previous export to {target} had personal data {prev['pii']}; this one would "
            f"have it {pii}. Run a full export (without --incremental / --since) to switch."
        )
    prev_range = prev.get("date_range") if (prev and since is not None) else None

    date_keys = DateKeys(clock.local_zone())
    results: dict[str, dict[str, Any]] = {}
    deleted: list[tuple[str, int, int | None]] = []
    sinks: list[_Sink] = []
    try:
        with repo.read_snapshot(db):
            watermark = repo.current_watermark(db)
            floor = repo.pruned_to(db)
            if since is not None:
                _check_since(since, floor, watermark)
            delta = since is not None
            if delta:
                repo.load_delta(db, int(since or 0), watermark)
            for table in STAR_TABLES:
                cols = columns_for(table, include_pii)
                sink = _sink(fmt, target / f"{table}.{fmt}", cols)
                sinks.append(sink)
                for names, rows in repo.iter_rows(db, table, delta, CHUNK_ROWS):
                    sink.write(convert(cols, names, rows, include_pii, date_keys))
                if delta:
                    deleted += [(table, k1, k2) for k1, k2 in repo.deleted_keys(db, table)]
                results[table] = sink.finish()
                if on_table:
                    on_table(table, results[table]["rows"])
        date_range, dim_date = _date_dimension(date_keys.seen, prev_range)
        sink = _sink(fmt, target / f"dim_date.{fmt}", TABLES["dim_date"])
        sinks.append(sink)
        if dim_date["date_key"]:
            sink.write(dim_date)
        results["dim_date"] = sink.finish()
        results["deleted_rows"] = _write_deleted_rows(fmt, target, deleted, sinks)
    except BaseException as exc:
        for s in sinks:
            s.discard()
        if isinstance(exc, OSError):
            raise OperationalError(f"cannot write the export to {target}: {exc}") from None
        raise

    manifest = _manifest(
        fmt, since, watermark, pii, include_pii, date_range, results, incremental_request=delta
    )
    old = read_manifest(target) if (target / MANIFEST).exists() else None
    write_file(target / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    _remove_stale(target, old, manifest)
    manifest["change_log_pruned"] = repo.save_state(
        db,
        str(target),
        {
            "watermark": watermark,
            "pii": pii,
            "format": fmt,
            "date_range": date_range,
            "mode": manifest["mode"],
            "at": manifest["generated_at"],
        },  # fmt: skip
        {t: r["rows"] for t, r in results.items()},
    )
    manifest["directory"] = str(target)
    return manifest


def _check_options(fmt: str, since: int | None, incremental: bool) -> None:
    """Reject a bad format or watermark before anything is created on disk."""
    if fmt not in FILE_FORMATS:
        raise InvalidInput(f"unknown file format {fmt!r}; choose parquet or csv")
    if since is not None and incremental:
        raise InvalidInput("give either --since WATERMARK or --incremental, not both")
    if since is not None and since < 0:
        raise InvalidInput("--since must be a watermark from a previous export (0 or more)")


def _prepare_target(target: Path) -> Path:
    """Create the export directory and return its resolved path, with the temporary
    files a killed export left behind swept away."""
    if target.exists() and not target.is_dir():
        raise InvalidInput(f"{target} exists and is not a directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OperationalError(f"cannot create {target}: {exc.strerror}") from None
    target = target.resolve()
    from crmcli.core.files import sweep

    sweep(target, legacy=True)  # temporary files a killed export left behind
    return target


def _check_since(since: int, floor: int, watermark: int) -> None:
    """A delta export needs its watermark inside the change log this database keeps:
    older than the pruned floor would silently miss changes, newer means another database."""
    if since < floor:
        raise InvalidInput(
            f"watermark {since} is older than the change log, which is kept from "
            f"{floor} on (every export target has moved past it)",
            hint="run a full export (without --since / --incremental)",
        )
    if since > watermark:
        raise InvalidInput(
            f"watermark {since} is ahead of this database (its change log is at "
            f"{watermark}); was the export made from another database?"
        )


def _write_deleted_rows(
    fmt: str, target: Path, deleted: list[tuple[str, int, int | None]], sinks: list[_Sink]
) -> dict[str, Any]:
    """Write deleted_rows (the keys a delta export removed); the sink joins `sinks` first
    so that a failure discards it with the others."""
    sink = _sink(fmt, target / f"deleted_rows.{fmt}", TABLES["deleted_rows"])
    sinks.append(sink)
    if deleted:
        sink.write(
            {
                "table_name": [d[0] for d in deleted],
                "key1": [d[1] for d in deleted],
                "key2": [d[2] for d in deleted],
            }
        )
    return sink.finish()


def _date_dimension(
    seen: set[int], prev_range: Any
) -> tuple[dict[str, int] | None, dict[str, list[Any]]]:
    """The cumulative date range and the dim_date rows this export adds to it."""
    old: tuple[int, int] | None = None
    if isinstance(prev_range, dict) and prev_range.get("min") and prev_range.get("max"):
        old = (int(prev_range["min"]), int(prev_range["max"]))
    keys = set(seen)
    if old:
        keys |= set(old)
    if not keys:
        return None, {c.name: [] for c in TABLES["dim_date"]}
    first, last = min(keys), max(keys)
    return {"min": first, "max": last}, date_rows(first, last, skip=old)


def _manifest(
    fmt: str,
    since: int | None,
    watermark: int,
    pii: str,
    include_pii: bool,
    date_range: dict[str, int] | None,
    results: dict[str, dict[str, Any]],
    incremental_request: bool,
) -> dict[str, Any]:
    tables = {}
    for table, result in results.items():
        kind = "fact" if table.startswith("fact_") else "dimension"
        if table == "deleted_rows":
            kind = "deletions"
        tables[table] = {
            **result,
            "kind": kind,
            "key": list(KEYS[table]),
            "columns": describe(table, include_pii),
        }
    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": f"crmcli {__version__}",
        "generated_at": clock.now_iso(),
        "mode": "incremental" if incremental_request else "full",
        "since_watermark": since,
        "watermark": watermark,
        "format": fmt,
        "csv_formula_prefix": "'" if fmt == "csv" else None,
        "pii": pii,
        "time_zone": _zone_name(),
        "date_range": date_range,
        "conventions": {
            "times": "UTC; parquet timestamp[ms, UTC] (whole seconds), csv ISO-8601 with Z",
            "money": "decimal major units (e.g. amount) plus integer minor units (amount_cents)",
            "date_key": "YYYYMMDD of the time in time_zone; joins dim_date.date_key",
            "csv_null": "empty cell",
            "incremental": "rows changed after since_watermark replace earlier versions by key;"
            " deleted_rows lists keys deleted since then",
        },
        "tables": tables,
    }


def _remove_stale(target: Path, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    """Files of the previous export that this one did not replace (another --format)."""
    if not old or not isinstance(old.get("tables"), dict):
        return
    keep = {t["file"] for t in new["tables"].values()}
    known = {f"{t}.{ext}" for t in TABLES for ext in FILE_FORMATS}
    for entry in old["tables"].values():
        name = entry.get("file") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in known and name not in keep:
            (target / name).unlink(missing_ok=True)
