"""The one index suspender of bulk writes (#12, #16): drop a table's secondary indexes for
a big import, build them once at the end.

Building an index once from the whole table is much cheaper than growing it row by row at
random places, but the rebuild covers the whole table: worth it only when the import is
large compared with the table (the callers decide). Call inside the import's write
transaction: DDL is transactional, so a crash, a kill or a rollback restores the indexes.
"""

from __future__ import annotations

from collections.abc import Iterable

from crmcli.db.database import Database


def suspend_secondary_indexes(db: Database, table: str, keep: Iterable[str] = ()) -> list[str]:
    """Drop the indexes of `table` a bulk import does not read; returns their SQL for
    resume_indexes(). Kept: UNIQUE indexes (they enforce the data), expression indexes,
    and any index on a column of `keep` (the columns the import looks rows up by)."""
    keep = set(keep)
    saved = []
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
        quoted = name.replace('"', '""')
        db.execute(f'DROP INDEX "{quoted}"')
        saved.append(sql)
    return saved


def resume_indexes(db: Database, saved: list[str]) -> None:
    """Build again the indexes suspend_secondary_indexes() dropped."""
    for sql in saved:
        db.execute(sql)
