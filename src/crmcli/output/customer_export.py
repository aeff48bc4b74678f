"""`crm customer export`: stream customers to CSV, JSON or JSON Lines.

The columns are the import's field names, so an export re-imports (`crm customer import
FILE --key external_id`) into the same customers; `id` and `updated_at` ride along for
the reader and are ignored by the import. CSV cells that a spreadsheet would run as a
formula are neutralised (the import undoes it); a CSV file gets a UTF-8 BOM so that Excel
reads Chinese correctly. Files are written to a temporary name and renamed into place, so
a reader (an ERP job polling the file) never sees half an export.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from crmcli.core.masking import mask_personal
from crmcli.core.sanitize import csv_cell, csv_writer, export_number
from crmcli.db import Database
from crmcli.db import customers as repo
from crmcli.importing.customers import CONTACT_COLUMNS, EXPORT_FIELDS
from crmcli.output.emit import cell, prepare, to_json

EXPORT_FORMATS = ("csv", "json", "jsonl")
# (phone_suspect: a phone read in the default region from another plan's grouping; an
# import of the export keeps it suspect)
EXPORT_COLUMNS = ["id", *EXPORT_FIELDS, "updated_at", "phone_suspect", *CONTACT_COLUMNS]


def export_columns() -> list[str]:
    """The export's columns: --columns (names checked against the export's), else all."""
    from crmcli.core.errors import InvalidInput
    from crmcli.output.emit import view_option

    chosen = view_option("columns")
    if not chosen:
        return list(EXPORT_COLUMNS)
    names = [c.strip() for c in str(chosen).split(",") if c.strip()]
    unknown = [c for c in names if c not in EXPORT_COLUMNS]
    if unknown:
        raise InvalidInput(
            f"unknown column(s) for --columns: {', '.join(unknown)}; choose from: "
            + ", ".join(EXPORT_COLUMNS)
        )
    return names


def export_rows(
    db: Database, flt: repo.CustomerFilter, mask: bool, custom: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Matching customers in id order with the export's columns, times in the local zone;
    custom field values under `custom` and the secondary contact points a merge kept under
    other_emails / other_phones / other_addresses (fetched per batch)."""
    from crmcli.db import fields

    columns = export_columns()
    batch: list[dict[str, Any]] = []

    def flush() -> Iterator[dict[str, Any]]:
        values = fields.values_for(db, "customer", [r["id"] for r in batch]) if custom else {}
        contacts = repo.contact_points_for(db, [r["id"] for r in batch])
        for row in batch:
            mine = contacts.get(row["id"], {})
            out = {c: row.get(c) for c in EXPORT_COLUMNS} | {
                column: list(mine.get(kind, [])) for column, kind in CONTACT_COLUMNS.items()
            }
            if mask:
                out = mask_personal(out)
            out = prepare(out)
            out = {c: out[c] for c in columns}
            if custom:
                out["custom"] = values[row["id"]]
            yield out
        batch.clear()

    for row in repo.iter_customers(db, flt):
        batch.append(row)
        if len(batch) >= 5000:
            yield from flush()
    yield from flush()


def write_export(
    rows: Iterable[dict[str, Any]], fmt: str, out: IO[str], custom: list[str] | None = None
) -> int:
    """Write rows in fmt (csv | json | jsonl); returns how many were written. CSV gets a
    `custom.NAME` column per custom field."""
    n = 0
    custom = custom or []
    if fmt == "csv":
        columns = export_columns()
        writer = csv_writer(out, lineterminator="\r\n")
        writer.writerow([*columns, *(csv_cell(f"custom.{c}") for c in custom)])
        for row in rows:
            values = row.get("custom") or {}
            writer.writerow(
                [csv_cell(_csv_text(c, row[c])) for c in columns]
                + [csv_cell(cell(export_number(values.get(c)))) for c in custom]
            )
            n += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(to_json(row, indent=None) + "\n")
            n += 1
    else:
        out.write("[")
        for row in rows:
            out.write(("\n" if n == 0 else ",\n") + to_json(row, indent=None))
            n += 1
        out.write("\n]\n" if n else "]\n")
    return n


def _csv_text(column: str, value: Any) -> str:
    """A CSV cell; other_addresses one address a line (an address may hold a "; ", never a
    line break: stored text is folded to one line), so the import splits them back."""
    if column == "other_addresses" and isinstance(value, list):
        return "\n".join(cell(v) for v in value)
    return cell(value)


def stream_json(items: Iterable[dict[str, Any]], fmt: str, out: IO[str]) -> int:
    """A JSON array (indented items) or JSON Lines, written item by item: no giant string."""
    n = 0
    for item in items:
        if fmt == "jsonl":
            out.write(to_json(item, indent=None) + "\n")
        else:
            out.write(("[\n" if n == 0 else ",\n") + to_json(item, indent=2))
        n += 1
    if fmt != "jsonl":
        out.write("\n]\n" if n else "[]\n")
    return n


def choose_format(option: str | None, out: Path | None) -> str:
    """--format wins; else the --out suffix; else a global csv/json/jsonl; else csv."""
    from crmcli.core import config
    from crmcli.output.emit import check_format

    if option:
        return check_format(option, EXPORT_FORMATS)
    suffix = out.suffix.lower().lstrip(".") if out is not None else ""
    if suffix in EXPORT_FORMATS:
        return suffix
    glob = (config.settings.format or "").lower()
    return glob if glob in EXPORT_FORMATS else "csv"


def export_customers(
    db: Database,
    flt: repo.CustomerFilter,
    fmt: str,
    out: Path | None,
    mask: bool,
    follow_symlinks: bool = False,
) -> int:
    """Export to a file (atomically, mode 0600: it holds personal data) or to stdout."""
    from crmcli.core.files import follow_default, open_atomic

    export_columns()  # an unknown --columns name fails before anything is written
    from crmcli.db import fields

    custom = [f["name"] for f in fields.list_fields(db, "customer")]
    rows = export_rows(db, flt, mask, custom)
    if out is None:
        return write_export(rows, fmt, sys.stdout, custom)
    encoding = "utf-8-sig" if fmt == "csv" and str(out) != "-" else "utf-8"
    with open_atomic(
        out, follow_symlinks=follow_default(follow_symlinks), newline="", encoding=encoding
    ) as fh:
        return write_export(rows, fmt, fh, custom)
