"""The data-quality scorecard: hand-checkable figures, orphans, the --fail-under gate."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crmcli.reports.quality import WEIGHTS


def rows_by(section, key):  # type: ignore[no-untyped-def]
    return {r[key]: r for r in section}


def test_scorecard_by_hand(cli, add_customer, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_customer("张伟", phone="13800138000", email="zw@example.cn", owner="alice")
    add_customer("Ann Lee", email="ann@example.com", company="Acme")
    add_customer("Bob", company="Acme")
    add_customer("张伟", phone="13800138000")  # same phone: a duplicate
    con = sqlite3.connect(db_path)
    # Dirty values that slipped in around validation (e.g. an old import).
    con.execute(
        "UPDATE customers SET email = 'bob@localhost', phone = '555-0100' WHERE name = 'Bob'"
    )
    con.commit()
    report = cli.json("report", "quality")
    fields = rows_by(report["fields"], "field")
    assert fields["name"]["completeness_pct"] == 100.0
    assert fields["phone"]["filled"] == 3 and fields["phone"]["valid"] == 2
    assert fields["phone"]["validity_pct"] == round(2 / 3 * 100, 1)
    assert fields["email"]["filled"] == 3 and fields["email"]["valid"] == 2
    assert fields["owner"]["completeness_pct"] == 25.0
    assert report["duplicates"]["duplicates"] >= 1
    # No one was ever contacted, and nobody is old enough to be stale yet.
    assert report["staleness"]["eligible"] == 0
    score = report["score"]
    expected = sum(score[k] * w for k, w in WEIGHTS.items())
    assert abs(score["overall"] - expected) < 0.1
    assert 0 <= score["overall"] <= 100


def test_stale_customers_and_orphans(cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The global --as-of also stamps new records (like CRM_NOW).
    cli.ok("--as-of", "2025-01-01T00:00:00Z", "customer", "add", "--name", "Old")
    cli.ok("--as-of", "2025-01-01T00:00:00Z", "customer", "add", "--name", "Fresh")
    con = sqlite3.connect(db_path)
    con.execute(
        "INSERT INTO communications(customer_id, channel, direction, occurred_at, created_at, updated_at)"
        " SELECT id, 'phone', 'outbound', '2025-06-20T00:00:00Z', '2025-06-20T00:00:00Z',"
        " '2025-06-20T00:00:00Z' FROM customers WHERE name = 'Fresh'"
    )
    con.execute("PRAGMA foreign_keys = OFF")
    con.execute(
        "INSERT INTO orders(customer_id, ordered_at, amount, currency, created_at, updated_at)"
        " VALUES (999, '2025-03-01T00:00:00Z', 100, 'CNY', '2025-03-01T00:00:00Z', '2025-03-01T00:00:00Z')"
    )
    con.commit()
    report = cli.json("report", "quality", "--as-of", "2025-07-01", "--stale-days", "90")
    assert report["staleness"] == {
        "stale_days": 90,
        "eligible": 2,
        "stale": 1,
        "stale_pct": 50.0,
        "never_contacted": 1,
    }
    orphans = rows_by(report["orphans"], "table")
    assert orphans["orders"]["orphans"] == 1 and orphans["orders"]["records"] == 1
    assert orphans["communications"]["orphans"] == 0
    assert report["score"]["integrity"] == 50.0  # 1 orphan of 2 child records


def test_fail_under_gates_with_exit_1_after_writing(cli, add_customer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_customer("张伟", phone="13800138000")
    score = cli.json("report", "quality")["score"]["overall"]
    out = tmp_path / "q.html"
    failed = cli(
        "--quiet", "report", "quality", "--fail-under", str(score + 0.1), "--out", str(out)
    )
    assert failed.exit_code == 1
    assert failed.stdout == ""
    assert failed.stderr.strip() == f"Error: data quality score {score} is below {score + 0.1:g}"
    assert out.is_file() and "Data quality" in out.read_text()
    passed = cli("--quiet", "report", "quality", "--fail-under", str(score), "--out", str(out))
    assert passed.exit_code == 0 and passed.stdout == "" and passed.stderr == ""
    assert cli("report", "quality", "--fail-under", "101").exit_code == 2


def test_empty_database_has_nothing_to_score(cli) -> None:  # type: ignore[no-untyped-def]
    report = cli.json("report", "quality")
    assert report["score"] == {"no_data": "no customers to score"}
    result = cli("report", "quality", "--fail-under", "50", "--format", "json")
    assert result.exit_code == 1 and "no customers" in result.stderr


def test_validity_rules_match_the_normalisers(cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The SQL validity checks accept what validate.normalize_* produce and reject junk."""
    from crmcli.core.validate import normalize_email, normalize_phone
    from crmcli.db import connect
    from crmcli.db.reporting import VALID_EMAIL_SQL, VALID_PHONE_SQL

    db = connect(db_path)
    try:

        def ok(expr: str, column: str, value: str) -> bool:
            return bool(db.scalar(f"SELECT {expr} FROM (SELECT ? AS {column})", (value,)))

        for phone in ("13800138000", "+1 415 555 2671", "020 7946 0958"):
            region = "GB" if phone.startswith("020") else "CN"
            assert ok(VALID_PHONE_SQL, "phone", normalize_phone(phone, region))
        for bad in ("13800138000", "555-0100", "+0123456789", "+86 138", "+861380013800012345"):
            assert not ok(VALID_PHONE_SQL, "phone", bad)
        for email in ("Zhang.Wei@Example.CN", "a+b@sub.example.com"):
            assert ok(VALID_EMAIL_SQL, "email", normalize_email(email))
        for bad in ("bob@localhost", "a@@b.com", "a b@c.com", "@x.com", "a@b..com", "a@b.c@d.e"):
            assert not ok(VALID_EMAIL_SQL, "email", bad)
    finally:
        db.close()
