"""Charts as inline SVG, written directly (no matplotlib): line, bar, grouped and stacked bar.

`svg_chart(rows, spec)` draws one chart from a table section (`spec`: x column, y columns,
kind, title); it returns "" when there is nothing to draw (no numeric value, or every value
zero), so a report never shows an empty frame with a made-up axis. A row whose `partial`
is true (a period not yet complete, e.g. the current week) is drawn on a shaded band labelled
"partial", so its lower value is not read as a drop. The output is deterministic text: the
same rows give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 30, 62
PALETTE = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777")
MAX_TICKS = 12


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round axis ticks covering [low, high] (about `target` steps of 1, 2, 2.5 or 5 x 10^n)."""
    if high < low:
        low, high = high, low
    if high == low:
        high = low + 1 if low == 0 else low + abs(low)
        low = min(0.0, low)
    raw = (high - low) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    count = round((last - first) / step)
    return [round(first + i * step, 10) for i in range(count + 1)]


def tick_text(value: float, step: float) -> str:
    decimals = 0 if step >= 1 else min(6, max(0, -math.floor(math.log10(step) + 1e-9)))
    if abs(value) >= 1e6 and step >= 1e5:
        return f"{value / 1e6:,.{1 if step < 1e6 else 0}f}M"
    text = f"{value:,.{decimals}f}"
    return "0" if text in ("-0", "-0.0") else text


_Series = list[tuple[str, list[float | None]]]


def svg_chart(
    rows: Sequence[dict[str, Any]],
    spec: Mapping[str, Any],
    label: Callable[[str], str] = lambda key: key,
) -> str:
    """One chart as an <svg> element, or "" when there is no data to draw."""
    x_col = str(spec.get("x", ""))
    kind = str(spec.get("kind", "line"))
    series = [
        (y, [_num(r.get(y)) for r in rows])
        for y in spec.get("y", [])
        if any(_num(r.get(y)) is not None for r in rows)
    ]
    if not rows or not series or all(not v for _, vals in series for v in vals if v is not None):
        return ""
    names = [str(r.get(x_col, "")) for r in rows]
    low, high = _value_range(series, kind, len(rows))
    ticks = nice_ticks(low, high)
    y0, y1 = ticks[0], ticks[-1]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def ypos(v: float) -> float:
        return TOP + plot_h - (v - y0) / (y1 - y0) * plot_h

    n = len(rows)
    slot = plot_w / n
    title = str(spec.get("title") or "")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" overflow="visible" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" '
        'font-family="sans-serif" font-size="11">'
    ]
    if title:
        out.append(
            f'<text x="{LEFT}" y="16" font-size="13" font-weight="600">{escape(title)}</text>'
        )
    out.extend(_partial_bands(rows, slot, plot_h, label))
    out.extend(_y_grid(ticks, step, ypos))
    out.extend(_x_labels(names, slot, plot_h))
    if kind in ("bar", "stacked"):
        out.extend(_bars(series, kind, slot, ypos))
    else:
        out.extend(_lines(series, slot, ypos))
    if len(series) > 1:
        out.extend(_legend(series, label))
    out.append("</svg>")
    return "".join(out)


def _value_range(series: _Series, kind: str, n: int) -> tuple[float, float]:
    """The lowest and highest value the y axis must show."""
    # Stacked bars reach the sum of their positive (or negative) parts, not any one value;
    # bars, and lines that never go below zero, keep zero on the axis.
    if kind == "stacked":
        pos = [sum(max(0.0, v or 0.0) for _, vals in series for v in [vals[i]]) for i in range(n)]
        neg = [sum(min(0.0, v or 0.0) for _, vals in series for v in [vals[i]]) for i in range(n)]
        return min(neg + [0.0]), max(pos + [0.0])
    values = [v for _, vals in series for v in vals if v is not None]
    low, high = min(values), max(values)
    if kind == "bar" or low >= 0:
        low = min(0.0, low)
        high = max(0.0, high)
    return low, high


def _partial_bands(
    rows: Sequence[dict[str, Any]], slot: float, plot_h: float, label: Callable[[str], str]
) -> list[str]:
    """A shaded band behind each incomplete period's slot, labelled at the top."""
    out: list[str] = []
    for i, r in enumerate(rows):
        if r.get("partial") is not True:
            continue
        x = LEFT + slot * i
        text = escape(label("partial"))
        out.append(
            f'<rect class="partial" x="{x:.1f}" y="{TOP}" width="{slot:.1f}" '
            f'height="{plot_h:.1f}" fill="#f3f4f6"><title>{text}</title></rect>'
        )
        out.append(
            f'<text x="{x + slot / 2:.1f}" y="{TOP - 2}" text-anchor="middle" '
            f'font-size="9" fill="#6b7280">{text}</text>'
        )
    return out


def _y_grid(ticks: list[float], step: float, ypos: Callable[[float], float]) -> list[str]:
    """A grid line and a label for each y tick; the zero line is drawn darker."""
    out: list[str] = []
    for t in ticks:
        y = ypos(t)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{"#9ca3af" if t == 0 else "#e5e7eb"}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#4b5563">'
            f"{escape(tick_text(t, step))}</text>"
        )
    return out


def _x_labels(names: list[str], slot: float, plot_h: float) -> list[str]:
    """The x axis labels: at most MAX_TICKS of them, slanted when many or long."""
    n = len(names)
    out: list[str] = []
    every = max(1, math.ceil(n / MAX_TICKS))
    rotate = n > 6 or max((len(s) for s in names), default=0) > 8
    for i in range(0, n, every):
        x = LEFT + slot * (i + 0.5)
        y = TOP + plot_h + 14
        text = escape(names[i][:16])
        if rotate:
            out.append(
                f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" fill="#4b5563" '
                f'transform="rotate(-30 {x:.1f} {y:.1f})">{text}</text>'
            )
        else:
            out.append(
                f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" fill="#4b5563">{text}</text>'
            )
    return out


def _bars(series: _Series, kind: str, slot: float, ypos: Callable[[float], float]) -> list[str]:
    """Bars side by side per x slot, or stacked ("stacked": positives up, negatives down)."""
    n = len(series[0][1])
    width = slot * 0.8 / (1 if kind == "stacked" else len(series))
    base_pos = [0.0] * n
    base_neg = [0.0] * n
    out: list[str] = []
    for s_i, (_, vals) in enumerate(series):
        colour = PALETTE[s_i % len(PALETTE)]
        for i, v in enumerate(vals):
            if not v:
                continue
            if kind == "stacked":
                start = base_pos[i] if v > 0 else base_neg[i]
                end = start + v
                if v > 0:
                    base_pos[i] = end
                else:
                    base_neg[i] = end
                x = LEFT + slot * i + slot * 0.1
            else:
                start, end = 0.0, v
                x = LEFT + slot * i + slot * 0.1 + s_i * width
            top, bottom = ypos(max(start, end)), ypos(min(start, end))
            out.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(width - 1, 0.5):.1f}" '
                f'height="{max(bottom - top, 0.5):.1f}" fill="{colour}"/>'
            )
    return out


def _lines(series: _Series, slot: float, ypos: Callable[[float], float]) -> list[str]:
    """One polyline per series, with dots when there are few points."""
    n = len(series[0][1])
    out: list[str] = []
    for s_i, (_, vals) in enumerate(series):
        colour = PALETTE[s_i % len(PALETTE)]
        dash = ' stroke-dasharray="4 3"' if s_i and len(series) == 3 else ""
        for r in _point_runs(vals, slot, ypos):
            out.append(
                f'<polyline points="{" ".join(r)}" fill="none" stroke="{colour}" '
                f'stroke-width="1.8"{dash}/>'
            )
            if n <= 60:
                for point in r:
                    px, py = point.split(",")
                    out.append(f'<circle cx="{px}" cy="{py}" r="2.2" fill="{colour}"/>')
    return out


def _point_runs(
    vals: list[float | None], slot: float, ypos: Callable[[float], float]
) -> list[list[str]]:
    """The "x,y" points of a series, split where a value is missing (a gap, not a zero)."""
    run: list[str] = []
    runs: list[list[str]] = []
    for i, v in enumerate(vals):
        if v is None:
            if run:
                runs.append(run)
            run = []
            continue
        run.append(f"{LEFT + slot * (i + 0.5):.1f},{ypos(v):.1f}")
    if run:
        runs.append(run)
    return runs


def _legend(series: _Series, label: Callable[[str], str]) -> list[str]:
    """A colour swatch and label per series, in one row above the plot."""
    out: list[str] = []
    x = LEFT + 8
    for s_i, (key, _) in enumerate(series):
        colour = PALETTE[s_i % len(PALETTE)]
        text = label(key)
        out.append(f'<rect x="{x}" y="{TOP - 6}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14}" y="{TOP + 3}" fill="#111827">{escape(text)}</text>')
        x += 24 + 7 * len(text)
    return out
