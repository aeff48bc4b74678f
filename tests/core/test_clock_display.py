"""core.clock.display_converter: the cached per-hour conversion is display_time, value for value.

The reference is display_time itself (datetime.fromisoformat + zoneinfo astimezone), over
random stored times in zones with DST, half-hour and 45-minute offsets, a DST switch at :30
(Australia/Lord_Howe), local mean time offsets with seconds (before 1900), and text that is
not in the stored form.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crmcli.core import clock

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "America/St_Johns",
         "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC", "Pacific/Apia"]  # fmt: skip
ODD = ["", None, "2026-02-30T10:00:00Z", "2026-01-01T10:60:00Z", "2026-01-01T10:00:60Z",
       "2026-01-01T10:00:00", "2026-01-01T10:00:00+02:00", "2026-01-01T10:00:00.5Z",
       "2026-01-01", "not a time", "2026-01-01T24:00:00Z", "9999-12-31T23:00:00Z",
       "0001-01-01T00:00:00Z", "２０２６-01-01T10:00:00Z", "2026-01-01T10:0a:00Z"]  # fmt: skip


def stored_times(rng: random.Random, n: int) -> list[str]:
    start = datetime(1880, 1, 1, tzinfo=UTC)
    span = (datetime(2040, 1, 1, tzinfo=UTC) - start).total_seconds()
    out = [(start + timedelta(seconds=int(rng.random() * span))) for _ in range(n)]
    # and every second-ish around the transitions of the last years
    out += [datetime(2026, 3, 29, 0, 0, tzinfo=UTC) + timedelta(seconds=37 * i) for i in range(600)]
    out += [datetime(2026, 4, 4, 14, 0, tzinfo=UTC) + timedelta(seconds=41 * i) for i in range(600)]
    out += [datetime(2026, 11, 1, 3, 0, tzinfo=UTC) + timedelta(seconds=29 * i) for i in range(600)]
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in out]


@pytest.mark.parametrize("zone", ZONES)
def test_converter_is_display_time(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("CRM_TZ", zone)
    assert clock.local_zone() == ZoneInfo(zone)
    convert = clock.display_converter()
    many = clock.display_times
    values = stored_times(random.Random(zone), 2000) + ODD
    fine = []
    for value in values + values:  # the second round is served from the hour cache
        try:
            expected = clock.display_time(value)
        except OverflowError:  # beyond year 9999 or before year 1 in this zone
            with pytest.raises(OverflowError):
                convert(value)
            continue
        assert convert(value) == expected, value
        fine.append(value)
    texts = [v for v in fine if v is not None]
    assert many(texts) == [clock.display_time(v) for v in texts]
