"""The import's fast path for 'YYYY-MM-DD HH:MM[:SS]' cells (the zone's offset looked up
once per wall-clock hour) stores exactly what the general path stores, in zones with DST,
half-hour DST and offsets in seconds (LMT), including the hours around transitions."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcli.core import clock, validate
from crmcli.importing.pipeline import Context

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Shanghai", "UTC"]


def _context(zone: str) -> Context:
    ctx = Context.__new__(Context)  # only the zone and the offsets the fast path uses
    ctx._zone = ZoneInfo(zone)
    ctx._offsets = {}
    return ctx


@pytest.mark.parametrize("zone", ZONES)
@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1880, 1, 1), max_value=datetime(2040, 12, 31)),
    seconds=st.booleans(),
    sep=st.sampled_from([" ", "T"]),
)
def test_fast_path_equals_the_general_path(
    zone: str, moment: datetime, seconds: bool, sep: str
) -> None:
    ctx = _context(zone)
    text = moment.strftime(f"%Y-%m-%d{sep}%H:%M" + (":%S" if seconds else ""))
    general = validate.parse_local_iso(text, ctx._zone)
    assert general is not None
    fast = ctx._local_iso(text)
    assert fast is None or fast == clock.to_iso(general), text


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_every_minute_around_transitions(zone: str) -> None:
    ctx = _context(zone)
    used = 0
    for day in (
        datetime(2023, 3, 26),
        datetime(2023, 10, 29),
        datetime(2023, 3, 12),
        datetime(2023, 11, 5),
        datetime(2023, 4, 2),
        datetime(2023, 10, 1),
    ):
        for minute in range(0, 6 * 60):
            text = (day + timedelta(minutes=minute, seconds=17)).strftime("%Y-%m-%d %H:%M:%S")
            fast = ctx._local_iso(text)
            if fast is not None:
                used += 1
                assert fast == clock.to_iso(validate.parse_local_iso(text, ctx._zone)), text
    assert used > 1000  # the fast path did the work outside the transition hours
