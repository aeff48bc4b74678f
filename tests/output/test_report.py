"""The rendering layer on its own: formats, cells, atomic files, format inference."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from crmcli.core.errors import InvalidInput, OperationalError
from crmcli.output.emit import cell
from crmcli.output.report import emit_report, render_bytes, report_format, write_atomic
from crmcli.output.sections import bar, sparkline
from crmcli.reports.model import absent

REPORT = {
    "summary": {"customers": 12, "revenue": 1234567.89, "top": "=cmd()"},
    "trend": [
        {"week": "2026-01-05", "communications": 5, "change": -2},
        {"week": "2026-01-12", "communications": 9, "change": 4},
    ],
    "people": [{"name": "张伟", "phone": "+8613800138000", "email": "zhang.wei@example.cn"}],
    "tickets": absent("no tickets recorded"),
}
META = {
    "as_of": "2026-01-20T00:00:00Z",
    "database": "demo.db",
    "charts": [{"section": "trend", "x": "week", "y": ["communications"], "kind": "line"}],
}


def test_cells_keep_numbers_exact() -> None:
    assert cell(1234567.89) == "1234567.89"  # not 1.23457e+06
    assert cell(None) == "" and cell(True) == "true" and cell([1, 2]) == "1; 2"
    assert sparkline([1, 2, 3]) == "▁▅█"
    assert sparkline([]) == "" and sparkline([5, 5]) == "▅▅"
    assert bar(10, 10, width=4) == "████" and bar(0, 10) == ""


def test_format_from_extension_and_conflicts(tmp_path: Path) -> None:
    assert report_format(None, tmp_path / "a.HTML") == "html"
    assert report_format(None, tmp_path / "a.xlsx") == "xlsx"
    assert report_format(None, tmp_path / "a.md") == "markdown"
    assert report_format(None, None) == "table"
    assert report_format("json", tmp_path / "a.json") == "json"
    with pytest.raises(InvalidInput):
        report_format("json", tmp_path / "a.html")
    with pytest.raises(InvalidInput):
        report_format(None, tmp_path / "a.weird")
    with pytest.raises(InvalidInput):
        report_format("yaml", None)


def test_csv_neutralises_text_but_not_numbers() -> None:
    text = render_bytes(REPORT, "csv", "t", META).decode()
    assert "top,'=cmd()" in text
    assert "2026-01-05,5,-2" in text
    assert "# tickets\nmetric,value\nno_data,no tickets recorded" in text


def test_json_is_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    emit_report(REPORT, "json", "t", meta=META, mask=False)
    assert json.loads(capsys.readouterr().out) == REPORT


def test_masking_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    emit_report(REPORT, "json", "t", meta=META, mask=True)
    people = json.loads(capsys.readouterr().out)["people"][0]
    assert people["phone"] == "+86138****8000"
    assert people["email"] == "z*******i@example.cn"


def test_html_is_self_contained_and_reproducible() -> None:
    html = render_bytes(REPORT, "html", "Test report", META).decode()
    assert html == render_bytes(REPORT, "html", "Test report", META).decode()
    assert "<svg" in html and "<style>" in html
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", html)
    assert "url(http" not in html and "@import" not in html and "<script" not in html
    assert "No data: no tickets recorded" in html
    assert "as of 2026-01-20 08:00" in html and "demo.db" in html
    assert "=cmd()" in html and "<td>&lt;" not in html


def test_xlsx_sheets_numbers_dates_and_frozen_header() -> None:
    import openpyxl

    data = render_bytes(REPORT, "xlsx", "Test", META)
    assert data == render_bytes(REPORT, "xlsx", "Test", META)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["about", "summary", "trend", "people", "tickets"]
    trend = book["trend"]
    assert trend.freeze_panes == "A2"
    assert trend["B2"].value == 5 and trend["C2"].value == -2
    assert trend["A2"].is_date
    assert book["summary"]["B3"].value == 1234567.89
    assert book["summary"]["B4"].value == "=cmd()" and book["summary"]["B4"].data_type == "s"
    assert book["tickets"]["A2"].value == "No data: no tickets recorded."
    assert book["summary"]["B3"].number_format == "#,##0.00"  # revenue: money
    assert book.properties.created.year == 2026


@pytest.mark.nodb  # lists or creates the database file itself
def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    target.write_text("old")
    write_atomic(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temp file left behind
    assert (target.stat().st_mode & 0o777) == 0o600  # reports may hold personal data
    with pytest.raises(OperationalError):
        write_atomic(tmp_path / "missing" / "r.html", b"x")


@pytest.mark.parametrize("flat", [False, True])
def test_a_row_stream_renders_exactly_like_its_rows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, flat: bool
) -> None:
    """A RowStream section (rows made while writing) gives the bytes of the same rows as a
    list, in every format; an empty stream is an empty table; masking reaches it. Flat
    streams are encoded in batches (here of 2, so batch boundaries fall between rows)."""
    from crmcli.output import report as report_module
    from crmcli.reports.model import RowStream

    monkeypatch.setattr(report_module, "FLAT_BATCH", 2)
    people = [
        {"name": "张伟", "phone": "+8613800138000", "email": "zhang.wei@example.cn", "n": 1},
        {"name": 'a "quoted" },\n {name}', "phone": None, "email": "", "n": 2.5},
        {"name": "=cmd()", "phone": "+12025550123", "email": None, "n": -3},
        {"name": "x", "phone": "", "email": "x@example.com", "n": True},
        {"name": "y", "phone": "", "email": "y@example.com", "n": 10**20},
    ]

    def stream(rows: list[dict[str, object]]) -> RowStream:
        columns = list(rows[0]) if rows else ["name"]
        return RowStream(len(rows), lambda: iter(rows), columns, flat)

    for rows in (people, people[:1], people[:2], []):
        streamed = REPORT | {"people": stream(rows), "last_at": [{"done_at": META["as_of"]}]}
        listed = REPORT | {"people": rows, "last_at": [{"done_at": META["as_of"]}]}
        for fmt in ("json", "jsonl", "csv", "markdown", "html"):
            assert render_bytes(streamed, fmt, "T", META) == render_bytes(listed, fmt, "T", META)
        for fmt in ("json", "jsonl", "csv"):
            emit_report(streamed, fmt, "T", meta=META, mask=True)
            out_stream = capsys.readouterr().out
            emit_report(listed, fmt, "T", meta=META, mask=True)
            assert out_stream == capsys.readouterr().out
        assert json.loads(render_bytes(streamed, "json", "T", META))["people"] == rows
    emit_report(REPORT | {"people": stream(people)}, "json", meta=META, mask=True)
    assert "13800138000" not in capsys.readouterr().out
