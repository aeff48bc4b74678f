"""`crm order import`: quantities under their column's convention, exact line amounts, and
orders stored whole or not at all (a found-by-a-tester set: each of these stored a wrong
total and exited 0)."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _orders(db: Path) -> dict[Any, int]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT coalesce(external_id, id), amount FROM orders"))


def _reasons(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return {row["line"]: row["reason"] for row in csv.DictReader(fh)}


LINES = "Order ID,Customer ID,Order Date,SKU,Quantity,Unit Price\n"


def test_a_quantity_with_thousands_separators_follows_its_column(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    add_customer("ann", external_id="C1")
    src = _write(
        tmp_path / "q.csv",
        LINES + 'SO-1,C1,2024-03-05,A1,"1,000",2.50\nSO-1,C1,2024-03-05,A2,3,10.00\n'
        'SO-2,C1,2024-03-06,A1,"2,500.5",2.00\n',
    )
    summary = cli.json("order", "import", str(src))
    assert summary["inserted"] == 2 and summary["rejected"] == 0
    assert summary["conventions"]["quantity"]["decimal"] == "point"
    assert _orders(db_path) == {"SO-1": 253000, "SO-2": 500100}
    # a comma column: "1.000" is a thousand there, and "2,5" two and a half
    eu = _write(
        tmp_path / "eu.csv",
        "Order ID;Customer ID;Order Date;Quantity;Unit Price;Currency\n"
        "EU-1;C1;05/03/2024;1.000;2,50;EUR\nEU-2;C1;13/03/2024;2,5;4,00;EUR\n",
    )
    summary = cli.json("order", "import", str(eu))
    assert summary["conventions"]["quantity"]["decimal"] == "comma"
    assert _orders(db_path)["EU-1"] == 250000 and _orders(db_path)["EU-2"] == 1000
    with sqlite3.connect(db_path) as con:
        qty = con.execute(
            "SELECT l.quantity FROM order_lines l JOIN orders o ON o.id = l.order_id"
            " WHERE o.external_id = 'EU-2'"
        ).fetchone()[0]
    assert qty == 2.5


def test_quantity_times_price_is_exact_or_refused(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    add_customer("ann", external_id="C1")
    src = _write(
        tmp_path / "x.csv",
        LINES + "R1,C1,2024-03-05,A,0.5,1.25\nR2,C1,2024-03-05,B,0.5,1.20\n",
    )
    summary = cli.json("order", "import", str(src))
    assert (summary["inserted"], summary["rejected"]) == (1, 1)
    assert _orders(db_path) == {"R2": 60}
    reason = _reasons(tmp_path / "x.rejects.csv")["2"]
    assert "more than two decimals" in reason and "line_amount" in reason


def test_an_order_with_a_rejected_line_is_left_out_whole(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    add_customer("ann", external_id="C1")
    add_customer("bob", external_id="C2")
    src = _write(
        tmp_path / "w.csv",
        "order_id,customer_external_id,ordered_at,line_amount\n"
        "L1,C1,2024-01-05,10.00\n"
        "L1,C2,2024-01-05,5.00\n"  # another customer: L1 is not stored with 10.00
        "L2,C1,2024-01-06,3.00\n"
        "L2,C1,2024-01-06,lots\n"  # a bad amount: L2 is not stored with 3.00
        "L3,C1,2024-01-07,4.00\n",
    )
    summary = cli.json("order", "import", str(src))
    assert (summary["inserted"], summary["rejected"]) == (1, 4)
    assert _orders(db_path) == {"L3": 400}
    reasons = _reasons(tmp_path / "w.rejects.csv")
    assert reasons["2"] == "order L1 left out: its line 3 disagrees with line 2 on customer"
    assert reasons["4"].startswith("order L2 left out: its line 5 was rejected (")


def test_an_order_total_of_ten_to_the_twelve_is_refused(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    add_customer("ann", external_id="C1")
    src = _write(
        tmp_path / "b.csv",
        "order_id,customer_external_id,ordered_at,line_amount\n"
        "B1,C1,2024-01-01,900000000000.00\nB1,C1,2024-01-01,900000000000.00\n"
        "B2,C1,2024-01-01,1.00\n",
    )
    summary = cli.json("order", "import", str(src))
    assert (summary["inserted"], summary["rejected"]) == (1, 2)
    assert _orders(db_path) == {"B2": 100}
    assert "too large (limit 10^12)" in _reasons(tmp_path / "b.rejects.csv")["2"]


def test_orders_without_an_order_id_import_again_unchanged(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    add_customer("ann", external_id="C1")
    src = _write(
        tmp_path / "n.csv",
        "customer_external_id,ordered_at,amount\n"
        "C1,2024-01-05,7.00\nC1,2024-01-05,7.00\nC1,2024-01-06,7.00\n",
    )
    first = cli.json("order", "import", str(src))
    assert first["inserted"] == 3  # two equal purchases on one day stay two
    again = cli.json("order", "import", str(src))
    assert (again["inserted"], again["unchanged"]) == (0, 3)
    with sqlite3.connect(db_path) as con:
        assert con.execute("SELECT count(*), sum(amount) FROM orders").fetchone() == (3, 2100)
    # one more equal purchase in a later file is a new order
    more = _write(
        tmp_path / "m.csv", "customer_external_id,ordered_at,amount\n" + "C1,2024-01-05,7.00\n" * 3
    )
    assert cli.json("order", "import", str(more))["inserted"] == 1


def test_a_total_without_lines_does_not_replace_an_order_stored_with_lines(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    add_customer("ann", external_id="C1")
    lines = _write(
        tmp_path / "l.csv",
        "external_id,customer_external_id,ordered_at,sku,quantity,unit_price,line_amount\n"
        "L3,C1,2024-01-05,A,1,5.00,5.00\n",
    )
    assert cli.json("order", "import", str(lines))["inserted"] == 1
    total = _write(
        tmp_path / "t.csv",
        "external_id,customer_external_id,ordered_at,amount\nL3,C1,2024-01-05,7.00\n",
    )
    summary = cli.json("order", "import", str(total))
    assert (summary["updated"], summary["rejected"]) == (0, 1)
    assert "stored with 1 line(s)" in _reasons(tmp_path / "t.rejects.csv")["2"]
    shown = cli.json("order", "show", str(_order_id(db_path, "L3")))
    assert shown["amount"] == 5.0 and sum(line["amount"] for line in shown["lines"]) == 5.0
    # the same total as its lines: unchanged
    same = _write(
        tmp_path / "s.csv",
        "external_id,customer_external_id,ordered_at,amount\nL3,C1,2024-01-05,5.00\n",
    )
    assert cli.json("order", "import", str(same))["unchanged"] == 1


def _order_id(db: Path, ext: str) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT id FROM orders WHERE external_id = ?", (ext,)).fetchone()[0])
