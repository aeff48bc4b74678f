"""Dates found by a reviewer: two-digit years guessed (24-03-05 stored as 24 March 2005 "by
values", overriding --date-order) and the times Chinese-locale Excel writes refused
(2024/3/5 下午 02:30:00). A two-digit year whose place is open is ambiguous among
ymd/dmy/mdy: it never decides its column, follows --date-order / $CRM_DATE_ORDER / the
region, and an order that cannot read it is refused. Two-digit years: 00-29 -> 20xx,
30-99 -> 19xx. Stored times are UTC; the test zone is Asia/Shanghai (+08:00)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcli.core import clock, validate
from crmcli.core.errors import InvalidInput
from crmcli.importing.pipeline import Context

ORDERS = "Order ID,Customer ID,Order Date,Amount\n"
COMMS = "external_id,customer_external_id,occurred_at,channel,subject\n"


@pytest.fixture
def ann(add_customer: Any) -> int:
    return int(add_customer("Ann", external_id="C1"))


def _orders(tmp_path: Path, *dates: str) -> Path:
    path = tmp_path / "orders.csv"
    rows = "".join(f"SO-{i},C1,{d},10\n" for i, d in enumerate(dates, 1))
    path.write_text(ORDERS + rows, encoding="utf-8")
    return path


def _stored(sql_rows: Any) -> dict[str, str]:
    return dict(sql_rows("SELECT external_id, ordered_at FROM orders"))


def _reasons(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return {row["value"]: row["reason"] for row in csv.DictReader(fh)}


# ------------------------------------------------------------ two-digit years: imports


def test_a_two_digit_year_beside_an_iso_date_does_not_decide_the_column(
    cli: Any, ann: int, tmp_path: Path, sql_rows: Any
) -> None:
    """Was: 24-03-05 stored as 2005-03-24, conventions dmy decided_by values."""
    src = _orders(tmp_path, "24-03-05", "2024-03-06")
    refused = cli("order", "import", str(src))
    assert refused.exit_code == 2
    assert "two-digit year" in refused.stderr and "--date-order dmy|ymd" in refused.stderr
    assert "Traceback" not in refused.stderr and _stored(sql_rows) == {}
    summary = cli.json("order", "import", str(src), "--date-order", "ymd")
    assert summary["conventions"]["ordered_at"] == {
        "date_order": "ymd",
        "decided_by": "--date-order",
    }
    assert _stored(sql_rows) == {"SO-1": "2024-03-04T16:00:00Z", "SO-2": "2024-03-05T16:00:00Z"}


@pytest.mark.parametrize(
    ("args", "env", "stored", "decided_by"),
    [
        (["--date-order", "ymd"], {}, "2024-03-04T16:00:00Z", "--date-order"),
        (["--date-order", "dmy"], {}, "2005-03-23T16:00:00Z", "--date-order"),
        ([], {"CRM_DATE_ORDER": "ymd"}, "2024-03-04T16:00:00Z", "$CRM_DATE_ORDER"),
        (["--region", "CN"], {}, "2024-03-04T16:00:00Z", "region CN"),
        (["--region", "GB"], {}, "2005-03-23T16:00:00Z", "region GB"),
    ],
)
def test_a_column_of_24_03_05_follows_the_order_it_is_given(
    cli: Any,
    ann: int,
    tmp_path: Path,
    sql_rows: Any,
    args: list[str],
    env: dict[str, str],
    stored: str,
    decided_by: str,
) -> None:
    """Was: dmy "by values" whatever --date-order said."""
    src = _orders(tmp_path, "24-03-05")
    summary = cli.json("order", "import", str(src), *args, env=env)
    assert summary["conventions"]["ordered_at"]["decided_by"] == decided_by
    assert _stored(sql_rows) == {"SO-1": stored}


def test_an_order_that_cannot_read_a_two_digit_year_is_refused(
    cli: Any, ann: int, tmp_path: Path, sql_rows: Any
) -> None:
    """Was: 24-03-05 made the column dmy, so 3/5/24 became 3 May despite --date-order mdy."""
    src = _orders(tmp_path, "3/5/24", "24-03-05")
    refused = cli("order", "import", str(src), "--date-order", "mdy")
    assert refused.exit_code == 2
    assert "--date-order mdy cannot read 1 of its dates" in refused.stderr
    assert "give --date-order dmy" in refused.stderr
    us = cli("order", "import", str(src), "--region", "US")  # US is mdy: cannot read 24-03-05
    assert us.exit_code == 2 and "give --date-order dmy" in us.stderr
    nothing = cli("order", "import", str(src))  # only dmy reads both, but neither says so
    assert nothing.exit_code == 2 and "give --date-order dmy " in nothing.stderr
    assert _stored(sql_rows) == {}
    cli.ok("order", "import", str(src), "--date-order", "dmy")
    assert _stored(sql_rows) == {"SO-1": "2024-05-02T16:00:00Z", "SO-2": "2005-03-23T16:00:00Z"}


def test_05_03_24_reads_year_first_under_ymd(
    cli: Any, ann: int, tmp_path: Path, sql_rows: Any
) -> None:
    """Was: refused, the error offering only dmy|mdy."""
    src = _orders(tmp_path, "05-03-24")
    refused = cli("order", "import", str(src))
    assert refused.exit_code == 2 and "--date-order dmy|mdy|ymd" in refused.stderr
    cli.ok("order", "import", str(src), "--date-order", "ymd")
    assert _stored(sql_rows) == {"SO-1": "2005-03-23T16:00:00Z"}


def test_day_first_two_digit_years_need_the_order_unless_one_order_alone_reads_one(
    cli: Any, ann: int, tmp_path: Path, sql_rows: Any
) -> None:
    """13/05/24 is 13 May 2024, or 2013-05-24 year-first: it settles nothing (it used to
    settle dmy). 31/12/99 is no date year-first (day 99) or month-first: it settles dmy."""
    open_only = _orders(tmp_path, "13/05/24", "03/05/24")
    refused = cli("order", "import", str(open_only))
    assert refused.exit_code == 2 and "--date-order dmy|ymd" in refused.stderr
    assert _stored(sql_rows) == {}
    settled = tmp_path / "settled.csv"
    settled.write_text(ORDERS + "A,C1,31/12/99,10\nB,C1,03/05/24,10\n", encoding="utf-8")
    summary = cli.json("order", "import", str(settled))
    assert summary["conventions"]["ordered_at"] == {"date_order": "dmy", "decided_by": "values"}
    assert _stored(sql_rows) == {"A": "1999-12-30T16:00:00Z", "B": "2024-05-02T16:00:00Z"}


def test_a_settled_order_that_an_open_two_digit_year_cannot_take_is_refused(
    cli: Any, ann: int, tmp_path: Path, sql_rows: Any
) -> None:
    src = _orders(tmp_path, "05/13/2024", "24-03-05")  # mdy, and dmy-or-ymd
    refused = cli("order", "import", str(src))
    assert refused.exit_code == 2
    assert "1 date(s) are month-first (mdy) and 1 cannot be" in refused.stderr
    assert _stored(sql_rows) == {}


def test_the_century_window_and_history_in_the_future(
    cli: Any, ann: int, tmp_path: Path, sql_rows: Any
) -> None:
    """30 is 1930, 29 is 2029: an order placed in 2029 is in the future, refused."""
    src = _orders(tmp_path, "05/03/30", "05/03/29")
    rejects = tmp_path / "rejects.csv"
    summary = cli.json(
        "order", "import", str(src), "--date-order", "dmy", "--rejects", str(rejects)
    )
    assert summary["inserted"] == 1 and summary["rejected"] == 1
    assert _stored(sql_rows) == {"SO-1": "1930-03-04T16:00:00Z"}
    assert _reasons(rejects) == {
        "05/03/29": "ordered_at '05/03/29' is more than a day in the future"
    }


def test_customer_import_created_at_and_comm_import(
    cli: Any, ann: int, tmp_path: Path, sql_rows: Any
) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("external_id,name,created_at\nK1,Kim,24.03.05\n", encoding="utf-8")
    refused = cli("customer", "import", str(customers))
    assert refused.exit_code == 2 and "--date-order dmy|ymd" in refused.stderr
    cli.ok("customer", "import", str(customers), "--region", "KR")  # Korea: 24.03.05 is ymd
    assert sql_rows("SELECT created_at FROM customers WHERE external_id = 'K1'") == [
        ("2024-03-04T16:00:00Z",)
    ]
    comms = tmp_path / "comms.csv"
    comms.write_text(COMMS + "M1,C1,24-03-05 10:00,phone,a\n", encoding="utf-8")
    assert cli("comm", "import", str(comms)).exit_code == 2
    cli.ok("comm", "import", str(comms), "--date-order", "ymd")
    assert sql_rows("SELECT occurred_at FROM communications WHERE external_id = 'M1'") == [
        ("2024-03-05T02:00:00Z",)
    ]


# ------------------------------------------------------------ two-digit years: options


def test_comm_log_at_and_follow_up_with_two_digit_years(cli: Any, ann: int) -> None:
    refused = cli("comm", "log", str(ann), "-c", "phone", "--at", "24-03-05 10:00")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        "Error: ambiguous --at '24-03-05 10:00' (a two-digit year: 2005-03-24 (dmy) or "
        "2024-03-05 (ymd)); write the year in full (2024-03-05) or give --date-order dmy|ymd "
        "(or $CRM_DATE_ORDER)"
    )
    mdy = cli("comm", "log", str(ann), "-c", "phone", "--at", "24-03-05", "--date-order", "mdy")
    assert mdy.exit_code == 2 and "--date-order dmy|ymd" in mdy.stderr
    cli.ok("comm", "log", str(ann), "-c", "phone", "--at", "24-03-05 10:00", "--date-order", "ymd")
    cli.ok("comm", "log", str(ann), "-c", "email", "--at", "05-03-24", "--date-order", "ymd")
    cli.ok("comm", "log", str(ann), "-c", "meeting", "--at", "2024-03-05",
           "--follow-up", "05/03/27 09:00", env={"CRM_DATE_ORDER": "dmy"})  # fmt: skip
    cli.ok("comm", "log", str(ann), "-c", "sms", "--at", "5 Mar 75")  # dateutil said 2075
    logged = {c["channel"]: c for c in cli.json("comm", "list")}
    assert logged["phone"]["occurred_at"] == "2024-03-05T10:00:00+08:00"
    assert logged["email"]["occurred_at"] == "2005-03-24T00:00:00+08:00"
    assert logged["meeting"]["follow_up_at"] == "2027-03-05T09:00:00+08:00"  # $CRM_DATE_ORDER
    assert logged["sms"]["occurred_at"] == "1975-03-05T00:00:00+08:00"


def test_order_add_at_two_digit_years(cli: Any, ann: int) -> None:
    refused = cli("order", "add", str(ann), "--amount", "10", "--at", "05/03/29",
                  "--date-order", "dmy")  # fmt: skip
    assert refused.exit_code == 2 and "more than a day in the future" in refused.stderr
    cli.ok("order", "add", str(ann), "--amount", "10", "--at", "05/03/30", "--date-order", "dmy")
    cli.ok("order", "add", str(ann), "--amount", "20", "--at", "24-03-05", "--date-order", "ymd")
    assert sorted(o["ordered_at"][:16] for o in cli.json("order", "list")) == [
        "1930-03-05T00:00",
        "2024-03-05T00:00",  # was 2005-03-24: 24 read as the day whatever the order said
    ]


# ------------------------------------------------------------ Chinese times

CHINESE = {
    "2024/3/5 下午 02:30:00": "2024-03-05T06:30:00Z",
    "2024/3/5 上午 10:30:00": "2024-03-05T02:30:00Z",
    "2024/3/5 下午 12:05:00": "2024-03-05T04:05:00Z",  # 12 下午: noon
    "2024/3/5 上午 12:05:00": "2024-03-04T16:05:00Z",  # 12 上午: midnight
    "2024年03月05日 14时30分": "2024-03-05T06:30:00Z",
    "2024年3月5日 14时30分05秒": "2024-03-05T06:30:05Z",
    "2024年3月5日 下午2点半": "2024-03-05T06:30:00Z",
    "2024年3月5日 14:30": "2024-03-05T06:30:00Z",
    "2024/3/5 14:30": "2024-03-05T06:30:00Z",
    "2024-03-05T14:30:00+08:00": "2024-03-05T06:30:00Z",
}


def test_an_order_import_reads_chinese_times_exactly(
    cli: Any, ann: int, tmp_path: Path, sql_rows: Any
) -> None:
    """Was: the first four 'invalid ordered_at', their orders lost."""
    src = _orders(tmp_path, *CHINESE, "2024/3/5 上午 14:30:00", "2024/3/5 下午 0:30:00")
    rejects = tmp_path / "rejects.csv"
    summary = cli.json("order", "import", str(src), "--rejects", str(rejects))
    assert summary["inserted"] == len(CHINESE) and summary["rejected"] == 2
    assert _stored(sql_rows) == {f"SO-{i}": utc for i, utc in enumerate(CHINESE.values(), 1)}
    assert _reasons(rejects) == {
        "2024/3/5 上午 14:30:00": "invalid ordered_at '2024/3/5 上午 14:30:00': 上午 (a.m.) at hour 14",
        "2024/3/5 下午 0:30:00": "invalid ordered_at '2024/3/5 下午 0:30:00': 下午 (p.m.) at hour 0",
    }


def test_comm_log_at_reads_chinese_times(cli: Any, ann: int) -> None:
    cli.ok("comm", "log", str(ann), "-c", "phone", "--at", "2024/3/5 下午 02:30:00")
    cli.ok("comm", "log", str(ann), "-c", "email", "--at", "2024年3月5日 14时30分05秒",
           "--follow-up", "2099年1月5日 上午 9时")  # fmt: skip
    logged = {c["channel"]: c for c in cli.json("comm", "list")}
    assert logged["phone"]["occurred_at"] == "2024-03-05T14:30:00+08:00"
    assert logged["email"]["occurred_at"] == "2024-03-05T14:30:05+08:00"
    assert logged["email"]["follow_up_at"] == "2099-01-05T09:00:00+08:00"
    bad = cli("comm", "log", str(ann), "-c", "phone", "--at", "2024/3/5 上午 13:00:00")
    assert bad.exit_code == 2 and "Traceback" not in bad.stderr
    assert "上午 (a.m.) at hour 13" in bad.stderr


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1930, 1, 1), max_value=datetime(2029, 12, 31)))
def test_chinese_forms_store_what_the_iso_fast_path_stores(moment: datetime) -> None:
    """Each Chinese form of a wall-clock time is the same instant as its 'YYYY-MM-DD HH:MM:SS'
    form read by the import's fast path (Context._local_iso, else parse_local_iso)."""
    zone = clock.local_zone()
    ctx = Context.__new__(Context)  # only the zone and the offsets the fast path uses
    ctx._zone, ctx._offsets = zone, {}
    iso = moment.strftime("%Y-%m-%d %H:%M:%S")
    general = validate.parse_local_iso(iso, zone)
    assert general is not None
    fast = ctx._local_iso(iso) or clock.to_iso(general)
    assert fast == clock.to_iso(general)
    mark = "上午" if moment.hour < 12 else "下午"
    for text in (
        f"{moment.year}/{moment.month}/{moment.day} {mark} {moment.hour % 12 or 12:02d}:"
        f"{moment:%M:%S}",
        f"{moment.year}年{moment.month}月{moment.day}日 {moment.hour}时{moment.minute}分"
        f"{moment.second}秒",
        f"{moment:%Y年%m月%d日 %H时%M分%S秒}",
        f"{moment:%y-%m-%d %H:%M:%S}",  # a two-digit year, read year-first
    ):
        assert clock.to_iso(validate.parse_datetime_as(text, "ymd", "at")) == fast, text


# ------------------------------------------------------------ the parser's evidence


EVIDENCE = {
    "24-03-05": "dmy|ymd",
    "05-03-24": "dmy|mdy|ymd",
    "3/5/24": "dmy|mdy",  # a one-digit part is no year: the year is last
    "24/3/5": "ymd",  # ... and here first
    "13/05/24": "dmy|ymd",
    "31/12/99": "dmy",
    "32-03-05": "ymd",
    "05-13-24": "mdy",
    "13/05/2024": "dmy",
    "03/05/2024": "dmy|mdy",
    "05/05/2024": None,
    "05-05-05": None,  # every order reads 2005-05-05
    "24-13-05": None,  # no order reads a date: the parser says why
    "2024-03-05": None,
    "3/5/24 下午 2:30": "dmy|mdy",
}


def test_what_one_cell_says() -> None:
    assert {text: validate.date_evidence(text) for text in EVIDENCE} == EVIDENCE


def test_the_two_digit_year_window() -> None:
    assert [validate.full_year(y) for y in ("00", "29", "30", "99", "2024")] == [
        2000, 2029, 1930, 1999, 2024,
    ]  # fmt: skip
    with pytest.raises(InvalidInput, match="no one date order reads all its dates"):
        validate.decide_date_order({"dmy|mdy": 1, "mdy|ymd": 1, "dmy|ymd": 1}, "at")
