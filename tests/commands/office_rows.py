"""The stored communications as the mail and calendar case tests read them (a plain
sqlite3 connection of their own, closed again)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def _rows(db_path: Path, sql: str) -> list[dict[str, Any]]:
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql)]
    finally:
        con.close()


def meetings(db_path: Path) -> list[dict[str, Any]]:
    """Every communication, in time order (then by key)."""
    return _rows(db_path, "SELECT * FROM communications ORDER BY occurred_at, external_id")


def comms(db_path: Path) -> dict[str, dict[str, Any]]:
    """Every communication by its external_id."""
    return {r["external_id"]: r for r in _rows(db_path, "SELECT * FROM communications")}
