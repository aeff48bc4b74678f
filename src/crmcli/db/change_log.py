"""Bulk writes to change_log in place of its per-row insert triggers (migration m070).

An import inserting hundreds of thousands of rows runs the `AFTER INSERT` trigger of each
table once per row. Inside the import's transaction it can instead drop those triggers
(suspend()), write the very rows they would have written with one INSERT ... SELECT per
batch (log_inserts()), and put them back (resume()). DDL is transactional, so a crash, a
kill or a rollback restores the triggers with everything else. Users: the customer import
(insert triggers of customers and customer_tags) and the order import (insert and update
triggers of orders, whose upserts it knows the outcome of).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence

from crmcli.db.database import Database


def suspend(db: Database, triggers: Sequence[str]) -> list[str]:
    """Drop the named change_log triggers; returns their SQL for resume().

    Returns [] (and drops nothing) unless every one of them exists, so a caller logging
    by hand never doubles a trigger's rows: log only when the result is non-empty.
    """
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        " AND name IN (SELECT value FROM json_each(?)) ORDER BY name",
        (json.dumps(list(triggers)),),
    ).fetchall()
    if len(rows) != len(set(triggers)):
        return []
    for name, _sql in rows:
        quoted = name.replace('"', '""')
        db.execute(f'DROP TRIGGER "{quoted}"')
    return [sql for _name, sql in rows]


def resume(db: Database, saved: list[str]) -> None:
    for sql in saved:
        db.execute(sql)


def log_inserts(db: Database, entity: str, keys: list[int]) -> None:
    """change_log rows (entity, key, 0) for `keys`, in that order: what the insert and update
    triggers of a single-key table write, one row per inserted or updated row."""
    if keys:
        db.execute(
            "INSERT INTO change_log(entity, key1, key2)"
            " SELECT ?, value, 0 FROM json_each(?) ORDER BY key",
            (entity, json.dumps(keys)),
        )


def inserted_pair_owners(pairs: Sequence[tuple[int, Hashable]]) -> list[int]:
    """The owner id of each (id, value) pair an INSERT OR IGNORE into a table keyed by the
    pair really inserts, when none of those pairs existed before: the first occurrence of
    each pair (repeats are ignored and fire no trigger)."""
    seen: set[tuple[int, Hashable]] = set()
    owners = []
    for pair in pairs:
        if pair not in seen:
            seen.add(pair)
            owners.append(pair[0])
    return owners
