"""The database layer: connection, transactions, migrations and the repository functions.

This package is the only place that writes SQL. Submodules hold one entity's repository
functions each (customers, communications, tickets, ...); they take a `Database` and plain
values, return dicts / lists of dicts, and raise the domain exceptions of `crmcli.core.errors`.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from crmcli.core.errors import OperationalError
from crmcli.db.database import (
    BUSY_TIMEOUT_MS,
    Database,
    backend_error,
    integrity_error_to_conflict,
)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "Database",
    "backend_error",
    "connect",
    "integrity_error_to_conflict",
]


def _create_private_file(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite touches it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        os.close(fd)


def _disk_full(folder: Path) -> bool:
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < 64 * 1024


def _folder_writable(folder: Path) -> bool:
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".crm-probe-"):
            return True
    except OSError:
        return False


def _open_in_read_only_folder(target: Path, exc: sqlite3.DatabaseError) -> sqlite3.Connection:
    """A database in a folder we cannot write (SQLite cannot create its -shm file there):
    opened read-only, so reads work and writes say the database is read-only. Anything
    else that fails to open is not a usable SQLite database."""
    folder = target.parent if str(target.parent) else Path(".")
    if _disk_full(folder):
        raise OperationalError(
            f"the disk holding {target} is full: free some space (nothing was changed)"
        ) from exc
    if "unable to open" not in str(exc) or _folder_writable(folder):
        raise OperationalError(f"{target} is not a usable SQLite database: {exc}") from exc
    wal = target.with_name(target.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise OperationalError(
            f"the folder {folder} is read-only and {wal.name} holds changes not yet in the"
            " database file: make the folder writable to open it"
        ) from exc
    uri = target.resolve().as_uri() + "?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def connect(path: Path | str, actor: str = "unknown", migrate: bool = True) -> Database:
    """Open (creating if needed) the database at `path`, apply pragmas and migrations."""
    target = Path(path)
    if str(target) != ":memory:":
        if target.exists() and target.is_dir():
            raise OperationalError(f"database path is a directory: {target}")
        try:
            _create_private_file(target)
        except OSError as exc:
            raise OperationalError(f"cannot create database {target}: {exc.strerror}") from exc
    old_umask = os.umask(0o077)  # -wal / -shm files are private too
    try:
        conn = sqlite3.connect(
            str(target),
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed (erasure)
            conn.execute("PRAGMA cache_size = -65536")
        except sqlite3.DatabaseError as exc:
            conn.close()
            conn = _open_in_read_only_folder(target, exc)
        db = Database(conn, None if str(target) == ":memory:" else target, actor)
        if migrate:
            from crmcli.db.maintenance import migrate_with_backup

            migrate_with_backup(db)
    finally:
        os.umask(old_umask)
    return db
