"""`crm report comm`: periods in the configured zone, filters, as-of, and the model sections."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from statsmodels.tsa.seasonal import STL

from crmcli.analytics import forecast as fc

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow_sample.txt"  # shipped with the tests
HEADER = "customer_external_id,occurred_at,channel,direction,agent,subject\n"


def import_rows(cli: Any, tmp_path: Path, lines: list[str], name: str = "comms.csv") -> dict:
    src = tmp_path / name
    src.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    result = cli("comm", "import", str(src), "--format", "json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rejected"] == 0, summary
    return summary


@pytest.fixture
def customer(add_customer: Callable[..., int]) -> int:
    return add_customer("张伟", external_id="E-1")


def report(cli: Any, *args: str) -> dict[str, Any]:
    return cli.json("report", "comm", *args)


def totals(rep: dict[str, Any]) -> dict[str, int]:
    return {r["period"]: r["total"] for r in rep["periods"]}


# ------------------------------------------------------------------ time zones and periods


def test_contact_at_2330_local_lands_on_the_local_day(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    # 23:30 in Shanghai is 15:30 UTC the same day; 00:30 the next day is 16:30 UTC the day
    # before in UTC terms, but the next local day.
    import_rows(
        cli,
        tmp_path,
        ["E-1,2024-03-05 23:30,phone,inbound,a,x", "E-1,2024-03-06 00:30,email,outbound,a,y"],
    )
    rep = report(cli, "--by", "day", "--since", "2024-03-04", "--until", "2024-03-08")
    assert totals(rep) == {"2024-03-04": 0, "2024-03-05": 1, "2024-03-06": 1, "2024-03-07": 0}
    assert rep["summary"]["zone"] == "Asia/Shanghai"
    day5 = rep["periods"][1]
    assert (day5["phone"], day5["email"], day5["inbound"], day5["outbound"]) == (1, 0, 1, 0)
    shown = cli.json("comm", "list")
    assert {r["occurred_at"] for r in shown} == {
        "2024-03-05T23:30:00+08:00",
        "2024-03-06T00:30:00+08:00",
    }


def test_weeks_start_on_monday_local_and_months_on_the_first(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    import_rows(
        cli,
        tmp_path,
        [
            "E-1,2024-03-10 23:30,phone,inbound,a,sunday night",
            "E-1,2024-03-11 00:30,phone,inbound,a,monday morning",
            "E-1,2024-03-31 23:59,phone,inbound,a,end of march",
            "E-1,2024-04-01 00:01,phone,inbound,a,april fool",
        ],
    )
    weeks = report(cli, "--by", "week", "--since", "2024-03-04", "--until", "2024-04-08")
    assert totals(weeks) == {
        "2024-03-04": 1,
        "2024-03-11": 1,
        "2024-03-18": 0,
        "2024-03-25": 1,
        "2024-04-01": 1,
    }
    months = report(cli, "--by", "month", "--since", "2024-03-01", "--until", "2024-05-01")
    assert totals(months) == {"2024-03-01": 3, "2024-04-01": 1}
    assert months["summary"]["last_period_complete"] is True


def test_zone_with_a_half_hour_offset(
    cli: Any, customer: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kolkata is UTC+05:30: 23:50 and 00:10 local share the UTC hour 18, so the hourly
    # aggregate cannot split them; the report falls back to exact minutes.
    monkeypatch.setenv("CRM_TZ", "Asia/Kolkata")
    import_rows(
        cli,
        tmp_path,
        ["E-1,2024-03-05 23:50,phone,inbound,a,x", "E-1,2024-03-06 00:10,phone,inbound,a,y"],
    )
    rep = report(cli, "--by", "day", "--since", "2024-03-05", "--until", "2024-03-07")
    assert totals(rep) == {"2024-03-05": 1, "2024-03-06": 1}


def test_daylight_saving_change_moves_the_day_boundary(
    cli: Any, customer: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # New York moves from UTC-5 to UTC-4 at 2024-03-10 02:00 local. 00:30 on 11 March (EDT)
    # is 04:30 UTC: with the winter offset it would fall on 10 March.
    monkeypatch.setenv("CRM_TZ", "America/New_York")
    import_rows(
        cli,
        tmp_path,
        [
            "E-1,2024-03-09 23:30,phone,inbound,a,x",
            "E-1,2024-03-10 23:30,phone,inbound,a,y",
            "E-1,2024-03-11 00:30,phone,inbound,a,z",
        ],
    )
    rep = report(cli, "--by", "day", "--since", "2024-03-09", "--until", "2024-03-12")
    assert totals(rep) == {"2024-03-09": 1, "2024-03-10": 1, "2024-03-11": 1}
    from dateutil import tz

    from crmcli.reports.comm import offset_segments

    segments = offset_segments(
        tz.gettz("America/New_York"),
        datetime.fromisoformat("2024-03-09T05:00:00+00:00"),
        datetime.fromisoformat("2024-03-12T04:00:00+00:00"),
    )
    assert segments == [
        ("2024-03-09T05:00:00Z", "2024-03-10T07:00:00Z", -300),
        ("2024-03-10T07:00:00Z", "2024-03-12T04:00:00Z", -240),
    ]


def test_partial_hours_at_the_window_edges(cli: Any, customer: int, tmp_path: Path) -> None:
    import_rows(
        cli,
        tmp_path,
        [
            "E-1,2024-03-05 10:10,phone,inbound,a,1",
            "E-1,2024-03-05 10:50,phone,inbound,a,2",
            "E-1,2024-03-05 11:20,phone,inbound,a,3",
            "E-1,2024-03-05 12:40,phone,inbound,a,4",
        ],
    )
    rep = report(cli, "--by", "day", "--since", "2024-03-05 10:30", "--until", "2024-03-05 12:30")
    assert rep["summary"]["total"] == 2
    assert rep["summary"]["last_period_complete"] is False


def test_filters_split_change_and_sparkline(cli: Any, customer: int, tmp_path: Path) -> None:
    lines = []
    for day, n in ((4, 2), (5, 4), (6, 1)):
        for i in range(n):
            channel = "phone" if i % 2 == 0 else "email"
            direction = "inbound" if i == 0 else "outbound"
            agent = "alice" if channel == "phone" else "bob"
            lines.append(f"E-1,2024-03-0{day} 1{i}:00,{channel},{direction},{agent},s{day}{i}")
    import_rows(cli, tmp_path, lines)
    args = ["--by", "day", "--since", "2024-03-04", "--until", "2024-03-07"]
    rep = report(cli, *args)
    assert [r["total"] for r in rep["periods"]] == [2, 4, 1]
    assert [r["inbound"] for r in rep["periods"]] == [1, 1, 1]
    assert [r["change"] for r in rep["periods"]] == [None, 2, -3]
    assert [r["change_pct"] for r in rep["periods"]] == [None, 100.0, -75.0]
    channels = {r["channel"]: r for r in rep["channels"]}
    assert channels["phone"]["total"] == 4 and channels["email"]["total"] == 3
    assert channels["phone"]["trend"] == "▅█▅"  # 1, 2, 1 phone calls
    phone = report(cli, *args, "--channel", "电话")
    assert [r["total"] for r in phone["periods"]] == [r["phone"] for r in rep["periods"]]
    alice = report(cli, *args, "--agent", "alice")  # not in the aggregate: indexed GROUP BY
    assert alice["summary"]["total"] == 4
    assert report(cli, *args, "--customer", str(customer))["summary"]["total"] == 7


def test_as_of_ignores_later_records_and_marks_the_partial_period(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    import_rows(
        cli,
        tmp_path,
        [
            "E-1,2024-03-04 09:00,phone,inbound,a,1",
            "E-1,2024-03-19 09:00,phone,inbound,a,2",
            "E-1,2024-03-20 13:00,phone,inbound,a,after",
            "E-1,2024-04-02 09:00,phone,inbound,a,later",
        ],
    )
    rep = report(cli, "--by", "week", "--as-of", "2024-03-20 12:00")
    assert totals(rep) == {"2024-03-04": 1, "2024-03-11": 0, "2024-03-18": 1}
    assert [r["partial"] for r in rep["periods"]] == [False, False, True]
    assert rep["summary"]["end_at"] == "2024-03-20T12:00:00+08:00"


def test_no_communications_gives_an_empty_report(cli: Any) -> None:
    rep = report(cli, "--by", "week")
    assert rep["periods"] == [] and rep["summary"]["total"] == 0
    failed = cli("report", "comm", "--forecast", "4")
    assert failed.exit_code == 1 and "Error: not enough data" in failed.stderr
    assert cli("report", "comm", "--by", "year").exit_code == 2


# ------------------------------------------------------------------ models


def weekday_lines(weeks: int = 10, start: date = date(2024, 1, 1)) -> list[str]:
    """Contacts with a weekday pattern: busy Tue-Thu, quiet weekends, a slight rise."""
    pattern = [5, 7, 8, 7, 5, 1, 1]
    lines = []
    for d in range(weeks * 7):
        day = start + timedelta(days=d)
        n = pattern[day.weekday()] + (d // 21) + (1 if d % 5 == 0 else 0)
        for i in range(n):
            lines.append(
                f"E-1,{day.isoformat()} {9 + i % 9:02d}:{(7 * i) % 60:02d},phone,inbound,a,d{d}i{i}"
            )
    return lines


def test_seasonality_by_day_matches_stl_on_the_reported_counts(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    import_rows(cli, tmp_path, weekday_lines())
    rep = report(cli, "--by", "day", "--seasonality", "--as-of", "2024-03-11")
    counts = [r["total"] for r in rep["periods"]]
    assert len(counts) == 70 and not any(r["partial"] for r in rep["periods"])
    series = fc.zero_filled_series({r["period"]: r["total"] for r in rep["periods"]}, "day")
    direct = STL(series, period=7, robust=True).fit()
    resid, seas = direct.resid.to_numpy(), direct.seasonal.to_numpy()
    strength = max(0.0, 1 - np.var(resid) / np.var(seas + resid))
    assert rep["seasonality"]["strength_seasonality"] == pytest.approx(strength, abs=1e-4)
    assert rep["seasonality"]["strength_seasonality"] > 0.8
    profile = {r["season"]: r["effect"] for r in rep["seasonal_profile"]}
    assert list(profile) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert profile["Wed"] > profile["Mon"] > profile["Sun"]
    trend = [r["trend"] for r in rep["decomposition"]]
    assert np.allclose(trend, direct.trend, atol=1e-3)


def test_seasonality_by_week_needs_two_years(cli: Any, customer: int, tmp_path: Path) -> None:
    import_rows(cli, tmp_path, weekday_lines(weeks=12))
    result = cli("report", "comm", "--by", "week", "--seasonality", "--as-of", "2024-03-25")
    assert result.exit_code == 1
    assert "week of year" in result.stderr and "need 104" in result.stderr


def test_forecast_json_numbers_start_after_as_of(cli: Any, customer: int, tmp_path: Path) -> None:
    import_rows(cli, tmp_path, weekday_lines())
    # As of Wednesday 6 March, noon: that day is partial, so the forecast starts with it
    # (the first period after the last complete one) and shows its count so far.
    rep = report(cli, "--by", "day", "--forecast", "10", "--as-of", "2024-03-06 12:00")
    complete = [r for r in rep["periods"] if not r["partial"]]
    assert rep["periods"][-1]["period"] == "2024-03-06" and rep["periods"][-1]["partial"]
    rows = rep["forecast"]
    assert len(rows) == 10 and rows[0]["period"] == "2024-03-06"
    assert rows[0]["partial"] is True
    assert rows[0]["actual_so_far"] == rep["periods"][-1]["total"]
    assert all("partial" not in r for r in rows[1:])
    for r in rows:
        assert all(isinstance(r[k], float) for k in ("forecast", "lo80", "hi80", "lo95", "hi95"))
        assert 0 <= r["lo95"] <= r["lo80"] <= r["forecast"] <= r["hi80"] <= r["hi95"]
    widths = [r["hi95"] - r["lo95"] for r in rows]
    assert widths[-1] > widths[0]
    # The same numbers as the shared module on the same series (itself checked against
    # statsmodels in tests/analytics/test_forecast.py).
    series = fc.zero_filled_series({r["period"]: r["total"] for r in complete}, "day")
    direct = fc.forecast_series(series, 10, season_length=7, floor=0.0)
    assert [r["forecast"] for r in rows] == pytest.approx(
        [r["forecast"] for r in direct["forecast"]]
    )
    assert [r["hi95"] for r in rows] == pytest.approx([r["hi95"] for r in direct["forecast"]])
    model = rep["forecast_model"]
    assert model["model"] == direct["model"] and model["seasonal"] is True
    assert model["backtest_holdout_periods"] == 7
    assert isinstance(model["backtest_mase"], float) and model["backtest_mase"] > 0
    print(f"\nweekday series: {model['model']}, backtest MASE {model['backtest_mase']}")


def test_too_little_history_is_a_clear_message(cli: Any, customer: int, tmp_path: Path) -> None:
    import_rows(cli, tmp_path, weekday_lines(weeks=1))
    result = cli("report", "comm", "--by", "day", "--forecast", "3", "--as-of", "2024-01-08")
    assert result.exit_code == 1
    assert "too little history to forecast by day: 7 complete period(s)" in result.stderr


def test_anomalies_flag_a_spike(cli: Any, customer: int, tmp_path: Path) -> None:
    lines = weekday_lines()
    lines += [f"E-1,2024-02-14 15:{i:02d},email,outbound,a,spike{i}" for i in range(30)]
    import_rows(cli, tmp_path, lines)
    rep = report(cli, "--by", "day", "--anomalies", "--as-of", "2024-03-11")
    flagged = {r["period"]: r for r in rep["anomalies"]}
    assert "2024-02-14" in flagged
    assert flagged["2024-02-14"]["value"] > flagged["2024-02-14"]["hi"]
    assert len(flagged) <= 7


# ------------------------------------------------------------------ a real series


@pytest.mark.slow
def test_cdnow_purchases_imported_as_events_forecast_weekly(
    cli: Any, tmp_path: Path, db_path: Path
) -> None:
    from crmcli.db import connect
    from crmcli.db.customers import add_customer

    events = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    database = connect(db_path)
    with database.transaction():
        for ext in sorted({e[0] for e in events}):
            add_customer(database, {"name": f"CDNOW {ext}", "external_id": ext})
    database.close()
    lines = [
        f"{cust},{datetime.strptime(day, '%Y%m%d').date().isoformat()} 12:00,other,inbound,,"
        f"purchase {i}"
        for i, (cust, _, day, *_rest) in enumerate(events)
    ]
    summary = import_rows(cli, tmp_path, lines, "cdnow.csv")
    assert summary["inserted"] + summary["duplicates"] == len(events)
    # As of Monday 29 June 1998: the last complete week is the one starting 22 June.
    rep = report(cli, "--by", "week", "--forecast", "12", "--as-of", "1998-06-29")
    assert rep["periods"][0]["period"] == "1996-12-30" and len(rep["periods"]) == 78
    model = rep["forecast_model"]
    print(
        f"\nCDNOW weekly purchases: {model['model']}, backtest on {model['backtest_holdout_periods']}"
        f" held-out weeks: MASE {model['backtest_mase']}, MAE {model['backtest_mae']}"
        f" vs {model['baseline']} MAE {model['baseline_mae']}"
    )
    # Fewer than two years of weeks: the holdout is the last third (26 weeks), the baseline
    # the naive forecast (see analytics.forecast.backtest); MASE < 1 beats its error.
    assert model["backtest_holdout_periods"] == 26
    assert model["backtest_mase"] < 1
    assert rep["forecast"][0]["period"] == "1998-06-29" and len(rep["forecast"]) == 12


def test_report_json_end_to_end_in_a_subprocess(
    customer: int, tmp_path: Path, db_path: Path
) -> None:
    env = {**os.environ, "CRM_DB": str(db_path), "CRM_TZ": "Asia/Shanghai"}
    crm = [sys.executable, "-m", "crmcli"]
    for at in ("2024-03-04 09:00", "2024-03-05 09:00", "2024-03-05 10:00"):
        done = subprocess.run(
            [*crm, "comm", "log", str(customer), "-c", "phone", "--at", at],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    proc = subprocess.run(
        [*crm, "report", "comm", "--by", "day", "--since", "2024-03-04", "--until", "2024-03-06",
         "--format", "json"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert [(r["period"], r["total"]) for r in rep["periods"]] == [
        ("2024-03-04", 1),
        ("2024-03-05", 2),
    ]
    assert proc.stderr == ""
