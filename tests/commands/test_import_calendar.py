"""`crm comm import-calendar`: tests/data/calendar/meetings.ics (Outlook-style, CRLF).

It holds: a weekly series in Asia/Shanghai (RRULE COUNT=6) with an EXDATE, one occurrence
moved (RECURRENCE-ID) and one cancelled; a weekly series in a VTIMEZONE named "Eastern
Standard Time" (RRULE UNTIL, crossing the US DST change); an open-ended monthly series
(DURATION) that began before the window; an all-day event with a declined attendee; a
meeting with an unknown attendee; an internal meeting.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crmcli.db import connect

ICS = Path(__file__).resolve().parent.parent / "data" / "calendar" / "meetings.ics"
AS_OF = "2026-03-15T12:00:00Z"  # default window: 2025-12-15 12:00Z .. 2026-04-14 12:00Z


@pytest.fixture
def customers(add_customer: Any) -> dict[str, int]:
    return {
        "zhang": add_customer("张伟", email="zhang.wei@client.cn"),
        "li": add_customer("李娜", email="li.na@client.cn"),
        "wang": add_customer("王芳", email="wang@client.cn"),
    }


def meetings(db_path: Path) -> list[dict[str, Any]]:
    db = connect(db_path)
    try:
        return db.query("SELECT * FROM communications ORDER BY occurred_at, customer_id")
    finally:
        db.close()


def import_ics(cli: Any, *args: str) -> dict[str, Any]:
    out = cli.ok("--as-of", AS_OF, "--format", "json", "comm", "import-calendar", *args)
    return json.loads(out)


def utc(local: str, zone: str) -> str:
    """Independent reference: a wall-clock time in an IANA zone, as stored UTC text."""
    moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_meetings_with_customers_become_communications(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    summary = import_ics(cli, str(ICS), "--our-domain", "ourco.com")
    assert summary["communications_created"] == 13
    assert summary["cancelled"] == 1 and summary["internal"] == 1
    assert summary["unmatched_items"] == 1
    assert summary["unmatched"][0]["email"] == "prospect@newco.example"
    assert summary["outside_window"] == 7  # the monthly review, June to December 2025
    rows = meetings(db_path)
    assert {r["channel"] for r in rows} == {"meeting"}
    by_uid: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_uid.setdefault(r["external_id"].split(":")[1], []).append(r)

    # Weekly, Asia/Shanghai: Mar 2, 9, (16 EXDATE), 23 moved to 24 14:00, (30 cancelled), Apr 6.
    weekly = by_uid["weekly-sync-001@ourco.com"]
    assert [(r["occurred_at"], r["duration_s"]) for r in weekly] == [
        (utc("2026-03-02T10:00", "Asia/Shanghai"), 3600),
        (utc("2026-03-09T10:00", "Asia/Shanghai"), 3600),
        (utc("2026-03-24T14:00", "Asia/Shanghai"), 5400),
        (utc("2026-04-06T10:00", "Asia/Shanghai"), 3600),
    ]
    moved = weekly[2]
    assert moved["external_id"] == "ics:weekly-sync-001@ourco.com:2026-03-23T02:00:00Z"
    assert moved["subject"] == "合同周会（改期）"
    first = weekly[0]
    assert (
        first["subject"] == "合同周会" and first["content"] == "每周同步合同进度\n议程：条款、价格"
    )
    assert first["customer_id"] == customers["zhang"] and first["direction"] == "outbound"
    assert first["agent"] == "Alice"

    # Weekly until 2026-03-20Z in "Eastern Standard Time": 09:00 local across the DST change.
    ny = by_uid["ny-call-002@ourco.com"]
    expected = [
        utc(f"2026-{d}T09:00", "America/New_York") for d in ("02-26", "03-05", "03-12", "03-19")
    ]
    assert [r["occurred_at"] for r in ny] == expected
    assert expected[0].endswith("14:00:00Z") and expected[-1].endswith("13:00:00Z")
    assert {(r["customer_id"], r["direction"], r["duration_s"]) for r in ny} == {
        (customers["li"], "inbound", 1800)
    }

    # Monthly from 2025-06-01 without an end: only the occurrences inside the window.
    monthly = by_uid["monthly-review-003@ourco.com"]
    assert [r["occurred_at"] for r in monthly] == [
        utc(f"2026-0{m}-01T09:00", "Asia/Shanghai") for m in (1, 2, 3, 4)
    ]
    assert {r["duration_s"] for r in monthly} == {2700}

    # All day, local midnight; the attendee who declined gets nothing.
    allday = by_uid["allday-004@ourco.com"]
    assert [(r["occurred_at"], r["duration_s"], r["customer_id"]) for r in allday] == [
        (utc("2026-03-10T00:00", "Asia/Shanghai"), 86400, customers["zhang"])
    ]


def test_reimport_adds_nothing(cli: Any, db_path: Path, customers: dict[str, int]) -> None:
    import_ics(cli, str(ICS), "--our-domain", "ourco.com")
    before = meetings(db_path)
    again = import_ics(cli, str(ICS), "--our-domain", "ourco.com")
    assert again["communications_created"] == 0 and again["duplicates"] == 13
    assert meetings(db_path) == before


def test_explicit_window(cli: Any, db_path: Path, customers: dict[str, int]) -> None:
    summary = import_ics(
        cli, str(ICS), "--our-domain", "ourco.com", "--since", "2025-06-01", "--until", "2025-12-31"
    )
    assert summary["communications_created"] == 7
    assert {r["external_id"].split(":")[1] for r in meetings(db_path)} == {
        "monthly-review-003@ourco.com"
    }


def test_dry_run_changes_nothing(cli: Any, db_path: Path, customers: dict[str, int]) -> None:
    summary = import_ics(cli, str(ICS), "--our-domain", "ourco.com", "--dry-run")
    assert summary["communications_created"] == 13 and summary["dry_run"] is True
    assert meetings(db_path) == []


def test_one_audit_row_per_import(cli: Any, db_path: Path, customers: dict[str, int]) -> None:
    import_ics(cli, str(ICS), "--our-domain", "ourco.com")
    db = connect(db_path)
    try:
        audit = db.query("SELECT details FROM audit_log WHERE action = 'import_calendar'")
    finally:
        db.close()
    assert len(audit) == 1 and json.loads(audit[0]["details"])["communications_created"] == 13


@pytest.mark.parametrize("kind", ["missing", "not_ics", "window"])
def test_bad_input_exits_2(
    cli: Any, db_path: Path, tmp_path: Path, customers: dict[str, int], kind: str
) -> None:
    args = [str(ICS)]
    if kind == "missing":
        args = [str(tmp_path / "none.ics")]
    elif kind == "not_ics":
        bad = tmp_path / "bad.ics"
        bad.write_text("hello, this is not a calendar\n")
        args = [str(bad)]
    else:
        args += ["--since", "2026-03-01", "--until", "2026-02-01"]
    result = cli("--as-of", AS_OF, "comm", "import-calendar", *args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("Error: ") and result.stdout == ""
    assert meetings(db_path) == []
