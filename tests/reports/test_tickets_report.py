"""`crm report tickets`: medians and p90 by hand, CSAT t interval against scipy, SLA
compliance, backlog as of an earlier time, and the volume trend with its forecast."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy import stats

from crmcli.reports.tickets import t_interval

CSV = (
    "external_id,customer_external_id,subject,status,created_at,first_response_at,"
    "resolved_at,satisfaction\n"
    "T1,C1,a,resolved,2024-01-08 09:00,2024-01-08 09:10,2024-01-08 11:00,5\n"
    "T2,C1,b,resolved,2024-01-09 09:00,2024-01-09 09:20,2024-01-09 14:00,4\n"
    "T3,C1,c,resolved,2024-01-10 09:00,2024-01-10 09:30,2024-01-10 18:00,4\n"
    "T4,C1,d,resolved,2024-01-11 09:00,2024-01-11 09:40,2024-01-12 15:00,3\n"
    "T5,C1,e,in_progress,2024-01-12 09:00,2024-01-12 10:40,,\n"
    "T6,C1,f,open,2024-01-15 09:00,,,\n"
)


@pytest.fixture
def history(cli, add_customer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann", external_id="C1")
    path = tmp_path / "t.csv"
    path.write_text(CSV, encoding="utf-8")
    assert cli.json("ticket", "import", str(path))["inserted"] == 6


def report(cli, *args: str):  # type: ignore[no-untyped-def]
    return cli.json("report", "tickets", *args)


def test_times_by_hand(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli, "--since", "2024-01-01", "--as-of", "2024-03-31")
    times = {r["measure"]: r for r in rep["times"]}
    first = times["first_response_minutes"]
    # Minutes 10, 20, 30, 40, 100: median 30; p90 at rank 0.9 * 4 = 3.6 -> 40 + 0.6 * 60.
    assert (first["n"], first["median"], first["p90"], first["mean"]) == (5, 30, 76, 40)
    res = times["resolution_hours"]
    # Hours 2, 5, 9, 30: median (5 + 9) / 2; p90 at rank 2.7 -> 9 + 0.7 * 21.
    assert (res["n"], res["median"], res["p90"], res["mean"]) == (4, 7, 23.7, 11.5)
    assert rep["summary"]["first_response_median_min"] == 30
    assert rep["summary"]["resolution_p90_h"] == 23.7


def test_csat_interval_matches_scipy(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli, "--since", "2024-01-01", "--as-of", "2024-03-31")
    scores = [5, 4, 4, 3]
    lo, hi = stats.t.interval(0.95, len(scores) - 1, loc=4.0, scale=stats.sem(scores))
    csat = rep["csat"]
    assert (csat["n"], csat["mean"]) == (4, 4.0)
    assert csat["ci_low"] == pytest.approx(lo, abs=1e-3)
    assert csat["ci_high"] == pytest.approx(hi, abs=1e-3)
    assert (csat["score_5"], csat["score_4"], csat["score_3"]) == (1, 2, 1)
    exact = t_interval(4, sum(scores), sum(s * s for s in scores))
    assert exact["ci_low"] == pytest.approx(lo, rel=1e-12)
    assert exact["sd"] == pytest.approx(math.sqrt(2 / 3), rel=1e-12)
    assert t_interval(1, 5, 25)["ci_low"] is None and t_interval(0, 0, 0)["mean"] is None


def test_sla_backlog_and_aging(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli, "--since", "2024-01-01", "--as-of", "2024-03-31")
    sla = {r["clock"]: r for r in rep["sla"]}
    # Response (normal: 8h): five responded in time, T6 never answered.
    assert (sla["first_response"]["met"], sla["first_response"]["breached"]) == (5, 1)
    assert sla["first_response"]["compliance_pct"] == round(500 / 6, 2)
    # Resolution (normal: 3 days): T1-T4 in time; T5 and T6 overdue.
    assert (sla["resolution"]["met"], sla["resolution"]["breached"]) == (4, 2)
    assert rep["summary"]["sla_resolution_pct"] == round(400 / 6, 2)
    assert {r["status"]: r["tickets"] for r in rep["backlog_by_status"]} == {
        "open": 1, "in_progress": 1,
    }  # fmt: skip
    assert rep["backlog_by_priority"] == [{"priority": "normal", "tickets": 2, "breached": 2}]
    assert rep["backlog_by_assignee"][0]["assignee"] == "(unassigned)"
    assert {r["age"]: r["tickets"] for r in rep["aging"]}["30+ days"] == 2
    assert rep["summary"]["opened"] == 6 and rep["summary"]["resolved"] == 4


def test_as_of_rebuilds_the_past(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli, "--as-of", "2024-01-10T12:00:00+08:00")
    # T3 was opened at 09:00 and resolved at 18:00 that day: at noon it was open.
    assert rep["backlog_by_status"] == [{"status": "open", "tickets": 1}]
    assert {r["age"]: r["tickets"] for r in rep["aging"]}["< 1 day"] == 1
    times = {r["measure"]: r for r in rep["times"]}
    assert times["first_response_minutes"]["n"] == 3
    assert times["resolution_hours"]["n"] == 2
    assert rep["csat"]["n"] == 2  # T3's and T4's ratings came later


def test_volume_trend_and_forecast(cli, add_customer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import date, timedelta

    from crmcli.analytics.forecast import forecast_series, zero_filled_series

    add_customer("Ann", external_id="C1")
    counts = [3 + (i * 7) % 5 for i in range(20)]
    lines = ["customer_external_id,subject,created_at"]
    for week, n in enumerate(counts):
        day = date(2024, 1, 2) + timedelta(weeks=week)  # Tuesdays
        lines += [f"C1,s,{day} 10:00" for _ in range(n)]
    path = tmp_path / "v.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli.ok("ticket", "import", str(path))
    rep = report(cli, "--since", "2024-01-01", "--until", "2024-05-20 00:00",
                 "--as-of", "2024-06-01")  # fmt: skip
    assert [r["opened"] for r in rep["volume"]] == counts
    assert rep["volume"][0]["period"] == "2024-01-01"
    expected = forecast_series(
        zero_filled_series(
            {date(2024, 1, 1) + timedelta(weeks=i): n for i, n in enumerate(counts)}, "week"
        ),
        4,
        floor=0.0,
    )
    assert [r["period"] for r in rep["forecast"]] == [r["period"] for r in expected["forecast"]]
    assert rep["forecast"][0]["period"].startswith("2024-05-20")
    for got, want in zip(rep["forecast"], expected["forecast"], strict=True):
        assert got["forecast"] == pytest.approx(want["forecast"], abs=0.01)
        assert got["lo95"] == pytest.approx(want["lo95"], abs=0.01)
    assert rep["forecast_model"]["model"] == expected["model"]


def test_short_history_says_no_forecast_and_bad_options(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli, "--since", "2024-03-01", "--as-of", "2024-03-31")
    assert "no forecast" in rep["forecast"]["no_data"]
    assert cli("report", "tickets", "--since", "2024-04-01", "--until", "2024-03-01").exit_code == 2
    assert cli("report", "tickets", "--period", "fortnight").exit_code == 2
    table = cli.ok("report", "tickets", "--as-of", "2024-03-31")
    assert "Backlog by status" in table
