"""The KPI dashboard and the customers report, from a seeded demo database.

Figures are checked against independent SQL / Python over the raw rows (sqlite3 directly),
and every format must carry the same numbers as the JSON.
"""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crmcli.core import clock
from crmcli.db import connect
from crmcli.db import demo as demo_db
from crmcli.demo import data as demo_data
from crmcli.output.sections import cell_kind, human_cell, report_currency

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
AS_OF = "2026-06-30T12:00:00Z"


def build_demo(path: Path, customers: int = 400, seed: int = 11) -> Path:
    clock.pin(NOW)
    try:
        db = connect(path, actor="tester")
        demo_db.write(db, demo_data.generate(customers, seed, NOW))
        db.close()
    finally:
        clock.pin(None)
    return path


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo") / "seed.db")


@pytest.fixture
def demo(seeded: Path, db_path: Path) -> Path:
    """A private copy of the seeded database at CRM_DB."""
    shutil.copy(seeded, db_path)
    return db_path


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def figures(section: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["metric"]: row for row in section}


def csv_sections(text: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for block in text.strip().split("\n\n"):
        name, _, body = block.partition("\n")
        out[name.removeprefix("# ")] = list(csv.DictReader(io.StringIO(body)))
    return out


def test_dashboard_figures_match_independent_sql(cli, demo: Path) -> None:  # type: ignore[no-untyped-def]
    report = cli.json("report", "dashboard", "--as-of", AS_OF)
    start, prev = NOW - timedelta(days=30), NOW - timedelta(days=60)
    con = sqlite3.connect(demo)

    def one(sql: str, *params: Any) -> Any:
        return con.execute(sql, params).fetchone()[0]

    customers = figures(report["customers"])
    assert customers["customers"]["value"] == one(
        "SELECT count(*) FROM customers WHERE created_at <= ?", AS_OF
    )
    new = one(
        "SELECT count(*) FROM customers WHERE created_at > ? AND created_at <= ?", iso(start), AS_OF
    )
    new_before = one(
        "SELECT count(*) FROM customers WHERE created_at > ? AND created_at <= ?",
        iso(prev),
        iso(start),
    )
    assert customers["new_customers"]["value"] == new
    assert customers["new_customers"]["previous"] == new_before
    assert customers["new_customers"]["change"] == new - new_before
    assert customers["new_customers"]["change_pct"] == round(
        (new - new_before) / new_before * 100, 1
    )

    contacts = figures(report["contacts"])
    assert contacts["communications"]["value"] == one(
        "SELECT count(*) FROM communications WHERE occurred_at > ? AND occurred_at <= ?",
        iso(start),
        AS_OF,
    )
    assert contacts["inbound"]["previous"] == one(
        "SELECT count(*) FROM communications WHERE direction = 'inbound'"
        " AND occurred_at > ? AND occurred_at <= ?",
        iso(prev),
        iso(start),
    )

    # Retention: buyers of the previous 30 days who bought again in the last 30.
    def buyers(lo: datetime, hi: datetime) -> set[int]:
        return {
            c
            for (c,) in con.execute(
                "SELECT customer_id FROM orders WHERE ordered_at > ? AND ordered_at <= ?",
                (iso(lo), iso(hi)),
            )
        }

    base, later = buyers(prev, start), buyers(start, NOW)
    retention = figures(report["loyalty"])["retention_pct"]
    assert retention["value"] == round(len(base & later) / len(base) * 100, 1)
    assert figures(report["value"])["buyers"]["value"] == len(later)

    # Churn risk: last order (up to the time) 90-365 days before it; now and a period ago.
    def at_risk(at: datetime) -> int:
        last = con.execute(
            "SELECT max(ordered_at) FROM orders WHERE ordered_at <= ? GROUP BY customer_id",
            (iso(at),),
        ).fetchall()
        lo, hi = iso(at - timedelta(days=365)), iso(at - timedelta(days=90))
        return sum(lo < t <= hi for (t,) in last)

    churn = figures(report["loyalty"])["churn_risk"]
    assert (churn["value"], churn["previous"]) == (at_risk(NOW), at_risk(start))
    # Weekly trend: twelve Monday-based weeks summing to the communications in their span.
    trend = report["contacts_trend"]
    assert len(trend) == 12
    assert all(datetime.fromisoformat(r["week"]).weekday() == 0 for r in trend)

    # CSAT: share of ratings >= 4 among ratings given in the period (rated_at).
    scores = [
        s
        for (s,) in con.execute(
            "SELECT satisfaction FROM tickets WHERE satisfaction IS NOT NULL"
            " AND rated_at > ? AND rated_at <= ?",
            (iso(start), AS_OF),
        )
    ]
    sat = figures(report["satisfaction"])
    assert sat["ratings"]["value"] == len(scores)
    assert sat["csat_pct"]["value"] == round(sum(s >= 4 for s in scores) / len(scores) * 100, 1)
    assert sat["nps"]["value"] is None and "no NPS" in sat["nps"]["note"]

    # Median first response, hours, tickets created in the period.
    hours = [
        (
            datetime.fromisoformat(f.replace("Z", "+00:00"))
            - datetime.fromisoformat(c.replace("Z", "+00:00"))
        ).total_seconds()
        / 3600
        for c, f in con.execute(
            "SELECT created_at, first_response_at FROM tickets WHERE created_at > ? AND created_at <= ?"
            " AND first_response_at <= ?",
            (iso(start), AS_OF, AS_OF),
        )
    ]
    tickets = figures(report["tickets"])
    assert tickets["median_first_response_h"]["value"] == pytest.approx(
        statistics.median(hours), abs=0.01
    )

    # Response SLA: met = answered by the deadline; breached = late, or unanswered past it.
    met = breached = 0
    for first, due in con.execute(
        "SELECT first_response_at, response_due_at FROM tickets"
        " WHERE created_at > ? AND created_at <= ?",
        (iso(start), AS_OF),
    ):
        if first is not None and first <= AS_OF:
            met += first <= due
            breached += first > due
        elif due < AS_OF:
            breached += 1
    assert tickets["response_sla_pct"]["value"] == round(met / (met + breached) * 100, 1)

    # Revenue in the main currency, as money.
    value = figures(report["value"])
    cents = one(
        "SELECT sum(amount) FROM orders WHERE currency = 'CNY' AND ordered_at > ? AND ordered_at <= ?",
        iso(start),
        AS_OF,
    )
    assert value["revenue"]["value"] == round(cents / 100, 2) and value["revenue"]["unit"] == "CNY"

    # Repeat purchase rate: buyers with 2+ orders by the as-of time.
    per = [
        n
        for (n,) in con.execute(
            "SELECT count(*) FROM orders WHERE ordered_at <= ? GROUP BY customer_id", (AS_OF,)
        )
    ]
    loyalty = figures(report["loyalty"])
    assert loyalty["repeat_purchase_pct"]["value"] == round(
        sum(n >= 2 for n in per) / len(per) * 100, 1
    )


def test_average_clv_follows_the_simple_retention_formula(cli, demo: Path) -> None:  # type: ignore[no-untyped-def]
    report = cli.json("report", "dashboard", "--as-of", AS_OF)
    con = sqlite3.connect(demo)
    y1, y2 = iso(NOW - timedelta(days=365)), iso(NOW - timedelta(days=730))
    revenue = con.execute(
        "SELECT sum(amount) FROM orders WHERE currency='CNY' AND ordered_at > ? AND ordered_at <= ?",
        (y1, AS_OF),
    ).fetchone()[0]
    # Buyers are counted across currencies (the demo has a few USD buyers).
    buyers = con.execute(
        "SELECT count(DISTINCT customer_id) FROM orders WHERE ordered_at > ? AND ordered_at <= ?",
        (y1, AS_OF),
    ).fetchone()[0]
    base = {
        r
        for (r,) in con.execute(
            "SELECT customer_id FROM orders WHERE ordered_at > ? AND ordered_at <= ?", (y2, y1)
        )
    }
    later = {
        r
        for (r,) in con.execute(
            "SELECT customer_id FROM orders WHERE ordered_at > ? AND ordered_at <= ?", (y1, AS_OF)
        )
    }
    r = len(base & later) / len(base)
    m = revenue / 100 / buyers
    assert figures(report["value"])["average_clv"]["value"] == pytest.approx(
        m * r / (1.1 - r), abs=0.01
    )


def test_every_format_carries_the_json_numbers(cli, demo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    for command in ("dashboard", "customers", "quality"):
        report = cli.json("report", command, "--as-of", AS_OF)
        text = cli.ok("report", command, "--as-of", AS_OF, "--format", "csv")
        sections = csv_sections(text)
        out = tmp_path / f"{command}.xlsx"
        cli.ok("report", command, "--as-of", AS_OF, "--out", str(out))
        sheets = pd.read_excel(out, sheet_name=None)
        md = cli.ok("report", command, "--as-of", AS_OF, "--format", "markdown")
        currency = report_currency(report, None)
        for name, section in report.items():
            if isinstance(section, dict) and "no_data" not in section:
                # Key figures: metric/value rows in CSV and in the sheet.
                section = [{"metric": k, "value": v} for k, v in section.items()]
            if not isinstance(section, list):
                continue
            rows = sections[name]
            sheet = sheets[name]
            assert len(rows) == len(section) == len(sheet)
            for i, row in enumerate(section):
                for j, key in enumerate(k for k in row if k != "unit" or "metric" not in row):
                    value = row[key]
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        # CSV: the JSON number; XLSX: the number (percentages as fractions,
                        # shown with a % format); markdown: the number formatted by kind.
                        assert float(rows[i][key]) == value, (name, key)
                        kind = cell_kind(key, row)
                        expected = value / 100 if kind in ("percent", "points") else value
                        assert sheet.iloc[i, j] == pytest.approx(expected), (name, key)
                        assert f"| {human_cell(key, row, currency)} |" in md, (name, key)


def test_as_of_makes_every_format_byte_identical(cli, demo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for fmt in ("json", "csv", "markdown", "html", "xlsx", "table"):
        ext = {"markdown": "md", "table": "txt"}.get(fmt, fmt)
        a, b = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        cli.ok("report", "dashboard", "--as-of", AS_OF, "--out", str(a))
        cli.ok("report", "dashboard", "--as-of", AS_OF, "--out", str(b))
        assert a.read_bytes() == b.read_bytes(), fmt
        assert a.stat().st_size > 500


def test_crm_now_equals_as_of(cli, demo: Path) -> None:  # type: ignore[no-untyped-def]
    by_option = cli.ok("report", "dashboard", "--as-of", AS_OF, "--format", "json")
    by_env = cli.ok("report", "dashboard", "--format", "json", env={"CRM_NOW": AS_OF})
    assert by_option == by_env


def test_sections_without_data_say_so(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    empty = cli.json("report", "dashboard")
    assert empty["customers"] == {"no_data": "no customers yet"}
    add_customer("张伟", phone="13800138000")
    report = cli.json("report", "dashboard")
    assert figures(report["customers"])["customers"]["value"] == 1
    for name in ("contacts", "contacts_trend", "tickets", "satisfaction", "value", "loyalty"):
        assert "no_data" in report[name], name
    md = cli.ok("report", "dashboard", "--format", "markdown")
    assert "## Tickets\n\n_No data: no tickets recorded._" in md
    table = cli.ok("report", "dashboard")
    assert "Tickets: No data: no tickets recorded." in table


def test_since_until_and_bad_period(cli, demo: Path) -> None:  # type: ignore[no-untyped-def]
    report = cli.json(
        "report", "dashboard", "--since", "2026-04-01", "--until", "2026-05-01", "--as-of", AS_OF
    )
    assert report["period"]["days"] == 30.0
    assert report["period"]["previous_until_at"] == report["period"]["since_at"]
    result = cli("report", "dashboard", "--since", "2026-05-01", "--until", "2026-04-01")
    assert result.exit_code == 2 and "--since" in result.stderr


def test_customers_report_growth_adds_up(cli, demo: Path) -> None:  # type: ignore[no-untyped-def]
    report = cli.json("report", "customers", "--as-of", AS_OF, "--period", "quarter")
    growth = report["growth"]
    assert all(r["period"][5:] in ("01-01", "04-01", "07-01", "10-01") for r in growth)
    total = sum(r["new_customers"] for r in growth)
    con = sqlite3.connect(demo)
    first = growth[0]["cumulative_customers"] - growth[0]["new_customers"]
    assert first + total == growth[-1]["cumulative_customers"]
    assert (
        growth[-1]["cumulative_customers"]
        == con.execute("SELECT count(*) FROM customers WHERE created_at <= ?", (AS_OF,)).fetchone()[
            0
        ]
    )
    owners = {r["owner"]: r["customers"] for r in report["by_owner"]}
    expected = dict(
        con.execute("SELECT coalesce(owner, '(none)'), count(*) FROM customers GROUP BY owner")
    )
    assert owners == expected
    tags = {r["tag"]: r["customers"] for r in report["by_tag"]}
    assert tags == dict(con.execute("SELECT tag, count(*) FROM customer_tags GROUP BY tag"))
    assert cli("report", "customers", "--period", "fortnight").exit_code == 2


def test_weekly_trend_from_the_hourly_aggregate_equals_raw_counts(demo: Path) -> None:
    from crmcli.db import reporting
    from crmcli.reports.periods import buckets

    db = connect(demo)
    try:
        bounds = buckets(NOW - timedelta(weeks=20), NOW, "week")
        raw = reporting.bucket_counts(db, "communications", "occurred_at", bounds)
        assert reporting.weekly_communications(db, bounds) == raw
        assert sum(raw.values()) > 0
    finally:
        db.close()


def test_hourly_aggregate_with_buckets_off_the_hour(demo: Path) -> None:
    """Half-hour zones and partial hours: the aggregate path still counts exactly."""
    from crmcli.db import reporting

    db = connect(demo)
    try:
        bounds = [
            ("a", "2026-03-02T10:30:00Z", "2026-03-09T10:30:00Z"),
            ("b", "2026-03-09T10:30:00Z", "2026-03-09T10:45:17Z"),  # inside one hour
            ("c", "2026-03-09T10:45:17Z", "2026-06-30T12:00:01Z"),
        ]
        assert reporting.table_exists(db, "comm_hourly")
        raw = reporting.bucket_counts(db, "communications", "occurred_at", bounds)
        assert reporting.weekly_communications(db, bounds) == raw
    finally:
        db.close()
