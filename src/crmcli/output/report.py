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
in `render_files` and are imported only for html / xlsx.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from crmcli.core.errors import InvalidInput, OperationalError
from crmcli.output import emit as output
from crmcli.reports.model import ChartSpec, is_absent

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
SPARK = "▁▂▃▄▅▆▇█"
BAR_WIDTH = 24

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
MaskOption = Annotated[
    bool | None,
    typer.Option(
        "--mask/--no-mask",
        help="Mask phones, emails and addresses (default: $CRM_MASK).",
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


def cell(value: Any) -> str:
    """A cell as text for csv / markdown / table / html: numbers exactly as JSON has them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value else ""
    if isinstance(value, list | tuple):
        return "; ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def sparkline(values: Sequence[float | int | None]) -> str:
    """▁▃▇ ... for a series (None as a space)."""
    nums = [v for v in values if v is not None]
    if not nums:
        return ""
    low, high = min(nums), max(nums)
    span = high - low
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span == 0:
            out.append(SPARK[len(SPARK) // 2] if high else SPARK[0])
        else:
            out.append(SPARK[round((v - low) / span * (len(SPARK) - 1))])
    return "".join(out)


def bar(value: float | int | None, top: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar proportional to value / top."""
    if value is None or top <= 0 or value <= 0:
        return ""
    eighths = round(value / top * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (" ▏▎▍▌▋▊▉"[rest] if rest else "")


def section_rows(section: Any) -> list[dict[str, Any]]:
    """Any section as rows: tables as they are, key figures as metric/value rows."""
    if isinstance(section, list):
        return [r if isinstance(r, dict) else {"value": r} for r in section]
    if isinstance(section, dict):
        return [{"metric": k, "value": v} for k, v in output.prepare(section).items()]
    return [{"value": section}]


def columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def display_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Times (keys ending in _at) in the configured zone, like every other output."""
    return [output.prepare(r) for r in rows]


def mask_nested(record: dict[str, Any]) -> dict[str, Any]:
    """mask_row on the record and on every dict in it (profile extensions: contacts, ...)."""
    from crmcli.core.masking import mask_row

    out = mask_row(record)
    for key, value in out.items():
        if isinstance(value, dict):
            out[key] = mask_nested(value)
        elif isinstance(value, list):
            out[key] = [mask_nested(v) if isinstance(v, dict) else v for v in value]
    return out


def masked(report: dict[str, Any], mask: bool) -> dict[str, Any]:
    """A copy of the report with personal fields masked in every table and key-figure block."""
    if not mask:
        return report
    from crmcli.core.masking import mask_row

    out: dict[str, Any] = {}
    for name, section in report.items():
        if isinstance(section, list):
            out[name] = [mask_row(r) if isinstance(r, dict) else r for r in section]
        elif isinstance(section, dict) and not is_absent(section):
            out[name] = mask_row(section)
        else:
            out[name] = section
    return out


def charts_for(meta: dict[str, Any] | None, name: str) -> list[ChartSpec]:
    return [c for c in (meta or {}).get("charts", []) if c.get("section") == name]


# ------------------------------------------------------------------ text formats


def render_json(report: dict[str, Any], indent: int | None = 2) -> str:
    return output.to_json(output._prepare_deep(report), indent=indent) + "\n"


def render_csv(report: dict[str, Any]) -> str:
    """Sections one after another, each headed by a `# name` line and its own header row."""
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    first = True
    for name, section in report.items():
        rows = display_rows(section_rows(section))
        if not rows:
            continue
        if not first:
            buf.write("\n")
        buf.write(f"# {name}\n")
        cols = columns_of(rows)
        writer.writerow(cols)
        for r in rows:
            # Formula injection is a text problem: numbers (negative ones too) stay numbers.
            writer.writerow(
                [
                    output.neutralise(cell(r.get(c)))
                    if isinstance(r.get(c), str)
                    else cell(r.get(c))
                    for c in cols
                ]
            )
        first = False
    return buf.getvalue()


def render_markdown(
    report: dict[str, Any], title: str | None, meta: dict[str, Any] | None = None
) -> str:
    parts: list[str] = []
    if title:
        parts.append(f"# {title}\n")
    subtitle = header_line(meta)
    if subtitle:
        parts.append(f"_{subtitle}_\n")
    for name, section in report.items():
        parts.append(f"## {name}\n")
        if is_absent(section):
            parts.append(f"_No data: {section['no_data']}_\n")
            continue
        rows = display_rows(section_rows(section))
        if not rows:
            parts.append("_No rows._\n")
            continue
        cols = columns_of(rows)

        def esc(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        lines = ["| " + " | ".join(esc(c) for c in cols) + " |"]
        lines.append("|" + "|".join("---:" if _numeric(rows, c) else "---" for c in cols) + "|")
        for r in rows:
            lines.append("| " + " | ".join(esc(cell(r.get(c))) for c in cols) + " |")
        parts.append("\n".join(lines) + "\n")
        for chart in charts_for(meta, name):
            for y in chart.get("y", []):
                parts.append(f"{y}: {sparkline([_num(r.get(y)) for r in rows])}\n")
    return "\n".join(parts)


def header_line(meta: dict[str, Any] | None) -> str:
    """`as of 2024-05-01T08:00:00+08:00 · database crm.db` (what the report is about)."""
    meta = meta or {}
    bits = []
    if meta.get("as_of"):
        from crmcli.core.clock import display_time

        bits.append(f"as of {display_time(str(meta['as_of']))}")
    if meta.get("database"):
        bits.append(f"database {meta['database']}")
    if meta.get("subtitle"):
        bits.append(str(meta["subtitle"]))
    return " · ".join(bits)


def _num(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _numeric(rows: Sequence[dict[str, Any]], col: str) -> bool:
    return any(_is_number(r.get(col)) for r in rows)


def rich_renderables(
    report: dict[str, Any], title: str | None, meta: dict[str, Any] | None
) -> list[Any]:
    """rich Tables for the terminal: bar cells for bar charts, sparklines for line charts."""
    from rich.table import Table
    from rich.text import Text

    items: list[Any] = []
    if title:
        items.append(Text(title, style="bold"))
    subtitle = header_line(meta)
    if subtitle:
        items.append(Text(subtitle))
    for name, section in report.items():
        if is_absent(section):
            items.append(Text(f"{name}: no data ({section['no_data']})"))
            continue
        rows = display_rows(section_rows(section))
        if not rows:
            items.append(Text(f"{name}: no rows"))
            continue
        cols = columns_of(rows)
        charts = charts_for(meta, name)
        bar_cols = [y for c in charts if c.get("kind") == "bar" for y in c.get("y", [])[:1]]
        table = Table(title=name, header_style="bold", title_justify="left")
        for c in cols:
            table.add_column(c, justify="right" if _numeric(rows, c) else "left")
        tops = {b: max((_num(r.get(b)) or 0.0) for r in rows) for b in bar_cols}
        for _ in bar_cols:
            table.add_column("", justify="left", no_wrap=True)
        for r in rows:
            cells = [
                sparkline(r[c])
                if isinstance(r.get(c), list) and all(_is_number(v) for v in r[c])
                else cell(r.get(c))
                for c in cols
            ]
            cells += [bar(_num(r.get(b)), tops[b]) for b in bar_cols]
            table.add_row(*cells)
        items.append(table)
        for chart in charts:
            if chart.get("kind", "line") == "line":
                for y in chart.get("y", []):
                    series = [_num(r.get(y)) for r in rows]
                    items.append(Text(f"  {y} trend: {sparkline(series)}"))
    return items


def render_table_text(
    report: dict[str, Any], title: str | None, meta: dict[str, Any] | None
) -> str:
    """The terminal rendering as plain text (for `--out report.txt`)."""
    from rich.console import Console

    buf = io.StringIO()
    con = Console(file=buf, width=120, color_system=None, markup=False, highlight=False)
    for item in rich_renderables(report, title, meta):
        con.print(item)
    return buf.getvalue()


# ------------------------------------------------------------------ writing


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file via a temporary file in the same directory and os.replace.

    A reader (or a cron job's consumer) sees the old file or the new one, never half. The
    file is created 0600: a report may hold personal data (crmcli.core.files).
    """
    target = path.expanduser()
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise OperationalError(f"cannot write {target}: no such directory {directory}")
    from crmcli.core.files import atomic_write_private

    atomic_write_private(target, data)


def render_bytes(
    report: dict[str, Any], fmt: str, title: str | None, meta: dict[str, Any] | None
) -> bytes:
    """The whole report in one format, as the bytes a file would hold."""
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


def emit_report(
    report: dict[str, Any],
    fmt: str,
    title: str | None = None,
    out: Path | None = None,
    meta: dict[str, Any] | None = None,
    mask: bool | None = None,
) -> None:
    """Render a report (dict of sections) to stdout, or atomically to `out`.

    `mask`: True/False, or None to follow $CRM_MASK. `meta`: as_of, database, subtitle,
    charts. A format the caller has not validated is checked here.
    """
    from crmcli.core.masking import should_mask

    fmt = output.check_format(fmt, REPORT_FORMATS)
    if meta is None:
        meta = default_meta()
    report = masked(report, should_mask(mask))
    if out is not None:
        write_atomic(Path(out), render_bytes(report, fmt, title, meta))
        output.info(f"Wrote {fmt} report to {out}")
        return
    if fmt == "table":
        con = output.console()
        for item in rich_renderables(report, title, meta):
            con.print(item)
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
