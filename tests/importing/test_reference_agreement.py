"""A row that names its customer twice (customer_id and customer_email, as `deal export`
writes) must name one customer: another database's export carries that database's ids, and
its email says who is meant. Disagreeing cells reject the row; --customer-key decides."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_deal_export_read_into_another_database(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    source, target = tmp_path / "a.db", tmp_path / "b.db"
    for name, email in (("Ann", "ann@example.com"), ("Bob", "bob@example.com")):
        cli.ok("customer", "add", "--name", name, "--email", email, "--db", source)
    for name, email in (("Bob", "bob@example.com"), ("Ann", "ann@example.com")):  # ids swapped
        cli.ok("customer", "add", "--name", name, "--email", email, "--db", target)
    cli.ok("deal", "add", "--customer", "1", "--title", "Ann's", "--amount", "100", "--db", source)
    export = tmp_path / "deals.csv"
    export.write_text(cli.ok("deal", "export", "--format", "csv", "--db", source), "utf-8")
    header = export.read_text("utf-8").splitlines()[0].split(",")
    assert {"customer_email", "customer_external_id", "company", "company_external_id"} <= set(
        header
    )
    rejects = tmp_path / "rejects.csv"
    cli.ok("deal", "import", str(export), "--db", target, "--rejects", str(rejects))
    assert sql_rows("SELECT count(*) FROM deals", target) == [(0,)]  # not given to Bob
    assert "name two different customers" in rejects.read_text("utf-8-sig")
    cli.ok("deal", "import", str(export), "--db", target, "--customer-key", "email")
    assert sql_rows(
        "SELECT d.title, c.name FROM deals d JOIN customers c ON c.id = d.customer_id", target
    ) == [("Ann's", "Ann")]
    cli.ok("deal", "import", str(export), "--db", source, "--key", "id")  # its own: unchanged
    assert sql_rows("SELECT count(*), min(customer_id) FROM deals", source) == [(1, 1)]


def test_comm_rows_naming_two_customers_are_rejected(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--email", "ann@example.com")
    cli.ok("customer", "add", "--name", "Bob", "--email", "bob@example.com")
    src = tmp_path / "log.csv"
    src.write_text(
        "customer_id,customer_email,channel,occurred_at\n"
        "1,ann@example.com,phone,2024-01-05 10:00\n"  # agree
        "2,ann@example.com,phone,2024-01-06 10:00\n"  # disagree
        "2,nobody@example.com,phone,2024-01-07 10:00\n",  # names no one: the id decides
        encoding="utf-8",
    )
    summary = cli.json("comm", "import", str(src))
    assert (summary["inserted"], summary["rejected"]) == (2, 1)
    assert sql_rows("SELECT customer_id FROM communications ORDER BY id") == [(1,), (2,)]
