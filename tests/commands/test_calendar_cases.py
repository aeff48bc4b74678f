"""`crm comm import-calendar` on the real-world cases of #17 (fixtures: tests/data/calendar/,
Outlook-, Google- and calendarlabs-style exports written for these tests).

Occurrence counts are checked against recurring-ical-events on icalendar (the reference),
times against zoneinfo.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from office_rows import meetings

DATA = Path(__file__).resolve().parent.parent / "data" / "calendar"
WINDOW = ("--since", "2025-12-01", "--until", "2026-12-31")


@pytest.fixture
def customers(add_customer: Any) -> dict[str, int]:
    return {
        "zhang": add_customer("张伟", email="zhang.wei@client.cn"),
        "li": add_customer("李娜", email="li.na@client.cn"),
        "dorte": add_customer("Dörte Sörensen", email="dorte@client.de"),
    }


def import_ics(cli: Any, name: str, *args: str) -> tuple[dict[str, Any], str]:
    result = cli(
        "--format", "json", "comm", "import-calendar", str(DATA / name),
        "--our-domain", "ourco.com", *WINDOW, *args,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout), result.stderr


def reference_count(name: str) -> int:
    import icalendar
    import recurring_ical_events

    calendar = icalendar.Calendar.from_ical((DATA / name).read_bytes())
    return len(
        list(
            recurring_ical_events.of(calendar).between(datetime(2025, 12, 1), datetime(2027, 1, 1))
        )
    )


def utc(local: str, zone: str) -> str:
    moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_two_dtstart_lines_skip_that_event_only(cli: Any, db_path: Path, customers: Any) -> None:
    summary, stderr = import_ics(cli, "two-dtstart.ics")
    assert [m["subject"] for m in meetings(db_path)] == ["Fine meeting"]
    assert len(summary["skipped"]) == 1
    assert "DTSTART" in summary["skipped"][0]["reason"]
    assert "unexpected" not in stderr


def test_empty_rrule_is_no_rule(cli: Any, db_path: Path, customers: Any) -> None:
    summary, _ = import_ics(cli, "calendarlabs-holidays.ics")
    assert summary["skipped"] == []
    assert summary["occurrences_in_window"] == 3 == summary["items"]


def test_rdate_periods_are_occurrences(cli: Any, db_path: Path, customers: Any) -> None:
    summary, _ = import_ics(cli, "rdate-period.ics")
    rows = meetings(db_path)
    assert len(rows) == 6 == reference_count("rdate-period.ics")
    by_time = {r["occurred_at"]: r["duration_s"] for r in rows}
    assert by_time["2026-03-04T01:00:00Z"] == 3 * 3600  # its own period, not the master's 2h
    assert by_time["2026-03-12T01:00:00Z"] == 1800


def test_until_with_count_minus_one(cli: Any, db_path: Path, customers: Any) -> None:
    summary, _ = import_ics(cli, "until-and-count.ics")
    assert summary["skipped"] == []
    assert len(meetings(db_path)) == 7
    assert meetings(db_path)[-1]["occurred_at"] == utc("2026-03-08T09:30", "Asia/Shanghai")


def test_copies_of_one_uid_resolved_by_sequence_then_dtstamp(
    cli: Any, db_path: Path, customers: Any
) -> None:
    import_ics(cli, "sequence-copies.ics")
    got = {(m["subject"], m["occurred_at"]) for m in meetings(db_path)}
    assert got == {
        ("Contract review (moved)", utc("2026-03-05T15:00", "Asia/Shanghai")),  # SEQUENCE 2
        ("Pricing call (afternoon)", utc("2026-03-06T14:00", "Asia/Shanghai")),  # later DTSTAMP
    }


def test_outlook_overrides_replace_the_occurrences_they_move(
    cli: Any, db_path: Path, customers: Any
) -> None:
    summary, _ = import_ics(cli, "outlook-allday-overrides.ics")
    rows = meetings(db_path)
    allday = [r for r in rows if r["subject"].startswith("Vor-Ort-Tag")]
    weekly = [r for r in rows if r["subject"].startswith("Wochenabstimmung")]
    assert len(allday) == 24 and len(weekly) == 8
    assert len(rows) == reference_count("outlook-allday-overrides.ics")
    moved = [r["subject"] for r in allday if r["subject"] != "Vor-Ort-Tag"]
    assert sorted(moved) == [
        "Vor-Ort-Tag (Dienstag)", "Vor-Ort-Tag (Donnerstag)", "Vor-Ort-Tag (Mittwoch)",
    ]  # fmt: skip
    # RANGE=THISANDFUTURE: from 30 March on, the series is at 14:00 Berlin time.
    times = [r["occurred_at"] for r in weekly]
    assert times[:4] == [utc(f"2026-03-{d:02d}T10:00", "Europe/Berlin") for d in (2, 9, 16, 23)]
    assert times[4:] == [
        utc(d + "T14:00", "Europe/Berlin")
        for d in ("2026-03-30", "2026-04-06", "2026-04-13", "2026-04-20")
    ]


def test_windows_zone_names_and_unknown_tzid(cli: Any, db_path: Path, customers: Any) -> None:
    summary, stderr = import_ics(cli, "windows-tzid.ics")
    got = {m["subject"]: m["occurred_at"] for m in meetings(db_path)}
    assert got["West coast call"] == utc("2026-03-05T09:00", "America/Los_Angeles")
    assert got["Beijing call"] == utc("2026-03-06T09:00", "Asia/Shanghai")
    # a zone nobody knows: its moment is unknown, so the event is skipped saying why
    assert "Zone nobody knows" not in got
    assert "unknown time zone 'Western/Central Europe'" in json.dumps(summary)


def test_x_wr_timezone_for_floating_times(cli: Any, db_path: Path, customers: Any) -> None:
    import_ics(cli, "google-floating.ics")
    got = {m["subject"]: m["occurred_at"] for m in meetings(db_path)}
    assert got["Floating time meeting"] == utc("2026-03-10T09:00", "America/New_York")
    assert got["UTC time meeting"] == "2026-03-11T14:00:00Z"


def test_reimport_updates_moves_and_removes(cli: Any, db_path: Path, customers: Any) -> None:
    import_ics(cli, "reimport-v1.ics")
    assert len(meetings(db_path)) == 8
    summary, _ = import_ics(cli, "reimport-v2.ics")
    rows = meetings(db_path)
    subjects = [r["subject"] for r in rows]
    assert "Kickoff with legal" in subjects and "Kickoff" not in subjects
    demo = [r for r in rows if r["subject"] == "Demo"]
    assert [(d["occurred_at"], d["duration_s"]) for d in demo] == [("2026-03-06T07:00:00Z", 5400)]
    assert "Training" not in subjects  # STATUS:CANCELLED
    assert [r["occurred_at"] for r in rows if r["subject"] == "Weekly"] == [
        "2026-03-02T06:00:00Z", "2026-03-09T06:00:00Z", "2026-03-23T06:00:00Z",
    ]  # fmt: skip
    assert "Offsite" in subjects  # not in v2: a partial export removes nothing
    assert summary["updated"] == 2 and summary["removed"] == 2
    summary, _ = import_ics(cli, "method-cancel.ics")
    assert "Offsite" not in [r["subject"] for r in meetings(db_path)]
    assert summary["removed"] == 1
    summary, _ = import_ics(cli, "reimport-v2.ics")
    assert (
        summary["updated"] == 0
        and summary["removed"] == 0
        and summary["communications_created"] == 0
    )


def test_summary_times_in_the_configured_zone(cli: Any, customers: Any) -> None:
    summary, _ = import_ics(cli, "rdate-period.ics")
    assert summary["since"] == "2025-12-01T00:00:00+08:00"
    assert not summary["until"].endswith("Z")
