"""Calendar expansion details, checked against dates worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crmcli.core.errors import InvalidInput
from crmcli.importing.calendar import RUNAWAY, CalendarReader
from crmcli.importing.office import Item, Removal, Skipped

SHANGHAI = ZoneInfo("Asia/Shanghai")
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))


def write(tmp_path: Path, *events: str) -> Path:
    body = "\r\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", *events, "END:VCALENDAR"]
    )
    path = tmp_path / "cal.ics"
    path.write_text(body + "\r\n", encoding="utf-8")
    return path


def items(path: Path, window: tuple[datetime, datetime] = WINDOW) -> list[Item]:
    out = [i for i in CalendarReader(path, SHANGHAI).items(*window) if not isinstance(i, Removal)]
    assert all(isinstance(i, Item) for i in out)
    return [i for i in out if isinstance(i, Item)]


def test_all_day_series_with_date_until_and_exdate(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "BEGIN:VEVENT",
        "UID:a",
        "DTSTART;VALUE=DATE:20260302",
        "RRULE:FREQ=DAILY;UNTIL=20260306",
        "EXDATE;VALUE=DATE:20260304",
        "ATTENDEE:mailto:x@client.cn",
        "END:VEVENT",
    )
    got = items(path)
    # Mar 2, 3, 5, 6 (the 4th excluded; UNTIL as a date includes its day), at local midnight.
    assert [i.occurred_at for i in got] == [
        datetime(2026, 3, d, tzinfo=SHANGHAI).astimezone(UTC) for d in (2, 3, 5, 6)
    ]
    assert {i.duration_s for i in got} == {86400}
    assert got[0].key == "ics:a:2026-03-01T16:00:00Z"


def test_floating_time_is_read_in_the_configured_zone_and_rdate_adds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "BEGIN:VEVENT",
        "UID:b",
        "DTSTART:20260310T093000",
        "DTEND:20260310T100000",
        "RRULE:FREQ=MONTHLY;COUNT=2;INTERVAL=2",
        "RDATE:20260401T093000",
        "SUMMARY:Floating",
        "END:VEVENT",
    )
    got = items(path)
    assert [i.occurred_at for i in got] == [
        datetime(2026, 3, 10, 9, 30, tzinfo=SHANGHAI).astimezone(UTC),
        datetime(2026, 4, 1, 9, 30, tzinfo=SHANGHAI).astimezone(UTC),
        datetime(2026, 5, 10, 9, 30, tzinfo=SHANGHAI).astimezone(UTC),
    ]
    assert {i.duration_s for i in got} == {1800}


def test_runaway_recurrence_is_capped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "BEGIN:VEVENT",
        "UID:c",
        "DTSTART:20260101T000000Z",
        "RRULE:FREQ=MINUTELY",
        "END:VEVENT",
    )
    out = list(CalendarReader(path, SHANGHAI).items(*WINDOW))
    assert out == [Skipped("cal.ics:c", RUNAWAY)]  # skipped whole, never cut off at the cap


def test_not_a_calendar(tmp_path: Path) -> None:
    path = tmp_path / "x.ics"
    path.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n")
    with pytest.raises(InvalidInput):
        CalendarReader(path, SHANGHAI)
