"""The SLA clock: business-hours calendars, due times, pauses and a ticket's SLA state.

A ticket's clock runs only while the ticket is in the team's court (open, in_progress).
`waiting` (on the customer), `resolved` and `closed` stop it; when the ticket comes back
the business time it spent stopped is added to its due times. So at any moment

    clock(t) = business_seconds(created_at, t) - paused_seconds

and a target of T seconds falls due at `calendar.add(created_at, T + paused_seconds)`.
All arithmetic is in whole seconds on aware datetimes, converted to UTC before adding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from crmcli.core.errors import InvalidInput

RUNNING = ("open", "in_progress")
STOPPED = ("waiting", "resolved", "closed")
DONE = ("resolved", "closed")
MAX_DAYS = 3660  # a target longer than ten years of business days is a configuration error

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


@dataclass(frozen=True)
class Calendar:
    """When the SLA clock may run: every second (24x7), or business hours on workdays."""

    zone: tzinfo = UTC
    opens: time | None = None  # None: around the clock
    closes: time | None = None
    workdays: frozenset[int] = field(default_factory=lambda: frozenset(range(7)))
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def continuous(self) -> bool:
        """True when every second counts (no hours, no closed days)."""
        return self.opens is None and len(self.workdays) == 7 and not self.holidays

    def day_seconds(self) -> int:
        """The length of one business day (a target of '1d' means this many seconds)."""
        if self.opens is None or self.closes is None:
            return 86400
        return _seconds_of(self.closes) - _seconds_of(self.opens)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC interval of `day` (a local date) in which the clock runs, or None."""
        if day.weekday() not in self.workdays or day in self.holidays:
            return None
        if self.opens is None or self.closes is None:
            start = datetime.combine(day, time(0), tzinfo=self.zone)
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
        else:
            start = datetime.combine(day, self.opens, tzinfo=self.zone)
            end = datetime.combine(day, self.closes, tzinfo=self.zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def seconds_between(self, start: datetime, end: datetime) -> int:
        """Business seconds in [start, end); 0 when end <= start."""
        if end <= start:
            return 0
        if self.continuous:
            return int((end - start).total_seconds())
        total = 0
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            win = self.window(day)
            if win is not None:
                lo, hi = max(start, win[0]), min(end, win[1])
                if hi > lo:
                    total += int((hi - lo).total_seconds())
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, seconds: int) -> datetime:
        """The moment at which `seconds` of business time have passed since `start`."""
        start = start.astimezone(UTC)
        if seconds <= 0:
            return start
        if self.continuous:
            return start + timedelta(seconds=seconds)
        remaining = seconds
        day = start.astimezone(self.zone).date()
        for _ in range(MAX_DAYS * 2):
            win = self.window(day)
            if win is not None:
                lo = max(start, win[0])
                if lo < win[1]:
                    available = int((win[1] - lo).total_seconds())
                    if remaining <= available:
                        return lo + timedelta(seconds=remaining)
                    remaining -= available
            day += timedelta(days=1)
        raise InvalidInput("SLA target too long for the business calendar (no working days?)")


def _seconds_of(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def parse_hours(text: str) -> tuple[time, time]:
    """'09:00-18:00' -> (09:00, 18:00)."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(text))
    if not match:
        raise InvalidInput(f"business_hours must look like 09:00-18:00, got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        opens, closes = time(h1, m1), time(h2, m2)
    except ValueError:
        raise InvalidInput(f"invalid business_hours {text!r}") from None
    if closes <= opens:
        raise InvalidInput(f"business_hours must close after they open: {text!r}")
    return opens, closes


def parse_workdays(items: Any) -> frozenset[int]:
    """['mon', 'tue', ...] or [1..7] (ISO weekday numbers) -> {0..6}."""
    if not isinstance(items, list) or not items:
        raise InvalidInput("workdays must be a non-empty list such as ['mon', 'tue', 'wed']")
    out: set[int] = set()
    for item in items:
        if isinstance(item, int) and 1 <= item <= 7:
            out.add(item - 1)
        elif isinstance(item, str) and item.strip().lower()[:3] in WEEKDAYS:
            out.add(WEEKDAYS[item.strip().lower()[:3]])
        else:
            raise InvalidInput(f"invalid workday {item!r}; use mon..sun or 1..7")
    return frozenset(out)


_TARGET_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|days?|h|hrs?|hours?|m|mins?|minutes?)", re.I)


def parse_target(value: Any, calendar: Calendar, what: str = "SLA target") -> int:
    """'4h', '1d', '1h30m' or a number of minutes -> seconds. A day is one business day."""
    if isinstance(value, bool):
        raise InvalidInput(f"invalid {what} {value!r}")
    if isinstance(value, int | float):
        seconds = int(round(float(value) * 60))
    else:
        text = str(value).strip().lower()
        pos, total = 0, 0.0
        for match in _TARGET_PART.finditer(text):
            if text[pos : match.start()].strip():
                break
            amount, unit = float(match.group(1)), match.group(2)[0]
            total += amount * {"d": calendar.day_seconds(), "h": 3600, "m": 60}[unit]
            pos = match.end()
        if pos == 0 or text[pos:].strip():
            raise InvalidInput(f"invalid {what} {value!r}; use a form like 4h, 1d or 1h30m")
        seconds = int(round(total))
    if seconds <= 0:
        raise InvalidInput(f"{what} must be positive, got {value!r}")
    return seconds


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    from crmcli.core.clock import from_iso

    return from_iso(text)


def _clock(
    calendar: Calendar,
    due: datetime | None,
    done: datetime | None,
    stopped_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """One clock's state: met / breached / running / paused, with business minutes left."""
    if due is None:
        return {"state": "none", "due_at": None, "remaining_minutes": None}
    from crmcli.core.clock import to_iso

    if done is not None:
        return {
            "state": "met" if done <= due else "breached",
            "due_at": to_iso(due),
            "remaining_minutes": None,
        }
    at = stopped_at or now
    if at > due:
        left = -calendar.seconds_between(due, at)
        state = "breached"
    else:
        left = calendar.seconds_between(at, due)
        state = "paused" if stopped_at else "running"
    return {"state": state, "due_at": to_iso(due), "remaining_minutes": int(left / 60)}


def minutes_used(
    ticket: dict[str, Any], calendar: Calendar, now: datetime
) -> tuple[int | None, int | None]:
    """(response, resolution) SLA minutes used: business time from creation to the first
    response (resolution: to the resolution), or to the moment the clock stopped, or now;
    net of the business time the ticket spent stopped (waiting) before that.

    Stopping the clock (wait, resolve) is itself a response, so no pause ever precedes the
    first response: the response clock has nothing to deduct once it has an answer.

    A stopped ticket that does not say when (an import of a resolved ticket without its
    resolved_at) has used an unknown time: None, never the time up to now.
    """
    created = _when(ticket.get("created_at"))
    if created is None:
        return None, None
    status = ticket["status"]
    paused = int(ticket.get("sla_paused_seconds") or 0)
    stopped_at = _when(ticket.get("sla_paused_at")) if status in STOPPED else None
    unknown = status in STOPPED and stopped_at is None
    at = stopped_at or now
    resolved = _when(ticket.get("resolved_at")) if status in DONE else None
    first = _when(ticket.get("first_response_at"))
    response: int | None = None
    if first or not unknown:
        response = max(0, calendar.seconds_between(created, first or at) - (0 if first else paused))
    resolution: int | None = None
    if resolved or not (unknown or status in DONE):
        resolution = max(0, calendar.seconds_between(created, resolved or at) - paused)
    return (
        None if response is None else response // 60,
        None if resolution is None else resolution // 60,
    )


def sla_state(ticket: dict[str, Any], calendar: Calendar, now: datetime) -> dict[str, Any]:
    """The response and resolution clocks of a ticket (a row of the tickets table), with
    the SLA minutes each has used (see minutes_used)."""
    status = ticket["status"]
    stopped_at = _when(ticket.get("sla_paused_at")) if status in STOPPED else None
    resolved = _when(ticket.get("resolved_at")) if status in DONE else None
    # Stopped, but when is not known (imported without the time): no verdict either way.
    unknown = status in STOPPED and stopped_at is None
    first = _when(ticket.get("first_response_at"))
    response_used, resolution_used = minutes_used(ticket, calendar, now)
    response_due = _when(ticket.get("response_due_at"))
    resolution_due = _when(ticket.get("due_at"))
    return {
        "clock": "running" if status in RUNNING else "stopped",
        "response_minutes_used": response_used,
        "resolution_minutes_used": resolution_used,
        "paused_minutes": int((ticket.get("sla_paused_seconds") or 0) / 60),
        "response": _unknown(response_due)
        if unknown and first is None
        else _clock(calendar, response_due, first, stopped_at, now),
        "resolution": _unknown(resolution_due)
        if (status in DONE and resolved is None) or (unknown and status not in DONE)
        else _clock(calendar, resolution_due, resolved, stopped_at, now),
    }


def _unknown(due: datetime | None) -> dict[str, Any]:
    """A clock whose outcome the data does not tell (stopped at a time not recorded)."""
    if due is None:
        return {"state": "none", "due_at": None, "remaining_minutes": None}
    from crmcli.core.clock import to_iso

    return {"state": "unknown", "due_at": to_iso(due), "remaining_minutes": None}
