"""The lines of one order in `crm order import` (set-based merge): an order is stored whole
or not at all (a line with an unknown customer, or one that disagrees with the first line on
customer, time or currency, leaves the whole order out, each of its lines in the rejects
file with the reason), order ids that come back later in the file give the same orders and
lines, numbered 1..n in file order; re-importing changes nothing."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any

import pytest

HEADER = "order_id,customer_external_id,ordered_at,sku,quantity,unit_price,line_amount,currency\n"
LINES = [
    "O1,C1,2024-01-02 10:00,A,1,10.00,10.00,CNY",  # line 2
    "O1,C1,2024-01-02 10:00,B,2,2.50,5.00,CNY",  # 3
    "O2,C9,2024-01-03 10:00,X,1,1.00,1.00,CNY",  # 4: unknown customer
    "O2,C2,2024-01-03 10:00,C,1,5.00,5.00,CNY",  # 5: O2's first line
    "O2,C2,2024-01-03 10:00,D,1,6.00,6.00,CNY",  # 6
    "O3,C1,2024-01-04 10:00,E,1,7.00,7.00,CNY",  # 7
    "O3,C2,2024-01-04 10:00,F,1,8.00,8.00,CNY",  # 8: other customer
    "O3,C1,2024-01-05 10:00,G,1,9.00,9.00,CNY",  # 9: other time
    "O3,C1,2024-01-04 10:00,H,1,1.00,1.00,EUR",  # 10: other currency
    "O3,C1,2024-01-04 10:00,I,3,1.00,3.00,CNY",  # 11
    ",C2,2024-01-06 10:00,J,1,4.00,4.00,CNY",  # 12: no order id: an order of its own
]
# (external_id, customer, total) and the (sku, quantity, unit_price, amount) lines: O2 and
# O3 are left out whole (never stored with the total of some of their lines)
ORDERS = {"O1": ("C1", 1500), None: ("C2", 400)}
ORDER_LINES = {"O1": [("A", 1.0, 1000, 1000), ("B", 2.0, 250, 500)]}


def _stored(db: Path) -> tuple[dict[Any, tuple[str, int]], dict[str, list[tuple[Any, ...]]]]:
    with sqlite3.connect(db) as con:
        orders = {
            ext: (cust, amount)
            for ext, cust, amount in con.execute(
                "SELECT o.external_id, c.external_id, o.amount FROM orders o"
                " JOIN customers c ON c.id = o.customer_id"
            )
        }
        lines: dict[str, list[tuple[Any, ...]]] = {}
        for ext, n, *line in con.execute(
            "SELECT o.external_id, l.line_no, l.sku, l.quantity, l.unit_price, l.amount"
            " FROM order_lines l JOIN orders o ON o.id = l.order_id ORDER BY o.id, l.line_no"
        ):
            lines.setdefault(ext, []).append(tuple(line))
            assert n == len(lines[ext])  # numbered 1..n
    return orders, lines


def _rejects(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return {row["sku"]: row["reason"] for row in csv.DictReader(fh)}


@pytest.mark.parametrize("shuffle", [False, True], ids=["contiguous", "order-ids-come-back"])
def test_lines_of_orders(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path, shuffle: bool
) -> None:
    add_customer("ann", external_id="C1")
    add_customer("bob", external_id="C2")
    lines = list(LINES)
    if shuffle:  # O1's second line and O2's first known line come after other orders
        lines = [lines[0], lines[2], lines[5], lines[3], *lines[6:], lines[4], lines[1]]
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    summary = cli.json("order", "import", str(path), "--rejects", str(rejects))
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (2, 0, 0)
    assert summary["rejected"] == 8 and summary["lines"] == 3  # the lines of stored orders
    orders, stored_lines = _stored(db_path)
    assert orders == ORDERS
    assert stored_lines == ORDER_LINES
    line_of = {row.split(",")[3]: n for n, row in enumerate(lines, 2)}
    first = line_of["E"]
    o2 = (
        f"order O2 left out: its line {line_of['X']} was rejected (no customer with external_id C9)"
    )
    # the first disagreeing line in the file names the reason for the rest of O3
    bad = min(line_of[sku] for sku in "FGH")
    what = {line_of["F"]: "customer", line_of["G"]: "ordered_at", line_of["H"]: "currency"}
    o3 = f"order O3 left out: its line {bad} disagrees with line {first} on {what[bad]}"
    assert _rejects(rejects) == {
        "X": "no customer with external_id C9",
        "C": o2,
        "D": o2,
        "E": o3,
        "F": f"line of order O3 disagrees with line {first} on customer",
        "G": f"line of order O3 disagrees with line {first} on ordered_at",
        "H": f"line of order O3 disagrees with line {first} on currency",
        "I": o3,
    }
    again = cli.json("order", "import", str(path), "--rejects", str(rejects))
    # idempotent: every order is unchanged, the one without an order id too (matched by
    # customer, time, amount and currency)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert _stored(db_path)[1] == ORDER_LINES
