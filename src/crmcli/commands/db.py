"""`crm db ...`: Database maintenance: status, migrate, check, backup, restore, vacuum."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from crmcli.commands.options import (
    DbOption,
    FormatOption,
    confirm_or_refuse,
    db_path,
    open_db,
    out_format,
)
from crmcli.db import Database
from crmcli.db import maintenance as maint
from crmcli.output import emit as output

app = typer.Typer(
    help="Database maintenance: status, migrate, check, backup, restore, vacuum.",
    no_args_is_help=True,
)


@contextmanager
def _open_unmigrated(db: Path | None) -> Iterator[Database]:
    """Open without applying migrations (status and migrate --dry-run change nothing)."""
    with open_db(db, migrate=False) as database:
        yield database


@app.command("init")
def init(
    path: Annotated[
        Path | None,
        typer.Argument(help="The database file (default: --db, $CRM_DB or the default file)."),
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Create an empty crm database (the folder must exist); on an existing crm database
    it only applies pending migrations. Read commands never create a database: this does.

    Example: crm db init ~/crm/shop.db
    """
    from crmcli.db import probe

    fmt = out_format(format)
    target = db_path(path or db)
    existed = target.exists() and bool(probe(target)["tables"])
    with open_db(target, write=True) as database:
        info = maint.status(database)
    if existed:
        output.info(f"{target} is already a crm database (schema {info['schema_version']})")
    elif not database.created:
        output.info(f"Initialised a crm database in the empty file {target}")
    if fmt != "table":
        output.emit_object({"path": str(target), "created": not existed, **info}, fmt)


@app.command("status")
def status(db: DbOption = None, format: FormatOption = None) -> None:
    """Path, size, schema version, migrations, row counts, WAL size and the last backup.

    Example: crm db status --format json
    """
    fmt = out_format(format)
    with _open_unmigrated(db) as database:
        info = maint.status(database)
    output.emit_object(info, fmt, title="database")


@app.command("migrate")
def migrate(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list the migrations that would run.")
    ] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Apply pending schema migrations (a verified backup is taken first).

    Migrations also run whenever a command opens the database; this command makes it
    explicit and shows what ran.

    Example: crm db migrate --dry-run
    """
    fmt = out_format(format)
    with _open_unmigrated(db) as database:
        result = maint.migrate(database, dry_run=dry_run)
    names = result["pending"] if dry_run else result["applied"]
    if result["backup"]:
        output.info(f"Backed up the database to {result['backup']} before migrating.")
    if fmt in ("json", "jsonl"):
        output.emit_json(result)
    elif not names:
        output.info("The database is up to date.")
    else:
        output.emit_rows([{"migration": n} for n in names], fmt, columns=["migration"])


@app.command("check")
def check(
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="First finish interrupted work: pending erasure purges, temporary files"
            " killed runs left (backups, restores, exports, outbox).",
        ),
    ] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Integrity, foreign keys and the CRM's invariants; exit 1 listing any problem.

    Checks: SQLite integrity_check and foreign_key_check, schema version, customers' emails
    (lower-case, unique) and phones (E.164), stored time format, ticket timestamps in order,
    resolved tickets with resolved_at, campaign variants, the audit hash chain, FTS indexes.

    Example: crm db check --repair
    """
    from crmcli.db.checks import run_checks

    fmt = out_format(format)
    with open_db(db) as database:
        if repair:
            from crmcli.customers.purge import repair as finish_interrupted

            done = finish_interrupted(database)
            output.info(
                f"Repair: {done['purges']} pending purge(s) finished,"
                f" {len(done['leftovers_removed'])} leftover temporary file(s) removed."
            )
        problems = run_checks(database)
    if problems or fmt != "table":
        output.emit_rows(problems, fmt, columns=["check", "detail"])
    if problems:
        output.error(f"{len(problems)} problem(s) found")
        raise typer.Exit(1)
    output.info("OK: no problems found.")


BackupDest = Annotated[
    Path | None,
    typer.Argument(
        help="Backup file or folder (default: backups/ beside the database, timestamped).",
        show_default=False,
    ),
]


@app.command("backup")
def backup(
    dest: BackupDest = None,
    keep: Annotated[
        int | None,
        typer.Option("--keep", help="Keep only the newest N backups in the folder.", min=1),
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Make an online, consistent, verified backup (mode 0600); rotate with --keep.

    Example: crm db backup --keep 7
    """
    fmt = out_format(format)
    with open_db(db) as database:
        result = maint.backup(database, dest, keep)
    _emit(result, fmt, f"Backup written to {result['path']}")


@app.command("restore")
def restore(
    backup_file: Annotated[Path, typer.Argument(help="The backup file to restore.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Restore even if the backup's data breaks an invariant (never a corrupt file).",
        ),
    ] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Replace the database by a backup that passes `crm db check`.

    The current contents are kept aside as a backup (pre-restore) and put back if the
    restored database fails its check.

    Example: crm db restore backups/crm-20250101T020000Z.db --yes
    """
    fmt = out_format(format)

    def confirm(summary: dict[str, Any]) -> None:
        rows = sum(t["rows"] for t in summary["tables"])
        confirm_or_refuse(
            f"Replace the database by {backup_file} ({rows} rows, schema {summary['schema_version']})?",
            yes,
        )

    with open_db(db, write=True) as database:
        result = maint.restore(database, backup_file, confirm, force=force)
    _emit(
        result,
        fmt,
        f"Restored {backup_file}; the previous database is at {result['previous_kept_at']}",
    )


@app.command("vacuum")
def vacuum(db: DbOption = None, format: FormatOption = None) -> None:
    """Rebuild the file to reclaim free pages, then truncate the WAL.

    Example: crm db vacuum
    """
    fmt = out_format(format)
    with open_db(db) as database:
        result = maint.vacuum(database)
    _emit(result, fmt, f"Vacuumed: {result['bytes_before']} -> {result['bytes_after']} bytes")


@app.command("optimize")
def optimize(db: DbOption = None, format: FormatOption = None) -> None:
    """Refresh query-planner statistics and merge full-text index segments.

    Example: crm db optimize
    """
    fmt = out_format(format)
    with open_db(db) as database:
        result = maint.optimize(database)
    _emit(result, fmt, "Optimized: statistics refreshed, FTS indexes merged.")


def _emit(result: dict[str, Any], fmt: str, message: str) -> None:
    if fmt == "table":
        output.info(message)
    else:
        output.emit_object(result, fmt)
