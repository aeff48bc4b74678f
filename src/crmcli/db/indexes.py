"""The one index suspender of bulk writes (#12, #16): drop a table's secondary indexes for
a big import, build them once at the end.

Building an index once from the whole table is much cheaper than growing it row by row at
random places, but the rebuild covers the whole table: worth it only when the import is
large compared with the table (the callers decide). Call inside the import's write
transaction: DDL is transactional, so a crash, a kill or a rollback restores the indexes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from crmcli.core import faults
from crmcli.db.database import Database


def _secondary(db: Database, table: str, keep: Iterable[str]) -> list[tuple[str, str]]:
    """(name, sql) of the indexes of `table` a bulk write may drop: not UNIQUE (they enforce
    the data), not on an expression, not on a column of `keep`."""
    keep = set(keep)
    out = []
    for name, sql in db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
        " AND sql IS NOT NULL",
        (table,),
    ).fetchall():
        unique = db.scalar(
            'SELECT "unique" FROM pragma_index_list(?) WHERE name = ?', (table, name)
        )
        columns = {r[0] for r in db.execute("SELECT name FROM pragma_index_info(?)", (name,))}
        if unique or None in columns or columns & keep:
            continue
        out.append((name, sql))
    return out


def _drop(db: Database, name: str) -> None:
    quoted = name.replace('"', '""')
    db.execute(f'DROP INDEX "{quoted}"')


def suspend_secondary_indexes(db: Database, table: str, keep: Iterable[str] = ()) -> list[str]:
    """Drop the indexes of `table` a bulk import does not read; returns their SQL for
    resume_indexes(). Kept: UNIQUE indexes (they enforce the data), expression indexes,
    and any index on a column of `keep` (the columns the import looks rows up by)."""
    saved = []
    for name, sql in _secondary(db, table, keep):
        _drop(db, name)
        saved.append(sql)
    return saved


def suspend_unique_indexes(db: Database, table: str) -> list[str]:
    """Drop the UNIQUE indexes of `table` that can be dropped (not a constraint of the
    table itself) for a bulk insert that has checked uniqueness already; returns their SQL:
    resume_indexes() must build them again IN THE SAME TRANSACTION (the build enforces
    the constraint: a duplicate fails it and the transaction rolls back). Sorting a million
    keys once is much cheaper than a million inserts at random places in the index."""
    saved = []
    for name, sql in db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
        " AND sql IS NOT NULL",
        (table,),
    ).fetchall():
        if db.scalar('SELECT "unique" FROM pragma_index_list(?) WHERE name = ?', (table, name)):
            _drop(db, name)
            saved.append(sql)
    return saved


def defer_unique_indexes(
    db: Database, table: str, saved: list[str], guarded: Iterable[str]
) -> None:
    """After a bulk insert, instead of resume_indexes(): the UNIQUE indexes of `saved` whose
    names are in `guarded` are built after the commit by build_deferred(), first of all,
    in a short transaction each; the others again now. Only for indexes whose uniqueness
    a trigger enforces while they are listed in deferred_indexes (the customers' email and
    external_id: migration m331), so the constraint holds at every moment."""
    guarded = set(guarded)
    for sql in saved:
        name = _index_name(sql)
        if name in guarded:
            db.execute(
                "INSERT OR REPLACE INTO deferred_indexes(name, tbl, sql) VALUES (?, ?, ?)",
                (name, table, sql),
            )
        else:
            db.execute(sql)


def _index_name(sql: str) -> str:
    found = re.match(
        r'\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([^\s"(]+)"?',
        sql,
        flags=re.IGNORECASE,
    )
    if found is None:
        raise ValueError(f"not a CREATE INDEX statement: {sql[:60]}")
    return found.group(1)


def defer_secondary_indexes(db: Database, table: str, keep: Iterable[str] = ()) -> int:
    """Like suspend_secondary_indexes(), but the indexes are built again after the commit
    by build_deferred(), one short transaction each, instead of under the write lock: they
    only speed queries up (UNIQUE ones stay: they enforce the data), and a query without
    them is slower, never wrong. Recorded in deferred_indexes in the same transaction, so a
    kill after the commit leaves them for the next build_deferred(). Returns how many."""
    dropped = _secondary(db, table, keep)
    for name, sql in dropped:
        _drop(db, name)
        db.execute(
            "INSERT OR REPLACE INTO deferred_indexes(name, tbl, sql) VALUES (?, ?, ?)",
            (name, table, sql),
        )
    return len(dropped)


def build_deferred(db: Database, pause: float = 0.1) -> list[str]:
    """Build the indexes defer_secondary_indexes() dropped, each in its own write
    transaction (pausing `pause` s between them so a waiting writer gets in); returns their
    names. Idempotent: an index that exists already (rebuilt, or made by a migration) is
    just taken off the list."""
    if not db.scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deferred_indexes'"
    ):
        return []
    cache = db.scalar("PRAGMA main.cache_size")
    # CREATE INDEX sorts in memory up to the page cache's size: the connection's 64 MiB
    # made building the customers' ten indexes of a million rows 1.3 s (20%) slower than
    # 8 MiB, measured (benchmarks/results/import-1m-session7.md); restored after
    db.execute(f"PRAGMA main.cache_size = -{SORT_CACHE_KIB}")
    try:
        return _build_each(db, pause)
    finally:
        db.execute(f"PRAGMA main.cache_size = {int(cache)}")


SORT_CACHE_KIB = 8 * 1024


def _build_each(db: Database, pause: float) -> list[str]:
    built: list[str] = []
    while True:
        with db.transaction():
            row = db.execute(
                "SELECT name, sql FROM deferred_indexes"
                " ORDER BY sql NOT LIKE 'CREATE UNIQUE%', name LIMIT 1"  # (UNIQUE: guarded)
            ).fetchone()
            if row is None:
                return built
            name, sql = str(row[0]), str(row[1])
            exists = db.scalar(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
            )
            if not exists:
                db.execute(_if_not_exists(sql))
            db.execute("DELETE FROM deferred_indexes WHERE name = ?", (name,))
        built.append(name)
        faults.point("indexes.deferred_built")
        time.sleep(pause)


def _if_not_exists(sql: str) -> str:
    return re.sub(
        r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?!IF\s+NOT\s+EXISTS)",
        lambda m: f"CREATE {m.group(1) or ''}INDEX IF NOT EXISTS ",
        sql,
        count=1,
        flags=re.IGNORECASE,
    )


def deferred_count(db: Database) -> int:
    """How many indexes wait for build_deferred() (0 before migration m281 too)."""
    if not db.scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deferred_indexes'"
    ):
        return 0
    return int(db.scalar("SELECT count(*) FROM deferred_indexes"))


def resume_indexes(db: Database, saved: list[str]) -> None:
    """Build again the indexes suspend_secondary_indexes() dropped."""
    for sql in saved:
        db.execute(sql)
