"""A partial last period: shown marked, left out of models, backtests and deltas, compared
with the same elapsed part of the period before; forecasts start with it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

COMM_HEADER = "customer_external_id,occurred_at,channel,direction,agent,subject\n"
TICKET_HEADER = "external_id,customer_external_id,subject,created_at\n"
START = date(2024, 1, 1)  # a Monday


@pytest.fixture
def customer(add_customer: Callable[..., int]) -> int:
    return add_customer("张伟", external_id="E-1")


def _import(cli: Any, tmp_path: Path, group: str, header: str, lines: list[str]) -> None:
    src = tmp_path / f"{group}.csv"
    src.write_text(header + "".join(line + "\n" for line in lines), encoding="utf-8")
    summary = cli.json(group, "import", str(src))
    assert summary["rejected"] == 0, summary


def weekly_tickets(weeks: int) -> list[str]:
    """11..26 tickets a week, Monday to Friday 10:00-15:00 local (a helpdesk's week)."""
    lines = []
    for w in range(weeks):
        n = 11 + (w * 7) % 16
        for i in range(n):
            day = START + timedelta(days=7 * w + i % 5)
            lines.append(f"T{w}-{i},E-1,s,{day.isoformat()} {10 + i % 6:02d}:15")
    return lines


def test_report_tickets_forecast_starts_with_the_partial_week(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    _import(cli, tmp_path, "ticket", TICKET_HEADER, weekly_tickets(15))
    # Monday 2024-04-15 09:00: the 16th week has begun, nothing opened in it yet.
    rep = cli.json("report", "tickets", "--since", "2024-01-01", "--as-of", "2024-04-15 09:00")
    volume = rep["volume"]
    assert [r["partial"] for r in volume] == [False] * 15 + [True]
    assert volume[-1]["period"] == "2024-04-15"
    assert rep["summary"]["partial_period"] == {
        "period": "2024-04-15",
        "since_at": "2024-04-15T00:00:00+08:00",
        "until_at": "2024-04-15T09:00:00+08:00",
        "elapsed_pct": pytest.approx(9 / (7 * 24) * 100, abs=0.1),
    }
    model = rep["forecast_model"]
    assert model["periods_used"] == 15  # the partial week is not history
    ahead = rep["forecast"]
    assert [r["period"] for r in ahead] == ["2024-04-15", "2024-04-22", "2024-04-29", "2024-05-06"]
    history = [r["opened"] for r in volume[:-1]]
    assert min(history) >= 11
    # A forecast of about a normal week, never the 0.19, 0, 0, 0 of a partial week read as
    # a collapse.
    assert all(min(history) * 0.5 < r["forecast"] < max(history) * 1.5 for r in ahead)


def test_report_tickets_first_period_cut_by_since_is_partial_too(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    _import(cli, tmp_path, "ticket", TICKET_HEADER, weekly_tickets(15))
    rep = cli.json("report", "tickets", "--since", "2024-01-03", "--as-of", "2024-04-15 00:00")
    volume = rep["volume"]
    assert volume[0]["partial"] is True and volume[-1]["partial"] is False
    assert rep["forecast_model"]["periods_used"] == 14
    assert rep["forecast"][0]["period"] == "2024-04-15"


def comm_lines(weeks: int) -> list[str]:
    """Per weekday: Mon 6, Tue 8, Wed 8, Thu 7, Fri 5-7, Sat 1, Sun 1 (36-38 a week)."""
    pattern = [6, 8, 8, 7, 5, 1, 1]
    lines = []
    for d in range(weeks * 7):
        day = START + timedelta(days=d)
        extra = (d // 7) % 3 if day.weekday() == 4 else 0
        for i in range(pattern[day.weekday()] + extra):
            channel = "phone" if i % 2 == 0 else "email"
            lines.append(f"E-1,{day.isoformat()} {9 + i:02d}:00,{channel},inbound,a,d{d}i{i}")
    return lines


def test_report_comm_partial_week_against_the_same_elapsed_part(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    _import(cli, tmp_path, "comm", COMM_HEADER, comm_lines(11))
    # Wednesday 2024-03-13 12:00 (week 11): Mon 6 + Tue 8 + Wed 09:00-11:00 = 3 -> 17.
    rep = cli.json("report", "comm", "--by", "week", "--as-of", "2024-03-13 12:00")
    last = rep["periods"][-1]
    assert last["period"] == "2024-03-11" and last["partial"] is True and last["total"] == 17
    assert last["previous_same_elapsed"] == 17
    assert last["change"] == 0 and last["change_pct"] == 0.0  # not -53% against a full week
    assert all(r["partial"] is False for r in rep["periods"][:-1])
    before, full = rep["periods"][-3], rep["periods"][-2]  # complete weeks: full against full
    assert full["change"] == full["total"] - before["total"] and full["total"] >= 36
    phone = next(r for r in rep["channels"] if r["channel"] == "phone")
    # Phone: Mon 3, Tue 4, Wed 2 (09:00, 11:00) -> 9; the same part of last week: 9.
    assert phone["last_period"] == 9 and phone["last_period_partial"] is True
    assert phone["change"] == 0 and phone["change_pct"] == 0.0
    assert rep["summary"]["partial_period"]["until_at"] == "2024-03-13T12:00:00+08:00"


def test_report_comm_forecast_starts_with_the_partial_week(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    _import(cli, tmp_path, "comm", COMM_HEADER, comm_lines(11))
    rep = cli.json(
        "report", "comm", "--by", "week", "--forecast", "3", "--as-of", "2024-03-13 12:00"
    )
    assert rep["forecast_model"]["history_periods"] == 10
    assert [r["period"] for r in rep["forecast"]] == ["2024-03-11", "2024-03-18", "2024-03-25"]
    assert rep["forecast"][0]["forecast"] == pytest.approx(37, abs=2)


def test_one_back_dated_record_does_not_wreck_the_backtest(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    _import(
        cli,
        tmp_path,
        "comm",
        COMM_HEADER,
        comm_lines(30) + ["E-1,2015-06-03 10:00,phone,inbound,a,old"],
    )
    rep = cli.json("report", "comm", "--by", "week", "--forecast", "4", "--as-of", "2024-07-29")
    model = rep["forecast_model"]
    # The history modelled starts after the long empty gap, and says so.
    assert model["history_start"] == "2024-01-01"
    assert model["history_periods"] == 30
    assert "left out" in model["note"]
    assert model["backtest_mase"] is None or model["backtest_mase"] < 10
    assert rep["forecast"][0]["forecast"] == pytest.approx(37, abs=2)


def test_dashboard_weekly_chart_marks_the_partial_week(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    _import(cli, tmp_path, "comm", COMM_HEADER, comm_lines(11))
    rep = cli.json("report", "dashboard", "--as-of", "2024-03-13 11:30")
    trend = rep["contacts_trend"]
    assert trend[-1]["week"] == "2024-03-11"
    assert trend[-1]["partial"] is True and trend[-1]["communications"] == 17
    assert trend[-1]["previous_same_elapsed"] == 17
    assert all(r["partial"] is False for r in trend[:-1])
    assert all(36 <= r["communications"] <= 38 for r in trend[:-1] if r["week"] >= "2024-01-01")


def test_report_customers_marks_the_partial_month(cli: Any) -> None:
    for day in ("2024-01-05", "2024-01-20", "2024-02-03", "2024-02-25", "2024-03-02"):
        cli.ok("--as-of", f"{day} 10:00", "customer", "add", "--name", f"c{day}")
    rep = cli.json("report", "customers", "--since", "2024-01-01", "--as-of", "2024-03-10 12:00")
    growth = rep["growth"]
    assert [r["partial"] for r in growth] == [False, False, True]
    # 1 new by 10 March 12:00 against 1 new by 10 February 12:00 (the same elapsed part).
    assert growth[-1]["new_customers"] == 1 and growth[-1]["previous_same_elapsed"] == 1


def test_report_loyalty_marks_the_current_month_partial(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    src = tmp_path / "orders.csv"
    src.write_text(
        "external_id,customer_external_id,ordered_at,amount,currency\n"
        "O1,E-1,2024-01-05 10:00,100,CNY\nO2,E-1,2024-02-05 10:00,80,CNY\n"
        "O3,E-1,2024-03-05 10:00,90,CNY\n",
        encoding="utf-8",
    )
    cli.ok("order", "import", str(src))
    rep = cli.json("report", "loyalty", "--as-of", "2024-03-10 12:00")
    cohort = rep["cohorts"][0]
    assert cohort["cohort"] == "2024-01" and cohort["partial_month"] == "month_2"
    assert rep["summary"]["partial_period"]["since_at"] == "2024-03-01T00:00:00+08:00"


def test_report_value_holdout_cut_by_the_as_of_time_is_partial(
    cli: Any, add_customer: Callable[..., int], tmp_path: Path
) -> None:
    lines = ["external_id,customer_external_id,ordered_at,amount,currency"]
    for c in range(12):
        add_customer(f"c{c}", external_id=f"C{c}")
        for k in range(1 + c % 4):
            day = START + timedelta(days=9 * k + c)
            lines.append(f"O{c}-{k},C{c},{day.isoformat()} 10:00,{50 + 10 * k},CNY")
    src = tmp_path / "orders.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli.ok("order", "import", str(src))
    args = ["report", "value", "--calibration-end", "2024-02-29", "--horizon", "8"]
    cut = cli.json(*args, "--as-of", "2024-03-20 12:00")["holdout"]
    assert cut["partial"] is True
    assert cut["to_at"] == "2024-03-20T12:00:00+08:00"
    assert cut["horizon_end_at"] == "2024-04-26T00:00:00+08:00"  # 8 weeks after 1 March
    whole = cli.json(*args, "--as-of", "2024-06-01")["holdout"]
    assert whole["partial"] is False and whole["to_at"] == whole["horizon_end_at"]
