"""The file exporters of the rendering layer: self-contained HTML and XLSX.

Both are byte-for-byte reproducible for the same report and meta: the only time they
contain is the report's as-of time (charts are SVG written by `output.svg`, the workbook's
creation date is the as-of time, xlsxwriter's zip entries carry a fixed date). jinja2 and
xlsxwriter are imported here only, on demand. Labels, number formats and the sentences of
empty sections come from `output.labels`, like the terminal and markdown renderings.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

from crmcli.output import labels
from crmcli.output.sections import (
    cell_kind,
    charts_for,
    display_rows,
    empty_text,
    header_line,
    human_cell,
    human_columns,
    report_currency,
    section_rows,
    sparkline,
)

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


# ------------------------------------------------------------------ html


def render_html(
    report: dict[str, Any], title: str | None, meta: dict[str, Any] | None = None
) -> str:
    """One self-contained HTML page: inline CSS, tables, inline SVG charts; no network.

    A header with the period, the as-of time and the database; a table of contents when
    the report has several sections; wide tables scroll inside their card; print CSS for A4.
    """
    import jinja2

    from crmcli.output.svg import svg_chart

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crmcli", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    currency = report_currency(report, meta)
    sections = []
    for name, section in report.items():
        entry: dict[str, Any] = {"name": name, "title": labels.section_title(name)}
        why = empty_text(name, section)
        if why is not None:
            entry["empty"] = why
            sections.append(entry)
            continue
        rows = display_rows(section_rows(section))
        cols = human_columns(rows)
        entry["columns"] = [
            {"name": labels.label(c), "numeric": any(_is_num(r.get(c)) for r in rows)} for c in cols
        ]
        numeric = {c["name"]: c["numeric"] for c in entry["columns"]}
        entry["rows"] = [
            [
                {
                    "text": _html_cell(c, r, currency),
                    "num": _is_num(r.get(c)) or (r.get(c) is None and numeric[labels.label(c)]),
                }
                for c in cols
            ]
            for r in rows
        ]
        charts = [
            svg_chart(
                rows, {**spec, "title": labels.title(str(spec.get("title") or ""))}, labels.label
            )
            for spec in charts_for(meta, name)
        ]
        entry["charts"] = [c for c in charts if c]
        # Key figures and small tables share a row of cards; wide tables take the page width.
        entry["figures"] = not entry["charts"] and (
            isinstance(section, dict) or (len(cols) <= 3 and len(rows) <= 15)
        )
        sections.append(entry)
    template = env.get_template("report.html.j2")
    return template.render(
        title=labels.title(title or "crm report"),
        subtitle=header_line(meta, report),
        sections=sections,
        toc=len(sections) > 2,
        lang="zh-CN" if labels.lang() == "zh" else "en",
        contents=labels.word("contents"),
        generated=labels.word("generated"),
    )


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _html_cell(col: str, row: dict[str, Any], currency: str | None) -> str:
    value = row.get(col)
    if isinstance(value, list) and value and all(_is_num(v) for v in value):
        return sparkline(value)
    return human_cell(col, row, currency)


# ------------------------------------------------------------------ xlsx


def _sheet_name(name: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub("_", name)[:31] or "sheet"
    candidate, n = base, 2
    while candidate.lower() in used:
        suffix = f"_{n}"
        candidate = base[: 31 - len(suffix)] + suffix
        n += 1
    used.add(candidate.lower())
    return candidate


def _as_datetime(key: str, value: Any) -> datetime | None:
    """Stored times (`*_at`) as naive local datetimes, ISO dates as dates: real Excel dates."""
    if not isinstance(value, str):
        return None
    if key.endswith("_at") or key == "as_of":
        from crmcli.core.clock import from_iso, local_zone

        try:
            return from_iso(value).astimezone(local_zone()).replace(tzinfo=None)
        except ValueError:
            return None
    if _DATE_RE.match(value):
        try:
            return datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            return None
    return None


def render_xlsx(
    report: dict[str, Any], title: str | None, meta: dict[str, Any] | None = None
) -> bytes:
    """One sheet per section (key figures as metric/value), labelled headers, typed cells
    with number formats by kind (money `#,##0.00`, percentages `0.0%`, dates as dates), a
    frozen header row, an empty section's sentence in its sheet, plus an `about` sheet."""
    import xlsxwriter

    meta = meta or {}
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    created = _as_datetime("as_of", meta.get("as_of")) or datetime(2000, 1, 1)
    wb.set_properties({"title": title or "crm report", "author": "crmcli", "created": created})
    header = wb.add_format({"bold": True, "bg_color": "#e5e7eb", "bottom": 1})
    datetime_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    number_formats: dict[str, Any] = {}

    def number_format(code: str) -> Any:
        if code not in number_formats:
            number_formats[code] = wb.add_format({"num_format": code})
        return number_formats[code]

    used: set[str] = set()
    currency = report_currency(report, meta)

    about = wb.add_worksheet(_sheet_name("about", used))
    about.write_row(0, 0, [labels.label("field"), labels.label("value")], header)
    about_rows: list[tuple[str, Any]] = [("title", title or "crm report")]
    about_rows += [(k, meta.get(k)) for k in ("as_of", "database", "subtitle") if meta.get(k)]
    if currency:
        about_rows.append(("currency", currency))
    for i, (k, v) in enumerate(about_rows, start=1):
        about.write_string(i, 0, labels.word(k) if k in labels.WORDS else labels.label(k))
        moment = _as_datetime(k, v)
        if moment is not None:
            about.write_datetime(i, 1, moment, datetime_fmt)
        else:
            about.write_string(i, 1, str(v))
    about.set_column(0, 0, 14)
    about.set_column(1, 1, 44)
    about.freeze_panes(1, 0)

    for name, section in report.items():
        ws = wb.add_worksheet(_sheet_name(name, used))
        why = empty_text(name, section)
        if why is not None:
            ws.write_row(0, 0, [labels.section_title(name)], header)
            ws.write_string(1, 0, why)
            ws.set_column(0, 0, 80)
            ws.freeze_panes(1, 0)
            continue
        rows = section_rows(section)
        cols = human_columns(rows)
        heads = [labels.label(c) for c in cols]
        ws.write_row(0, 0, heads, header)
        widths = [max(8, len(h) + 2) for h in heads]
        for r_i, row in enumerate(rows, start=1):
            for c_i, col in enumerate(cols):
                value = row.get(col)
                key = str(row.get("metric")) if isinstance(section, dict) else col
                if value is None:
                    continue
                moment = _as_datetime(key, value)
                if moment is not None:
                    is_date = isinstance(value, str) and bool(_DATE_RE.match(value))
                    ws.write_datetime(r_i, c_i, moment, date_fmt if is_date else datetime_fmt)
                    widths[c_i] = max(widths[c_i], 12 if is_date else 20)
                elif isinstance(value, bool):
                    ws.write_boolean(r_i, c_i, value)
                elif _is_num(value):
                    stored, code = labels.xlsx_number(value, cell_kind(col, row))
                    ws.write_number(r_i, c_i, stored, number_format(code))
                    shown = human_cell(col, row, None)
                    widths[c_i] = max(widths[c_i], min(18, len(shown) + 2))
                else:
                    text = (
                        human_cell(col, row, currency)
                        if col in ("metric", "measure", "clock")
                        else str(value)
                        if not isinstance(value, list | dict)
                        else human_cell(col, row)
                    )
                    ws.write_string(r_i, c_i, text)
                    widths[c_i] = max(widths[c_i], min(50, len(text) + 2))
        for c_i, w in enumerate(widths):
            ws.set_column(c_i, c_i, w)
        ws.freeze_panes(1, 0)
    wb.close()
    return buf.getvalue()
