"""The SLA calendar and clock: exact minute arithmetic, business hours, holidays, pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from dateutil import tz
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcli.core.errors import InvalidInput
from crmcli.tickets.policy import load_policy
from crmcli.tickets.sla import Calendar, parse_target, sla_state

SH = tz.gettz("Asia/Shanghai")
WORK = Calendar(zone=SH, opens=time(9), closes=time(18), workdays=frozenset(range(5)))


def local(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A time in March 2024, Asia/Shanghai (2024-03-04 is a Monday)."""
    return datetime(2024, month, day, hour, minute, tzinfo=SH)


def minutes(cal: Calendar, a: datetime, b: datetime) -> float:
    return cal.seconds_between(a, b) / 60


def test_continuous_calendar_is_plain_arithmetic() -> None:
    cal = Calendar(zone=SH)
    assert cal.add(local(4, 10), 8 * 3600) == local(4, 18)
    assert minutes(cal, local(4, 10), local(5, 10, 30)) == 24 * 60 + 30


def test_business_hours_add_and_between() -> None:
    # Friday 17:00 + 2 business hours = Monday 10:00 (1h on Friday, 1h on Monday).
    assert WORK.add(local(8, 17), 2 * 3600) == local(11, 10)
    assert minutes(WORK, local(8, 17), local(11, 10)) == 120
    # Before opening time the clock has not started: Mon 07:00 + 1h = Mon 10:00.
    assert WORK.add(local(4, 7), 3600) == local(4, 10)
    # A whole working week is 5 x 9 h.
    assert minutes(WORK, local(4, 0), local(11, 0)) == 5 * 540
    # Exactly the end of the day stays on that day.
    assert WORK.add(local(4, 9), 540 * 60) == local(4, 18)
    assert minutes(WORK, local(4, 17, 59), local(5, 9, 1)) == 2


def test_holidays_are_skipped() -> None:
    cal = Calendar(
        zone=SH, opens=time(9), closes=time(18), workdays=frozenset(range(5)),
        holidays=frozenset({date(2024, 3, 11)}),
    )  # fmt: skip
    assert cal.add(local(8, 17), 2 * 3600) == local(12, 10)
    assert minutes(cal, local(8, 17), local(12, 10)) == 120


def test_targets_use_business_days() -> None:
    assert parse_target("1d", WORK) == 9 * 3600
    assert parse_target("1d", Calendar()) == 86400
    assert parse_target("1h30m", WORK) == 5400
    assert parse_target(45, WORK) == 45 * 60
    for bad in ("soon", "0h", "-1h", True):
        with pytest.raises(InvalidInput):
            parse_target(bad, WORK)


def test_policy_from_config_per_priority_calendar() -> None:
    policy = load_policy(
        {
            "tickets": {
                "sla": {
                    "business_hours": "09:00-18:00",
                    "timezone": "Asia/Shanghai",
                    "holidays": ["2024-03-11"],
                    "urgent": {"response": "30m", "resolution": "4h", "business_hours": False},
                    "low": {"resolution": "2d"},
                }
            }
        }
    )
    assert policy.target("urgent").calendar.continuous
    assert policy.target("urgent").response_seconds == 1800
    assert policy.target("low").resolution_seconds == 2 * 9 * 3600
    normal = policy.target("normal")
    assert normal.response_seconds == 8 * 3600 and normal.resolution_seconds == 3 * 9 * 3600
    assert normal.calendar.workdays == frozenset(range(5))
    assert date(2024, 3, 11) in normal.calendar.holidays
    with pytest.raises(InvalidInput):
        load_policy({"tickets": {"sla": {"business_hours": "18:00-09:00"}}})


def test_state_while_stopped_is_frozen() -> None:
    row = {
        "status": "waiting",
        "created_at": "2024-03-04T01:00:00Z",  # Mon 09:00 local
        "sla_paused_at": "2024-03-04T02:00:00Z",  # Mon 10:00
        "sla_paused_seconds": 0,
        "first_response_at": "2024-03-04T02:00:00Z",
        "response_due_at": "2024-03-04T09:00:00Z",
        "due_at": "2024-03-06T10:00:00Z",  # Wed 18:00
        "resolved_at": None,
    }
    for now in (local(4, 15), local(6, 12), local(20, 9)):
        state = sla_state(row, WORK, now.astimezone(UTC))
        assert state["resolution"]["state"] == "paused"
        assert state["resolution"]["remaining_minutes"] == 480 + 540 + 540
        assert state["response"]["state"] == "met"


@given(
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2024, 12, 31)),
    seconds=st.integers(min_value=1, max_value=30 * 9 * 3600),
)
@settings(max_examples=200, deadline=None)
def test_add_and_between_are_inverse(start: datetime, seconds: int) -> None:
    cal = Calendar(
        zone=SH, opens=time(9), closes=time(18), workdays=frozenset(range(5)),
        holidays=frozenset({date(2024, 10, 1), date(2024, 10, 2)}),
    )  # fmt: skip
    begin = start.replace(microsecond=0, tzinfo=SH).astimezone(UTC)
    due = cal.add(begin, seconds)
    assert cal.seconds_between(begin, due) == seconds
    assert cal.seconds_between(begin, due - timedelta(seconds=1)) < seconds
    local_due = due.astimezone(SH)  # falls inside business hours on a working day
    assert local_due.weekday() < 5 and local_due.date() not in cal.holidays
    assert time(9) < local_due.time() <= time(18)
