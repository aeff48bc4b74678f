"""The root `crm` command: global options, command groups, and errors -> exit codes."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator, MutableMapping
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from crmcli import __version__, config
from crmcli.errors import EXIT_FAILURE, EXIT_USAGE, CrmError


def _fail(message: str, code: int, hint: str | None = None) -> typer.Exit:
    sys.stderr.write(f"Error: {message}\n")
    if hint:
        sys.stderr.write(f"Hint: {hint}\n")
    return typer.Exit(code)


class CrmGroup(TyperGroup):
    """Maps the domain exceptions to one-line errors and DESIGN.md's exit codes.

    Its sub-commands are loaded lazily (see GROUPS below).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        loaders = {
            name: partial(load, self.rich_markup_mode, app.pretty_exceptions_short)
            for name, load in _lazy_loaders.items()
        }
        self.commands = LazyCommands(self.commands, loaders)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CrmError as exc:
            if os.environ.get("CRM_DEBUG"):
                raise
            raise _fail(exc.message, exc.exit_code, exc.hint) from None
        except sqlite3.OperationalError as exc:
            if os.environ.get("CRM_DEBUG"):
                raise
            raise _fail(f"database: {exc}", EXIT_FAILURE) from None
        except sqlite3.DatabaseError as exc:
            if os.environ.get("CRM_DEBUG"):
                raise
            raise _fail(f"database: {exc}", EXIT_FAILURE, "run `crm db check`") from None
        except OverflowError as exc:
            if os.environ.get("CRM_DEBUG"):
                raise
            # e.g. an id beyond SQLite's 64-bit integers: the input is invalid, not the CRM.
            raise _fail(f"number out of range: {exc}", EXIT_USAGE) from None
        except KeyboardInterrupt:
            raise _fail("interrupted; nothing was changed by the unfinished step", 130) from None
        except BrokenPipeError:
            raise typer.Exit(EXIT_FAILURE) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
            from typer._click.exceptions import ClickException

            if isinstance(exc, ClickException) or os.environ.get("CRM_DEBUG"):
                raise
            raise _fail(
                f"unexpected {type(exc).__name__}: {exc}",
                EXIT_FAILURE,
                "set CRM_DEBUG=1 for a traceback",
            ) from None


app = typer.Typer(
    cls=CrmGroup,
    help="crm: a command-line CRM on SQLite. Customers, communications, tickets, campaigns, orders and reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crm {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            help="Database file. Default: $CRM_DB, else the user data directory.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Output format: table, json, jsonl, csv, markdown (reports: also html, xlsx).",
            show_default=False,
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            help="Who is acting, for the audit log. Default: $CRM_ACTOR or the login name.",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Pin 'now' to this time (also $CRM_NOW): reports show the data as at then.",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No messages on stderr unless something fails.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """crm: customers, communications, tickets, campaigns, orders and reports in one SQLite file.

    Example: crm customer add --name "张伟" --phone 13800138000 --tag vip
    """
    config.settings.db_path = db
    config.settings.format = format
    config.settings.actor = actor
    config.settings.quiet = quiet
    config.set_now(None)
    if as_of:
        from crmcli.validate import parse_datetime

        try:
            config.set_now(parse_datetime(as_of, field="--as-of"))
        except CrmError as exc:
            raise _fail(exc.message, exc.exit_code) from None


# Command groups are loaded lazily: `crm customer show 1` imports the customer modules only,
# so a simple command does not pay for the imports of every other group (issue #8). Each
# entry: group name -> (module holding `app`, modules that add commands to that same app).
# A module that adds commands to a group defined elsewhere goes in that group's tuple.
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "customer": (
        "crmcli.commands.customer",
        (
            "crmcli.commands.customer_privacy",
            "crmcli.commands.customer_comm",
            "crmcli.commands.customer_history",
        ),
    ),
    "comm": ("crmcli.commands.comm", ("crmcli.commands.comm_office",)),
    "ticket": ("crmcli.commands.ticket", ()),
    "campaign": ("crmcli.commands.campaign", ()),
    "order": ("crmcli.commands.order", ()),
    "report": (
        "crmcli.commands.report",
        (
            "crmcli.commands.report_comm",
            "crmcli.commands.report_overview",
            "crmcli.commands.report_tickets",
            "crmcli.commands.report_value",
        ),
    ),
    "db": ("crmcli.commands.db", ()),
    "export": ("crmcli.commands.export", ()),
    "audit": ("crmcli.commands.audit", ()),
}
# Commands directly under `crm`: name -> (module, function).
ROOT_COMMANDS: dict[str, tuple[str, str]] = {"demo": ("crmcli.commands.demo", "demo")}


def _import(module: str) -> Any:
    # The import statement machinery (not importlib.import_module), so that
    # `python -X importtime` lists these modules too.
    __import__(module)
    return sys.modules[module]


def _load_group(name: str, rich_markup_mode: Any, pretty_exceptions_short: bool) -> Any:
    """Import one group's modules and build its click group, as `add_typer` would.

    The group's own commands are built lazily too: turning a command into a click command
    inspects its signature and annotations (~10 ms each), so `crm customer show` builds
    `show` only, not the dozen other customer commands.
    """
    from typer.main import get_command_from_info, get_command_name, get_group_from_info
    from typer.models import TyperInfo

    module, extensions = GROUPS[name]
    sub_app = _import(module).app
    for extension in extensions:
        _import(extension)
    infos = list(sub_app.registered_commands)
    sub_app.registered_commands = []
    try:
        group = get_group_from_info(
            TyperInfo(sub_app, name=name),
            pretty_exceptions_short=pretty_exceptions_short,
            rich_markup_mode=rich_markup_mode,
            suggest_commands=True,
        )
    finally:
        sub_app.registered_commands = infos
    loaders = {
        info.name or get_command_name(info.callback.__name__): partial(  # type: ignore[union-attr]
            get_command_from_info,
            info,
            pretty_exceptions_short=pretty_exceptions_short,
            rich_markup_mode=rich_markup_mode,
        )
        for info in infos
    }
    group.commands = LazyCommands(group.commands, loaders)
    return group


def _load_root_command(name: str, rich_markup_mode: Any, pretty_exceptions_short: bool) -> Any:
    from typer.main import get_command_from_info
    from typer.models import CommandInfo

    module, function = ROOT_COMMANDS[name]
    callback = getattr(_import(module), function)
    return get_command_from_info(
        CommandInfo(name=name, callback=callback),
        pretty_exceptions_short=pretty_exceptions_short,
        rich_markup_mode=rich_markup_mode,
    )


class LazyCommands(MutableMapping[str, Any]):
    """The root group's sub-commands, each built on first access.

    Looking one name up (what running a command does) loads that group alone; iterating
    the items (help, completion, the help-text test) loads them all. Keys never load.
    """

    def __init__(self, loaded: MutableMapping[str, Any], loaders: dict[str, Any]) -> None:
        self._loaded = dict(loaded)
        self._loaders = loaders

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in self._loaders:
                raise KeyError(name)
            self._loaded[name] = self._loaders[name]()
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        found = self._loaded.pop(name, None) is not None
        found = self._loaders.pop(name, None) is not None or found
        if not found:
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        yield from self._loaders
        yield from (n for n in self._loaded if n not in self._loaders)

    def __len__(self) -> int:
        return len(set(self._loaders) | set(self._loaded))

    def __contains__(self, name: object) -> bool:
        return name in self._loaders or name in self._loaded


def _register() -> None:
    """Register every group and root command of GROUPS / ROOT_COMMANDS (lazily loaded)."""
    _lazy_loaders.clear()
    for name in GROUPS:
        _lazy_loaders[name] = partial(_load_group, name)
    for name in ROOT_COMMANDS:
        _lazy_loaders[name] = partial(_load_root_command, name)


_lazy_loaders: dict[str, Any] = {}
_register()


def main() -> None:
    app()
