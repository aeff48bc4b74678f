"""A Zendesk ticket export as its CSV writes it: the help desk's own `Id`, the requester by
`Requester email`, `Solved at`, and a good/bad `Satisfaction Score` (or `Offered` for a
survey not answered). Re-importing it changes nothing; a good/bad rating is never turned
into a 1..5 score."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

HEADER = ["Id", "Subject", "Requester", "Requester email", "Status", "Priority",
          "Created at", "Solved at", "Satisfaction Score", "Assignee", "Group"]  # fmt: skip
ROWS = [
    ["101", "Invoice wrong", "Ann", "ann@example.com", "Solved", "High",
     "2024-01-05 10:00:00 +0000", "2024-01-06 10:00:00 +0000", "Good", "Bob", "Billing"],
    ["102", "Cannot login", "Ann", "ann@example.com", "Open", "Normal",
     "2024-01-07 10:00:00 +0000", "", "Offered", "", "Support"],
    ["103", "Thanks", "Ann", "ann@example.com", "Solved", "Low",
     "2024-01-08 10:00:00 +0000", "2024-01-08 11:00:00 +0000", "4", "Bob", ""],
]  # fmt: skip


def test_a_zendesk_export_imports_and_reimports_unchanged(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--email", "ann@example.com")
    src = tmp_path / "zendesk-tickets.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows([HEADER, *ROWS])
    first = cli.json("ticket", "import", str(src))
    assert (first["inserted"], first["rejected"], first["warnings"]) == (3, 0, 1)
    again = cli.json("ticket", "import", str(src))
    assert (again["inserted"], again["unchanged"]) == (0, 3)
    rows = sql_rows(
        "SELECT external_id, status, resolved_at, satisfaction FROM tickets ORDER BY id"
    )
    assert rows == [
        ("101", "resolved", "2024-01-06T10:00:00Z", None),  # Good: no score invented
        ("102", "open", None, None),  # Offered: no answer, no warning
        ("103", "resolved", "2024-01-08T11:00:00Z", 4),
    ]
    rejects = (tmp_path / "zendesk-tickets.rejects.csv").read_text("utf-8-sig")
    assert "good/bad rating" in rejects and "Offered" not in rejects.split("\n", 1)[1]


def test_an_id_and_an_external_id_column_are_refused(cli: Any, tmp_path: Path) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--email", "ann@example.com")
    src = tmp_path / "t.csv"
    src.write_text("id,external_id,subject,customer_email\n1,Z-1,Hi,ann@example.com\n", "utf-8")
    result = cli("ticket", "import", str(src))
    assert result.exit_code == 2 and "--map id=external_id" in result.stderr
    cli.ok("ticket", "import", str(src), "--map", "id=-")
