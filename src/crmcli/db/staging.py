"""The staging area of an import (#12, the write lock): the rows an import has read,
normalized and validated, held in a TEMP table of the import's own connection until the
write transaction merges them.

Staging takes no lock on the database: other processes write freely while a big file is
read. The TEMP table lives in SQLite's temporary database, switched to a file for the
import (`temp_store = FILE`): SQLite creates that file in the system temp folder and
unlinks it the moment it is opened, so nothing of it is left behind whatever ends the
process (an exception, Ctrl-C, SIGKILL), and memory stays bounded by its page cache.

Each staged row is a body of JSON-able values (dicts, lists, str, int, float, None) with an
optional group key: rows sharing a key (the lines of one order) come back together, groups
in the file order of their first row. An entity with a set-based merge (the order import)
names typed columns instead (open(columns)): its rows are stored in them, no body, and its
merge reads the table with SQL.

Bodies and cells are stored as MessagePack (msgspec), not JSON: the same values come back
(tuples as lists, str keys as str keys) at a fifth of the cost per row (#12 speed), and,
unlike marshal or pickle, decoding never builds code objects (no code from data, #14).
SQL that reads `cells` hands them to cells_of().
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from crmcli.db.database import Database

_TABLE = "temp.import_staged"
_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder().decode
TEMP_CACHE_KIB = 16 * 1024  # the temp database's page cache; the rest stays on disk
# secure_delete (on for the connection: the pages an erasure frees in the database file are
# zeroed) is off in the import's temp database: it holds only what the file being imported
# says, lives in a file unlinked when it is opened, and goes with the connection or when
# close() switches temp_store back (that starts a new temp database, secure_delete on
# again). Zeroing the freed pages of a million staged rows cost about 2 s of CPU.
TEMP_NOT_ZEROED = "PRAGMA temp.secure_delete = OFF"


class Staging:
    """open() / add() per batch / seal() / batches() / close(); close() always runs."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.rows = 0
        self.grouped = False
        self.columns: tuple[str, ...] = ()
        self._cursor: Any = None

    table = _TABLE

    def open(self, columns: tuple[str, ...] = ()) -> None:
        """Create the staging table; with `columns`, rows are (key, line, cells, values
        of these columns) and are stored in typed columns of those names."""
        self.columns = columns
        extra = "".join(f", {name}" for name in columns)
        db = self.db
        db.execute("PRAGMA temp_store = FILE")
        db.execute(f"PRAGMA temp.cache_size = -{TEMP_CACHE_KIB}")
        db.execute(TEMP_NOT_ZEROED)
        db.execute(f"DROP TABLE IF EXISTS {_TABLE}")
        db.execute(
            f"CREATE TABLE {_TABLE}(seq INTEGER PRIMARY KEY, grp_key TEXT, grp INTEGER,"
            " line INTEGER NOT NULL, cells BLOB NOT NULL, body BLOB NOT NULL DEFAULT ''"
            f"{extra})"
        )

    def add(self, rows: list[tuple[str | None, int, list[str], Any]]) -> None:
        """Stage (group key or None, line, original cells, JSON-able body) rows in one
        temp-only transaction."""
        if not rows:
            return
        dumps = _ENCODE
        self.grouped = self.grouped or any(row[0] is not None for row in rows)
        db = self.db
        if self.columns:
            names = ", ".join(self.columns)
            marks = ", ?" * len(self.columns)
            sql = f"INSERT INTO {_TABLE}(grp_key, line, cells, {names}) VALUES (?, ?, ?{marks})"
            values = [(key, line, dumps(cells), *body) for key, line, cells, body in rows]
        else:
            sql = f"INSERT INTO {_TABLE}(grp_key, line, cells, body) VALUES (?, ?, ?, ?)"
            values = [(key, line, dumps(cells), dumps(body)) for key, line, cells, body in rows]
        db.execute("BEGIN")  # deferred, and it only writes the temp database: no lock on main
        try:
            db.executemany(sql, values)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self.rows += len(rows)

    def seal(self) -> None:
        """After the last add(): number the groups (the seq of each group's first row)."""
        if not self.grouped:
            return
        db = self.db
        db.execute("BEGIN")
        try:
            db.execute(f"CREATE INDEX {_TABLE}_key ON import_staged(grp_key, seq)")
            db.execute(
                "UPDATE import_staged SET grp = CASE WHEN grp_key IS NULL THEN seq ELSE"
                " (SELECT min(s.seq) FROM import_staged s WHERE s.grp_key = import_staged.grp_key)"
                " END"
            )
            db.execute(f"CREATE INDEX {_TABLE}_grp ON import_staged(grp, seq)")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def batches(self, size: int) -> Iterator[list[tuple[int, bytes, Any]]]:
        """(line, cells as stored bytes, body) of the staged rows in merge order, about
        `size` at a time; a group never spans two batches. The cells stay stored bytes: only
        a row that is rejected or warned about needs them (cells_of() reads them)."""
        loads = _DECODE
        order = "grp, seq" if self.grouped else "seq"
        batch: list[tuple[int, bytes, Any]] = []
        last: int | None = None
        self._cursor = cursor = self.db.execute(
            f"SELECT coalesce(grp, seq), line, cells, body FROM {_TABLE} ORDER BY {order}"
        )
        while chunk := cursor.fetchmany(size):
            for grp, line, cells, body in chunk:
                if len(batch) >= size and grp != last:
                    yield batch
                    batch = []
                batch.append((line, cells, loads(body)))
                last = grp
        if batch:
            yield batch

    @staticmethod
    def cells_of(stored: bytes) -> list[str]:
        return _DECODE(stored)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Drop the staging table (also after an error: the merge has rolled back)."""
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None
        db = self.db
        if db.in_transaction:
            return  # only when a caller's transaction is still open: the table goes with it
        db.execute(f"DROP TABLE IF EXISTS {_TABLE}")
        db.execute("PRAGMA temp_store = MEMORY")
