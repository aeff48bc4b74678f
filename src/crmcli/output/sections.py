"""How a report's sections become rows and cells: shared by the terminal and markdown
renderer (output/report.py) and the HTML and XLSX documents (output/documents.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crmcli.output import emit as output
from crmcli.output import labels
from crmcli.output.emit import cell
from crmcli.reports.model import ChartSpec, is_absent

SPARK = "▁▂▃▄▅▆▇█"


BAR_WIDTH = 24


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


LABEL_VALUE_COLUMNS = ("metric", "measure", "clock", "field", "table", "segment", "partial_month")


def report_currency(report: dict[str, Any], meta: dict[str, Any] | None) -> str | None:
    """The report's currency: meta's, else the one `currency` a key-figure section names."""
    if meta and meta.get("currency"):
        return str(meta["currency"])
    found = {
        str(s["currency"])
        for s in report.values()
        if isinstance(s, dict) and isinstance(s.get("currency"), str) and s.get("currency")
    }
    return found.pop() if len(found) == 1 else None


def cell_kind(col: str, row: dict[str, Any]) -> str:
    """The number kind of one cell: its column's, or for a key figure its metric's."""
    if col in labels.FIGURE_COLUMNS and "metric" in row:
        return labels.row_kind(str(row["metric"]), row.get("unit"), col)
    return labels.kind(col)


def human_cell(col: str, row: dict[str, Any], currency: str | None = None) -> str:
    """A cell as a person reads it: numbers by kind, field names in label columns as labels."""
    value = row.get(col)
    if isinstance(value, str) and value[:4].isdigit() and cell_kind(col, row) == "time":
        return value[:16].replace("T", " ")
    if _is_number(value):
        kind = cell_kind(col, row)
        cur = row.get("currency") if isinstance(row.get("currency"), str) else currency
        if kind == "money" and isinstance(row.get("unit"), str) and len(row["unit"]) == 3:
            cur = row["unit"]
        return labels.format_number(value, kind, cur or None)
    if isinstance(value, bool):
        return labels.yes_no(value)
    if col in LABEL_VALUE_COLUMNS and isinstance(value, str):
        return labels.label(value)
    if col == "unit" and "metric" in row:
        return ""  # shown in the value itself (%, h, currency)
    return cell(value)


def human_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Columns shown to people: the `unit` of key-figure rows is folded into the values."""
    cols = columns_of(rows)
    if "unit" in cols and "metric" in cols:
        cols.remove("unit")
    return cols


def empty_text(name: str, section: Any) -> str | None:
    """The one sentence an empty section shows (None when it has rows)."""
    if is_absent(section):
        return labels.absent_sentence(str(section["no_data"]))
    if isinstance(section, list | dict) and not section:
        return labels.empty_sentence(name)
    return None


def period_text(report: dict[str, Any], meta: dict[str, Any] | None) -> str | None:
    """`period 2024-05-01 00:00 – 2024-06-01 00:00` from the report's own period fields."""
    from crmcli.core.clock import display_time

    if meta and meta.get("period"):
        return str(meta["period"])
    for section in report.values():
        if not isinstance(section, dict):
            continue
        for start, end in (("since_at", "until_at"), ("start_at", "end_at")):
            if isinstance(section.get(start), str) and isinstance(section.get(end), str):
                a = (display_time(section[start]) or "")[:16].replace("T", " ")
                b = (display_time(section[end]) or "")[:16].replace("T", " ")
                return f"{labels.word('period')} {a} – {b}"
        if isinstance(section.get("calibration_end"), str):
            return f"{labels.label('calibration_end')} {section['calibration_end']}"
    return None


def charts_for(meta: dict[str, Any] | None, name: str) -> list[ChartSpec]:
    return [c for c in (meta or {}).get("charts", []) if c.get("section") == name]


def header_line(meta: dict[str, Any] | None, report: dict[str, Any] | None = None) -> str:
    """`period … · as of 2024-05-01 08:00 · database crm.db` (what the report is about)."""
    from crmcli.core.clock import display_time

    meta = meta or {}
    bits = []
    period = period_text(report or {}, meta)
    subtitle = str(meta.get("subtitle") or "")
    names_period = subtitle.startswith("period ")
    if names_period:
        subtitle = f"{labels.word('period')} {subtitle[7:]}"
    if period and not names_period:
        bits.append(period)
    if subtitle:
        bits.append(subtitle)
    if meta.get("as_of"):
        shown = (display_time(str(meta["as_of"])) or "")[:16].replace("T", " ")
        bits.append(f"{labels.word('as_of')} {shown}")
    if meta.get("database"):
        bits.append(f"{labels.word('database')} {meta['database']}")
    return " · ".join(bits)


def _num(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _numeric(rows: Sequence[dict[str, Any]], col: str) -> bool:
    return any(_is_number(r.get(col)) for r in rows)
