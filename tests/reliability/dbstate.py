"""Helpers for reliability tests: a content hash and a full snapshot of a database file."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any


def tables(conn: sqlite3.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
        )
    ]


def snapshot(path: Path, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every row of every table (sorted), plus the schema."""
    conn = sqlite3.connect(str(path))
    try:
        out: dict[str, Any] = {
            "schema": sorted(
                (r[0], r[1] or "") for r in conn.execute("SELECT name, sql FROM sqlite_master")
            )
        }
        for table in tables(conn):
            if table in skip:
                continue
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def content_hash(path: Path) -> str:
    return hashlib.sha256(repr(snapshot(path)).encode("utf-8")).hexdigest()
