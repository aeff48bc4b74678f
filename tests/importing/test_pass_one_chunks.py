"""Pass 1 (each money and date column's convention decided from all its values) counts
cells in chunks (CsvSource.column_chunks): a value in a later chunk decides as one in the
first would, and the outcome is the same whatever the chunk size."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from crmcli.importing.source import CsvSource

ORDERS = (
    "order_id,customer_external_id,order_date,amount,currency\r\n"
    "A1,C1,03/04/2024 12:00,100,USD\r\n"
    "A2,C1,05/06/2024 12:00,25,USD\r\n"
    "A3,C1,07/08/2024 12:00,7,USD\r\n"
    # only the last row decides: 13 is no month, 3,75 is a decimal comma (a USD file
    # would otherwise be read month-first with a decimal point, and 3,75 refused)
    'A4,C1,13/06/2024 12:00,"3,75",USD\r\n'
)


@pytest.mark.parametrize("chunk", [1, 2, 50_000])
def test_the_last_chunk_decides_money_and_dates(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(CsvSource.column_chunks, "__defaults__", (chunk,))
    people = tmp_path / "c.csv"
    people.write_text("external_id,name\r\nC1,Anna\r\n", encoding="utf-8")
    cli.ok("customer", "import", str(people))
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, encoding="utf-8")
    summary = cli.json("order", "import", str(path), env={"CRM_TZ": "UTC"})
    assert summary["inserted"] == 4 and summary["rejected"] == 0
    with sqlite3.connect(os.environ["CRM_DB"]) as con:
        got = dict(con.execute("SELECT external_id, amount FROM orders").fetchall())
        days = dict(con.execute("SELECT external_id, substr(ordered_at, 1, 10) FROM orders"))
    assert got == {"A1": 10000, "A2": 2500, "A3": 700, "A4": 375}
    assert days == {"A1": "2024-04-03", "A2": "2024-06-05", "A3": "2024-08-07", "A4": "2024-06-13"}
