"""What a spreadsheet does to a CSV it saves: long phone numbers in scientific notation
(1.38001E+10, the last digits gone) or as decimals (13800138003.0), dates as serial numbers
(45123). None of these can be read back to the true value, so each is a field warning that
says what happened and how to export again; the row is kept."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

ROWS = [
    ("name", "phone", "email", "created_at"),
    ("A", "1.38001E+10", "a@example.com", "45123"),
    ("B", '="13800138001"', "b@example.com", "2024-01-05"),
    ("C", "13800138002.0", "c@example.com", "44927.5"),
    ("D", "+86 138 0013 8004", "d@example.com", "2024/1/7"),
]


def test_spreadsheet_damage_is_named_and_never_stored(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    src = tmp_path / "excel.csv"
    with src.open("w", newline="", encoding="utf-8-sig") as fh:  # Excel "CSV UTF-8"
        csv.writer(fh, lineterminator="\r\n").writerows(ROWS)
    rejects = tmp_path / "rejects.csv"
    cli.ok("customer", "import", str(src), "--rejects", str(rejects))
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        warned = {(r["line"], r["field"]): r["reason"] for r in csv.DictReader(fh)}
    assert "scientific notation" in warned[("2", "phone")]
    assert "date serial" in warned[("2", "created_at")]
    assert "decimal number" in warned[("4", "phone")]
    assert "date serial" in warned[("4", "created_at")]
    stored = dict(sql_rows("SELECT name, phone FROM customers"))
    assert stored == {"A": None, "B": "+8613800138001", "C": None, "D": "+8613800138004"}


def test_a_date_serial_in_an_option_is_refused(cli: Any, add_customer: Any) -> None:
    cid = str(add_customer("Ann"))
    result = cli("order", "add", cid, "--amount", "5", "--at", "45123")
    assert result.exit_code == 2 and "date serial" in result.stderr
