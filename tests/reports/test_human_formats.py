"""Every report in every format on the demo database, read as a person reads it (#19).

- no raw snake_case label in HTML or markdown headers (titles, section headings, columns);
- no number in a human format (table, markdown, HTML) with more than 6 significant digits
  (integers are exact counts and ids, and money is shown with two decimals: both may be
  longer; every other number is rounded by its kind);
- every XLSX money and percent cell carries a number format (read back with openpyxl);
- every empty section says why in one sentence, in every format (the JSON keeps its
  machine shape: `[]` or `{"no_data": reason}`);
- `customer list` at COLUMNS=80 prints one line per row.
"""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crmcli.cli import app
from crmcli.output import labels

AS_OF = "2026-06-30T12:00:00Z"
REPORTS: dict[str, list[str]] = {
    "dashboard": ["report", "dashboard"],
    "customers": ["report", "customers"],
    "quality": ["report", "quality"],
    "comm": ["report", "comm", "--by", "day", "--forecast", "4", "--anomalies", "--seasonality"],
    "comm_week": ["report", "comm", "--by", "week", "--forecast", "4"],
    "tickets": ["report", "tickets"],
    "value": ["report", "value"],
    "value_holdout": ["report", "value", "--calibration-end", "2026-03-31"],
    "loyalty": ["report", "loyalty"],
    "pipeline": ["report", "pipeline"],
    "evaluate": ["campaign", "evaluate", "1"],
}
HUMAN = ("table", "markdown", "html")
MACHINE = ("json", "jsonl", "csv")
SNAKE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
NUMBER = re.compile(r"(?<![\w.+\-:/])-?\d[\d,]*(?:\.\d+)?(?![\w.:/\-])")
MONEY = re.compile(r"^-?\d{1,3}(?:,\d{3})*\.\d{2}$")
INTEGER = re.compile(r"^-?\d{1,3}(?:,\d{3})*$|^-?\d+$")


def _env(db: Path, **extra: str) -> dict[str, str]:
    env = {
        "CRM_DB": str(db),
        "CRM_TZ": "Asia/Shanghai",
        "CRM_NOW": AS_OF,
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "CRM_ACTOR": "tester",
        "CRM_MASK": "",
        "CRM_LANG": "",
    }
    env.update(extra)
    return env


def _run(db: Path, *args: str, **env: str) -> Any:
    result = CliRunner().invoke(app, list(args), env=_env(db, **env), catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("human") / "demo.db"
    result = _run(db, "--quiet", "demo", "--customers", "150", "--seed", "3", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return db


def significant_digits(token: str) -> int:
    digits = token.lstrip("-").replace(",", "")
    whole, _, frac = digits.partition(".")
    text = (whole + frac).lstrip("0")
    if frac:
        return len(text) if text else 1
    return len(text.rstrip("0")) or 1


def too_precise(text: str) -> list[str]:
    bad = []
    for token in NUMBER.findall(text):
        if INTEGER.match(token) or MONEY.match(token):
            continue
        if significant_digits(token) > 6:
            bad.append(token)
    return bad


def html_text(page: str) -> str:
    body = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def html_headers(page: str) -> list[str]:
    found = re.findall(r"<(h1|h2|h3|th|title|caption|a)\b[^>]*>(.*?)</\1>", page, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", inner)).strip() for _, inner in found]


def markdown_headers(text: str) -> list[str]:
    lines = text.splitlines()
    heads = [line for line in lines if line.startswith("#")]
    for i, line in enumerate(lines[:-1]):
        if line.startswith("|") and re.match(r"^\|(\s*:?-+:?\s*\|)+$", lines[i + 1]):
            heads.append(line)
    return heads


def empty_sections(report: dict[str, Any]) -> dict[str, str]:
    """section -> the sentence every human format must show for it."""
    out = {}
    for name, section in report.items():
        if isinstance(section, dict) and list(section) == ["no_data"]:
            out[name] = labels.absent_sentence(section["no_data"], "en")
        elif isinstance(section, list) and not section:
            out[name] = labels.empty_sentence(name, "en")
    return out


ROW_LABEL_COLUMNS = ("metric", "measure", "clock", "field", "table")


def unlabelled(report: dict[str, Any]) -> list[str]:
    """Field names (keys, and the row labels of key-figure tables) the label table lacks."""
    missing = set()
    for name, section in report.items():
        if name not in labels.SECTIONS:
            missing.add(f"section {name}")
        rows = section if isinstance(section, list) else [section]
        for row in rows:
            if not isinstance(row, dict) or list(row) == ["no_data"]:
                continue
            for key, value in row.items():
                if key not in labels.LABELS and not re.fullmatch(r"month_\d+", key):
                    missing.add(key)
                row_label = key in ROW_LABEL_COLUMNS and isinstance(value, str)
                if row_label and "_" in value and value not in labels.LABELS:
                    missing.add(value)
    return sorted(missing)


def _kinds_of_rows(section: Any) -> list[tuple[dict[str, Any], list[str], dict[str, str]]]:
    """(row, columns, kind per column) for a table or key-figure section."""
    if isinstance(section, dict):
        rows = [{"metric": k, "value": v} for k, v in section.items()]
        return [(r, ["metric", "value"], {"value": labels.kind(r["metric"])}) for r in rows]
    out = []
    cols: list[str] = []
    for r in section:
        for k in r:
            if k not in cols:
                cols.append(k)
    for r in section:
        kinds = {c: labels.kind(c) for c in cols}
        if "metric" in r and "value" in r:
            kinds.update(
                {
                    c: labels.row_kind(str(r["metric"]), r.get("unit"), c)
                    for c in labels.FIGURE_COLUMNS
                }
            )
        out.append((r, cols, kinds))
    return out


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_format_reads_as_a_person_reads_it(demo: Path, name: str, tmp_path: Path) -> None:
    args = REPORTS[name]
    result = _run(demo, *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    empties = empty_sections(report)
    assert unlabelled(report) == [], "add these fields to LABELS in src/crmcli/output/labels.py"

    for fmt in MACHINE:
        done = _run(demo, *args, "--format", fmt)
        assert done.exit_code == 0, done.stderr
        assert done.stdout.strip()

    texts: dict[str, str] = {}
    for fmt in HUMAN:
        done = _run(demo, *args, "--format", fmt)
        assert done.exit_code == 0, done.stderr
        texts[fmt] = done.stdout

    # no raw field names in headers
    for head in markdown_headers(texts["markdown"]):
        assert not SNAKE.search(head), f"markdown header {head!r}"
    for head in html_headers(texts["html"]):
        assert not SNAKE.search(head), f"html header {head!r}"
    # numbers rounded by kind
    assert too_precise(texts["table"]) == [], "table"
    assert too_precise(texts["markdown"]) == [], "markdown"
    assert too_precise(html_text(texts["html"])) == [], "html"
    # every empty section says why
    plain_html = " ".join(html_text(texts["html"]).split())
    for section, sentence in empties.items():
        assert sentence in " ".join(texts["table"].split()), (section, "table")
        assert sentence in texts["markdown"], (section, "markdown")
        assert sentence in plain_html, (section, "html")

    # xlsx: typed cells with number formats; empty sections with their sentence
    import openpyxl

    out = tmp_path / f"{name}.xlsx"
    done = _run(demo, *args, "--out", str(out))
    assert done.exit_code == 0, done.stderr
    book = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))
    sheets = book.worksheets[1:]  # the first sheet is `about`
    assert len(sheets) == len(report)
    for sheet, (section_name, section) in zip(sheets, report.items(), strict=True):
        cells = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
        if section_name in empties:
            assert empties[section_name] in cells, (name, section_name)
            continue
        for row_i, (row, cols, kinds) in enumerate(_kinds_of_rows(section), start=2):
            for col_i, col in enumerate(cols, start=1):
                value = row.get(col)
                if not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                xcell = sheet.cell(row=row_i, column=col_i)
                assert isinstance(xcell.value, int | float), (section_name, col, xcell.value)
                kind = kinds.get(col, "number")
                if kind == "money":
                    assert "#,##0.00" in xcell.number_format, (section_name, col, row_i)
                elif kind in ("percent", "ratio"):
                    assert "%" in xcell.number_format, (section_name, col, row_i)


def test_empty_database_sections_say_why(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    assert _run(db, "db", "init").exit_code == 0  # read commands never create a database
    for args in (["report", "dashboard"], ["report", "tickets"], ["report", "quality"]):
        report = json.loads(_run(db, *args, "--format", "json").stdout)
        empties = empty_sections(report)
        assert empties, args
        for fmt in ("table", "markdown", "html"):
            done = _run(db, *args, "--format", fmt)
            assert done.exit_code == 0, done.stderr
            text = " ".join(html_text(done.stdout).split()) if fmt == "html" else done.stdout
            text = " ".join(text.split())
            for section, sentence in empties.items():
                assert sentence in text, (args, fmt, section)


def test_chinese_labels(demo: Path) -> None:
    done = _run(demo, "report", "tickets", "--format", "markdown", CRM_LANG="zh")
    assert done.exit_code == 0, done.stderr
    assert "积压" in done.stdout
    done = _run(demo, "--lang", "zh", "report", "value", "--format", "html")
    assert done.exit_code == 0, done.stderr
    assert "客户终身价值" in done.stdout
    # machine formats keep their keys
    assert (
        "clv"
        in json.loads(_run(demo, "report", "value", "--format", "json", CRM_LANG="zh").stdout)[
            "customers"
        ][0]
    )


def test_names_next_to_ids(demo: Path) -> None:
    value = json.loads(_run(demo, "report", "value", "--format", "json").stdout)
    assert all(r.get("name") for r in value["customers"])
    shown = _run(demo, "report", "value", "--format", "markdown").stdout
    first = value["customers"][0]
    assert first["name"] in shown


def test_customer_list_fits_80_columns(demo: Path) -> None:
    rows = json.loads(_run(demo, "customer", "list", "--format", "json").stdout)
    done = _run(demo, "customer", "list", "--limit", "0", COLUMNS="80")  # a table shows 50
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == len(rows)  # one line per customer (the header row starts with ┃)
    assert [int(line.split("│")[1]) for line in body] == [r["id"] for r in rows]


def test_columns_and_wide(demo: Path) -> None:
    done = _run(demo, "customer", "list", "--columns", "id,name,email", "--format", "csv")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines()[0] == "id,name,email"
    wide = _run(demo, "customer", "list", "--wide", COLUMNS="80")
    assert wide.exit_code == 0, wide.stderr
    assert "Address" in wide.stdout or "address" in wide.stdout
    bad = _run(demo, "customer", "list", "--columns", "id,nope")
    assert bad.exit_code == 2 and "nope" in bad.stderr
    export = _run(demo, "customer", "export", "--columns", "external_id,email")
    assert export.exit_code == 0, export.stderr
    lines = export.stdout.splitlines()
    assert lines[0] == "external_id,email" and len(lines) == 151
    bad = _run(demo, "customer", "export", "--columns", "id,nope", "--format", "json")
    assert bad.exit_code == 2 and "nope" in bad.stderr and bad.stdout == ""
    ticket = _run(demo, "ticket", "list", "--columns", "id,status", "--format", "json")
    assert ticket.exit_code == 0, ticket.stderr
    assert all(set(r) == {"id", "status"} for r in json.loads(ticket.stdout))
