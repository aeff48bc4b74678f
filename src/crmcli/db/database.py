"""The Database seam: one open database, its transactions, and the engine's errors.

Repository modules (everything else in crmcli.db) take a `Database` and plain values, and
return dicts, lists and ints. No sqlite3 object, cursor or exception leaves this package:
a future PostgreSQL backend implements the same methods (ADR in docs/design.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crmcli.core.errors import Conflict, CrmError, InvalidInput, OperationalError

BUSY_TIMEOUT_MS = 30_000
# A write transaction that finds another one running waits silently this long (short
# transactions of other commands), then calls Database.on_wait (the command says on stderr
# what it waits for) and keeps waiting up to WRITE_WAIT_MS: the merge of a big import holds
# the write lock for as long as it writes (#12: a writer during an import never fails).
QUIET_WAIT_MS = 3_000
WRITE_WAIT_MS = 60 * 60 * 1000


class Database:
    """One open SQLite database with the CRM's schema applied.

    The connection runs in autocommit mode; `transaction()` opens an explicit
    `BEGIN IMMEDIATE` transaction so that concurrent writers queue (up to WRITE_WAIT_MS,
    long enough for a big import's merge) instead of failing half-way with "database is
    locked".
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None, actor: str = "unknown"):
        self._conn = conn
        # the search guard's case folding of non-ASCII terms (db/customers.py)
        conn.create_function("crm_fold", 1, _fold, deterministic=True)
        self.path = path
        self.actor = actor
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []
        # Per-connection values repository code may keep (the audit seal: db id and key).
        self.memo: dict[str, Any] = {}
        self.created = False  # connect() made the file
        # Set when the schema is newer than this crmcli: reads work, every write refuses.
        self.read_only_reason: str | None = None
        # Called once when a write transaction has to wait for another process's (see
        # QUIET_WAIT_MS): the command layer says so on stderr.
        self.on_wait: Callable[[], None] | None = None

    # -- queries ---------------------------------------------------------------------
    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> None:
        """One statement over many parameter rows (bulk writes)."""
        self._conn.executemany(sql, rows)

    def insert_id(self, sql: str, params: Any = ()) -> int:
        """Run an INSERT and return the new row's id."""
        return int(self._conn.execute(sql, params).lastrowid or 0)

    def changes(self, sql: str, params: Any = ()) -> int:
        """Run an UPDATE or DELETE and return how many rows it changed."""
        return int(self._conn.execute(sql, params).rowcount)

    def stream(
        self, sql: str, params: Any = (), size: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """A big SELECT in chunks of plain tuples, without holding all rows in memory."""
        cursor = self._conn.execute(sql, params)
        while True:
            chunk = cursor.fetchmany(size)
            if not chunk:
                return
            yield chunk

    def checkpoint(self) -> dict[str, int]:
        """Copy the WAL into the database file and truncate it (best effort under readers)."""
        busy, log, done = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return {"busy": int(busy), "wal_frames": int(log), "checkpointed": int(done)}

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def backup_to(self, target: Database) -> None:
        """Copy this database page by page into `target` (SQLite's online backup)."""
        self._conn.backup(target._conn)

    def trace(self, callback: Any) -> None:
        """Call `callback(sql)` for every statement run (benchmarks count statements)."""
        self._conn.set_trace_callback(callback)

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Run a SELECT and return its rows as dicts."""
        cur = self._conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def query_one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        cur = self._conn.execute(sql, params)
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # -- transactions ----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (Ctrl-C included).

        Nested calls join the outer transaction. A database whose schema is newer than this
        crmcli (`read_only_reason`) refuses every write transaction.
        """
        if self.read_only_reason:
            raise OperationalError(self.read_only_reason)
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        try:
            self._begin_immediate()
        except sqlite3.OperationalError as exc:
            raise OperationalError(f"cannot start a write transaction: {exc}") from exc
        self._depth = 1
        try:
            # Load a schema another process changed (an import swaps a trigger) now, under
            # the write lock: otherwise SQLite 3.40 can fail the first re-prepared INSERT of
            # the transaction with "no such table" (tests/reliability/test_concurrency.py).
            self._conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            yield self
        except BaseException:
            self._depth = 0
            self._after_commit.clear()
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        else:
            self._depth = 0
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._after_commit.clear()
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise OperationalError(f"commit failed: {exc}") from exc
            self._run_after_commit()

    @contextmanager
    def read_snapshot(self) -> Iterator[Database]:
        """A read transaction (BEGIN DEFERRED): every read sees the database as it was at
        the first one, and no lock keeps other processes from writing. Writes to TEMP tables
        are fine; a write to the database itself would take the write lock (callers must not).
        COMMIT at the end, ROLLBACK on an exception."""
        if self._depth or self._conn.in_transaction:
            raise OperationalError("a read snapshot cannot be nested in a transaction")
        self._conn.execute("BEGIN DEFERRED")
        try:
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # the snapshot
            yield self
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    def _begin_immediate(self) -> None:
        """BEGIN IMMEDIATE, queueing behind another process's write transaction: silently
        for QUIET_WAIT_MS, then (after on_wait) up to WRITE_WAIT_MS in all."""
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {QUIET_WAIT_MS}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.on_wait is not None:
            self.on_wait()
        conn.execute(f"PRAGMA busy_timeout = {WRITE_WAIT_MS - QUIET_WAIT_MS}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the current transaction has committed (now, outside one);
        dropped if it rolls back. For side effects outside the database (the audit head)."""
        if self._depth:
            self._after_commit.append(action)
        else:
            action()

    def _run_after_commit(self) -> None:
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    def script(self, sql: str) -> None:
        """Run several statements inside the current transaction.

        (sqlite3's executescript() would COMMIT first, breaking migration atomicity.)
        """
        buffer = ""
        for line in sql.splitlines(keepends=True):
            buffer += line
            if sqlite3.complete_statement(buffer):
                statement = buffer.strip()
                if statement:
                    self._conn.execute(statement)
                buffer = ""
        if buffer.strip():
            self._conn.execute(buffer)

    def close(self) -> None:
        self._conn.close()


def backend_error(exc: BaseException) -> CrmError | None:
    """The one place a database engine's exception becomes a domain error (cli.py maps it
    to an exit code); None for an exception that is not the engine's."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        if "readonly database" in text or "read-only" in text:
            return OperationalError(
                "the database is read-only (its file or folder cannot be written): nothing"
                " was changed"
            )
        if "disk is full" in text or "disk I/O error" in text:
            return OperationalError(
                "the disk is full or failing (SQLite: " + text + "): nothing was changed"
            )
        if "pattern too complex" in text:
            return InvalidInput("a search or pattern value is too long (at most 50,000 bytes)")
        if "parser stack overflow" in text or "too large (maximum depth" in text:
            return InvalidInput("the expression is too deeply nested or too long")
        return OperationalError(f"database: {exc}")
    if isinstance(exc, sqlite3.DatabaseError):
        return OperationalError(f"database: {exc}", hint="run `crm db check`")
    return None


def integrity_error_to_conflict(exc: sqlite3.IntegrityError, what: str) -> Conflict:
    """Turn a UNIQUE/CHECK failure into a Conflict that names the offending column."""
    text = str(exc)
    if "UNIQUE" in text:
        column = text.rsplit(".", 1)[-1]
        return Conflict(f"{what}: another record already has this {column}")
    return Conflict(f"{what}: {text}")


# -- schema introspection (engine-specific: a PostgreSQL backend reads its catalog) ------
def table_exists(db: Database, name: str) -> bool:
    return bool(
        db.scalar(
            "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (name,)
        )
    )


def columns(db: Database, table: str) -> list[str]:
    return [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]


def fts_tables(db: Database) -> list[tuple[str, str]]:
    """(name, CREATE sql) of every FTS5 table."""
    return [
        (r[0], r[1] or "")
        for r in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            " AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts5%' ORDER BY name"
        )
    ]


def _fold(value: str | None) -> str | None:
    """crm_fold(text): lower case beyond ASCII (SQLite's LIKE folds ASCII only), as the
    trigram search index folds it."""
    return value.lower() if isinstance(value, str) else value
