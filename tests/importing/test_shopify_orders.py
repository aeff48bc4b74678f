"""A Shopify order export: one row per line item, the order's own cells (Currency, Total,
...) filled on its first line only. A blank currency on a later line is the order's; a Total
on the first line only is the order's total (shipping and tax in it), never taken for the
first line's amount beside quantity x price on the others."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

HEADER = ["Name", "Email", "Financial Status", "Currency", "Subtotal", "Shipping", "Total",
          "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
          "Lineitem sku"]  # fmt: skip
ROWS = [
    ["#1001", "ann@example.com", "paid", "EUR", "30.00", "5.00", "35.00",
     "2024-01-05 09:59:00 +0100", "2", "Mug", "10.00", "MUG-1"],
    ["#1001", "ann@example.com", "", "", "", "", "", "2024-01-05 09:59:00 +0100", "1", "Tee",
     "10.00", "TEE-1"],
    ["#1002", "ann@example.com", "paid", "EUR", "7.50", "0.00", "7.50",
     "2024-01-06 10:00:00 +0100", "3", "Pin", "2.50", "PIN-1"],
]  # fmt: skip
MAP = ["--map", "Created at=ordered_at", "--map", "Name=external_id"]


def test_a_shopify_export(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--email", "ann@example.com")
    src = tmp_path / "orders_export.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([HEADER, *ROWS])
    summary = cli.json("order", "import", str(src), *MAP)
    assert (summary["inserted"], summary["rejected"]) == (1, 2)  # #1001 left out whole
    rejects = (tmp_path / "orders_export.rejects.csv").read_text("utf-8-sig")
    assert "the order's total" in rejects and "--map COLUMN=-" in rejects
    assert sql_rows("SELECT external_id, amount FROM orders") == [("#1002", 750)]
    summary = cli.json("order", "import", str(src), *MAP, "--map", "Total=-")
    assert (summary["inserted"], summary["unchanged"], summary["rejected"]) == (1, 1, 0)
    assert sql_rows("SELECT external_id, amount, currency FROM orders ORDER BY id") == [
        ("#1002", 750, "EUR"),
        ("#1001", 3000, "EUR"),  # the sum of its lines, in the currency of its first line
    ]
    assert sql_rows(
        "SELECT l.sku, l.quantity, l.amount FROM order_lines l JOIN orders o"
        " ON o.id = l.order_id WHERE o.external_id = '#1001' ORDER BY l.line_no",
    ) == [("MUG-1", 2.0, 2000), ("TEE-1", 1.0, 1000)]


def test_shopify_name_unmapped_is_refused(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    """Without --map Name=external_id a Shopify export's line items were orders of their
    own (a 35 order stored as 35 + 10, and --create-customers made customers called #1001
    from `Name`): its Lineitem columns say what the file is, so it is refused asking for
    the map; `Created at` is read as ordered_at."""
    src = tmp_path / "orders_export.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([HEADER, *ROWS])
    refused = cli("order", "import", str(src), "--map", "Total=-", "--create-customers")
    assert refused.exit_code == 2
    assert "a Shopify order export" in refused.stderr
    assert "--map Name=external_id" in refused.stderr
    assert sql_rows("SELECT count(*) FROM customers") == [(0,)]
    summary = cli.json(
        "order", "import", str(src), "--map", "Name=external_id", "--map", "Total=-",
        "--create-customers",
    )  # fmt: skip
    assert (summary["inserted"], summary["rejected"]) == (2, 0)
    assert sql_rows("SELECT external_id, amount FROM orders ORDER BY id") == [
        ("#1001", 3000),
        ("#1002", 750),
    ]


def test_a_customer_name_column_without_letters_is_no_name(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """A `Customer` column holding numbers (another system's customer numbers under the
    wrong header) is an unknown column, not the names --create-customers would give."""
    src = tmp_path / "erp.csv"
    src.write_text(
        "order_id,customer_email,Customer,order_date,amount,currency\n"
        "E1,ann@example.com,10023,2024-03-01,5.00,CNY\n",
        encoding="utf-8",
    )
    summary = cli.json("order", "import", str(src), "--create-customers")
    assert "Customer" in summary["unknown_columns"]
    assert sql_rows("SELECT name, email FROM customers") == [("ann@example.com", "ann@example.com")]


def test_an_empty_currency_cell_is_no_currency(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    """A currency column with an empty cell (not a later line of an order, which has its
    first line's): the row names no currency, and the default CNY would be a guess; rejected
    unless --currency names the currency of such rows. A file without a currency column is
    in --currency (default CNY), and the summary says which."""
    cli.ok("customer", "add", "--name", "Ann", "--external-id", "C001")
    src = tmp_path / "orders.csv"
    src.write_text(
        "order_id,customer_external_id,order_date,amount,currency\n"
        "BC1,C001,2024-11-01,19.99,USD\n"
        "BC2,C001,2024-11-02,19.99,\n",
        encoding="utf-8",
    )
    summary = cli.json("order", "import", str(src))
    assert (summary["inserted"], summary["rejected"]) == (1, 1)
    assert "no currency" in (tmp_path / "orders.rejects.csv").read_text("utf-8-sig")
    summary = cli.json("order", "import", str(src), "--currency", "USD")
    assert (summary["inserted"], summary["unchanged"]) == (1, 1)
    assert sql_rows("SELECT external_id, amount, currency FROM orders ORDER BY id") == [
        ("BC1", 1999, "USD"),
        ("BC2", 1999, "USD"),
    ]
    plain = tmp_path / "plain.csv"
    plain.write_text("order_id,customer_external_id,order_date,amount\nP1,C001,2024-11-03,5\n")
    summary = cli.json("order", "import", str(plain))
    assert summary["currency_from"].startswith("CNY")
    assert sql_rows("SELECT currency FROM orders WHERE external_id = 'P1'") == [("CNY",)]
