"""The one clock: the configured time zone, "now", pinning it, and the stored time form.

Times are stored as UTC ISO-8601 text (`to_iso`) and shown in the configured zone with
its offset (`display_time`). "Now" is `now()`, never `datetime.now()`: `pin()` fixes it
for `--as-of` and `CRM_NOW` (the CLI's root callback pins both), so every report is
reproducible and scripted histories can replay time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from crmcli.core.errors import InvalidInput


def local_zone() -> tzinfo:
    """The configured time zone: CRM_TZ (an IANA name such as Asia/Shanghai) or the system's."""
    return _zone_for(os.environ.get("CRM_TZ") or "", os.environ.get("TZ") or "")


@lru_cache(maxsize=8)
def _zone_for(name: str, tz_env: str) -> tzinfo:
    # The stdlib's zoneinfo first: dateutil.tz costs ~15 ms at start-up, and `crm comm log`
    # runs thousands of times from shell loops. dateutil stays the fallback for POSIX TZ
    # strings ("CST-8") that zoneinfo does not read.
    from zoneinfo import ZoneInfo

    if name:
        try:
            return ZoneInfo(name)
        except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            pass
        from dateutil import tz as dateutil_tz

        zone = dateutil_tz.gettz(name)
        if zone is None:
            raise InvalidInput(f"unknown time zone in CRM_TZ: {name!r}")
        return zone
    if not tz_env:
        try:
            with open("/etc/localtime", "rb") as fh:
                return ZoneInfo.from_file(fh, key="localtime")
        except (OSError, ValueError):
            pass
    from dateutil import tz as dateutil_tz

    return dateutil_tz.tzlocal()


_pinned: datetime | None = None


def pin(value: datetime | None) -> None:
    """Pin "now" to an aware datetime (--as-of, CRM_NOW), or unpin it with None."""
    global _pinned
    _pinned = value.astimezone(UTC) if value is not None else None


def now() -> datetime:
    """The current time as an aware UTC datetime, honouring the pin and CRM_NOW."""
    if _pinned is not None:
        return _pinned
    env = os.environ.get("CRM_NOW")
    if env:
        return _parse_crm_now(env, os.environ.get("CRM_TZ", ""))
    return datetime.now(UTC)


@lru_cache(maxsize=8)
def _parse_crm_now(env: str, zone: str) -> datetime:
    """CRM_NOW outside the CLI (which pins any form it accepts): ISO-8601 only."""
    try:
        moment = datetime.fromisoformat(env.strip())
    except ValueError:
        raise InvalidInput(
            f"invalid CRM_NOW {env!r}; use ISO-8601 such as 2024-03-05T14:30"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_zone())
    return moment.astimezone(UTC)


def now_iso() -> str:
    """Now in the stored form (see to_iso)."""
    return to_iso(now())


def to_iso(moment: datetime) -> str:
    """The stored form of a time: UTC, ISO-8601, seconds precision, 'Z' suffix."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_zone())
    # (isoformat, not strftime: %Y writes year 1 as "1", which sorts and parses wrongly)
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def from_iso(text: str) -> datetime:
    """Parse a stored time back into an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def display_time(text: str | None) -> str | None:
    """A stored UTC time shown in the configured zone, ISO-8601 with offset."""
    if not text:
        return text
    try:
        moment = from_iso(text)
    except ValueError:
        return text
    return moment.astimezone(local_zone()).isoformat()


# The stored form (to_iso) is an hour prefix "YYYY-MM-DDTHH" and a tail ":MM:SSZ": the
# fast path takes exactly that, anything else goes through display_time itself.
_HOUR = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}").fullmatch


@lru_cache(maxsize=1)
def _tails() -> frozenset[str]:
    """Every ":MM:SSZ" (built on first use: 3,600 strings cost ~10 ms at start-up)."""
    return frozenset(f":{m:02d}:{s:02d}Z" for m in range(60) for s in range(60))


class _ZoneDisplay:
    """display_time in one zone for many values: the zone's offset is looked up once per
    UTC hour, and a stored time becomes its local hour's text plus its own minutes and
    seconds. An hour whose offset is not whole hours or changes within it (a DST switch at
    :30), and any value not in the stored form, go through display_time itself: the result
    is always display_time's."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self.hours: dict[str, tuple[str, str] | None] = {}

    def local_hour(self, prefix: str) -> tuple[str, str] | None:
        if not _HOUR(prefix):
            return None
        try:
            start = datetime.fromisoformat(prefix + ":00:00+00:00")
            first = start.astimezone(self.zone)
            last = (start + timedelta(seconds=3599)).astimezone(self.zone)
        except (ValueError, OverflowError):
            return None
        offset = first.utcoffset()
        if offset is None or offset != last.utcoffset() or offset.total_seconds() % 3600:
            return None
        text = first.isoformat()  # YYYY-MM-DDTHH:00:00+HH:MM
        return (text[:13], text[19:]) if len(text) == 25 else None

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        prefix = text[:13]
        try:
            hit = self.hours[prefix]
        except KeyError:
            hit = self.hours[prefix] = self.local_hour(prefix)
        tail = text[13:]
        if hit is not None and tail in _tails():
            return hit[0] + tail[:6] + hit[1]
        return display_time(text)

    def many(self, values: list[str]) -> list[str | None]:
        """self(v) for every v, in one loop (the cache hit inline)."""
        hours, tails = self.hours, _tails()
        out: list[str | None] = []
        append = out.append
        for text in values:
            hit = hours.get(text[:13])
            tail = text[13:]
            if hit is not None and tail in tails:
                append(hit[0] + tail[:6] + hit[1])
            else:
                append(self(text))
        return out


@lru_cache(maxsize=8)
def _zone_display(zone: tzinfo) -> _ZoneDisplay:
    return _ZoneDisplay(zone)


def display_converter() -> Callable[[str | None], str | None]:
    """display_time as a function bound to the configured zone, for many values."""
    return _zone_display(local_zone())


def display_times(values: list[str]) -> list[str | None]:
    """[display_time(v) for v in values], by the per-hour conversion of _ZoneDisplay."""
    return _zone_display(local_zone()).many(values)
