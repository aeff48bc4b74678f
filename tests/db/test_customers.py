"""db/customers.py: every new customer is made in one place, with one set of defaults."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import crmcli
from crmcli.db.customers import NEW_CUSTOMER_DEFAULTS

SRC = Path(crmcli.__file__).parent
MAIL = Path(__file__).parents[1] / "data" / "mail" / "cases"
STORED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_only_the_repository_inserts_customers() -> None:
    """`INSERT INTO customers(` stands in db/customers.py (creating) and db/merge.py
    (`unmerge` restoring a record as it was), nowhere else."""
    found = {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if re.search(r"INSERT\s+(OR\s+\w+\s+)?INTO\s+customers\s*\(", path.read_text())
    }
    assert found == {"db/customers.py", "db/merge.py"}


def rows(db_path: Path) -> dict[str, dict[str, Any]]:
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    try:
        return {r["name"]: dict(r) for r in con.execute("SELECT * FROM customers")}
    finally:
        con.close()


def test_every_way_in_gives_the_same_defaults(cli: Any, tmp_path: Path, db_path: Path) -> None:
    cli.ok("customer", "add", "--name", "Added", "--email", "added@example.com")
    people = tmp_path / "people.csv"
    people.write_text("name,email\nImported,imported@example.com\n")
    cli.ok("customer", "import", str(people))
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_external_id,ordered_at,amount\nO1,C9,2024-01-02,5\n")
    cli.ok("order", "import", str(orders), "--create-customers")
    cli.ok(
        "comm", "import-mail", str(MAIL / "05-quoted-local.eml"), "--our-domain", "ourco.com",
        "--create-leads",
    )  # fmt: skip
    made = rows(db_path)
    assert len(made) == 4, sorted(made)
    by_order = next(r for r in made.values() if r["external_id"] == "C9")
    for name, row in made.items():
        expected = {**NEW_CUSTOMER_DEFAULTS}
        if row is by_order:
            expected["lifecycle"] = "customer"  # it has bought: a fact, not a default
        assert {k: row[k] for k in expected} == expected, name
        assert (row["phone_ext"], row["company_id"], row["erased_at"]) == (None, None, None)
        assert STORED.match(row["created_at"]) and STORED.match(row["updated_at"]), name
    assert NEW_CUSTOMER_DEFAULTS == {"lifecycle": "lead", "phone_suspect": 0}
