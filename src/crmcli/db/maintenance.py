"""Database maintenance: status, migrations, backup / restore, vacuum and optimize.

Backups are made online with `VACUUM INTO` (a consistent snapshot taken inside one read
transaction while other processes keep writing; never a file copy, which could catch a
half-written page or miss the WAL). The copy is created empty with mode 0600 first, then
verified by opening it and running every check of `crm db check` on it. Restores copy the
backup into the live database with SQLite's backup API under the write lock, after setting
the current contents aside as another backup; if the restored database fails the check, the
previous contents are copied back.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmcli.core import faults
from crmcli.core.errors import Conflict, CrmError, InvalidInput, NotFound, OperationalError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crmcli.db.database import Database

BACKUP_DIR = "backups"
# The copy apply_migrations made last in this process (shown by `crm db migrate`).
last_pre_migration_backup: Path | None = None


# -- files -----------------------------------------------------------------------------
def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def backup_dir(db_path: Path) -> Path:
    return db_path.parent / BACKUP_DIR


def _stamp() -> str:
    from crmcli.core.clock import now

    return now().strftime("%Y%m%dT%H%M%SZ")


def _unique_name(folder: Path, base: str) -> Path:
    candidate = folder / f"{base}.db"
    n = 1
    while candidate.exists():
        candidate = folder / f"{base}-{n}.db"
        n += 1
    return candidate


@contextmanager
def _private_umask() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


# -- status ----------------------------------------------------------------------------
def user_tables(db: Database) -> list[str]:
    """Ordinary tables (not SQLite's, not FTS shadow tables)."""
    from crmcli.db.database import fts_tables

    fts = [name for name, _ in fts_tables(db)]
    names = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
        )
    ]
    return [n for n in names if not any(n.startswith(f + "_") for f in fts)]


def row_counts(db: Database) -> list[dict[str, Any]]:
    return [
        {"table": t, "rows": int(db.scalar(f'SELECT count(*) FROM "{t}"'))} for t in user_tables(db)
    ]


def applied_migrations(db: Database) -> list[dict[str, Any]]:
    from crmcli.db.database import table_exists

    if not table_exists(db, "_migrations"):
        return []
    return db.query("SELECT name, applied_at FROM _migrations ORDER BY rowid")


def pending_migrations(db: Database) -> list[str]:
    """Names of known migrations not yet applied (read-only)."""
    from crmcli.db.migrations import all_migrations

    done = {m["name"] for m in applied_migrations(db)}
    return [m.__name__ for m in all_migrations() if m.__name__ not in done]


def last_backup(db: Database) -> dict[str, Any] | None:
    """The newest backup recorded in the audit log, else the newest file in backups/."""
    from crmcli.db.audit import parse_details
    from crmcli.db.database import table_exists

    if table_exists(db, "audit_log"):
        row = db.query_one(
            "SELECT at, actor, details FROM audit_log WHERE action = 'backup'"
            " AND entity = 'database' ORDER BY id DESC LIMIT 1"
        )
        if row:
            details = parse_details(row["details"]) or {}
            path = Path(str(details.get("path", "")))
            return {
                "path": str(path),
                "backup_at": row["at"],
                "actor": row["actor"],
                "exists": path.is_file(),
            }
    if db.path is not None:
        files = sorted(
            backup_dir(db.path).glob(f"{db.path.stem}-*.db"), key=lambda p: p.stat().st_mtime_ns
        )
        if files:
            return {"path": str(files[-1]), "backup_at": None, "actor": None, "exists": True}
    return None


def status(db: Database) -> dict[str, Any]:
    path = db.path
    return {
        "path": str(path) if path else ":memory:",
        "size_bytes": file_size(path) if path else 0,
        "wal_bytes": file_size(sidecar(path, "-wal")) if path else 0,
        "schema_version": int(db.scalar("PRAGMA user_version")),
        "journal_mode": db.scalar("PRAGMA journal_mode"),
        "page_size": int(db.scalar("PRAGMA page_size")),
        "free_pages": int(db.scalar("PRAGMA freelist_count")),
        "sqlite_version": sqlite3.sqlite_version,
        "migrations_applied": [m["name"] for m in applied_migrations(db)],
        "migrations_pending": pending_migrations(db),
        "last_backup": last_backup(db),
        "audit_key": audit_key_status(db),
        "tables": row_counts(db),
    }


def audit_key_status(db: Database) -> dict[str, Any] | None:
    """Where this database's audit key and head are kept (outside the database)."""
    from crmcli.core import keys
    from crmcli.db import audit

    db_id, key = audit.seal(db)
    if db_id is None:
        return None
    return {
        "db_id": db_id,
        "path": str(keys.key_path(db_id)),
        "present": key is not None,
        "head_path": str(keys.head_path(db_id)),
        "backup": "copy the key file somewhere safe; without it `crm audit verify` fails",
    }


# -- migrations ------------------------------------------------------------------------
def migrate(db: Database, dry_run: bool = False) -> dict[str, Any]:
    """Apply pending migrations (with a backup first when the file already has data)."""
    from crmcli.db import audit

    todo = pending_migrations(db)
    if dry_run or not todo:
        return {"pending": todo, "applied": [], "dry_run": dry_run, "backup": None}
    global last_pre_migration_backup
    last_pre_migration_backup = None
    applied = migrate_with_backup(db)
    saved = str(last_pre_migration_backup) if last_pre_migration_backup else None
    audit.record(db, "migrate", "database", None, {"applied": applied, "backup": saved})
    return {"pending": [], "applied": applied, "dry_run": False, "backup": saved}


def migrate_with_backup(db: Database) -> list[str]:
    """Apply pending migrations; an existing database gets a verified copy first."""
    from crmcli.db.migrations import apply_migrations, is_new, pending

    todo = pending(db)
    if todo and db.path is not None and not is_new(db):
        backup_before_migration(db, [m.__name__ for m in todo])
    return apply_migrations(db)


def backup_before_migration(db: Database, names: list[str]) -> Path | None:
    """A verified copy of an existing file before a migration changes it."""
    if db.path is None:
        return None
    target = _unique_name(backup_dir(db.path), f"{db.path.stem}-pre-migrate-{_stamp()}")
    _snapshot(db, target)
    problems = _verify_copy(target, structural_only=True)
    if problems:
        target.unlink(missing_ok=True)
        raise OperationalError(
            f"the backup before migrating ({', '.join(names)}) failed its check: {problems[0]['detail']}"
        )
    global last_pre_migration_backup
    last_pre_migration_backup = target
    return target


# -- backup ----------------------------------------------------------------------------
def _snapshot(db: Database, target: Path) -> dict[str, Any]:
    """A verified copy at `target`: VACUUM INTO a private temporary file beside it (an
    unguessable `.NAME.crm-PID-RANDOM.tmp`, 0600), checked (integrity_check; row counts
    equal to the database's when nothing was written meanwhile), then renamed into place and
    recorded in the folder's manifest.json. A kill at any point leaves only a temporary
    file, which the next backup (or `crm db check --repair`) removes; never a file named
    like a backup that is not one."""
    from crmcli.core import files

    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise files.describe(exc, folder, "create") from None
    files.sweep(folder)
    try:
        fd, tmp = files.private_temp(target)
        os.close(fd)
    except OSError as exc:
        raise files.describe(exc, target) from None
    try:
        before = db.scalar("PRAGMA data_version")
        counts = {r["table"]: r["rows"] for r in row_counts(db)}
        try:
            with _private_umask():
                db.execute("VACUUM INTO ?", (str(tmp),))
        except sqlite3.Error as exc:
            raise OperationalError(f"backup to {target} failed: {exc}") from None
        unchanged = db.scalar("PRAGMA data_version") == before
        os.chmod(tmp, 0o600)
        faults.point("backup.copied")
        problems = _verify_copy(tmp, structural_only=True)
        copied: dict[str, int] = {}
        if not problems:
            with open_plain(tmp, readonly=True) as copy:
                copied = {r["table"]: r["rows"] for r in row_counts(copy)}
            if unchanged and copied != counts:
                problems = [{"check": "rows", "detail": f"row counts differ: {copied} != {counts}"}]
        if problems:
            raise OperationalError(f"the backup failed its check: {problems[0]['detail']}")
        faults.point("backup.verified")
        if target.exists():
            raise Conflict(f"{target} already exists; choose another name")
        os.rename(tmp, target)
        tmp = None  # type: ignore[assignment]
    except OSError as exc:
        raise files.describe(exc, target) from None
    finally:
        if tmp is not None:
            for p in (tmp, sidecar(tmp, "-journal"), sidecar(tmp, "-wal"), sidecar(tmp, "-shm")):
                p.unlink(missing_ok=True)
    entry = {
        "file": target.name,
        "at": _now_iso(),
        "bytes": file_size(target),
        "rows": sum(copied.values()),
        "verified": True,
    }
    _manifest_add(folder, entry)
    return entry


MANIFEST = "manifest.json"


def _now_iso() -> str:
    from crmcli.core.clock import now_iso

    return now_iso()


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """The verified backups recorded in folder/manifest.json, by file name."""
    import json

    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    items = data.get("backups") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return {}
    return {str(i["file"]): i for i in items if isinstance(i, dict) and "file" in i}


def _manifest_add(folder: Path, entry: dict[str, Any], drop: list[str] | None = None) -> None:
    import json

    from crmcli.core import files

    known = read_manifest(folder)
    if entry:
        known[entry["file"]] = entry
    for name in drop or []:
        known.pop(name, None)
    known = {k: v for k, v in known.items() if (folder / k).is_file()}
    text = json.dumps({"backups": sorted(known.values(), key=lambda e: e["file"])}, indent=2)
    # The backup itself is made and verified; a manifest that cannot be written now is
    # rebuilt by the next backup.
    with contextlib.suppress(CrmError):
        files.write_file(folder / MANIFEST, text + "\n")


def _is_verified(path: Path, manifest: dict[str, dict[str, Any]]) -> bool:
    """In the manifest, or (a backup made before manifests) a sound SQLite file."""
    if path.name in manifest:
        return True
    if file_size(path) == 0:
        return False
    try:
        with open_plain(path, readonly=True) as copy:
            return copy.scalar("PRAGMA quick_check") == "ok"
    except sqlite3.DatabaseError:
        return False


@contextmanager
def open_plain(path: Path, readonly: bool = False) -> Iterator[Database]:
    """Open an existing SQLite file without migrating it (for copies and backups).

    readonly: for a file we must not change (a backup being restored from)."""
    from crmcli.db.database import Database

    with _private_umask():
        if readonly:
            target = path.resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(target, isolation_level=None, timeout=30, uri=True)
        else:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
    database = Database(conn, path, "crm")
    # A copy (a backup, a staging file): its audit chain is checked, but not against the
    # head kept for the live database (the copy is older by design).
    database.memo["audit_copy"] = True
    try:
        yield database
    finally:
        conn.close()


# Problems that make a file unusable, whatever --force says (the others are about the data).
STRUCTURAL = ("open", "integrity_check", "migrations")


def _verify_copy(path: Path, structural_only: bool = False) -> list[dict[str, Any]]:
    """Open a copy and check it; [] when it is sound.

    structural_only: SQLite's integrity_check and the schema version (a backup must be a
    faithful, usable copy even of a database whose data breaks an invariant)."""
    from crmcli.db.checks import check_integrity, check_migrations, run_checks

    try:
        with open_plain(path) as copy:
            if structural_only:
                return check_integrity(copy) or check_migrations(copy)
            return run_checks(copy)
    except sqlite3.DatabaseError as exc:
        return [{"check": "open", "detail": f"{path} is not a usable SQLite database: {exc}"}]


def _blocking(problems: list[dict[str, Any]], force: bool) -> list[dict[str, Any]]:
    return [p for p in problems if not force or p["check"] in STRUCTURAL]


def rotate(folder: Path, stem: str, keep: int) -> list[str]:
    """Keep the newest `keep` verified backups named `<stem>-*.db` in folder; delete the
    older ones, and files named like a backup that are not a sound copy (a 0-byte or
    half-written file from a killed backup of an older version)."""
    manifest = read_manifest(folder)
    files = sorted(
        folder.glob(f"{stem}-*.db"), key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True
    )
    verified = [p for p in files if _is_verified(p, manifest)]
    bad = [p for p in files if p not in verified]
    removed = []
    for old in verified[keep:] + bad:
        for p in (old, sidecar(old, "-wal"), sidecar(old, "-shm"), sidecar(old, "-journal")):
            p.unlink(missing_ok=True)
        removed.append(str(old))
    _manifest_add(folder, {}, drop=[Path(r).name for r in removed])
    return removed


def backup(db: Database, dest: Path | None = None, keep: int | None = None) -> dict[str, Any]:
    """Make a verified backup. dest: a file, a folder, or None for backups/ beside the DB."""
    from crmcli.db import audit

    if keep is not None and keep < 1:
        raise InvalidInput("--keep must be at least 1")
    if db.path is None:
        raise InvalidInput("an in-memory database cannot be backed up")
    stem = db.path.stem
    if dest is not None:
        # Recorded for `db status`, which may run from another directory: store it absolute.
        dest = dest.expanduser().absolute()
        if keep is not None and not dest.exists() and not dest.suffix:
            # --keep rotates a folder of backups: a new name without an extension is one.
            dest.mkdir(parents=True, mode=0o700)
    if dest is None or dest.is_dir():
        folder = dest or backup_dir(db.path)
        target = _unique_name(folder, f"{stem}-{_stamp()}")
    else:
        if keep is not None:
            raise InvalidInput("--keep needs a folder (or the default), not a file name")
        target = dest
        if target.exists():
            raise Conflict(f"{target} already exists; choose another name")
    if target.resolve() == db.path.resolve():
        raise InvalidInput("the backup cannot overwrite the database itself")
    _snapshot(db, target)
    removed = rotate(target.parent, stem, keep) if keep is not None else []
    result = {
        "path": str(target),
        "size_bytes": file_size(target),
        "verified": True,
        "rotated_out": removed,
    }
    try:
        audit.record(db, "backup", "database", None, {"path": str(target), "rotated_out": removed})
    except (CrmError, sqlite3.Error) as exc:  # a read-only database: the backup is made
        result["audit_recorded"] = False
        result["note"] = f"not recorded in the audit log: {getattr(exc, 'message', exc)}"
    return result


# -- restore ---------------------------------------------------------------------------
def _copy_into(source: Database, target: Database) -> None:
    """SQLite backup API: every page of source into target, under target's write lock."""
    source.backup_to(target)


def restore(
    db: Database,
    backup_path: Path,
    confirm: Callable[[dict[str, Any]], None],
    force: bool = False,
) -> dict[str, Any]:
    """Replace the database's contents by a verified backup; the old contents go aside.

    A backup that fails `crm db check` is refused; with force, one whose only problems are
    in the data (not its structure) is restored anyway."""
    from crmcli.db import audit
    from crmcli.db.checks import run_checks
    from crmcli.db.migrations import apply_migrations

    if db.path is None:
        raise InvalidInput("cannot restore into an in-memory database")
    if not backup_path.is_file():
        raise NotFound(f"no backup file {backup_path}")
    if backup_path.resolve() == db.path.resolve():
        raise InvalidInput("the backup is the database itself")
    folder = backup_dir(db.path)
    from crmcli.core import files

    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        files.sweep(folder)  # staging copies a killed restore left (personal data)
        fd, staging = files.private_temp(folder / f"{db.path.stem}-restoring.db")
        os.close(fd)
    except OSError as exc:
        raise files.describe(exc, folder) from None
    try:
        try:
            with open_plain(backup_path, readonly=True) as source, open_plain(staging) as stage:
                _copy_into(source, stage)  # a stable snapshot of the file we will check
        except sqlite3.DatabaseError as exc:
            raise OperationalError(
                f"{backup_path} is not a usable SQLite database: {exc}"
            ) from None
        problems = _blocking(_verify_copy(staging), force)
        if problems:
            listed = "; ".join(p["detail"] for p in problems[:3])
            raise OperationalError(
                f"{backup_path} fails the check, nothing restored: {listed}",
                hint=None
                if any(p["check"] in STRUCTURAL for p in problems)
                else "--force restores a backup whose problems are only in the data",
            )
        with open_plain(staging) as stage:
            _match_page_size(stage, int(db.scalar("PRAGMA page_size")))
            summary = {
                "backup": str(backup_path),
                "schema_version": int(stage.scalar("PRAGMA user_version")),
                "tables": row_counts(stage),
            }
        confirm(summary)
        aside = _unique_name(folder, f"{db.path.stem}-pre-restore-{_stamp()}")
        try:
            _snapshot(db, aside)
        except OperationalError:
            raise OperationalError(
                "could not set the current database aside; nothing restored"
            ) from None
        current_id, _key = audit.seal(db)
        current_rows = int(db.scalar("SELECT count(*) FROM audit_log") or 0)
        faults.point("restore.staged")
        try:
            with open_plain(staging) as stage:
                _copy_into(stage, db)
            audit.forget_seal(db)
            apply_migrations(db)
            audit.adopt(db, current_id, current_rows)
            db.memo["audit_copy"] = True  # the head outside still names the replaced contents
            try:
                problems = _blocking(run_checks(db), force)
            finally:
                db.memo.pop("audit_copy", None)
            if problems:
                raise OperationalError(
                    f"restored database fails the check: {problems[0]['detail']}"
                )
        except (sqlite3.Error, OperationalError) as exc:
            with open_plain(aside) as previous:
                _copy_into(previous, db)
            audit.forget_seal(db)
            raise OperationalError(f"{exc}; the previous database was put back") from None
    finally:
        for p in (
            staging,
            sidecar(staging, "-wal"),
            sidecar(staging, "-shm"),
            sidecar(staging, "-journal"),
        ):
            p.unlink(missing_ok=True)
    with db.transaction():
        audit.record(
            db, "restore", "database", None, {"from": str(backup_path), "aside": str(aside)}
        )
        audit.record_head(db, force=True)  # the restored chain is the one to follow now
    db.checkpoint()
    return {**summary, "restored": True, "previous_kept_at": str(aside)}


def _match_page_size(stage: Database, page_size: int) -> None:
    """Rebuild a staging copy with the live database's page size: SQLite's backup API
    cannot change the page size of a database in WAL mode ("attempt to write a readonly
    database" for a backup with 8192-byte pages)."""
    if int(stage.scalar("PRAGMA page_size")) == page_size:
        return
    stage.execute("PRAGMA journal_mode = DELETE")
    stage.execute(f"PRAGMA page_size = {int(page_size)}")
    stage.execute("VACUUM")


# -- vacuum / optimize -----------------------------------------------------------------
def vacuum(db: Database) -> dict[str, Any]:
    from crmcli.db import audit

    before = file_size(db.path) + file_size(sidecar(db.path, "-wal")) if db.path else 0
    db.execute("VACUUM")
    cp = db.checkpoint()
    after = file_size(db.path) if db.path else 0
    audit.record(db, "vacuum", "database", None, {"bytes_before": before, "bytes_after": after})
    return {"bytes_before": before, "bytes_after": after, "wal_truncated": cp["busy"] == 0}


def optimize(db: Database) -> dict[str, Any]:
    """Finish the index and search index builds an import left (db/indexes.py,
    db/search_index.py), refresh the query planner's statistics and merge FTS index
    segments."""
    from crmcli.db import audit, indexes, search_index
    from crmcli.db.database import fts_tables

    indexes.build_deferred(db)
    search_index.build_pending(db)
    db.execute("PRAGMA optimize = 0x10002")
    merged = []
    with db.transaction():
        for name, _sql in fts_tables(db):
            db.execute(f'INSERT INTO "{name}"("{name}") VALUES (\'optimize\')')
            merged.append(name)
        audit.record(db, "optimize", "database", None, {"fts_optimized": merged})
    cp = db.checkpoint()
    return {"analyzed": True, "fts_optimized": merged, "wal_truncated": cp["busy"] == 0}
