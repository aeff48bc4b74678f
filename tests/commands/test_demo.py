"""`crm demo`: every group filled, seeded and reproducible, ends with the dashboard."""

from __future__ import annotations

import sqlite3
from pathlib import Path

AS_OF = "2026-06-30T12:00:00Z"
TABLES = (
    "customers",
    "customer_tags",
    "communications",
    "tickets",
    "ticket_events",
    "campaigns",
    "campaign_members",
    "orders",
    "agents",
)


def dump(path: Path) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    con = sqlite3.connect(path)
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def test_demo_fills_every_group_and_shows_the_dashboard(cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = cli.json("--as-of", AS_OF, "demo", "--customers", "300", "--seed", "5")
    for section in ("customers", "contacts", "tickets", "satisfaction", "value", "loyalty"):
        assert isinstance(report[section], list), section
    con = sqlite3.connect(db_path)
    names = [n for (n,) in con.execute("SELECT name FROM customers")]
    assert any("\u4e00" <= n[0] <= "\u9fff" for n in names)  # Chinese names
    assert any(n[0].isascii() for n in names)  # English names
    assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 300
    # A weekly pattern: weekdays far busier than Sundays (Beijing time).
    by_day = dict(
        con.execute(
            "SELECT strftime('%w', occurred_at, '+8 hours'), count(*) FROM communications GROUP BY 1"
        )
    )
    assert by_day["1"] > 3 * by_day["0"]
    span = con.execute(
        "SELECT julianday(max(occurred_at)) - julianday(min(occurred_at)) FROM communications"
    ).fetchone()[0]
    assert 300 < span <= 366
    variants = {v for (v,) in con.execute("SELECT DISTINCT variant FROM campaign_members")}
    assert variants == {"A", "B", "control"}
    assert con.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 2
    assert (
        con.execute("SELECT count(*) FROM tickets WHERE satisfaction IS NOT NULL").fetchone()[0] > 0
    )
    assert con.execute("SELECT count(DISTINCT kind) FROM ticket_events").fetchone()[0] >= 4
    repeaters = con.execute(
        "SELECT count(*) FROM (SELECT customer_id FROM orders GROUP BY customer_id HAVING count(*) >= 2)"
    ).fetchone()[0]
    assert repeaters >= 30  # enough repeat purchasing for a CLV fit
    assert con.execute("SELECT max(created_at) <= ? FROM customers", (AS_OF,)).fetchone()[0] == 1


def test_same_seed_same_data(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b, c = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    for path, seed in ((a, "9"), (b, "9"), (c, "10")):
        cli.ok(
            "--quiet",
            "--as-of",
            AS_OF,
            "--db",
            str(path),
            "demo",
            "--customers",
            "120",
            "--seed",
            seed,
            "--format",
            "json",
        )
    assert dump(a) == dump(b)
    assert dump(a) != dump(c)


def test_demo_refuses_a_database_with_customers(cli, add_customer, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann")
    result = cli("demo", "--customers", "50")
    assert result.exit_code == 4 and "already has customers" in result.stderr
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM customers").fetchone()[0] == 1


def test_demo_database_passes_db_check_and_still_has_dirt(cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The demo's dirt stays within the invariants every CLI path keeps (E.164 phones,
    lower-case unique emails): `crm db check` passes, the quality report still finds work."""
    cli.ok("--quiet", "--as-of", AS_OF, "demo", "--customers", "400", "--seed", "3")
    check = cli("db", "check")
    assert check.exit_code == 0, check.stdout + check.stderr
    con = sqlite3.connect(db_path)
    phones = [p for (p,) in con.execute("SELECT phone FROM customers WHERE phone IS NOT NULL")]
    assert phones and all(p.startswith("+") and p[1:].isdigit() for p in phones)
    missing = con.execute("SELECT count(*) FROM customers WHERE phone IS NULL").fetchone()[0]
    assert missing >= 4  # at least the 1 % whose phone was never captured
    # Re-entered people: same name and phone, their own (different) email.
    dup = con.execute(
        "SELECT count(*) FROM customers a JOIN customers b ON a.id < b.id"
        " AND a.phone = b.phone AND trim(a.name) = trim(b.name)"
        " AND coalesce(a.email, '') != coalesce(b.email, '')"
    ).fetchone()[0]
    assert dup >= 1
    report = cli.json("report", "quality", "--as-of", AS_OF)
    score = report["score"]
    assert 50 < score["overall"] < 100
    assert score["completeness"] < 100 and score["uniqueness"] < 100
    assert report["duplicates"]["duplicates"] >= 1
    fields = {f["field"]: f for f in report["fields"]}
    assert fields["phone"]["validity_pct"] == 100.0  # every stored phone is E.164
    assert fields["email"]["validity_pct"] == 100.0  # the import would accept every email


def test_demo_customers_export_and_import_back_without_rejects(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The demo's dirt is data a user could have entered: an export re-imports cleanly."""
    demo_db = tmp_path / "demo.db"
    cli.ok("--db", str(demo_db), "demo", "--customers", "300", "--seed", "3")
    out = tmp_path / "customers.csv"
    cli.ok("--db", str(demo_db), "customer", "export", "--out", str(out), "--no-mask")
    fresh = tmp_path / "fresh.db"
    summary = cli.json("--db", str(fresh), "customer", "import", str(out), "--key", "external_id")
    assert summary["rejected"] == 0 and summary["duplicates"] == 0
    assert summary["inserted"] == 300
