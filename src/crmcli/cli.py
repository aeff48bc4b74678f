"""The root `crm` command: global options, command groups, and errors -> exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from crmcli import __version__, _lazy
from crmcli.commands.failures import Failure, error_line
from crmcli.core.errors import EXIT_FAILURE, EXIT_USAGE, CrmError


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
        self.commands = _lazy.LazyCommands(
            self.commands, _lazy.loaders(self.rich_markup_mode, app.pretty_exceptions_short)
        )

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.parent is None:
            for n, arg in enumerate(args, 1):
                try:
                    arg.encode("utf-8")
                except UnicodeEncodeError:
                    raise _fail(
                        f"argument {n} is not valid UTF-8 text (undecodable bytes)", EXIT_USAGE
                    ) from None
        return super().parse_args(ctx, args)  # type: ignore[no-any-return]

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _fail("interrupted; nothing was changed by the unfinished step", 130) from None
        except BrokenPipeError:
            raise typer.Exit(EXIT_FAILURE) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
            failure = _error_line(exc)
            if failure is None:
                raise
            raise _fail(*failure) from None


def _error_line(exc: Exception) -> Failure | None:
    """The one-line error for exc (commands.failures), or None when it must propagate as
    it is: click's own exceptions (click reports them), and anything with CRM_DEBUG set."""
    from typer._click.exceptions import ClickException

    if isinstance(exc, ClickException):
        return None
    return error_line(exc)


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
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="Labels in tables, markdown, HTML and XLSX: en or zh (also $CRM_LANG).",
            show_default=False,
        ),
    ] = None,
    follow_symlinks: Annotated[
        bool,
        typer.Option(
            "--follow-symlinks",
            help="Files a command writes may be symbolic links (written through; refused by"
            " default).",
        ),
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
    from crmcli.commands.session import start

    try:
        start(db, format, actor, as_of, quiet, lang, follow_symlinks)
    except CrmError as exc:
        raise _fail(exc.message, exc.exit_code) from None


# Command groups: name -> the package or module whose `app` holds its commands. Each group
# is imported only when it runs (crmcli._lazy), so a simple command starts fast.
GROUPS: dict[str, str] = {
    "customer": "crmcli.commands.customer",
    "company": "crmcli.commands.company",
    "deal": "crmcli.commands.deal",
    "field": "crmcli.commands.field",
    "comm": "crmcli.commands.comm",
    "ticket": "crmcli.commands.ticket",
    "campaign": "crmcli.commands.campaign",
    "order": "crmcli.commands.order",
    "report": "crmcli.commands.report",
    "db": "crmcli.commands.db",
    "export": "crmcli.commands.export",
    "audit": "crmcli.commands.audit",
}
# Commands directly under `crm`: name -> (module, function).
ROOT_COMMANDS: dict[str, tuple[str, str]] = {"demo": ("crmcli.commands.demo", "demo")}
_lazy.register(GROUPS, ROOT_COMMANDS)


def main() -> None:
    app()
