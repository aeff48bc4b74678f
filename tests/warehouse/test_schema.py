"""Warehouse value conversion: local date keys, stored-time parsing, masking, dim_date."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from crmcli.core.masking import mask_name
from crmcli.warehouse.schema import DateKeys, date_rows, time_array


@pytest.mark.parametrize(
    "zone", ["Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "America/St_Johns"]
)
def test_date_keys_match_zoneinfo_row_by_row(zone: str) -> None:
    rng = random.Random(zone)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(seconds=rng.randrange(10 * 365 * 86400)) for _ in range(3000)]
    # Around every DST change, minute by minute, where a per-hour shortcut would go wrong.
    tz = ZoneInfo(zone)
    for year in (2024, 2025):
        day = datetime(year, 1, 1, tzinfo=UTC)
        while day.year == year:
            if (day + timedelta(days=1)).astimezone(tz).utcoffset() != day.astimezone(
                tz
            ).utcoffset():
                moments += [day + timedelta(minutes=m) for m in range(0, 24 * 60, 7)]
            day += timedelta(days=1)
    texts = [m.strftime("%Y-%m-%dT%H:%M:%SZ") for m in moments] + [None]
    keys = DateKeys(tz).keys(time_array(texts)).to_pylist()
    expected = [int(m.astimezone(tz).strftime("%Y%m%d")) for m in moments] + [None]
    assert keys == expected


def test_time_array_reads_other_stored_forms() -> None:
    arr = time_array(["2024-03-05T02:00:00Z", "2024-03-05 10:00:00+08:00", "2024-03-05", None, ""])
    assert arr.type == pa.timestamp("s", tz="UTC")
    assert arr.to_pylist() == [
        datetime(2024, 3, 5, 2, tzinfo=UTC),
        datetime(2024, 3, 5, 2, tzinfo=UTC),
        datetime(2024, 3, 5, 0, tzinfo=UTC),
        None,
        None,
    ]


def test_mask_name() -> None:
    assert mask_name("张伟") == "张*"
    assert mask_name("Ann Lee") == "A******"
    assert mask_name("X") == "X*"
    assert mask_name(None) is None


def test_date_rows_calendar_facts() -> None:
    rows = date_rows(20261230, 20270102)
    assert rows["date_key"] == [20261230, 20261231, 20270101, 20270102]
    assert rows["date"][0] == date(2026, 12, 30)
    # 2027-01-01 is a Friday in ISO week 53 of 2026.
    i = rows["date_key"].index(20270101)
    assert (rows["iso_year"][i], rows["iso_week"][i], rows["weekday_name"][i]) == (
        2026,
        53,
        "Friday",
    )
    assert rows["is_weekend"] == [False, False, False, True]
    assert date_rows(20240227, 20240302, skip=(20240227, 20240228))["date_key"] == [
        20240229,
        20240301,
        20240302,
    ]
