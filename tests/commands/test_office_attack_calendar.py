"""`crm comm import-calendar` on exports as Google, Apple, Outlook/Lotus and hand edits write
them, where it stored a wrong duration, a swapped start, lost occurrences or a customer, or
answered garbage with an unreadable error.

Fixtures: tests/data/calendar/attack/ (CRLF, folded lines, one with a BOM). Expected times
are worked out with zoneinfo, never with the code under test.
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from office_rows import meetings

ATTACK = Path(__file__).resolve().parent.parent / "data" / "calendar" / "attack"
WINDOW = ("--since", "2026-03-01", "--until", "2026-04-30")


@pytest.fixture
def customers(add_customer: Any) -> dict[str, int]:
    return {
        "zhang": add_customer("张伟", email="zhang.wei@client.cn"),
        "dorte": add_customer("Dörte Sörensen", email="dorte@client.de"),
    }


def import_ics(cli: Any, name: str) -> tuple[dict[str, Any], str]:
    result = cli(
        "--format", "json", "comm", "import-calendar", str(ATTACK / name),
        "--our-domain", "ourco.com", *WINDOW,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout), result.stderr


def utc(wall: str, zone: str) -> str:
    moment = datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def elapsed(start: str, end: str, zone: str) -> int:
    tz = ZoneInfo(zone)
    a = datetime.fromisoformat(start).replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))
    b = datetime.fromisoformat(end).replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))
    return int((b - a).total_seconds())


def test_a_meeting_across_the_dst_change_lasts_the_time_that_passed(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    """Before: DTEND - DTSTART on the wall clock: 7200 s for 01:30 CET..03:30 CEST (3600 s
    passed), 21600 s for a 22:00..04:00 window (18000 s)."""
    summary, _ = import_ics(cli, "google-dst-night.ics")
    assert summary["imported_items"] == 2
    by_subject = {m["subject"]: m for m in meetings(db_path)}
    night = by_subject["Release night (DST change)"]
    assert night["occurred_at"] == utc("2026-03-29T01:30", "Europe/Berlin")
    assert night["duration_s"] == elapsed("2026-03-29T01:30", "2026-03-29T03:30", "Europe/Berlin")
    assert night["duration_s"] == 3600
    window = by_subject["Migration window"]
    assert window["duration_s"] == 5 * 3600
    assert {m["customer_id"] for m in by_subject.values()} == {customers["dorte"]}


def test_attendees_addressed_by_urn_uuid_with_an_email_parameter_are_matched(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    """Before: ATTENDEE;EMAIL=a@b:urn:uuid:... had no address, so the meeting was counted as
    internal and the customer got nothing; the organizer was no agent."""
    summary, _ = import_ics(cli, "apple-email-param.ics")
    assert summary["internal"] == 0 and summary["imported_items"] == 1
    (row,) = meetings(db_path)
    assert row["customer_id"] == customers["zhang"]
    assert row["direction"] == "outbound" and row["agent"] == "Alice Wang"
    assert row["occurred_at"] == utc("2026-03-20T10:00", "Asia/Shanghai")
    assert row["duration_s"] == 3600


def test_an_end_before_the_start_is_no_duration_never_a_swapped_start(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    """Before: DTEND 14:00 before DTSTART 15:00 was stored as a meeting at 14:00 lasting an
    hour (the expander swaps them); a negative DURATION became 0 s."""
    summary, stderr = import_ics(cli, "end-before-start.ics")
    assert summary["imported_items"] == 2 and summary["skipped"] == []
    rows = {m["subject"]: m for m in meetings(db_path)}
    visit, call = rows["Site visit"], rows["Phone call"]
    assert visit["occurred_at"] == utc("2026-03-21T15:00", "Asia/Shanghai")
    assert visit["duration_s"] is None
    assert call["occurred_at"] == utc("2026-03-22T15:00", "Asia/Shanghai")
    assert call["duration_s"] is None
    warnings = [w["warning"] for w in summary["warnings"]]
    assert warnings == [
        "backwards-end@ourco.com: DTEND 20260321T140000 is before DTSTART: stored without a"
        " duration",
        "negative-duration@ourco.com: DURATION -PT1H is negative: stored without a duration",
    ]
    assert "DTEND 20260321T140000 is before DTSTART" in stderr


def test_until_as_a_local_time_or_a_date_keeps_the_last_occurrence(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    """RFC 5545: UNTIL is inclusive. Before: a floating UNTIL under a zoned DTSTART was read
    as UTC (09:00Z is 05:00 in New York) and a DATE UNTIL as its midnight, so the meeting on
    the 19th was lost from both series."""
    summary, _ = import_ics(cli, "until-local.ics")
    assert summary["skipped"] == []
    calls = [m["occurred_at"] for m in meetings(db_path) if m["subject"] == "Weekly NY call"]
    assert calls == [utc(f"2026-03-{day}T09:00", "America/New_York") for day in ("05", "12", "19")]
    wrap = [m["occurred_at"] for m in meetings(db_path) if m["subject"] == "Weekly NY wrap-up"]
    assert wrap == [utc(f"2026-03-{day}T16:00", "America/New_York") for day in ("05", "12", "19")]


def test_two_calendars_in_one_file_are_refused_with_what_to_do(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    result = cli("comm", "import-calendar", str(ATTACK / "two-calendars.ics"), *WINDOW)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: two-calendars.ics holds 2 calendars (BEGIN:VCALENDAR); import each one from a"
        " file of its own"
    ]
    assert meetings(db_path) == []


def test_binary_garbage_gets_one_short_printable_error_line(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    """Before: the parser's complaint quoted the garbage: 1,300 bytes of binary on stderr."""
    path = tmp_path / "photo.ics"
    path.write_bytes(random.Random(17).randbytes(4000))
    result = cli("comm", "import-calendar", str(path))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: photo.ics is not a readable iCalendar file: ")
    assert len(line) < 200 and line.isprintable()
