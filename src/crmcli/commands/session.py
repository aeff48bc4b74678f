"""What every command does first: its database, its output format, its "now".

Kept free of typer (and of everything heavy) so that the hot commands run by
crmcli.launch without building the CLI import them too; commands.options re-exports them
for every other command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path

from crmcli.core import clock, config
from crmcli.db import Database, connect
from crmcli.output.emit import FORMATS, check_format


def out_format(fmt: str | None, allowed: tuple[str, ...] = FORMATS) -> str:
    """The command's --format, else the global one, else table."""
    return check_format(fmt or config.settings.format, allowed)


def db_path(db: Path | None) -> Path:
    return config.resolve_db_path(db or config.settings.db_path)


@contextmanager
def open_db(
    db: Path | None = None, *, write: bool = False, migrate: bool = True
) -> Iterator[Database]:
    """Open the database named by --db (command or global), CRM_DB or the default file.

    A read command (the default) never creates anything: a missing file exits 3. A command
    that writes (`write=True`) creates a missing file, never a missing folder, and says so
    on stderr; inside dry_run() it runs against an empty scratch database instead and
    creates nothing. An SQLite file that is not a crm database is refused untouched (exit 1).
    """
    path = db_path(db)
    if write and _DRY_RUN.get() and not path.exists() and not path.is_symlink():
        with _scratch_db(path) as database:
            yield database
        return
    database = connect(
        path,
        actor=config.resolve_actor(config.settings.actor),
        migrate=migrate,
        create=write,
    )
    if database.created:
        from crmcli.output import emit as output

        output.info(f"Created a new crm database at {path}")
    database.on_wait = _say_waiting
    try:
        yield database
    finally:
        database.close()


_DRY_RUN: ContextVar[bool] = ContextVar("crm_dry_run", default=False)


@contextmanager
def dry_run(on: bool) -> Iterator[None]:
    """A --dry-run command runs in here: open_db(write=True) then creates no database."""
    token = _DRY_RUN.set(on)
    try:
        yield
    finally:
        _DRY_RUN.reset(token)


@contextmanager
def _scratch_db(path: Path) -> Iterator[Database]:
    """A dry run against a database file that does not exist: a fresh schema in SQLite's
    private temporary database, its audit key in a temporary folder (CRM_KEY_DIR), so the
    user sees what the first import would do and nothing is left on disk."""
    import os
    import tempfile

    from crmcli.output import emit as output

    with tempfile.TemporaryDirectory(prefix="crm-dry-run-") as keys:
        saved = os.environ.get("CRM_KEY_DIR")
        os.environ["CRM_KEY_DIR"] = keys
        try:
            database = connect("", actor=config.resolve_actor(config.settings.actor))
            output.info(f"No database at {path}: a dry run against an empty one (none is created)")
            try:
                yield database
            finally:
                database.close()
        finally:
            if saved is None:
                os.environ.pop("CRM_KEY_DIR", None)
            else:
                os.environ["CRM_KEY_DIR"] = saved


def _say_waiting() -> None:
    from crmcli.output import emit as output

    output.info(
        "Waiting for another crm process to finish writing (an import's merge holds the"
        " database for as long as it writes)..."
    )


def pin_as_of(as_of: str | None) -> None:
    """The one way "now" gets pinned: --as-of, else CRM_NOW, else the real clock.

    The root callback calls it for every invocation. CRM_NOW is parsed against the real
    clock (a relative CRM_NOW such as "-1d" needs one), so everything below reads one
    fixed instant.
    """
    import os
    from datetime import UTC, datetime

    clock.pin(None)
    value, field = (as_of, "--as-of") if as_of else (os.environ.get("CRM_NOW"), "CRM_NOW")
    if value:
        stamp = _utc_stamp(value)
        if stamp is not None:
            clock.pin(stamp)
            return
        from crmcli.core.validate import parse_datetime

        clock.pin(parse_datetime(value, field=field, base=datetime.now(UTC)))


def _utc_stamp(value: str) -> datetime | None:
    """`2026-11-01T00:00:00Z` (what scripts pass as --as-of) read as parse_datetime's ISO
    path reads it, without importing core.validate; None for any other form."""
    from datetime import UTC, datetime

    text = value.strip()
    if len(text) != 20 or text[4] + text[7] + text[10] + text[13] + text[16] + text[19] != "--T::Z":
        return None
    if not (text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]).isdigit():
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def apply_as_of(as_of: str | None) -> None:
    """A command-level --as-of overrides the global one."""
    if as_of:
        pin_as_of(as_of)


def start(
    db: Path | None,
    format: str | None,
    actor: str | None,
    as_of: str | None,
    quiet: bool,
    lang: str | None,
    follow_symlinks: bool,
) -> None:
    """What the root options (`crm --db ... --lang ... COMMAND`) set for the command that
    runs; a CrmError for a bad --lang or --as-of (printed without its hint)."""
    config.settings.db_path = db
    config.settings.format = format
    config.settings.actor = actor
    config.settings.quiet = quiet
    for view in ("columns", "wide", "lang"):
        config.settings.extra.pop(view, None)
    if lang is not None:
        if lang.strip().lower().replace("_", "-") not in ("en", "zh", "zh-cn", "zh-hans"):
            from crmcli.core.errors import InvalidInput

            raise InvalidInput(f"unknown --lang {lang!r}; choose en or zh")
        config.settings.extra["lang"] = lang.strip().lower()
    config.settings.extra["follow_symlinks"] = follow_symlinks
    pin_as_of(as_of)
