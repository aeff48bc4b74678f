"""`crm report pipeline`: every figure against a hand calculation on a small fixed history.

The history (times Asia/Shanghai, each step stamped with CRM_NOW; as of 2026-04-01 00:00):

    deal  owner  amount  created       steps                                  close date
    D1    alice  1000    01-05 10:00   qualified 01-10, proposal 01-20,       2026-02-15
                                       won 02-04 10:00 (cycle 30 days)
    D2    alice  2000    01-10 10:00   qualified 01-15, lost 02-10 (price)    2026-02-28
    D3    bob    3000    01-15 10:00   created at proposal, won 03-01 10:00   2026-03-15
                                       (cycle 45 days)
    D4    bob    4000    02-01 10:00   lost 02-20 (timing)                    2026-03-31
    D5    alice  5000    02-10 10:00   qualified 02-15 (then nothing)         2026-04-15
    D6    bob    6000    02-20 10:00   proposal 03-01, a call about it 03-20  2026-05-10
    D7    alice  1500    03-10 10:00   (lead)                                 2026-05-20
    D8    alice  2500    01-20 10:00   negotiation 02-01 10:00,               2026-03-10
                                       won 03-10 10:00 (cycle 49 days)
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

AS_OF = "2026-04-01 00:00"
PERIOD = ("--since", "2026-01-01", "--until", "2026-03-31", "--as-of", AS_OF)


def at(cli, when: str, *args: str) -> str:  # type: ignore[no-untyped-def]
    return cli.ok(*args, env={"CRM_NOW": f"2026-{when}"}).strip()


@pytest.fixture
def history(cli, add_customer) -> dict[str, int]:  # type: ignore[no-untyped-def]
    cid = str(add_customer("王芳"))
    ids: dict[str, int] = {}

    def add(name: str, when: str, owner: str, amount: str, close: str, *extra: str) -> None:
        ids[name] = int(
            at(cli, when, "deal", "add", "--customer", cid, "--title", name, "--amount", amount,
               "--owner", owner, "--close-date", close, *extra)
        )  # fmt: skip

    def step(name: str, when: str, *args: str) -> None:
        at(cli, when, "deal", args[0], str(ids[name]), *args[1:])

    add("D1", "01-05 10:00", "alice", "1000", "2026-02-15")
    add("D2", "01-10 10:00", "alice", "2000", "2026-02-28")
    step("D1", "01-10 10:00", "move", "qualified")
    add("D3", "01-15 10:00", "bob", "3000", "2026-03-15", "--stage", "proposal")
    step("D2", "01-15 10:00", "move", "qualified")
    step("D1", "01-20 10:00", "move", "proposal")
    add("D8", "01-20 10:00", "alice", "2500", "2026-03-10")
    add("D4", "02-01 10:00", "bob", "4000", "2026-03-31")
    step("D8", "02-01 10:00", "move", "negotiation")
    step("D1", "02-04 10:00", "won")
    add("D5", "02-10 10:00", "alice", "5000", "2026-04-15")
    step("D2", "02-10 10:00", "lost", "--reason", "price")
    step("D5", "02-15 10:00", "move", "qualified")
    add("D6", "02-20 10:00", "bob", "6000", "2026-05-10")
    step("D4", "02-20 10:00", "lost", "--reason", "timing")
    step("D3", "03-01 10:00", "won")
    step("D6", "03-01 10:00", "move", "proposal")
    add("D7", "03-10 10:00", "alice", "1500", "2026-05-20")
    step("D8", "03-10 10:00", "won")
    at(cli, "03-20 10:00", "comm", "log", cid, "--channel", "phone", "--subject", "D6 terms",
       "--deal", str(ids["D6"]))  # fmt: skip
    return ids


def report(cli, *args: str):  # type: ignore[no-untyped-def]
    return cli.json("report", "pipeline", *PERIOD, *args)


def test_by_stage_and_totals(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli)
    stages = {r["stage"]: r for r in rep["by_stage"]}
    assert [r["stage"] for r in rep["by_stage"]] == ["lead", "qualified", "proposal", "negotiation"]
    # Open: D7 lead 1500 (x10%), D5 qualified 5000 (x25%), D6 proposal 6000 (x50%).
    # Ages at 04-01 00:00: D7 21 d 14 h, D5 49 d 14 h, D6 39 d 14 h.
    assert stages["lead"] == {"stage": "lead", "deals": 1, "amount": 1500.0,
                              "weighted_amount": 150.0, "average_age_days": 21.6}  # fmt: skip
    assert stages["qualified"]["weighted_amount"] == 1250.0
    assert stages["qualified"]["average_age_days"] == 49.6
    assert stages["proposal"]["weighted_amount"] == 3000.0
    assert stages["proposal"]["average_age_days"] == 39.6
    assert stages["negotiation"]["deals"] == 0
    assert stages["negotiation"]["average_age_days"] is None
    assert rep["totals"] == {
        "open_deals": 3,
        "open_amount": 12500.0,
        "weighted_amount": 4400.0,
        "won_deals": 3,  # D1 1000 + D3 3000 + D8 2500
        "won_amount": 6500.0,
        "lost_deals": 2,  # D2 2000 + D4 4000
        "lost_amount": 6000.0,
    }
    assert rep["period"]["since_at"].startswith("2026-01-01")
    assert rep["period"]["complete"] is True


def test_win_rate_against_statsmodels(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli)
    low, high = proportion_confint(3, 5, alpha=0.05, method="wilson")
    wr = rep["win_rate"]
    assert (wr["won"], wr["lost"], wr["rate"]) == (3, 2, 0.6)
    assert wr["low"] == pytest.approx(low, abs=1e-4)
    assert wr["high"] == pytest.approx(high, abs=1e-4)
    by_owner = {r["owner"]: r for r in rep["win_rate_by_owner"]}
    # alice: D1, D8 won, D2 lost; bob: D3 won, D4 lost.
    assert (by_owner["alice"]["won"], by_owner["alice"]["lost"]) == (2, 1)
    low, high = proportion_confint(2, 3, alpha=0.05, method="wilson")
    assert by_owner["alice"]["low"] == pytest.approx(low, abs=1e-4)
    assert by_owner["alice"]["high"] == pytest.approx(high, abs=1e-4)
    assert by_owner["bob"]["rate"] == 0.5


def test_cycle_velocity_funnel(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli)
    # Cycles 30, 45, 49 days: median 45; p90 at rank 0.9 * 2 = 1.8 -> 45 + 0.8 * 4.
    assert rep["sales_cycle_days"] == {"median": 45.0, "p90": 48.2, "deals": 3}
    # 3 open x 0.6 x (6500 / 3) / 45 days = 86.67 per day.
    assert rep["velocity"]["per_day"] == pytest.approx(86.67, abs=0.01)
    funnel = {r["stage"]: r["share"] for r in rep["funnel"]}
    # 8 deals created in the period; a deal reached a stage when it was in it or beyond.
    assert funnel == {"lead": 1.0, "qualified": 0.75, "proposal": 0.5, "negotiation": 0.375,
                      "won": 0.375, "lost": 0.25}  # fmt: skip


def test_forecast_with_stage_history_and_probability(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli)
    rates = {r["stage"]: r for r in rep["forecast_stage_rates"]}
    # Closed deals reaching lead: all 5 (3 won) -> 0.6 from history (minimum is 5);
    # qualified: D1 D2 D3 D8 (3 won) -> too few, the stage probability 25 % is used.
    assert (rates["lead"]["closed_deals"], rates["lead"]["basis"]) == (5, "history")
    assert rates["lead"]["rate_used"] == 0.6
    assert (rates["qualified"]["closed_deals"], rates["qualified"]["basis"]) == (
        4,
        "stage_probability",
    )
    assert rates["qualified"]["rate_used"] == 0.25
    months = {r["month"]: r for r in rep["forecast"]}
    assert list(months) == ["2026-04", "2026-05", "2026-06"]
    assert months["2026-04"]["expected_bookings"] == 1250.0  # D5 5000 x 0.25
    assert months["2026-05"]["expected_bookings"] == 3900.0  # D6 6000 x 0.5 + D7 1500 x 0.6
    assert months["2026-06"]["expected_bookings"] == 0.0


def test_forecast_backtest(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli, "--months", "2")
    # Made as of 2026-02-01 00:00: open then D1 (proposal), D2 (qualified), D3 (proposal),
    # D8 (lead; it moved at 10:00); nothing closed yet, so stage probabilities only.
    back = {r["month"]: r for r in rep["forecast_backtest"]}
    assert back["2026-02"]["expected_bookings"] == 1000.0  # D1 500 + D2 500
    assert back["2026-02"]["actual_won"] == 1000.0  # D1
    assert back["2026-03"]["expected_bookings"] == 1750.0  # D3 1500 + D8 250
    assert back["2026-03"]["actual_won"] == 5500.0  # D3 3000 + D8 2500
    assert back["2026-03"]["error"] == -3750.0
    summary = rep["forecast_backtest_summary"]
    assert summary["origin_at"].startswith("2026-02-01")
    assert summary["mean_absolute_error"] == 1875.0


def test_stalled(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli)
    # D5: last change 02-15; D6 had a call on 03-20; D7 was created 22 days ago.
    assert [r["title"] for r in rep["stalled"]] == ["D5"]
    assert rep["stalled"][0]["idle_days"] == 44.6  # 02-15 10:00 -> 04-01 00:00: 44 d 14 h
    rep = report(cli, "--stalled-days", "20")
    assert sorted(r["title"] for r in rep["stalled"]) == ["D5", "D7"]


def test_owner_filter(cli, history) -> None:  # type: ignore[no-untyped-def]
    rep = report(cli, "--owner", "bob")
    assert rep["totals"]["open_deals"] == 1
    assert rep["totals"]["won_amount"] == 3000.0
    assert rep["win_rate"]["rate"] == 0.5


@pytest.mark.parametrize("fmt", ["table", "jsonl", "csv", "markdown"])
def test_text_formats(cli, history, fmt: str) -> None:  # type: ignore[no-untyped-def]
    out = cli.ok("report", "pipeline", *PERIOD, "--format", fmt)
    assert "negotiation" in out and "qualified" in out


@pytest.mark.parametrize("suffix", ["html", "xlsx"])
def test_file_formats(cli, history, tmp_path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / f"pipeline.{suffix}"
    cli.ok("report", "pipeline", *PERIOD, "--out", str(target))
    data = target.read_bytes()
    assert len(data) > 500
    if suffix == "html":
        assert b"<svg" in data and b"qualified" in data
