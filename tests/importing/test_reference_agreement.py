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


def add_ann_and_bob(cli: Any) -> None:
    for ext, name in (("C1", "Ann"), ("C2", "Bob")):
        email = f"{name.lower()}@example.com"
        cli.ok("customer", "add", "--name", name, "--email", email, "--external-id", ext)


ERP_LINES = (
    "order_id,customer_external_id,customer_email,order_date,sku,line_amount,currency\n"
    "SO-1,C1,ann@example.com,2024-03-05,A,10.00,USD\n"  # agree
    "SO-1,C1,ann@example.com,2024-03-05,B,5.00,USD\n"
    "SO-2,C2,bob@example.com,2024-03-06,A,7.00,USD\n"
    "SO-2,C2,ann@example.com,2024-03-06,B,3.00,USD\n"  # this line names Ann: SO-2 left out
    ",C1,bob@example.com,2024-03-07,C,9.00,USD\n"  # no order id, disagrees: rejected
    "SO-3,C2,nobody@example.com,2024-03-08,A,4.00,USD\n"  # names no one: the id decides
)


def test_order_lines_naming_two_customers_are_rejected(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """The order import stages its references and resolves each distinct one once; the
    other reference cells of a line are checked the same way, so a line whose email names
    another customer than its customer_external_id is rejected with its whole order."""
    add_ann_and_bob(cli)
    src, rejects = tmp_path / "erp.csv", tmp_path / "rejects.csv"
    src.write_text(ERP_LINES, encoding="utf-8")
    summary = cli.json("order", "import", str(src), "--rejects", str(rejects))
    assert (summary["inserted"], summary["rejected"]) == (2, 3)
    assert sql_rows("SELECT external_id, customer_id, amount FROM orders ORDER BY external_id") == [
        ("SO-1", 1, 1500),
        ("SO-3", 2, 400),
    ]
    lines = rejects.read_text("utf-8-sig").splitlines()[1:]
    assert [line.split(",")[0] for line in lines] == ["4", "5", "6"]
    assert (
        "customer_external_id C2 and customer_email ann@example.com name two different" in lines[1]
    )
    assert "order SO-2 left out" in lines[0]
    assert "customer_external_id C1 and customer_email bob@example.com" in lines[2]
    # --customer-key decides which column names the customer: the emails alone then, so
    # SO-2's lines name two customers (the order's own check) and the line without an
    # order id is Bob's
    summary = cli.json("order", "import", str(src), "--customer-key", "email")
    assert (summary["inserted"], summary["rejected"]) == (1, 3)
    assert sql_rows("SELECT customer_id, amount FROM orders WHERE external_id IS NULL") == [
        (2, 900)
    ]


def test_order_cross_check_when_order_ids_come_back(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """The same check when the lines of an order are not one after the other (the merge
    groups them by order id instead of by run)."""
    add_ann_and_bob(cli)
    src = tmp_path / "erp.csv"
    src.write_text(
        "order_id,customer_external_id,customer_email,order_date,sku,line_amount,currency\n"
        "SO-1,C1,ann@example.com,2024-03-05,A,10.00,USD\n"
        "SO-2,C2,bob@example.com,2024-03-06,A,7.00,USD\n"
        "SO-1,C1,bob@example.com,2024-03-05,B,5.00,USD\n",  # SO-1 again, naming Bob
        encoding="utf-8",
    )
    summary = cli.json("order", "import", str(src))
    assert (summary["inserted"], summary["rejected"]) == (1, 2)
    assert sql_rows("SELECT external_id, amount FROM orders") == [("SO-2", 700)]


def test_order_customer_id_header_is_this_databases_id(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """`customer_id` spelled as the field is this database's id in an order import too (as
    in every import); `CustomerID`, an ERP's header, is the ERP's id: customer_external_id.
    With numeric ERP numbers the two readings name different customers."""
    cli.ok("customer", "add", "--name", "Ann", "--external-id", "2")  # id 1
    cli.ok("customer", "add", "--name", "Bob", "--external-id", "1")  # id 2
    cli.ok("order", "add", "2", "--amount", "30.00", "--at", "2024-05-01 10:30",
           "--external-id", "SO-9", "--currency", "USD")  # fmt: skip
    listed = tmp_path / "orders.csv"
    listed.write_text(cli.ok("order", "list", "--format", "csv"), "utf-8")
    assert listed.read_text("utf-8").splitlines()[0].split(",")[2] == "customer_id"
    other = tmp_path / "other.db"
    cli.ok("customer", "add", "--name", "Ann", "--external-id", "2", "--db", other)
    cli.ok("customer", "add", "--name", "Bob", "--external-id", "1", "--db", other)
    cli.ok("order", "import", str(listed), "--db", other)
    assert sql_rows(
        "SELECT c.name, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id", other
    ) == [("Bob", 3000)]
    erp = tmp_path / "erp.csv"
    erp.write_text("OrderID,CustomerID,OrderDate,Amount,Currency\nE-1,2,2024-05-02,5.00,USD\n")
    cli.ok("order", "import", str(erp), "--db", other)
    assert sql_rows(
        "SELECT c.name FROM orders o JOIN customers c ON c.id = o.customer_id"
        " WHERE o.external_id = 'E-1'",
        other,
    ) == [("Ann",)]
