"""The one clock: the configured time zone, "now", pinning it, and the stored time form.

Times are stored as UTC ISO-8601 text (`to_iso`) and shown in the configured zone with
its offset (`display_time`). "Now" is `now()`, never `datetime.now()`: `pin()` fixes it
for `--as-of` and `CRM_NOW` (the CLI's root callback pins both), so every report is
reproducible and scripted histories can replay time.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, tzinfo
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
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
