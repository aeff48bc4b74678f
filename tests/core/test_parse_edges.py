"""Date, zone and duration edge cases through the real CLI and a real SQLite file: a value
that reads two ways or lacks a part is refused with its reason, never stored as a guess."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

NOW = {"CRM_NOW": "2024-06-10T12:00:00+08:00"}


def stored(db_path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(
            "SELECT subject, occurred_at, duration_s FROM communications ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


@pytest.fixture
def customer(add_customer: Callable[..., int]) -> int:
    return add_customer("张伟", external_id="E-1", email="zw@example.cn")


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        ("March 5", "--at 'March 5' has no year"),
        ("5 Mar", "has no year"),
        ("10:30", "has no date"),
        ("Tuesday", "has no date"),
        ("05/03", "has no year"),
        ("30.06", "has no year or month"),
        ("2024-03-05 10:00 PST", "time zone 'PST' is ambiguous; write an offset such as -08:00"),
        ("2024-03-05 10:00 CET", "time zone 'CET' is ambiguous"),
        ("March 5, 2024 10:00 AM EST", "time zone 'EST' is ambiguous"),
        ("2024-03-05 10:00 UTC+3", "reads two ways"),
        ("tomorrow March 5", "give only a time"),
    ],
)
def test_comm_log_refuses_a_partial_or_zone_named_time(
    cli: Any, customer: int, db_path: Path, at: str, reason: str
) -> None:
    result = cli("comm", "log", str(customer), "-c", "phone", "--at", at, env=NOW)
    assert result.exit_code == 2, result.stdout
    assert reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line: no warning, no traceback
    assert "Warning" not in result.stderr + result.stdout
    assert "site-packages" not in result.stderr + result.stdout
    assert stored(db_path) == []


@pytest.mark.parametrize(
    ("at", "duration", "utc", "seconds"),
    [
        ("2024-03-05 10:00 UTC", "2 hours", "2024-03-05T10:00:00Z", 7200),
        ("Tue, 05 Mar 2024 10:00:00 GMT", "30 min", "2024-03-05T10:00:00Z", 1800),
        ("5 Mar 2024 10:00 -0800", "5 minutes 30 seconds", "2024-03-05T18:00:00Z", 330),
        ("March 5, 2024 10:00 AM", "1 hr", "2024-03-05T02:00:00Z", 3600),
        ("tomorrow 9am", "3 mins", "2024-06-11T01:00:00Z", 180),
        ("2024-03-05 10:00", "1:02:03", "2024-03-05T02:00:00Z", 3723),
    ],
)
def test_comm_log_stores_plain_zones_and_spelled_out_durations(
    cli: Any, customer: int, db_path: Path, at: str, duration: str, utc: str, seconds: int
) -> None:
    cli.ok("comm", "log", str(customer), "-c", "phone", "--at", at, "--duration", duration,
           "--subject", "s", env=NOW)  # fmt: skip
    assert stored(db_path) == [("s", utc, seconds)]


@pytest.mark.parametrize("duration", ["1:75", "1:75:99"])
def test_comm_log_refuses_minutes_or_seconds_of_60_or_more(
    cli: Any, customer: int, db_path: Path, duration: str
) -> None:
    result = cli("comm", "log", str(customer), "-c", "phone", "--duration", duration, env=NOW)
    assert result.exit_code == 2
    assert "below 60" in result.stderr and "--duration" in result.stderr
    assert stored(db_path) == []


def test_comm_import_rejects_partial_and_zone_named_times_with_their_reason(
    cli: Any, customer: int, tmp_path: Path, db_path: Path
) -> None:
    src = tmp_path / "calls.csv"
    src.write_text(
        "customer_external_id,occurred_at,channel,direction,subject,duration_s\n"
        "E-1,2024-03-05 10:00 UTC,phone,inbound,good,5 minutes 30 seconds\n"
        "E-1,March 5,phone,inbound,no year,\n"
        "E-1,2024-03-05 10:00 PST,phone,inbound,pst,\n"
        "E-1,10:30,phone,inbound,time only,\n"
        "E-1,2024-03-06 10:00,phone,inbound,bad duration,1:75\n",
        encoding="utf-8",
    )
    result = cli("comm", "import", str(src), "--format", "json", env=NOW)
    assert result.exit_code == 0, result.stderr
    assert "Warning" not in result.stderr and "site-packages" not in result.stderr
    summary = json.loads(result.stdout)
    assert (summary["inserted"], summary["rejected"]) == (2, 3)
    with (tmp_path / "calls.rejects.csv").open(encoding="utf-8-sig") as fh:
        rejects = "\n".join(",".join(row) for row in csv.reader(fh))
    assert "'March 5' has no year" in rejects
    assert "time zone 'PST' is ambiguous" in rejects
    assert "'10:30' has no date" in rejects
    assert "below 60" in rejects  # a field warning: the row is kept without its duration
    assert stored(db_path) == [
        ("good", "2024-03-05T10:00:00Z", 330),
        ("bad duration", "2024-03-06T02:00:00Z", None),
    ]


def test_an_import_refuses_times_relative_to_when_it_runs(cli: Any, tmp_path: Path) -> None:
    """'now', 'yesterday', '+3d' are read for --at on a command line; in a file they would
    mean whenever the import happens to run: a field warning, the row kept without it."""
    src = tmp_path / "rel.csv"
    src.write_text(
        "name,created_at\nA,now\nB,yesterday\nC,+3d\nD,明天\nE,2024-03-05\n", encoding="utf-8"
    )
    summary = cli.json("customer", "import", str(src))
    assert (summary["inserted"], summary["warnings"]) == (5, 4)
    stored = {c["name"]: c["created_at"] for c in cli.json("customer", "list")}
    assert stored["E"].startswith("2024-03-0")
    text = (tmp_path / "rel.rejects.csv").read_text(encoding="utf-8-sig")
    assert text.count("is relative to when the import runs; write the date") == 4


def test_placeholder_dates_before_1900_are_field_warnings(cli: Any, tmp_path: Path) -> None:
    """0001-01-01 (.NET's and many ERPs' "no date") and 1899-12-30 (a spreadsheet's day 0)
    are no dates: a field warning; a real old date is stored in ISO form (year 4 digits)."""
    from datetime import UTC, datetime

    from crmcli.core.clock import to_iso

    assert to_iso(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00Z"  # was "5-01-01..."
    src = tmp_path / "old.csv"
    src.write_text("name,created_at\nK,0001-01-01\nL,1899-12-30\nM,1901-02-03\n", encoding="utf-8")
    summary = cli.json("customer", "import", str(src))
    assert (summary["inserted"], summary["warnings"]) == (3, 2)
    stored = {c["name"]: c["created_at"] for c in cli.json("customer", "list")}
    assert stored["M"].startswith("1901-02-0")
    assert "before 1900" in (tmp_path / "old.rejects.csv").read_text(encoding="utf-8-sig")
