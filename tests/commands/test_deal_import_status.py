"""Pipedrive exports a deal's status (won / lost / open) beside the stage it was in: a won
deal keeps its last open stage there. The status, not the stage, says it is won; a status
that contradicts a closed stage, or one such as `deleted`, rejects the row."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

HEADER = ["Deal - Title", "Deal - Value", "Deal - Currency of Value", "Deal - Stage",
          "Deal - Status", "Deal - Won time", "Deal - Lost time", "Deal - Lost reason",
          "Person - Email", "Deal - Deal created"]  # fmt: skip
ROWS = [
    ["Big", "1,200.00", "USD", "Negotiation", "won", "2024-03-01 10:00:00", "", "",
     "ann@example.com", "2024-01-01 09:00:00"],
    ["Small", "300", "USD", "Qualified", "lost", "", "2024-02-01 10:00:00", "price",
     "ann@example.com", "2024-01-01 09:00:00"],
    ["Open", "50", "USD", "Qualified", "open", "", "", "", "ann@example.com",
     "2024-01-01 09:00:00"],
    ["Gone", "50", "USD", "Qualified", "deleted", "", "", "", "ann@example.com",
     "2024-01-01 09:00:00"],
    ["Odd", "50", "USD", "Closed Won", "open", "", "", "", "ann@example.com",
     "2024-01-01 09:00:00"],
]  # fmt: skip


def test_pipedrive_status_closes_the_deal(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--email", "ann@example.com")
    src = tmp_path / "pipedrive-deals.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([HEADER, *ROWS])
    summary = cli.json("deal", "import", str(src))
    assert (summary["inserted"], summary["rejected"]) == (3, 2)
    rows = sql_rows(
        "SELECT d.title, s.kind, d.won_at, d.lost_at, d.lost_reason, d.amount, d.currency"
        " FROM deals d JOIN deal_stages s ON s.name = d.stage ORDER BY d.id"
    )
    assert rows == [
        ("Big", "won", "2024-03-01T02:00:00Z", None, None, 120000, "USD"),
        ("Small", "lost", None, "2024-02-01T02:00:00Z", "price", 30000, "USD"),
        ("Open", "open", None, None, None, 5000, "USD"),
    ]
    rejects = (tmp_path / "pipedrive-deals.rejects.csv").read_text("utf-8-sig")
    assert "unknown deal status 'deleted'" in rejects and "but stage" in rejects


def test_a_status_column_of_other_words_is_an_unknown_column(cli: Any, tmp_path: Path) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--email", "ann@example.com")
    src = tmp_path / "deals.csv"
    src.write_text(
        "title,amount,customer_email,status\nA,10,ann@example.com,warm\n"
        "B,20,ann@example.com,cold\n",
        encoding="utf-8",
    )
    summary = cli.json("deal", "import", str(src))
    assert summary["inserted"] == 2 and "status" in summary["unknown_columns"]
