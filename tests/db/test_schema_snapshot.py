"""A blank database migrated to the newest schema matches the committed snapshot.

The snapshot (tests/db/schema.sql) is every table, index, trigger and view that the
migrations create, in a stable order. After adding a migration, regenerate it with
`CRM_UPDATE_SCHEMA=1 .venv/bin/python -m pytest tests/db/test_schema_snapshot.py` and review the diff:
it is the schema change your migration makes.
"""

from __future__ import annotations

import os
from pathlib import Path

from crmcli.db import connect
from crmcli.db.migrations import all_migrations

SNAPSHOT = Path(__file__).with_name("schema.sql")


def schema_text(path: Path) -> str:
    db = connect(path)
    try:
        rows = db.query(
            "SELECT type, name, sql FROM sqlite_master"
            " WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            " ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1"
            " WHEN 'view' THEN 2 ELSE 3 END, name"
        )
    finally:
        db.close()
    return "".join(f"-- {r['type']} {r['name']}\n{r['sql'].strip()};\n\n" for r in rows)


def test_blank_database_schema_matches_the_snapshot(tmp_path: Path) -> None:
    text = schema_text(tmp_path / "blank.db")
    if os.environ.get("CRM_UPDATE_SCHEMA"):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.read_text(encoding="utf-8") == text, (
        "the schema changed: regenerate tests/db/schema.sql (see this file's docstring)"
    )


def test_migrations_are_recorded_in_file_order(tmp_path: Path) -> None:
    db = connect(tmp_path / "order.db")
    try:
        applied = [r["name"] for r in db.query("SELECT name FROM _migrations ORDER BY rowid")]
        version = db.scalar("PRAGMA user_version")
    finally:
        db.close()
    assert applied == [m.__name__ for m in all_migrations()]
    assert version == len(applied)


def test_pending_only_reads(tmp_path: Path) -> None:
    """`pending()` on a database that has never been migrated creates nothing."""
    from crmcli.db.migrations import pending

    db = connect(tmp_path / "bare.db", migrate=False)
    try:
        assert [m.__name__ for m in pending(db)] == [m.__name__ for m in all_migrations()]
        assert db.scalar("SELECT count(*) FROM sqlite_master") == 0
    finally:
        db.close()
