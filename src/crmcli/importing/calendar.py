"""Reading calendars: an .ics file's meetings -> office Items, recurring events expanded.

Expansion is recurring-ical-events on icalendar: RRULE, RDATE (dates, times and periods),
EXDATE, RECURRENCE-ID overrides (RANGE=THISANDFUTURE too). Before expanding, each event is
checked on its own, so one bad event is skipped with its reason and never costs the file:
two DTSTART lines (or two of any single-valued time) refuse that event; an empty ``RRULE:``
is no rule; UNTIL with COUNT keeps UNTIL (RFC 5545 forbids both; writers put COUNT=-1);
UNTIL is inclusive, so a DATE UNTIL under a timed DTSTART is that whole day, and a floating
UNTIL under a zoned DTSTART is DTSTART's wall clock. An end before the start (DTEND, a
negative DURATION) keeps the meeting at DTSTART without a duration, with a warning.
Copies of one event (same UID and RECURRENCE-ID) are resolved as RFC 5546 says: the highest
SEQUENCE, then the latest DTSTAMP.

Times: TZID as an IANA name, a Windows name (CLDR windowsZones, via icalendar) or the file's
VTIMEZONE; an unknown TZID is read as floating with a warning. Floating times are read in the
calendar's X-WR-TIMEZONE (Google) when it has one, else in the configured zone (CRM_TZ);
all-day events start at local midnight. Durations are the time that passed (a meeting
across a DST change), whole days for all-day events. Attendees: ``mailto:`` or, for
``urn:uuid:`` ones (Apple, CalDAV), the EMAIL parameter (RFC 7986).

Each occurrence's key is ``ics:<UID>:<original start, UTC>``. Cancellations (STATUS:CANCELLED
on an event or an occurrence, every event of a METHOD:CANCEL calendar) and occurrences a
series no longer has within the window are yielded as `Removal`s.
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
from crmcli.importing.office import Item, Party, Removal, Skipped

MAX_OCCURRENCES = 20_000  # per event and window: a runaway FREQ=MINUTELY is refused
RUNAWAY = f"more than {MAX_OCCURRENCES:,} occurrences in the window: the event is not imported"
SINGLE_VALUED = ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "UID", "SEQUENCE", "DTSTAMP")
TIME_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")
NO_DURATION = "X-CRMCLI-NO-DURATION"  # set on an event whose DTEND/DURATION was refused
MARGIN = timedelta(days=2)  # floating and all-day times: read wider, then filter exactly


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


class _BadEvent(Exception):
    """An event that cannot be read; the message is the reason."""


def _short(exc: Exception, limit: int = 120) -> str:
    """A parser's complaint as one short printable line (it may quote binary garbage)."""
    text = " ".join(str(exc).split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(value: Any, zone: tzinfo) -> datetime:
    """date / naive (floating) / aware -> aware datetime; dates at local midnight."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=zone)
    raise _BadEvent(f"not a date or time: {value!r}")


def _text(component: Any, name: str) -> str | None:
    value = component.get(name)
    if value is None or isinstance(value, list):
        return None
    text = tidy(str(value))
    return text or None


def _party(prop: Any) -> Party | None:
    from crmcli.core.validate import normalize_email

    if prop is None or isinstance(prop, list):
        return None
    value = str(prop).strip()
    params = getattr(prop, "params", {}) or {}
    if value.lower().startswith("mailto:"):
        value = value[7:].strip()
    if "@" not in value and "@" in str(params.get("EMAIL") or ""):
        value = str(params["EMAIL"]).strip()  # RFC 7986: ATTENDEE;EMAIL=a@b:urn:uuid:...
    if "@" not in value:
        return None
    name = params.get("CN")
    try:
        address = normalize_email(value) or value.lower()
    except InvalidInput:
        address = value.strip().lower()
    return Party(str(name).strip('"') if name else None, address)


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
    """DTEND - DTSTART of one occurrence (elapsed time: a meeting across a DST change lasts
    what the clock on the wall did not show), or its DURATION; a day for an all-day event;
    None when the event's end was refused (see CalendarReader._check_end)."""
    if component.get(NO_DURATION) is not None:
        return None
    start_value = component.get("DTSTART").dt
    start = _aware(start_value, zone)
    end = component.get("DTEND")
    if end is not None:
        end_value = end.dt
        if not isinstance(start_value, datetime) and not isinstance(end_value, datetime):
            return max(0, (end_value - start_value).days * 86400)  # all-day: whole days
        if isinstance(end_value, datetime) and end_value.tzinfo is None:
            end_value = end_value.replace(tzinfo=start.tzinfo)
        elapsed = _aware(end_value, zone).astimezone(UTC) - start.astimezone(UTC)
        return max(0, int(elapsed.total_seconds()))
    duration = component.get("DURATION")
    if duration is not None and isinstance(duration.dt, timedelta):
        return max(0, int(duration.dt.total_seconds()))
    if isinstance(start_value, date) and not isinstance(start_value, datetime):
        return 86400
    return None


def _uid(component: Any) -> str:
    uid = str(component.get("UID") or "").strip()
    if uid:
        return uid
    start = component.get("DTSTART")
    basis = (
        f"{start.to_ical() if hasattr(start, 'to_ical') else start!r}|{component.get('SUMMARY')}"
    )
    return "generated-" + hashlib.sha256(basis.encode()).hexdigest()[:24]


def _status(component: Any) -> str:
    value = component.get("STATUS")
    return "" if value is None or isinstance(value, list) else str(value).strip().upper()


def _version(component: Any) -> tuple[int, str]:
    """(SEQUENCE, DTSTAMP) for choosing among copies of one event."""
    try:
        sequence = int(str(component.get("SEQUENCE") or 0))
    except ValueError:
        sequence = 0
    stamp = component.get("DTSTAMP")
    moment = ""
    if stamp is not None and hasattr(stamp, "dt") and isinstance(stamp.dt, datetime):
        value = stamp.dt if stamp.dt.tzinfo else stamp.dt.replace(tzinfo=UTC)
        moment = _iso(value)
    return sequence, moment


class CalendarReader:
    """Reads one .ics file; `items(since, until)` yields its meetings in the window."""

    def __init__(self, path: Path, zone: tzinfo):
        from icalendar import Calendar

        if not path.is_file():
            raise InvalidInput(f"no such file: {path}")
        data = path.read_bytes()
        try:
            self.calendar = Calendar.from_ical(data)
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            count = data.upper().count(b"BEGIN:VCALENDAR")
            if count > 1:
                raise InvalidInput(
                    f"{path.name} holds {count} calendars (BEGIN:VCALENDAR); import each one"
                    " from a file of its own"
                ) from None
            raise InvalidInput(
                f"{path.name} is not a readable iCalendar file: {_short(exc)}"
            ) from None
        if isinstance(self.calendar, list):
            self.calendar = self.calendar[0]
        if getattr(self.calendar, "name", "") != "VCALENDAR":
            raise InvalidInput(f"{path.name} is not an iCalendar file (no VCALENDAR)")
        self.path = path
        self.zone = self._floating_zone(zone)
        self.stats = CalendarStats()
        self.warnings: list[str] = []

    def _floating_zone(self, zone: tzinfo) -> tzinfo:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        name = self.calendar.get("X-WR-TIMEZONE")
        if name is None or isinstance(name, list):
            return zone
        try:
            return ZoneInfo(str(name).strip())
        except (ZoneInfoNotFoundError, ValueError):
            return zone

    def _where(self, uid: str) -> str:
        return f"{self.path.name}:{uid}"

    def _check(self, event: Any) -> None:
        """Refuse what cannot be read; repair what RFC 5545 writers commonly get wrong."""
        for name in SINGLE_VALUED:
            if isinstance(event.get(name), list):
                raise _BadEvent(f"{len(event.get(name))} {name} lines (one allowed)")
        if event.get("DTSTART") is None:
            raise _BadEvent("no DTSTART")
        rules = event.get("RRULE")
        if isinstance(rules, list):
            rules = [r for r in rules if dict(r)]
            if len(rules) > 1:
                raise _BadEvent("several RRULE lines")
            del event["RRULE"]
            if rules:
                event.add("RRULE", rules[0])
            rules = rules[0] if rules else None
        if rules is not None:
            if not dict(rules):  # "RRULE:" (calendarlabs exports): an empty rule is no rule
                del event["RRULE"]
            elif rules.get("UNTIL") and rules.get("COUNT"):
                del rules["COUNT"]  # both are forbidden; UNTIL is the one writers mean
            elif rules.get("COUNT") and int(rules["COUNT"][0]) < 1:
                raise _BadEvent(f"RRULE COUNT={rules['COUNT'][0]} (must be at least 1)")
        self._check_until(event)
        for name in TIME_PROPERTIES:
            values = event.get(name)
            for prop in values if isinstance(values, list) else [values]:
                if prop is None:
                    continue
                self._check_zone(prop)

    def _check_until(self, event: Any) -> None:
        """UNTIL read as RFC 5545 means it with a timed DTSTART: inclusive, so a DATE is that
        whole day, and a floating time (written where UTC is required) is DTSTART's wall clock
        (recurring-ical-events would end the series at midnight, or read the time as UTC)."""
        rule = event.get("RRULE")
        start = event.get("DTSTART").dt
        if rule is None or isinstance(rule, list) or not isinstance(start, datetime):
            return
        until = (rule.get("UNTIL") or [None])[0]
        if isinstance(until, datetime):
            if until.tzinfo is not None or start.tzinfo is None:
                return
        elif isinstance(until, date):
            until = datetime.combine(until, time(23, 59, 59))
        else:
            return
        if start.tzinfo is not None:
            until = until.replace(tzinfo=start.tzinfo).astimezone(UTC)
        rule["UNTIL"] = [until]

    def _check_end(self, event: Any, uid: str) -> None:
        """An end before the start (DTEND < DTSTART, a negative DURATION) is no duration: the
        meeting is kept at its DTSTART with none, and a warning (never a swapped start)."""
        start = _aware(event.get("DTSTART").dt, self.zone)
        end, duration = event.get("DTEND"), event.get("DURATION")
        what = None
        if end is not None and not isinstance(end, list):
            value = end.dt
            if isinstance(value, datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=start.tzinfo)
            if _aware(value, self.zone).astimezone(UTC) < start.astimezone(UTC):
                what = f"DTEND {end.to_ical().decode()} is before DTSTART"
                del event["DTEND"]
        elif isinstance(getattr(duration, "dt", None), timedelta) and duration.dt < timedelta(0):
            what = f"DURATION {duration.to_ical().decode()} is negative"
            del event["DURATION"]
        if what is not None:
            event.add(NO_DURATION, "1")
            self.warnings.append(f"{uid}: {what}: stored without a duration")

    def _check_zone(self, prop: Any) -> None:
        params = getattr(prop, "params", {}) or {}
        tzid = params.get("TZID")
        if not tzid:
            return
        values = [d.dt for d in getattr(prop, "dts", [])] or [getattr(prop, "dt", None)]
        floating = any(isinstance(v, datetime) and v.tzinfo is None for v in values)
        if floating:  # a zone named but not known: its moment is unknown, never guessed
            raise _BadEvent(
                f"unknown time zone {tzid!r} (no VTIMEZONE in the file, not an IANA or"
                " Windows zone name)"
            )

    def _groups(self) -> Iterator[tuple[str, Any, dict[str, Any]] | Skipped]:
        """(uid, master or None, {recurrence id: override}) per UID, copies resolved."""
        masters: dict[str, Any] = {}
        overrides: dict[str, dict[str, Any]] = {}
        order: list[str] = []
        for event in self.calendar.walk("VEVENT"):
            uid = "?"
            try:
                uid = _uid(event) if not isinstance(event.get("UID"), list) else "?"
                self._check(event)
                self._check_end(event, uid)
                rid = event.get("RECURRENCE-ID")
                rid_key = None if rid is None else _iso(_aware(rid.dt, self.zone))
            except _BadEvent as exc:
                self.stats.events += 1
                yield Skipped(self._where(uid), f"unreadable event: {exc}")
                continue
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                self.stats.events += 1
                yield Skipped(self._where(uid), f"unreadable event: {exc}")
                continue
            if uid not in masters and uid not in overrides:
                order.append(uid)
            if rid_key is None:
                if uid not in masters or _version(event) > _version(masters[uid]):
                    masters[uid] = event
            else:
                mine = overrides.setdefault(uid, {})
                if rid_key not in mine or _version(event) > _version(mine[rid_key]):
                    mine[rid_key] = event
        for uid in order:
            yield uid, masters.get(uid), overrides.get(uid, {})

    def items(self, since: datetime, until: datetime) -> Iterator[Item | Skipped | Removal]:
        method = self.calendar.get("METHOD")
        cancel_all = method is not None and str(method).strip().upper() == "CANCEL"
        for group in self._groups():
            if isinstance(group, Skipped):
                yield group
                continue
            uid, master, overrides = group
            self.stats.events += 1
            prefix = f"ics:{uid}:"
            if cancel_all or (master is not None and _status(master) == "CANCELLED"):
                self.stats.cancelled += 1
                if master is not None or cancel_all and not overrides:
                    yield Removal(self._where(uid), "cancelled", prefix=prefix)
                else:
                    for rid in overrides:
                        yield Removal(self._where(uid), "cancelled", key=prefix + rid)
                continue
            keep: set[str] = set()
            try:
                produced = list(self._expand(uid, master, overrides, since, until, keep))
            except RecursionError:
                yield Skipped(self._where(uid), "unreadable event: nested too deep")
                continue
            except Exception as exc:  # noqa: BLE001 - one bad event never costs the file
                yield Skipped(self._where(uid), f"unreadable event: {type(exc).__name__}: {exc}")
                continue
            if produced and produced[-1] == Skipped(self._where(uid), RUNAWAY):
                # a rule with more occurrences than the cap: the event is skipped whole,
                # never stored cut off at the cap with the rest of the window missing
                yield produced[-1]
                continue
            yield from produced
            if master is not None and not any(isinstance(p, Skipped) for p in produced):
                yield Removal(
                    self._where(uid), "no longer in the series", prefix=prefix, keep=keep,
                    window=(since, until),
                )  # fmt: skip

    def _expand(
        self,
        uid: str,
        master: Any,
        overrides: dict[str, Any],
        since: datetime,
        until: datetime,
        keep: set[str],
    ) -> Iterator[Item | Skipped | Removal]:
        """One UID's occurrences in the window, overrides applied by recurring-ical-events."""
        import recurring_ical_events
        from icalendar import Calendar

        sub = Calendar()
        for name in ("VERSION", "PRODID", "X-WR-TIMEZONE"):
            if self.calendar.get(name) is not None:
                sub.add(name, self.calendar.get(name))
        for tz in self.calendar.walk("VTIMEZONE"):
            sub.add_component(tz)
        if master is not None:
            sub.add_component(master)
        for event in overrides.values():
            sub.add_component(event)
        single = (
            master is not None
            and not overrides
            and not any(master.get(n) is not None for n in ("RRULE", "RDATE"))
        )
        query = recurring_ical_events.of(sub)
        first = since - MARGIN
        if master is not None:  # from the series' start, to count what lies before the window
            first = min(first, _aware(master.get("DTSTART").dt, self.zone) - timedelta(seconds=1))
        count = seen = 0
        for occurrence in query.after(first):
            start = _aware(occurrence.get("DTSTART").dt, self.zone)
            if start > until + MARGIN:
                break
            seen += 1
            if start >= since - MARGIN:
                count += 1
            if count > MAX_OCCURRENCES or seen > 10 * MAX_OCCURRENCES:
                yield Skipped(self._where(uid), RUNAWAY)
                return
            original = self._original(occurrence, start, overrides)
            key = f"ics:{uid}:{original}"
            keep.add(key)
            if _status(occurrence) == "CANCELLED":
                self.stats.cancelled += 1
                yield Removal(self._where(uid), "cancelled", key=key)
                continue
            if not since <= start <= until:
                self.stats.outside_window += 1
                continue
            yield self._item(occurrence, uid, key, start, f"ics:{uid}:" if single else None)

    def _original(self, occurrence: Any, start: datetime, overrides: dict[str, Any]) -> str:
        """The occurrence's original start (UTC text). recurring-ical-events gives every
        occurrence a RANGE=THISANDFUTURE override moved the override's RECURRENCE-ID; each
        one's own original start is its start less the override's shift."""
        rid = occurrence.get("RECURRENCE-ID")
        if rid is None:
            return _iso(start)
        original = _iso(_aware(rid.dt, self.zone))
        override = overrides.get(original)
        if override is None:
            return original
        range_ = str((getattr(override.get("RECURRENCE-ID"), "params", {}) or {}).get("RANGE", ""))
        if range_.upper() != "THISANDFUTURE":
            return original
        shift = _aware(override.get("DTSTART").dt, self.zone) - _aware(
            override.get("RECURRENCE-ID").dt, self.zone
        )
        return _iso(start - shift)

    def _item(
        self, event: Any, uid: str, key: str, actual: datetime, series_prefix: str | None
    ) -> Item:
        self.stats.occurrences += 1
        return Item(
            key=key,
            channel="meeting",
            sender=_party(event.get("ORGANIZER")),
            others=_attendees(event),
            occurred_at=actual.astimezone(UTC),
            subject=_text(event, "SUMMARY"),
            content=_text(event, "DESCRIPTION"),
            duration_s=_duration(event, self.zone),
            source=f"{self.path.name}:{uid}@{key[len(f'ics:{uid}:') :]}",
            series_prefix=series_prefix,
        )
