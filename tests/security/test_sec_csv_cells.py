"""CSV formula injection and row splitting, on every command that writes CSV.

A cell that starts with = + - @ (or their full-width forms), a tab or a CR is read as a
formula by spreadsheet programs; it must reach the file with a leading apostrophe. A CR
inside a cell must be quoted, or the row splits in two.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
PAYLOADS = {
    "name": '=HYPERLINK("http://evil.test","x")',
    "company": "@SUM(1+1)",
    "subject": "+cmd|' /C calc'!A0",
    "ticket": "＝1+2",
    "agent": "-2+3",
}


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_neutral(text: str, expect: int = 1) -> list[list[str]]:
    """Every cell of the CSV is safe; at least `expect` cells were neutralised."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows, text
    width = len(rows[0])
    neutralised = 0
    for row in rows:
        assert len(row) == width, f"row split or widened: {row!r}"
        for cell in row:
            if cell.startswith(DANGEROUS) and not _is_number(cell):
                pytest.fail(f"live formula cell {cell!r} in {row!r}")
            if cell.startswith("'") and cell[1:2] in DANGEROUS:
                neutralised += 1
    assert neutralised >= expect, text
    return rows


@pytest.fixture
def planted(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("CRM_OUTBOX", str(tmp_path / "box"))
    cid = cli.ok(
        "customer", "add", "--name", PAYLOADS["name"], "--company", PAYLOADS["company"],
        "--create-company",
        "--email", "evil@example.com", "--phone", "13800138000",
    ).strip()  # fmt: skip
    cli.ok("customer", "tag", cid, "--add", "line\rbreak")
    cli.ok("customer", "tag", cid, "--add", "=1+1")
    cli.ok(
        "comm", "log", cid, "--channel", "phone", "--subject", PAYLOADS["subject"],
        "--agent", PAYLOADS["agent"], "--follow-up", "+1d",
    )  # fmt: skip
    cli.ok("ticket", "agent", "add", "--email", "agent@example.com", "--", PAYLOADS["agent"])
    cli.ok("ticket", "open", cid, "--subject", PAYLOADS["ticket"], "--category", "billing")
    return {"customer": cid}


def test_customer_list_csv(cli: Any, planted: dict[str, str]) -> None:
    rows = assert_neutral(cli.ok("customer", "list", "--format", "csv"), expect=2)
    header = rows[0]
    record = dict(zip(header, rows[1], strict=True))
    assert record["name"] == "'" + PAYLOADS["name"]  # the data is kept, behind the quote
    if "tags" in record:
        assert "line\rbreak" in record["tags"]


def test_customer_export_csv(cli: Any, planted: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "customers.csv"
    cli.ok("customer", "export", "--out", str(out))
    assert_neutral(out.read_text(encoding="utf-8-sig"), expect=2)


def test_customer_show_csv(cli: Any, planted: dict[str, str]) -> None:
    assert_neutral(cli.ok("customer", "show", planted["customer"], "--format", "csv"), expect=2)


def test_comm_list_and_due_csv(cli: Any, planted: dict[str, str]) -> None:
    assert_neutral(cli.ok("comm", "list", "--format", "csv"), expect=2)
    assert_neutral(cli.ok("comm", "due", "--all", "--format", "csv"), expect=2)


def test_ticket_list_and_agent_list_csv(cli: Any, planted: dict[str, str]) -> None:
    assert_neutral(cli.ok("ticket", "list", "--format", "csv"), expect=1)
    assert_neutral(cli.ok("ticket", "agent", "list", "--format", "csv"), expect=1)


def test_report_csv(cli: Any, planted: dict[str, str]) -> None:
    text = cli.ok("report", "customers", "--format", "csv")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    for row in rows:
        for cell in row:
            assert not (cell.startswith(DANGEROUS) and not _is_number(cell)), row


def test_warehouse_csv_with_pii(cli: Any, planted: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "wh"
    result = cli("export", "warehouse", str(target), "--file-format", "csv", "--include-pii")
    if result.exit_code == 2 and "--file-format" in result.stderr:  # before #13's rename
        cli.ok("export", "warehouse", str(target), "--format", "csv", "--include-pii")
    else:
        assert result.exit_code == 0, result.stderr
    files = sorted(target.rglob("*.csv"))
    assert files
    neutralised = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        for row in csv.reader(io.StringIO(text, newline="")):
            for cell in row:
                assert not (cell.startswith(DANGEROUS) and not _is_number(cell)), (path, row)
                neutralised += cell.startswith("'=") or cell.startswith("'@")
    assert neutralised >= 2


def test_rejects_file(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("name,email\n=HYPERLINK(1),not-an-email\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    cli("customer", "import", str(src), "--rejects", str(rejects))
    assert rejects.exists()
    assert_neutral(rejects.read_text(encoding="utf-8-sig"), expect=1)
