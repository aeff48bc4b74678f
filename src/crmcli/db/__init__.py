"""The database layer: connection, transactions, migrations and the repository functions.

This package is the only place that writes SQL. Submodules hold one entity's repository
functions each (customers, communications, tickets, ...); they take a `Database` and plain
values, return dicts / lists of dicts, and raise the domain exceptions of `crmcli.core.errors`.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

from crmcli.core.errors import NotFound, OperationalError
from crmcli.db.database import (
    BUSY_TIMEOUT_MS,
    Database,
    backend_error,
    integrity_error_to_conflict,
)

APPLICATION_ID = 0x43524D31  # "CRM1": `PRAGMA application_id` of every crmcli database

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_MS",
    "Database",
    "backend_error",
    "connect",
    "integrity_error_to_conflict",
    "is_crm",
    "probe",
]


def _create_private_file(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite touches it (never a folder)."""
    if not path.parent.is_dir():
        raise OperationalError(
            f"cannot create database {path}: folder {path.parent} does not exist"
        )
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


def probe(path: Path) -> dict[str, Any]:
    """What the SQLite file at `path` holds, read without changing a byte of it (read-only
    URI: no WAL switch, no journal, no schema): {"application_id", "user_version",
    "tables": set of names, "migrations": names in _migrations}."""
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute("PRAGMA application_id").fetchone()
    except sqlite3.DatabaseError as exc:
        # A WAL database in a folder we cannot write can't make its -shm file: say so (or
        # open it immutable) instead of calling it "not a crm database".
        conn = _open_in_read_only_folder(path, exc)
    try:
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        names: list[str] = []
        if "_migrations" in tables:
            names = [r[0] for r in conn.execute("SELECT name FROM _migrations")]
    except sqlite3.DatabaseError as exc:
        raise OperationalError(
            f"{path} is not a crm database (not a usable SQLite file: {exc}); nothing was changed"
        ) from exc
    finally:
        conn.close()
    return {
        "application_id": app_id,
        "user_version": version,
        "tables": tables,
        "migrations": names,
    }


def is_crm(info: dict[str, Any]) -> bool:
    """A crmcli database: our application id, or (made before the id) our _migrations."""
    if info["application_id"] == APPLICATION_ID:
        return True
    return info["application_id"] == 0 and "_migrations" in info["tables"]


def _newer_schema(info: dict[str, Any]) -> str | None:
    """Why this crmcli must not write the database, when its schema is newer; else None."""
    from crmcli.db.migrations import all_migrations

    known = [m.__name__ for m in all_migrations()]
    unknown = sorted(set(info["migrations"]) - set(known))
    theirs = max(info["user_version"], len(info["migrations"]))
    if not unknown and theirs <= len(known):
        return None
    return (
        f"the database's schema (version {theirs}"
        + (f", with {', '.join(unknown[:3])}" if unknown else "")
        + f") is newer than this crmcli's (version {len(known)}): it can be read but not"
        " written; upgrade crmcli to change it"
    )


def connect(
    path: Path | str, actor: str = "unknown", migrate: bool = True, create: bool = True
) -> Database:
    """Open the crm database at `path`, apply pragmas and migrations.

    A missing file is created (never a missing folder) when `create`, else NotFound. An
    SQLite file that is not a crm database (other tables and no crmcli application id) is
    refused before anything touches it. A schema newer than this crmcli opens read-only
    (`read_only_reason`; every transaction refuses, SQLite's query_only too). `path` ""
    is SQLite's private temporary database (spilled to an unlinked file, gone on close).
    """
    scratch = str(path) == ""
    target = Path(path)
    memory = scratch or str(target) == ":memory:"
    created = False
    read_only: str | None = None
    if not memory:
        if target.is_dir():
            raise OperationalError(f"database path is a directory: {target}")
        if not target.exists():
            if not create:
                raise NotFound(f"no crm database at {target}; `crm db init {target}` creates one")
            try:
                _create_private_file(target)
            except FileExistsError:
                pass  # another process made it just now
            except OSError as exc:
                raise OperationalError(f"cannot create database {target}: {exc.strerror}") from exc
            created = True
        else:
            info = probe(target)
            if info["tables"] and not is_crm(info):
                raise OperationalError(
                    f"{target} is not a crm database (it holds other tables and no crmcli"
                    " application id); nothing was changed"
                )
            if not info["tables"] and not create:
                raise NotFound(
                    f"no crm database at {target} (the file is empty); "
                    f"`crm db init {target}` creates one"
                )
            if info["tables"]:
                read_only = _newer_schema(info)
    old_umask = os.umask(0o077)  # -wal / -shm files are private too
    try:
        conn = sqlite3.connect(
            "" if scratch else str(target),
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if read_only is None:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed (erasure)
            conn.execute("PRAGMA cache_size = -65536")
            if read_only is not None:
                conn.execute("PRAGMA query_only = ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            conn = _open_in_read_only_folder(target, exc)
        db = Database(conn, None if memory else target, actor)
        db.created = created
        db.read_only_reason = read_only
        if migrate and read_only is None:
            from crmcli.db.maintenance import migrate_with_backup

            migrate_with_backup(db)
    finally:
        os.umask(old_umask)
    return db
