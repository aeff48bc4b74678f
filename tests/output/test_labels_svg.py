"""Labels and number kinds (output.labels), the SVG charts (output.svg), report file modes."""

from __future__ import annotations

import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from crmcli.output import labels
from crmcli.output.svg import nice_ticks, svg_chart

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("value", "kind", "currency", "shown"),
    [
        (1234567.891, "money", "CNY", "1,234,567.89 CNY"),
        (-576.8, "money", None, "-576.80"),
        (52.66, "percent", None, "52.7%"),
        (0.16129032258064516, "ratio", None, "16.1%"),
        (0.07795698924731183, "ratio_points", None, "+7.8 pp"),
        (0.09856058132357998, "rate", None, "0.0986"),
        (0.0025, "rate", None, "0.0025"),
        (0.43616856873901216, "param", None, "0.4362"),
        (-1061.6055638276484, "param", None, "-1,062"),
        (1433571.9784252916, "param", None, "1.434e+06"),
        (1725, "count", None, "1,725"),
        (6.237403363188147, "number", None, "6.24"),
        (690.54, "minutes", None, "690.5"),
        (None, "money", "CNY", ""),
        (True, "count", None, "yes"),
    ],
)
def test_numbers_by_kind(value: object, kind: str, currency: str | None, shown: str) -> None:
    assert labels.format_number(value, kind, currency) == shown


def test_labels_units_and_languages() -> None:
    assert labels.label("resolution_median_h", "en") == "Resolution, median (h)"
    assert labels.label("resolution_median_h", "zh") == "解决时长中位数 (小时)"
    assert labels.label("month_3", "en") == "Month 3" and labels.kind("month_3") == "ratio"
    assert labels.kind("since_at") == "time" and labels.kind("clv") == "money"
    # a field the table does not know is still shown as words, never as snake_case
    assert labels.label("some_new_field_at", "en") == "Some new field"
    assert labels.row_kind("csat_pct", "%", "change") == "points"
    assert labels.row_kind("revenue", "CNY") == "money"
    assert labels.xlsx_number(52.7, "percent") == (pytest.approx(0.527), "0.0%")
    # every label is unique per language within the kinds people compare side by side
    for key, entry in labels.LABELS.items():
        assert entry.en and entry.zh, key
        assert not re.search(r"[a-z]_[a-z]", entry.en), key


def test_nice_ticks_cover_the_data_with_round_steps() -> None:
    assert nice_ticks(0, 47) == [0, 10, 20, 30, 40, 50]
    assert nice_ticks(-2.3, 13.4) == [-5, 0, 5, 10, 15]
    ticks = nice_ticks(0.0, 0.0)  # one zero value: 0..1, not -0.04..0.04
    assert ticks[0] == 0 and ticks[-1] == 1


def _bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    # not legend keys, not the band behind a partial period
    return [
        e for e in root.iter(f"{SVG}rect") if e.get("width") != "10" and e.get("class") != "partial"
    ]


def test_bar_heights_are_proportional_and_empty_charts_are_not_drawn() -> None:
    rows = [{"age": "< 1 day", "tickets": 2}, {"age": "1-3 days", "tickets": 4}]
    svg = svg_chart(rows, {"x": "age", "y": ["tickets"], "kind": "bar", "title": "Backlog age"})
    bars = _bars(svg)
    assert len(bars) == 2
    h1, h2 = (float(b.get("height", 0)) for b in bars)
    assert h2 == pytest.approx(2 * h1, rel=0.02)
    assert "Backlog age" in svg and "< 1 day" not in svg and "&lt; 1 day" in svg
    zero = [{"age": "< 1 day", "tickets": 0}, {"age": "1-3 days", "tickets": 0}]
    assert svg_chart(zero, {"x": "age", "y": ["tickets"], "kind": "bar"}) == ""
    assert svg_chart([], {"x": "age", "y": ["tickets"], "kind": "bar"}) == ""
    assert svg_chart(rows, {"x": "age", "y": ["missing"], "kind": "line"}) == ""


def test_stacked_bars_add_up_and_lines_break_at_gaps() -> None:
    rows = [{"p": "a", "in": 1, "out": 3}, {"p": "b", "in": 2, "out": 2}]
    stacked = _bars(svg_chart(rows, {"x": "p", "y": ["in", "out"], "kind": "stacked"}))
    heights = [float(b.get("height", 0)) for b in stacked]
    assert len(heights) == 4
    assert heights[0] + heights[2] == pytest.approx(heights[1] + heights[3], rel=0.02)
    grouped = _bars(svg_chart(rows, {"x": "p", "y": ["in", "out"], "kind": "bar"}))
    assert len({b.get("x") for b in grouped}) == 4  # side by side
    gaps = [{"p": str(i), "v": None if i == 2 else i} for i in range(5)]
    line = ET.fromstring(svg_chart(gaps, {"x": "p", "y": ["v"], "kind": "line"}))
    assert len(list(line.iter(f"{SVG}polyline"))) == 2


def test_a_partial_period_is_drawn_on_a_labelled_band() -> None:
    rows = [
        {"w": "2026-11-16", "n": 40, "partial": False},
        {"w": "2026-11-23", "n": 9, "partial": True},
    ]
    root = ET.fromstring(svg_chart(rows, {"x": "w", "y": ["n"], "kind": "bar"}, label=str.upper))
    bands = [e for e in root.iter(f"{SVG}rect") if e.get("class") == "partial"]
    assert len(bands) == 1
    slot = float(bands[0].get("width", 0))
    assert float(bands[0].get("x", 0)) == pytest.approx(72 + slot)  # the second slot
    assert "PARTIAL" in [t.text for t in root.iter(f"{SVG}text")]
    complete = [{**r, "partial": False} for r in rows]
    assert 'class="partial"' not in svg_chart(complete, {"x": "w", "y": ["n"], "kind": "bar"})


def test_dashboard_html_marks_the_current_week_partial(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cid = cli.ok("customer", "add", "--name", "王芳").strip()
    for day in ("2026-11-10", "2026-11-17", "2026-11-25"):
        cli.ok("comm", "log", cid, "--channel", "call", "--at", f"{day}T09:00:00Z")
    out = tmp_path / "dash.html"
    # Wednesday 2026-11-25 noon: that week is not over
    cli.ok("--as-of", "2026-11-25T12:00:00Z", "report", "dashboard", "--out", str(out))
    html = out.read_text(encoding="utf-8")
    assert html.count('class="partial"') == 1


def test_report_file_modes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli.ok("customer", "add", "--name", "张伟")
    private = tmp_path / "private.html"
    cli.ok("report", "dashboard", "--out", str(private))
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    served = tmp_path / "served.html"
    cli.ok("report", "dashboard", "--out", str(served), "--mode", "0644")
    assert stat.S_IMODE(served.stat().st_mode) == 0o644
    by_env = tmp_path / "env.xlsx"
    cli.ok("report", "dashboard", "--out", str(by_env), env={"CRM_REPORT_MODE": "0640"})
    assert stat.S_IMODE(by_env.stat().st_mode) == 0o640
    for bad in ("0755", "0400", "rw", "01644"):
        result = cli("report", "dashboard", "--out", str(tmp_path / "x.html"), "--mode", bad)
        assert result.exit_code == 2 and "--mode" in result.stderr, bad
        assert not (tmp_path / "x.html").exists()
    result = cli("report", "dashboard", "--mode", "0644")
    assert result.exit_code == 2 and "--out" in result.stderr
