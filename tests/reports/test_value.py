"""`crm report value` / `crm report loyalty` through the real CLI, and the dashboard
summaries, on CDNOW (published parameters) and on small hand-checkable histories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crmcli.db import connect

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow_sample.txt"  # shipped with the tests


def rel(actual: float, expected: float) -> float:
    return abs(actual - expected) / abs(expected)


def write_cdnow_csv(target: Path) -> Path:
    """The raw CDNOW transactions as an ERP order export."""
    lines = ["external_id,customer_external_id,ordered_at,amount"]
    for n, line in enumerate(CDNOW.read_text().splitlines(), start=1):
        cid, _sample, ymd, _cds, dollars = line.split()
        lines.append(f"T{n},{cid},{ymd[:4]}-{ymd[4:6]}-{ymd[6:]},{dollars}")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


@pytest.mark.slow
def test_cdnow_through_the_cli_reproduces_the_published_fit(cli: Any, tmp_path: Path) -> None:
    csv_file = write_cdnow_csv(tmp_path / "cdnow.csv")
    summary = cli.json("order", "import", str(csv_file), "--create-customers")
    assert summary["inserted"] == 6919 and summary["customers_created"] == 2357
    report = cli.json(
        "report",
        "value",
        "--calibration-end",
        "1997-09-30",
        "--time-unit",
        "week",
        "--horizon",
        "39",
    )
    model, spend = report["model"], report["spend_model"]
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
    for key, value in published.items():
        assert rel(model[key], value) < 0.005, (key, model[key])
    for key, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert rel(spend[key], value) < 0.005, (key, spend[key])
    assert spend["customers"] == 946
    customers = report["customers"]
    assert len(customers) == 2357
    assert set(customers[0]) >= {
        "customer_id",
        "external_id",
        "frequency",
        "recency",
        "T",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
    }
    assert customers[0]["clv"] >= customers[-1]["clv"]
    assert all(0 <= c["p_alive"] <= 1 for c in customers)
    # Holdout (39 weeks after calibration): actual 1882 transaction days, predicted ~1653.
    holdout = report["holdout"]
    assert holdout["actual_transactions"] == 1882
    assert abs(holdout["error_pct"]) < 15
    # RFM segments cover every customer exactly once.
    assert sum(s["customers"] for s in report["rfm_segments"]) == 2357


def seed_orders(cli: Any, add_customer: Any) -> dict[str, int]:
    """Four customers with orders on known days (Asia/Shanghai)."""
    ids = {n: add_customer(n) for n in ("ann", "bob", "cat", "dan")}
    history = {
        "ann": ["2024-01-05", "2024-01-05 18:00", "2024-02-10", "2024-05-20"],  # 3 days
        "bob": ["2024-01-20", "2024-04-02"],
        "cat": ["2024-02-03"],
        "dan": ["2024-03-15", "2024-05-25"],
    }
    for name, days in history.items():
        for day in days:
            cli.ok("order", "add", str(ids[name]), "--amount", "100", "--at", day)
    return ids


def test_loyalty_report_cohorts_and_rates_by_hand(cli: Any, add_customer: Any) -> None:
    seed_orders(cli, add_customer)
    report = cli.json("report", "loyalty", "--as-of", "2024-05-31", "--months", "4")
    summary = report["summary"]
    assert summary["customers_with_orders"] == 4
    assert summary["repeat_customers"] == 3  # cat ordered once
    assert summary["repeat_purchase_rate"] == 0.75
    # Ordered in (Dec 3, Mar 2]: ann, bob, cat; ordered again in (Mar 2, May 31]: ann, bob.
    assert summary["retention_base"] == 3 and summary["retained"] == 2
    cohorts = {row["cohort"]: row for row in report["cohorts"]}
    assert cohorts["2024-01"]["customers"] == 2
    assert cohorts["2024-01"]["month_0"] == 1.0
    assert cohorts["2024-01"]["month_1"] == 0.5  # ann in February
    assert cohorts["2024-01"]["month_3"] == 0.5  # bob in April
    assert cohorts["2024-03"]["month_2"] == 1.0  # dan in May
    assert cohorts["2024-03"]["month_3"] is None  # June has not happened yet
    assert set(cohorts) == {"2024-01", "2024-02", "2024-03"}
    assert report["satisfaction"] == {"no_data": "no ticket has a satisfaction rating"}


def test_dashboard_summaries(cli: Any, add_customer: Any, db_path: Path) -> None:
    from datetime import UTC, datetime

    from crmcli.reports.loyalty import loyalty_summary
    from crmcli.reports.value import value_summary

    seed_orders(cli, add_customer)
    db = connect(db_path)
    try:
        as_of = datetime(2024, 5, 31, 12, tzinfo=UTC)
        value = value_summary(db, as_of)
        loyalty = loyalty_summary(db, as_of)
    finally:
        db.close()
    # Last 30 days (May 1 - May 31): ann May 20, dan May 25.
    assert value["revenue"] == 200.0 and value["orders"] == 2
    assert value["customers_with_orders"] == 2
    # The 30 days before (Apr 1 - May 1): bob Apr 2.
    assert value["previous_revenue"] == 100.0 and value["previous_orders"] == 1
    assert value["top_segment"] is not None
    assert value["average_clv"] is None or value["average_clv"] >= 0
    assert loyalty["repeat_purchase_rate"] == 0.75
    assert loyalty["retention_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert "churn_risk_count" in loyalty


def test_value_report_rejects_bad_options(cli: Any, add_customer: Any) -> None:
    seed_orders(cli, add_customer)
    assert cli("report", "value", "--time-unit", "month").exit_code == 2
    assert cli("report", "value", "--calibration-end", "2999-01-01").exit_code == 2
    empty = cli("report", "value", "--currency", "USD")
    assert empty.exit_code == 1 and "no USD orders" in empty.stderr


def test_churn_risk_lists_valuable_customers_who_went_quiet(cli: Any, db_path: Path) -> None:
    """Regular buyers keep buying; one big spender bought 12 times in January 2023, then
    never again: BG/NBD gives them a low P(alive), so they lead the churn-risk list."""
    from crmcli.db.customers import add_customer
    from crmcli.db.orders import add_order

    db = connect(db_path)
    try:
        for i in range(30):
            cid = add_customer(db, {"name": f"regular{i}"})
            for month in range(1 + i % 3, 13, 1 + i % 3):
                add_order(db, cid, 10_000, f"2023-{month:02d}-{1 + i % 27:02d}T04:00:00Z")
        for i in range(20):
            cid = add_customer(db, {"name": f"once{i}"})
            add_order(db, cid, 5_000, f"2023-{1 + i % 12:02d}-10T04:00:00Z")
        gone = add_customer(db, {"name": "gone"})
        for week in range(12):
            add_order(db, gone, 80_000, f"2023-01-{1 + week * 2:02d}T04:00:00Z")
    finally:
        db.close()
    report = cli.json("report", "loyalty", "--as-of", "2024-01-05")
    at_risk = report["churn_risk"]
    assert at_risk and at_risk[0]["customer_id"] == gone
    assert at_risk[0]["p_alive"] < 0.5 and at_risk[0]["repeat_purchases"] == 11
    assert report["summary"]["churn_risk_count"] == len(at_risk)
    assert all(row["name"] != "once0" for row in at_risk)


def seed_history(db_path: Path) -> None:
    """50 customers with enough repeat buying for the models to fit."""
    from crmcli.db.customers import add_customer
    from crmcli.db.orders import add_order

    db = connect(db_path)
    try:
        for i in range(50):
            cid = add_customer(db, {"name": f"buyer{i}", "external_id": f"B{i}"})
            for month in range(1 + i % 4, 13, 1 + i % 5):
                add_order(
                    db, cid, 1_000 * (1 + i % 7), f"2023-{month:02d}-{1 + i % 27:02d}T04:00:00Z"
                )
    finally:
        db.close()


def test_every_machine_format_lists_every_customer_unless_top_says(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    """The per-customer listing is written row by row: JSON, JSON lines, CSV and --out files
    all hold every customer (or exactly --top of them), highest CLV first, with names."""
    import csv as csvlib
    import io
    import json

    seed_history(db_path)
    args = ("report", "value", "--as-of", "2024-01-05")
    report = cli.json(*args)
    customers = report["customers"]
    assert len(customers) == report["settings"]["customers"] == 50
    assert report["settings"]["customers_listed"] == 50
    assert [c["clv"] for c in customers] == sorted((c["clv"] for c in customers), reverse=True)
    assert {c["name"] for c in customers} == {f"buyer{i}" for i in range(50)}
    assert all(c["external_id"] == "B" + c["name"][5:] for c in customers)
    # JSON lines: the same report on one line; --out: the same bytes as stdout.
    lines = cli(*args, "--format", "jsonl").stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == report
    target = tmp_path / "value.json"
    cli.ok(*args, "--out", str(target))
    assert target.read_text(encoding="utf-8") == cli(*args, "--format", "json").stdout
    # CSV: the customers section has its header and one line per customer.
    text = cli(*args, "--format", "csv").stdout
    section = text.split("# customers\n", 1)[1]
    rows = list(csvlib.DictReader(io.StringIO(section)))
    assert len(rows) == 50 and rows[0]["customer_id"] == str(customers[0]["customer_id"])
    assert float(rows[0]["clv"]) == customers[0]["clv"]
    # --top N: exactly the first N, and the settings say how many of how many.
    top = cli.json(*args, "--top", "3")
    assert top["customers"] == customers[:3]
    assert top["settings"]["customers"] == 50 and top["settings"]["customers_listed"] == 3
    assert top["rfm_segments"] == report["rfm_segments"]
    assert sum(s["customers"] for s in report["rfm_segments"]) == 50
    # A table shows 20 by default and says so.
    table = cli(*args).stdout
    assert "Customers listed" in table


def test_per_customer_summaries_by_hand(cli: Any, add_customer: Any) -> None:
    """The summaries behind the listing, against a hand count in local (Asia/Shanghai) days:
    same-day orders are one transaction (their amounts added), the day boundary is local
    midnight (16:00 UTC), orders in another currency count for RFM but not the models, and
    orders entered out of time order are counted the same."""
    ids = {n: add_customer(n) for n in ("ann", "bob", "cat", "dan", "eve", "fay")}
    orders = {  # (stored UTC time, amount, currency)
        "ann": [("2024-03-01T15:00:00Z", "10", "CNY"), ("2024-01-05T02:00:00Z", "40", "CNY"),
                ("2024-01-05T15:59:59Z", "60", "CNY"),   # 23:59:59 local: the same day
                ("2024-01-05T16:00:00Z", "30", "CNY"),   # 00:00 local: the next day
                ("2024-02-01T03:00:00Z", "500", "USD")],  # another currency
        "bob": [("2024-02-10T08:00:00Z", "25", "CNY"), ("2024-02-10T09:00:00Z", "35", "CNY")],
        "cat": [("2024-04-01T00:00:00Z", "70", "USD")],   # no CNY order: not modelled
        "dan": [("2024-01-20T10:00:00Z", "15", "CNY"), ("2024-04-10T10:00:00Z", "45", "CNY"),
                ("2024-04-10T11:00:00Z", "5", "CNY")],
        "eve": [("2024-02-02T01:00:00Z", "80", "CNY")],
        "fay": [("2024-03-10T02:00:00Z", "20", "CNY"), ("2024-01-10T02:00:00Z", "12", "CNY")],
    }  # fmt: skip
    for name, rows in orders.items():
        for at, amount, currency in rows:
            cli.ok("order", "add", str(ids[name]), "--amount", amount, "--at", at,
                   "--currency", currency)  # fmt: skip
    report = cli.json("report", "value", "--as-of", "2024-06-01T00:00:00Z", "--currency", "CNY")
    got = {c["name"]: c for c in report["customers"]}
    assert set(got) == {"ann", "bob", "dan", "eve", "fay"}  # cat has no CNY order
    end = 739038  # date(2024, 6, 1).toordinal(): the calibration end day
    # (x, first local day, last local day, repeat amount) by hand, days as ordinals
    hand = {
        "ann": (2, 738890, 738946, 30 + 10),  # Jan 5 (40 + 60), Jan 6 (30), Mar 1 23:00 (10)
        "bob": (0, 738926, 738926, 0),  # one day: 25 + 35
        "dan": (1, 738905, 738986, 45 + 5),
        "eve": (0, 738918, 738918, 0),
        "fay": (1, 738895, 738955, 20),
    }
    for name, (x, first, last, repeat) in hand.items():
        c = got[name]
        assert c["frequency"] == x, name
        assert c["recency"] == round((last - first) / 7, 4), name
        assert c["T"] == round((end - first) / 7, 4), name
        assert c["monetary_value"] == (round(repeat / x, 2) if x else 0.0), name
    assert report["settings"]["customers"] == 5 and report["settings"]["repeat_customers"] == 3
    # RFM counts every order up to the as-of time, any currency: six customers, all revenue.
    segments = report["rfm_segments"]
    assert sum(s["customers"] for s in segments) == 6
    assert sum(s["revenue"] for s in segments) == pytest.approx(
        sum(float(a) for rows in orders.values() for _, a, _ in rows)
    )
