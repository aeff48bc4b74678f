"""Reading calendars: an .ics file's meetings -> office Items, recurring events expanded.

Times: DTSTART/DTEND with TZID (IANA or a VTIMEZONE in the file) are honoured; floating
times are read in the configured zone (CRM_TZ); all-day events start at local midnight.
Recurrences: RRULE (COUNT, UNTIL, INTERVAL, BY...), RDATE and EXDATE via dateutil.rrule,
expanded within a window; a VEVENT with RECURRENCE-ID replaces (or cancels) one occurrence.
Each occurrence's key is ``ics:<UID>:<original start, UTC>``, so re-imports add nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from crmcli.core.errors import InvalidInput
from crmcli.importing.mail import tidy
from crmcli.importing.office import Item, Party, Skipped

MAX_OCCURRENCES = 20_000  # per event and window: a runaway FREQ=MINUTELY is refused


@dataclass
class CalendarStats:
    events: int = 0
    occurrences: int = 0
    outside_window: int = 0
    cancelled: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "occurrences_in_window": self.occurrences,
            "outside_window": self.outside_window,
            "cancelled": self.cancelled,
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(value: Any, zone: tzinfo, like: datetime | None = None) -> datetime:
    """date / naive / aware -> aware datetime (floating times in `like`'s zone or `zone`)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=like.tzinfo if like is not None else zone)
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=zone)
    raise ValueError(f"not a date or time: {value!r}")


def _dates(component: Any, name: str) -> list[Any]:
    """All values of a multi-valued date property (EXDATE, RDATE), flattened."""
    prop = component.get(name)
    if prop is None:
        return []
    props = prop if isinstance(prop, list) else [prop]
    out = []
    for p in props:
        out += [d.dt for d in getattr(p, "dts", [])]
    return out


def _text(component: Any, name: str) -> str | None:
    value = component.get(name)
    if value is None:
        return None
    text = tidy(str(value))
    return text or None


def _party(prop: Any) -> Party | None:
    if prop is None:
        return None
    value = str(prop).strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    if "@" not in value:
        return None
    params = getattr(prop, "params", {}) or {}
    name = params.get("CN")
    return Party(str(name).strip('"') if name else None, value.strip().lower())


def _attendees(component: Any) -> list[Party]:
    prop = component.get("ATTENDEE")
    props = prop if isinstance(prop, list) else ([prop] if prop is not None else [])
    out = []
    for p in props:
        params = getattr(p, "params", {}) or {}
        if str(params.get("PARTSTAT", "")).upper() == "DECLINED":
            continue
        party = _party(p)
        if party is not None:
            out.append(party)
    return out


def _duration(component: Any, zone: tzinfo) -> int | None:
    """DTEND - DTSTART of the component (the same for every occurrence), or DURATION."""
    start = _aware(component.get("DTSTART").dt, zone)
    end = component.get("DTEND")
    if end is not None:
        seconds = (_aware(end.dt, zone, start) - start).total_seconds()
        return max(0, int(seconds))
    duration = component.get("DURATION")
    if duration is not None and isinstance(duration.dt, timedelta):
        return max(0, int(duration.dt.total_seconds()))
    start_value = component.get("DTSTART").dt
    if isinstance(start_value, date) and not isinstance(start_value, datetime):
        return 86400
    return None


def _uid(component: Any) -> str:
    uid = str(component.get("UID") or "").strip()
    if uid:
        return uid
    basis = f"{component.get('DTSTART').to_ical()!r}|{component.get('SUMMARY')}"
    return "generated-" + hashlib.sha256(basis.encode()).hexdigest()[:24]


def _rule_text(rule: Any, start: datetime, zone: tzinfo) -> str:
    """RRULE text that dateutil accepts: UNTIL made UTC when DTSTART has a zone (RFC 5545)."""
    from icalendar.prop import vRecur

    parts = {k: list(v) for k, v in dict(rule).items()}
    until = parts.get("UNTIL")
    if until:
        value = until[0]
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=start.tzinfo)
        else:  # a date: through the end of that day
            moment = datetime.combine(value, time(23, 59, 59), tzinfo=start.tzinfo or zone)
        parts["UNTIL"] = [moment.astimezone(UTC)]
    return vRecur(parts).to_ical().decode()


def _starts(component: Any, start: datetime, zone: tzinfo, until: datetime) -> Iterator[datetime]:
    """Occurrence starts up to `until`: DTSTART alone, or the RRULE/RDATE/EXDATE set."""
    from dateutil.rrule import rruleset, rrulestr

    rules = component.get("RRULE")
    rdates = _dates(component, "RDATE")
    if rules is None and not rdates:
        yield start
        return
    rset = rruleset()
    for rule in rules if isinstance(rules, list) else ([rules] if rules is not None else []):
        rset.rrule(rrulestr(_rule_text(rule, start, zone), dtstart=start))  # type: ignore[arg-type]
    if rules is None:
        rset.rdate(start)
    for value in rdates:
        rset.rdate(_aware(value, zone, start))
    for value in _dates(component, "EXDATE"):
        rset.exdate(_aware(value, zone, start))
    for n, occurrence in enumerate(rset):
        if occurrence > until or n > 10 * MAX_OCCURRENCES:
            return
        yield occurrence


class CalendarReader:
    """Reads one .ics file; `items(since, until)` yields its meetings in the window."""

    def __init__(self, path: Path, zone: tzinfo):
        from icalendar import Calendar

        if not path.is_file():
            raise InvalidInput(f"no such file: {path}")
        data = path.read_bytes()
        try:
            self.calendar = Calendar.from_ical(data)
        except (ValueError, IndexError, KeyError) as exc:
            raise InvalidInput(f"{path.name} is not a readable iCalendar file: {exc}") from None
        if getattr(self.calendar, "name", "") != "VCALENDAR":
            raise InvalidInput(f"{path.name} is not an iCalendar file (no VCALENDAR)")
        self.path = path
        self.zone = zone
        self.stats = CalendarStats()

    def items(self, since: datetime, until: datetime) -> Iterator[Item | Skipped]:
        masters: list[Any] = []
        overrides: dict[tuple[str, str], Any] = {}
        for event in self.calendar.walk("VEVENT"):
            if event.get("DTSTART") is None:
                self.stats.events += 1
                yield Skipped(f"{self.path.name}:{event.get('UID') or '?'}", "no DTSTART")
                continue
            if event.get("RECURRENCE-ID") is not None:
                try:
                    start = _aware(event.get("DTSTART").dt, self.zone)
                    original = _aware(event.get("RECURRENCE-ID").dt, self.zone, start)
                except ValueError as exc:
                    self.stats.events += 1
                    yield Skipped(f"{self.path.name}:{_uid(event)}", f"unreadable event: {exc}")
                    continue
                overrides[(_uid(event), _iso(original))] = event
            else:
                masters.append(event)
        used: set[tuple[str, str]] = set()
        for event in masters:
            self.stats.events += 1
            uid = _uid(event)
            try:
                yield from self._expand(event, uid, overrides, used, since, until)
            except (ValueError, TypeError, OverflowError) as exc:
                yield Skipped(f"{self.path.name}:{uid}", f"unreadable event: {exc}")
        for key, event in overrides.items():  # moved occurrences of masters not in the file
            if key in used:
                continue
            self.stats.events += 1
            try:
                actual = _aware(event.get("DTSTART").dt, self.zone)
            except ValueError as exc:
                yield Skipped(f"{self.path.name}:{key[0]}", f"unreadable event: {exc}")
                continue
            if str(event.get("STATUS") or "").upper() == "CANCELLED":
                self.stats.cancelled += 1
            elif not since <= actual <= until:
                self.stats.outside_window += 1
            else:
                yield self._item(event, key[0], key[1], actual)

    def _expand(
        self,
        event: Any,
        uid: str,
        overrides: dict[tuple[str, str], Any],
        used: set[tuple[str, str]],
        since: datetime,
        until: datetime,
    ) -> Iterator[Item | Skipped]:
        """One master event's occurrences in the window, with their overrides applied."""
        if str(event.get("STATUS") or "").upper() == "CANCELLED":
            self.stats.cancelled += 1
            return
        start = _aware(event.get("DTSTART").dt, self.zone)
        count = 0
        for occurrence in _starts(event, start, self.zone, until):
            key = (uid, _iso(occurrence))
            source, actual = event, occurrence
            if key in overrides:
                used.add(key)
                source = overrides[key]
                actual = _aware(source.get("DTSTART").dt, self.zone)
            if str(source.get("STATUS") or "").upper() == "CANCELLED":
                self.stats.cancelled += 1
                continue
            if not since <= actual <= until:
                self.stats.outside_window += 1
                continue
            count += 1
            if count > MAX_OCCURRENCES:
                yield Skipped(f"{self.path.name}:{uid}", "too many occurrences in the window")
                return
            yield self._item(source, uid, key[1], actual)

    def _item(self, event: Any, uid: str, original: str, actual: datetime) -> Item:
        self.stats.occurrences += 1
        return Item(
            key=f"ics:{uid}:{original}",
            channel="meeting",
            sender=_party(event.get("ORGANIZER")),
            others=_attendees(event),
            occurred_at=actual.astimezone(UTC),
            subject=_text(event, "SUMMARY"),
            content=_text(event, "DESCRIPTION"),
            duration_s=_duration(event, self.zone),
            source=f"{self.path.name}:{uid}@{original}",
        )
