"""The file exporters of the rendering layer: self-contained HTML and XLSX.

Both are byte-for-byte reproducible for the same report and meta: the only time they
contain is the report's as-of time (matplotlib's SVG gets a fixed hash salt and no date,
the workbook's creation date is the as-of time, xlsxwriter's zip entries carry a fixed
date). matplotlib (Agg), jinja2 and xlsxwriter are imported here only, on demand.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

from crmcli.output.report import (
    ChartSpec,
    cell,
    charts_for,
    columns_of,
    display_rows,
    header_line,
    is_absent,
    section_rows,
    sparkline,
)

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


# ------------------------------------------------------------------ charts


def svg_chart(rows: list[dict[str, Any]], spec: ChartSpec) -> str:
    """One chart as an inline <svg> element (matplotlib, Agg backend, text kept as text)."""
    import logging
    import warnings

    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    x_col = spec.get("x", "")
    y_cols = [y for y in spec.get("y", []) if any(isinstance(r.get(y), int | float) for r in rows)]
    labels = [cell(r.get(x_col)) for r in rows]
    params: dict[str, Any] = {
        "svg.hashsalt": "crmcli",
        "svg.fonttype": "none",
        "font.family": ["DejaVu Sans", "Noto Sans CJK SC", "sans-serif"],
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with matplotlib.rc_context(params), warnings.catch_warnings():  # type: ignore[arg-type]
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(7.2, 2.6), dpi=100)
        ax = fig.subplots()
        positions = list(range(len(rows)))
        palette = ["#2563eb", "#f97316", "#16a34a", "#9333ea"]
        width = 0.8 / max(1, len(y_cols))
        for i, y in enumerate(y_cols):
            values = [
                float(r[y]) if isinstance(r.get(y), int | float) else float("nan") for r in rows
            ]
            colour = palette[i % len(palette)]
            if spec.get("kind") == "bar":
                offset = (i - (len(y_cols) - 1) / 2) * width
                ax.bar([p + offset for p in positions], values, width=width, color=colour, label=y)
            else:
                ax.plot(positions, values, marker="o", markersize=3, color=colour, label=y)
        step = max(1, len(labels) // 12)
        ax.set_xticks(positions[::step], labels[::step], rotation=30, ha="right")
        ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
        ax.set_axisbelow(True)
        if spec.get("title"):
            ax.set_title(spec["title"], loc="left", fontsize=10)
        if len(y_cols) > 1:
            ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    # The RDF metadata block only names its schemas; drop it to keep the page minimal.
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)


# ------------------------------------------------------------------ html


def render_html(
    report: dict[str, Any], title: str | None, meta: dict[str, Any] | None = None
) -> str:
    """One self-contained HTML page: inline CSS, tables, inline SVG charts; no network."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crmcli", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    sections = []
    for name, section in report.items():
        entry: dict[str, Any] = {"name": name, "title": name.replace("_", " ")}
        if is_absent(section):
            entry["absent"] = section["no_data"]
            sections.append(entry)
            continue
        rows = display_rows(section_rows(section))
        cols = columns_of(rows)
        entry["columns"] = [
            {"name": c, "numeric": any(_is_num(r.get(c)) for r in rows)} for c in cols
        ]
        entry["rows"] = [[_html_cell(r.get(c)) for c in cols] for r in rows]
        entry["figures"] = isinstance(section, dict)
        entry["charts"] = [svg_chart(rows, spec) for spec in charts_for(meta, name) if rows]
        sections.append(entry)
    template = env.get_template("report.html.j2")
    return template.render(
        title=title or "crm report",
        subtitle=header_line(meta),
        sections=sections,
    )


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _html_cell(value: Any) -> str:
    if isinstance(value, list) and value and all(_is_num(v) for v in value):
        return sparkline(value)
    return cell(value)


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
    """One sheet per section (key figures as metric/value), real numbers and dates, frozen
    header row, plus an `about` sheet with the title, as-of time and database."""
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
    used: set[str] = set()

    about = wb.add_worksheet(_sheet_name("about", used))
    about.write_row(0, 0, ["field", "value"], header)
    about_rows: list[tuple[str, Any]] = [("title", title or "crm report")]
    about_rows += [(k, meta.get(k)) for k in ("as_of", "database", "subtitle") if meta.get(k)]
    for i, (k, v) in enumerate(about_rows, start=1):
        about.write_string(i, 0, k)
        moment = _as_datetime(k, v)
        if moment is not None:
            about.write_datetime(i, 1, moment, datetime_fmt)
        else:
            about.write_string(i, 1, str(v))
    about.set_column(0, 0, 12)
    about.set_column(1, 1, 40)
    about.freeze_panes(1, 0)

    for name, section in report.items():
        ws = wb.add_worksheet(_sheet_name(name, used))
        if is_absent(section):
            ws.write_row(0, 0, ["no_data"], header)
            ws.write_string(1, 0, str(section["no_data"]))
            ws.set_column(0, 0, 60)
            ws.freeze_panes(1, 0)
            continue
        rows = section_rows(section)
        cols = columns_of(rows)
        ws.write_row(0, 0, cols, header)
        widths = [max(8, len(c) + 2) for c in cols]
        for r_i, row in enumerate(rows, start=1):
            for c_i, col in enumerate(cols):
                value = row.get(col)
                key = str(row.get("metric")) if isinstance(section, dict) else col
                moment = _as_datetime(key, value)
                if value is None:
                    continue
                if moment is not None:
                    is_date = isinstance(value, str) and bool(_DATE_RE.match(value))
                    ws.write_datetime(r_i, c_i, moment, date_fmt if is_date else datetime_fmt)
                    widths[c_i] = max(widths[c_i], 12 if is_date else 20)
                elif isinstance(value, bool):
                    ws.write_boolean(r_i, c_i, value)
                elif _is_num(value):
                    ws.write_number(r_i, c_i, value)
                    widths[c_i] = max(widths[c_i], min(18, len(cell(value)) + 2))
                else:
                    text = cell(value)
                    ws.write_string(r_i, c_i, text)
                    widths[c_i] = max(widths[c_i], min(50, len(text) + 2))
        for c_i, w in enumerate(widths):
            ws.set_column(c_i, c_i, w)
        ws.freeze_panes(1, 0)
    wb.close()
    return buf.getvalue()
