"""Migration m200: the free-text customers.company of an existing database becomes one
company per distinct normalized name, and every customer stays findable as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmcli.db import connect
from crmcli.db.migrations import all_migrations

CUSTOMERS = [
    # name, company text as typed over the years
    ("Ann", "Acme Ltd"),
    ("Bob", "ACME  ltd"),
    ("Cat", "acme ltd "),
    ("Dan", "Acme Ltd"),
    ("Eve", "北京星辰科技"),
    ("Fay", "北京星辰科技"),
    ("Gus", None),
    ("Hal", "   "),
    ("Ivy", "Ａｃｍｅ Ltd"),  # full-width letters: the same name after NFKC
]


def old_database(path: Path) -> None:
    """A database made by the schema before m200, holding customers with company text."""
    db = connect(path, migrate=False)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for migration in all_migrations():
        if migration.__name__ == "m200_companies":
            break
        with db.transaction():
            migration(db)
            db.execute(
                "INSERT INTO _migrations VALUES (?, '2025-01-01T00:00:00Z')",
                (migration.__name__,),
            )
            count = db.scalar("SELECT count(*) FROM _migrations")
            db.execute(f"PRAGMA user_version = {int(count)}")
    with db.transaction():
        for i, (name, company) in enumerate(CUSTOMERS, start=1):
            db.execute(
                "INSERT INTO customers(id, name, company, created_at, updated_at)"
                " VALUES (?, ?, ?, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')",
                (i, name, company),
            )
    db.close()


@pytest.mark.nodb  # builds its own pre-m200 database at CRM_DB
def test_company_text_becomes_companies(cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    old_database(db_path)
    companies = cli.json("company", "list", "--limit", "0")
    # Acme: 5 spellings of one name ("Acme Ltd" is the one most customers used).
    assert sorted((c["name"], c["contacts"]) for c in companies) == [
        ("Acme Ltd", 5),
        ("北京星辰科技", 2),
    ]
    acme = next(c["id"] for c in companies if c["name"] == "Acme Ltd")
    linked = {c["name"]: c["company_id"] for c in cli.json("customer", "list", "--limit", "0")}
    assert [n for n, cid in linked.items() if cid == acme] == ["Ann", "Bob", "Cat", "Dan", "Ivy"]
    assert linked["Gus"] is None and linked["Hal"] is None
    # Findable as before: the text stays, search and --company still match it.
    shown = cli.json("customer", "show", "2")
    assert shown["company"] == "ACME  ltd" and shown["company_id"] == acme
    found = {c["name"] for c in cli.json("customer", "list", "--company", "acme", "--limit", "0")}
    assert found == {"Ann", "Bob", "Cat", "Dan"}  # (the full-width spelling never matched this)
    found = {c["name"] for c in cli.json("customer", "list", "--search", "星辰科技")}
    assert found == {"Eve", "Fay"}
    # And the new ways find all five.
    segment = cli.json("customer", "list", "--segment", "company='ACME LTD'", "--limit", "0")
    assert {c["name"] for c in segment} == {"Ann", "Bob", "Cat", "Dan", "Ivy"}
    assert {c["name"] for c in cli.json("deal", "list")} == set()
