"""One rendering layer for every report.

A report is a dict of named sections. A section is one of:

- a list of row dicts: a table;
- a dict of scalar values: key figures (shown as a metric/value table);
- `absent("why")`, i.e. ``{"no_data": "why"}``: the data for this section does not exist
  yet, which every format says in words instead of showing zeros.

`emit_report(report, fmt, title, out=None, meta=None)` writes it to stdout or, with `out`,
atomically to a file, in table | json | jsonl | csv | markdown | html | xlsx. `meta` carries
what is not data: `as_of`, `database`, `subtitle` and `charts` (see `ChartSpec`); HTML shows
charts as inline SVG, terminal tables as bar cells and sparklines. The heavy exporters live
in `output.documents` and are imported only for html / xlsx. Labels, number kinds and
the sentences of empty sections come from `output.labels`.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from crmcli.core.errors import InvalidInput
from crmcli.output import emit as output
from crmcli.output import labels, plain
from crmcli.output.sections import (
    BAR_WIDTH,
    _is_number,
    _num,
    _numeric,
    bar,
    cell,
    charts_for,
    columns_of,
    display_rows,
    empty_text,
    header_line,
    human_cell,
    human_columns,
    report_currency,
    section_rows,
    sparkline,
)
from crmcli.reports.model import RowStream, materialized

REPORT_FORMATS = ("table", "json", "jsonl", "csv", "markdown", "html", "xlsx")
EXTENSIONS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xlsx": "xlsx",
    ".txt": "table",
}

ReportFormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table, json, jsonl, csv, markdown, html or xlsx (default: from --out's "
        "extension, else table).",
        show_default=False,
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Write the report to this file (atomically: a cron job never sees half a file).",
        show_default=False,
    ),
]


def report_format(fmt: str | None, out: Path | None = None) -> str:
    """--format (command, then global), else the extension of --out, else table.

    A --format that contradicts a known --out extension is refused rather than guessed.
    """
    from crmcli.core import config

    chosen = fmt or config.settings.format
    by_ext = EXTENSIONS.get(out.suffix.lower()) if out is not None else None
    if chosen:
        resolved = output.check_format(chosen, REPORT_FORMATS)
        if (
            out is not None
            and by_ext
            and by_ext != resolved
            and not (by_ext == "table" and resolved == "table")
        ):
            raise InvalidInput(
                f"--format {resolved} contradicts --out {out.name} (a {by_ext} file);"
                " give one or make them agree"
            )
        return resolved
    if out is not None:
        if by_ext is None:
            raise InvalidInput(
                f"cannot tell the format of {out.name} from its extension; give --format"
            )
        return by_ext
    return "table"


# ------------------------------------------------------------------ cells


def masked(report: dict[str, Any], mask: bool) -> dict[str, Any]:
    """A copy of the report with personal fields masked in every table and key-figure block."""
    if not mask:
        return report
    from crmcli.core.masking import mask_personal

    return {
        name: _masked_stream(section, mask_personal)
        if isinstance(section, RowStream)
        else mask_personal(section)
        for name, section in report.items()
    }


def _masked_stream(section: RowStream, mask_row: Any) -> RowStream:
    return RowStream(
        section.count,
        lambda: (mask_row(r) for r in section.rows()),
        section.columns,
        section.flat,
    )


# ------------------------------------------------------------------ human cells (labels, kinds)


# ------------------------------------------------------------------ text formats


def render_json(report: dict[str, Any], indent: int | None = 2) -> str:
    if any(isinstance(v, RowStream) for v in report.values()):
        buf = io.StringIO()
        write_json(report, buf, indent)
        return buf.getvalue()
    return output.to_json(output._prepare_deep(report), indent=indent) + "\n"


def write_json(report: dict[str, Any], fh: IO[str], indent: int | None = 2) -> None:
    """render_json's text, written section by section and a RowStream row by row (the same
    bytes as render_json of the materialized report)."""
    if not report:
        fh.write("{}\n")
        return
    inner = " " * indent if indent else ""
    fh.write("{\n" if indent else "{")
    first = True
    for name, section in report.items():
        if not first:
            fh.write(",\n" if indent else ", ")
        first = False
        fh.write(inner + output.to_json(name, None) + ": ")
        if isinstance(section, RowStream):
            _write_json_rows(name, section, fh, indent)
        else:
            text = output.to_json(output._prepare_deep({name: section})[name], indent)
            fh.write(text.replace("\n", "\n" + inner) if indent and "\n" in text else text)
    fh.write("\n}\n" if indent else "}\n")


def _write_json_rows(name: str, rows: RowStream, fh: IO[str], indent: int | None) -> None:
    if not rows.count:
        fh.write("[]")
        return
    row_indent = " " * (2 * indent) if indent else ""
    fh.write("[\n" if indent else "[")
    if rows.flat and rows.columns:
        _write_flat_rows(rows, fh, indent)
        fh.write("\n" + " " * indent + "]" if indent else "]")
        return
    first = True
    for row in rows:
        if not first:
            fh.write(",\n" if indent else ", ")
        first = False
        text = output.to_json(output._prepare_deep(row, name), indent)
        fh.write(row_indent + (text.replace("\n", "\n" + row_indent) if indent else text))
    fh.write("\n" + " " * indent + "]" if indent else "]")


FLAT_BATCH = 1_000


def _write_flat_rows(rows: RowStream, fh: IO[str], indent: int | None) -> None:
    """Flat rows (RowStream.flat) a thousand per json.dumps call, in the C encoder: the same
    text as encoding each row on its own. With an indent, the batch is encoded with the
    separator that puts each key on its own line; between two rows that separator reads
    `},<newline><indent>{`, which only a row boundary can produce (strings escape their
    newlines, rows hold no nested objects), and is replaced by the rows' own indentation."""
    import itertools
    import json

    source = iter(rows)
    first = True
    row_indent = " " * (2 * indent) if indent else ""
    key_indent = " " * (3 * indent) if indent else ""
    between = "},\n" + key_indent + "{"
    while batch := list(itertools.islice(source, FLAT_BATCH)):
        if indent:
            text = json.dumps(
                batch,
                ensure_ascii=False,
                allow_nan=False,
                default=str,
                separators=(",\n" + key_indent, ": "),
            )
            body = text[2:-2].replace(
                between, "\n" + row_indent + "},\n" + row_indent + "{\n" + key_indent
            )
            piece = row_indent + "{\n" + key_indent + body + "\n" + row_indent + "}"
        else:
            piece = json.dumps(batch, ensure_ascii=False, allow_nan=False, default=str)[1:-1]
        if not first:
            fh.write(",\n" if indent else ", ")
        first = False
        fh.write(piece)


def render_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    write_csv(report, buf)
    return buf.getvalue()


def write_csv(report: dict[str, Any], fh: IO[str]) -> None:
    """Sections one after another, each headed by a `# name` line and its own header row
    (a RowStream section written row by row)."""
    from crmcli.core.sanitize import csv_cell, csv_writer

    writer = csv_writer(fh, lineterminator="\n")
    first = True
    for name, section in report.items():
        if not first:
            fh.write("\n")
        first = False
        fh.write(f"# {csv_cell(name)}\n")
        rows: Iterable[dict[str, Any]]
        if isinstance(section, RowStream) and section.columns:
            if not section.count:
                rows = []
            elif section.flat:
                rows = iter(section)
            else:
                rows = (output.prepare(r) for r in section)
            cols = list(section.columns)
            empty = not section.count
        else:
            listed = display_rows(section_rows(materialized({name: section})[name]))
            rows, cols, empty = listed, columns_of(listed), not listed
        if empty:  # an empty table: its header line says why (absent ones have their row)
            fh.write(
                f"# {empty_text(name, section if not isinstance(section, RowStream) else [])}\n"
            )
            continue
        writer.writerow([csv_cell(c) for c in cols])
        for r in rows:
            # Formula injection is a text problem: numbers (negative ones too) stay numbers.
            writer.writerow(
                [
                    csv_cell(cell(r.get(c)))
                    if isinstance(r.get(c), str | list | dict)
                    else cell(r.get(c))
                    for c in cols
                ]
            )


def render_markdown(
    report: dict[str, Any], title: str | None, meta: dict[str, Any] | None = None
) -> str:
    """Headings and tables with labels and numbers by kind; empty sections say why."""
    parts: list[str] = []
    if title:
        parts.append(f"# {labels.title(title)}\n")
    subtitle = header_line(meta, report)
    if subtitle:
        parts.append(f"_{subtitle}_\n")
    currency = report_currency(report, meta)

    def esc(text: str) -> str:
        return output.term(text).replace("|", "\\|").replace("\n", " ")

    for name, section in report.items():
        parts.append(f"## {labels.section_title(name)}\n")
        why = empty_text(name, section)
        if why is not None:
            parts.append(f"_{why}_\n")
            continue
        rows = display_rows(section_rows(section))
        cols = human_columns(rows)
        lines = ["| " + " | ".join(esc(labels.label(c)) for c in cols) + " |"]
        lines.append("|" + "|".join("---:" if _numeric(rows, c) else "---" for c in cols) + "|")
        for r in rows:
            lines.append("| " + " | ".join(esc(human_cell(c, r, currency)) for c in cols) + " |")
        parts.append("\n".join(lines) + "\n")
        for chart in charts_for(meta, name):
            for y in chart.get("y", []):
                series = [_num(r.get(y)) for r in rows]
                line = sparkline(series)
                if any(series):
                    parts.append(f"{labels.label(y)}: {line}\n")
    return "\n".join(parts)


TEXT_CAP = 28  # terminal cells: longer text is cut with … (every file format has it whole)


def fit_report_columns(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    shown: dict[str, list[str]],
    width: int,
) -> list[str]:
    """The columns (in order) that fit `width` on one line per row; numbers whole."""
    cell_len = plain.cells  # rich.cells.cell_len, quick for ASCII
    chosen: list[str] = []
    used = 1
    for c in columns:
        head = cell_len(labels.label(c))
        natural = max([head] + [cell_len(t) for t in shown[c]])
        need = (natural if _numeric(rows, c) else min(natural, max(TEXT_CAP, head))) + 3
        if chosen and used + need > width:
            continue
        chosen.append(c)
        used += need
    return chosen


def table_items(
    report: dict[str, Any], title: str | None, meta: dict[str, Any] | None, width: int = 200
) -> list[plain.Table | plain.Line]:
    """The terminal rendering: bar cells for bar charts, sparklines for line charts.

    A table wider than `width` shows the columns that fit (the rest are named below it and
    are whole in markdown, HTML, XLSX and the data formats). Printed by rich on a terminal,
    else written directly as the same text (output.plain)."""
    from crmcli.core.sanitize import terminal_text  # output.term, bound once for every cell

    cell_len = plain.cells  # rich.cells.cell_len, quick for ASCII

    items: list[plain.Table | plain.Line] = []
    if title:
        items.append(plain.Line(labels.title(title), bold=True))
    subtitle = header_line(meta, report)
    if subtitle:
        items.append(plain.Line(subtitle))
    currency = report_currency(report, meta)
    for name, section in report.items():
        heading = labels.section_title(name)
        why = empty_text(name, section)
        if why is not None:
            items.append(plain.Line(f"{heading}: {why}"))
            continue
        every = section_rows(section)
        total = len(every)
        limit = ((meta or {}).get("table_rows") or {}).get(name)  # a listing: its first rows
        rows = display_rows(every[:limit] if limit is not None and total > limit else every)
        all_cols = human_columns(rows)
        charts = charts_for(meta, name)
        bar_cols = [
            y for c in charts if c.get("kind") in ("bar", "stacked") for y in c.get("y", [])[:1]
        ]
        shown = {
            c: [
                sparkline(r[c])
                if isinstance(r.get(c), list) and all(_is_number(v) for v in r[c])
                else human_cell(c, r, currency)
                for r in rows
            ]
            for c in all_cols
        }
        cols = fit_report_columns(rows, all_cols, shown, width - (BAR_WIDTH + 3) * len(bar_cols))
        table = plain.Table(title=heading, title_justify="left")
        for c in cols:
            numeric = _numeric(rows, c)
            table.add_column(
                labels.label(c),
                justify="right" if numeric else "left",
                no_wrap=True,
                overflow="ellipsis",
                min_width=max(cell_len(t) for t in shown[c]) if numeric else None,
                max_width=None if numeric else max(TEXT_CAP, cell_len(labels.label(c))),
            )
        tops = {b: max((_num(r.get(b)) or 0.0) for r in rows) for b in bar_cols}
        for _ in bar_cols:
            table.add_column("", justify="left", no_wrap=True)
        for i, r in enumerate(rows):
            cells = [terminal_text(shown[c][i]) for c in cols]
            cells += [bar(_num(r.get(b)), tops[b]) for b in bar_cols]
            table.add_row(*cells)
        items.append(table)
        if len(rows) < total:
            items.append(plain.Line(f"  {labels.more_rows(len(rows), total)}"))
        hidden = [c for c in all_cols if c not in cols]
        if hidden:
            items.append(
                plain.Line(
                    f"  {labels.more_columns(len(hidden))}: "
                    + ", ".join(labels.label(c) for c in hidden)
                )
            )
        for chart in charts:
            if chart.get("kind", "line") == "line":
                for y in chart.get("y", []):
                    series = [_num(r.get(y)) for r in rows]
                    line = sparkline(series)
                    if any(series):
                        items.append(
                            plain.Line(f"  {labels.label(y)} {labels.word('trend')}: {line}")
                        )
    return items


def render_table_text(
    report: dict[str, Any], title: str | None, meta: dict[str, Any] | None
) -> str:
    """The terminal rendering as plain text (for `--out report.txt`)."""
    items = table_items(report, title, meta, 120)
    text = plain.render(items, 120)
    if text is not None:
        return text
    from rich.console import Console

    buf = io.StringIO()
    con = Console(file=buf, width=120, color_system=None, markup=False, highlight=False)
    for item in items:
        con.print(plain.to_rich(item))
    return buf.getvalue()


# ------------------------------------------------------------------ writing


def report_mode(mode: str | None = None) -> int:
    """The permission bits of a report file: --mode, else $CRM_REPORT_MODE, else 0600."""
    import os

    text = mode if mode is not None else os.environ.get("CRM_REPORT_MODE") or "0600"
    try:
        value = int(text, 8)
    except ValueError:
        raise InvalidInput(
            f"--mode {text!r} is not an octal file mode such as 0600 or 0644"
        ) from None
    if value & ~0o777 or value & 0o111:
        raise InvalidInput(f"--mode {text}: give read/write bits only, such as 0600, 0640 or 0644")
    if not value & 0o600 == 0o600:
        raise InvalidInput(f"--mode {text}: the owner must be able to read and write the file")
    return value


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a report file the safe way (crmcli.core.files): a temporary file in the same
    directory renamed into place, so a reader (a cron job's consumer) sees the old file or
    the new one; 0600 by default (a report may hold personal data); a symlink destination
    is refused unless `crm --follow-symlinks`; a FIFO or device is written, not replaced."""
    from crmcli.core.files import follow_default, write_file

    write_file(path, data, mode=mode, follow_symlinks=follow_default())


def render_bytes(
    report: dict[str, Any], fmt: str, title: str | None, meta: dict[str, Any] | None
) -> bytes:
    """The whole report in one format, as the bytes a file would hold."""
    if fmt not in STREAMED_FORMATS:
        report = materialized(report)
    if fmt == "json":
        return render_json(report).encode("utf-8")
    if fmt == "jsonl":
        return render_json(report, indent=None).encode("utf-8")
    if fmt == "csv":
        return render_csv(report).encode("utf-8")
    if fmt == "markdown":
        return render_markdown(report, title, meta).encode("utf-8")
    if fmt == "html":
        from crmcli.output.documents import render_html

        return render_html(report, title, meta).encode("utf-8")
    if fmt == "xlsx":
        from crmcli.output.documents import render_xlsx

        return render_xlsx(report, title, meta)
    return render_table_text(report, title, meta).encode("utf-8")


STREAMED_FORMATS = ("json", "jsonl", "csv")


def _write_streamed(report: dict[str, Any], fmt: str, fh: IO[str]) -> None:
    if fmt == "csv":
        write_csv(report, fh)
    else:
        write_json(report, fh, 2 if fmt == "json" else None)


def _write_streamed_file(path: Path, report: dict[str, Any], fmt: str, mode: int) -> None:
    """write_atomic for a report written as it is rendered (RowStream sections)."""
    from crmcli.core.files import follow_default, open_atomic

    with open_atomic(path, mode=mode, follow_symlinks=follow_default(), newline="") as fh:
        _write_streamed(report, fmt, fh)


def emit_report(
    report: dict[str, Any],
    fmt: str,
    title: str | None = None,
    out: Path | None = None,
    meta: dict[str, Any] | None = None,
    mask: bool | None = None,
    mode: str | None = None,
) -> None:
    """Render a report (dict of sections) to stdout, or atomically to `out`.

    `mask`: True/False, or None to follow $CRM_MASK. `meta`: as_of, database, subtitle,
    charts. A format the caller has not validated is checked here.
    """
    from crmcli.core.masking import should_mask

    fmt = output.check_format(fmt, REPORT_FORMATS)
    if meta is None:
        meta = default_meta()
    if mode is not None and out is None:
        raise InvalidInput("--mode sets the permissions of the --out file; give --out too")
    report = masked(report, should_mask(mask))
    streamed = fmt in STREAMED_FORMATS and any(isinstance(v, RowStream) for v in report.values())
    if not streamed:
        report = materialized(report)
    if out is not None:
        file_mode = report_mode(mode)
        if streamed:
            _write_streamed_file(Path(out), report, fmt, file_mode)
        else:
            write_atomic(Path(out), render_bytes(report, fmt, title, meta), file_mode)
        output.info(f"Wrote {fmt} report to {out}")
        return
    if streamed:
        _write_streamed(report, fmt, sys.stdout)
        sys.stdout.flush()
        return
    if fmt == "table":
        output.print_items(lambda width: table_items(report, title, meta, width))
        return
    data = render_bytes(report, fmt, title, meta)
    if fmt == "xlsx":
        if sys.stdout.isatty():
            raise InvalidInput("xlsx is binary: give --out FILE.xlsx or redirect stdout")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    sys.stdout.write(data.decode("utf-8"))


def default_meta(db_path: Path | str | None = None, **extra: Any) -> dict[str, Any]:
    """as_of (the pinned clock) and the database's file name, plus any extra keys."""
    from crmcli.core.clock import now, to_iso

    meta: dict[str, Any] = {"as_of": to_iso(now())}
    if db_path is not None:
        meta["database"] = Path(db_path).name
    meta.update(extra)
    return meta
