"""Options and helpers shared by every command group.

The global options `--db --format --quiet --as-of --actor` are accepted both before the
group and on every command, and mean the same in both places; the command-level value wins.
A command that declares one itself (DbOption, FormatOption, AsOfOption) reads it as a
parameter; every other one is added to each command when it is built
(`add_global_options`, called by crmcli._lazy). Use `open_db(db)` and `out_format(fmt)` in
every command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from crmcli.commands.session import apply_as_of as apply_as_of
from crmcli.commands.session import db_path as db_path
from crmcli.commands.session import dry_run as dry_run_scope
from crmcli.commands.session import open_db as open_db
from crmcli.commands.session import out_format as out_format
from crmcli.commands.session import pin_as_of as pin_as_of
from crmcli.core import config

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Database file (default: $CRM_DB or the user data directory).",
        show_default=False,
    ),
]
FollowSymlinksOption = Annotated[
    bool,
    typer.Option(
        "--follow-symlinks",
        help="Write through a destination that is a symbolic link (refused by default).",
    ),
]
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="Output format: table, json, jsonl, csv or markdown.",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Show the data as it was at this time (also $CRM_NOW).",
        show_default=False,
    ),
]


# Listings (#13): machine formats carry every matching row unless --limit says otherwise;
# a table shows the first TABLE_LIMIT and says "showing 50 of 90 (--limit 0 for all)".
TABLE_LIMIT = 50
MACHINE_FORMATS = ("json", "jsonl", "csv")
LimitOption = Annotated[
    int | None,
    typer.Option(
        "--limit",
        min=0,
        help="At most this many rows (0 = all). Default: all in json, jsonl and csv;"
        " 50 in a table (stderr then says how many there are).",
        show_default=False,
    ),
]


def row_limit(limit: int | None, fmt: str, default: int = TABLE_LIMIT) -> int | None:
    """The rows a listing fetches: --limit N (0 = all); without it all of them in a machine
    format and `default` in a table or markdown."""
    if limit is None:
        return None if fmt in MACHINE_FORMATS else default
    return limit or None


def note_shown(shown: int, total: int | Callable[[], int], limit: int | None, fmt: str) -> None:
    """Say on stderr when a table holds fewer rows than match ("showing 50 of 90").

    `total` may be a callable (a COUNT query), called only when the listing may be cut."""
    if limit is None or shown < limit or fmt in MACHINE_FORMATS:
        return
    count = total() if callable(total) else total
    if shown < count:
        from crmcli.output import emit as output

        output.info(f"showing {shown} of {count} (--limit 0 for all)")


def is_interactive() -> bool:
    import sys

    return sys.stdin.isatty() and sys.stdout.isatty()


def confirm_or_refuse(question: str, yes: bool) -> None:
    """Ask on a terminal; refuse (exit 2) when not on a terminal and --yes was not given."""
    from crmcli.core.errors import InvalidInput

    if yes:
        return
    if not is_interactive():
        raise InvalidInput(f"{question} Refusing without --yes when not on a terminal.")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)


# The options every `import` command shares (the CSV contract in the README).
ImportFileArgument = Annotated[
    Path, typer.Argument(help="CSV file (UTF-8, UTF-8-BOM, GB18030, UTF-16), or - for stdin.")
]
EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Force the file encoding (default: detected: UTF-8, UTF-8-BOM, GB18030, UTF-16).",
        show_default=False,
    ),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="SRC=FIELD: read column SRC as FIELD (repeatable).",
        show_default=False,
    ),
]
RejectsOption = Annotated[
    Path | None,
    typer.Option(
        "--rejects",
        help="Where rejected rows go (default: FILE.rejects.csv).",
        show_default=False,
    ),
]
StrictOption = Annotated[
    bool,
    typer.Option("--strict", help="Import nothing if any row is rejected (exit 2)."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Report what would happen; change nothing.")
]
# An import's --currency: the currency of a file without a currency column (default CNY)
# and of its empty currency cells (without it such a row names no currency: rejected).
ImportCurrencyOption = Annotated[
    str | None,
    typer.Option(
        "--currency",
        help="Currency of a file without a currency column (default CNY) and of empty"
        " currency cells (else such rows are rejected).",
        show_default=False,
    ),
]


MaskOption = Annotated[
    bool | None,
    typer.Option(
        "--mask/--no-mask",
        help="Mask phones, emails and addresses (default: $CRM_MASK).",
        show_default=False,
    ),
]
# A listing's time window (`audit list`, `comm list`): stored times, parsed by the command.
SinceOption = Annotated[
    str | None, typer.Option("--since", help="At or after this time.", show_default=False)
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Before this time.", show_default=False)
]


# Custom fields and a customer's company: the same options on every command that sets them.
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Custom field NAME=VALUE (repeatable; '' clears).", show_default=False
    ),
]
CompanyIdOption = Annotated[
    int | None,
    typer.Option("--company-id", help="Company id it belongs to.", show_default=False),
]
CreateCompanyOption = Annotated[
    bool,
    typer.Option("--create-company", help="Create the --company NAME if it does not exist."),
]
LinkByDomainOption = Annotated[
    bool,
    typer.Option(
        "--link-by-domain",
        help="Link to the company with the email's domain (never free mail).",
    ),
]
PhoneRegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="Phone region (ISO code) for numbers without +country [default: CN].",
        show_default=False,
    ),
]


# What a listing shows (read by output.emit.listing_columns through config.settings.extra).
def _set_view(name: str):  # type: ignore[no-untyped-def]
    def store(value: object) -> object:
        if value:
            config.settings.extra[name] = value
        return value

    return store


ColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Show these fields, comma-separated (e.g. id,name,email), in every format.",
        callback=_set_view("columns"),
        show_default=False,
    ),
]
WideOption = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Every field, untruncated (a table is cut to the terminal's width by default).",
        callback=_set_view("wide"),
    ),
]
ModeOption = Annotated[
    str | None,
    typer.Option(
        "--mode",
        help="Permissions of the --out file (default: $CRM_REPORT_MODE, else 0600; 0644 for a "
        "report a web server publishes).",
        show_default=False,
    ),
]


# ---------------------------------------------------------------- global options


def _store_db(ctx: Any, param: Any, value: Path | None) -> None:
    if value is not None:
        config.settings.db_path = value


def _store_format(ctx: Any, param: Any, value: str | None) -> None:
    if value is not None:
        config.settings.format = value


def _store_quiet(ctx: Any, param: Any, value: bool) -> None:
    if value:
        config.settings.quiet = True


def _store_actor(ctx: Any, param: Any, value: str | None) -> None:
    if value is not None:
        config.settings.actor = value


def _store_as_of(ctx: Any, param: Any, value: str | None) -> None:
    apply_as_of(value)


def _global_specs() -> list[dict[str, Any]]:
    return [
        {"decls": ["--db"], "type": Path, "callback": _store_db, "metavar": "<path>",
         "help": "Database file (default: $CRM_DB or the user data directory)."},
        {"decls": ["--format", "-f"], "type": str, "callback": _store_format, "metavar": "<str>",
         "help": "Output format: table, json, jsonl, csv or markdown."},
        {"decls": ["--quiet", "-q"], "is_flag": True, "callback": _store_quiet,
         "help": "No messages on stderr unless something fails."},
        {"decls": ["--as-of"], "type": str, "callback": _store_as_of, "metavar": "<str>",
         "help": "Pin 'now' to this time (also $CRM_NOW)."},
        {"decls": ["--actor"], "type": str, "callback": _store_actor, "metavar": "<str>",
         "help": "Who is acting, for the audit log (default: $CRM_ACTOR or the login name)."},
    ]  # fmt: skip


def _store_date_order(ctx: Any, param: Any, value: str | None) -> None:
    from crmcli.core.validate import set_date_order

    set_date_order(value)


# Options whose values are dates the user types: a command with one of them also takes
# --date-order (dmy|mdy|ymd), which decides an ambiguous 03/05/2024 there and wins over
# $CRM_DATE_ORDER (core/validate.py: user_date_order). Import commands declare their own.
DATE_TAKING_OPTIONS = frozenset(
    {
        "--at",
        "--follow-up",
        "--since",
        "--until",
        "--created-since",
        "--changed-since",
        "--close-date",
        "--closing-before",
        "--starts",
        "--ends",
        "--after",
        "--segment",
        "--set",
        "--calibration-end",
    }
)
DATE_ORDER_SPEC: dict[str, Any] = {
    "decls": ["--date-order"],
    "type": str,
    "callback": _store_date_order,
    "metavar": "<dmy|mdy|ymd>",
    "help": "dmy, mdy or ymd: how to read an ambiguous date such as 03/05/2024 in this"
    " command's options (wins over $CRM_DATE_ORDER; without either it is refused).",
}


def add_global_options(command: Any) -> Any:
    """Give a built click command every global option it does not declare itself; a nested
    group (e.g. `ticket agent`) passes them on to each of its commands."""
    from typer.core import TyperOption

    children = getattr(command, "commands", None)
    if isinstance(children, dict):
        for child in children.values():
            add_global_options(child)
        return command

    taken = {opt for param in command.params for opt in getattr(param, "opts", [])}
    taken |= {opt for param in command.params for opt in getattr(param, "secondary_opts", [])}
    specs = _global_specs()
    if taken & DATE_TAKING_OPTIONS:
        specs.append(DATE_ORDER_SPEC)
    for spec in specs:
        decls = [d for d in spec["decls"] if d not in taken]
        if spec["decls"][0] not in decls:
            continue
        option = TyperOption(
            param_decls=decls,
            type=spec.get("type"),
            is_flag=spec.get("is_flag"),
            default=False if spec.get("is_flag") else None,
            callback=spec["callback"],
            expose_value=False,
            metavar=spec.get("metavar"),
            help=spec["help"],
        )
        command.params.append(option)
    return command


StrictFieldsOption = Annotated[
    bool,
    typer.Option(
        "--strict-fields",
        help="Reject a row whose optional field is bad (default: store it without that field).",
    ),
]
ImportRegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="The file's region (ISO code): phones without +country (default CN), and the "
        "money and date conventions when a column's values leave them open.",
        show_default=False,
    ),
]
DecimalOption = Annotated[
    str | None,
    typer.Option(
        "--decimal",
        help="comma or point: the decimal separator of money columns whose values leave it "
        "open (1,234).",
        show_default=False,
    ),
]
DateOrderOption = Annotated[
    str | None,
    typer.Option(
        "--date-order",
        help="dmy, mdy or ymd for date columns whose values leave it open (03/05/2024); "
        "also $CRM_DATE_ORDER.",
        show_default=False,
    ),
]
CreateFieldsOption = Annotated[
    bool,
    typer.Option(
        "--create-fields",
        help="Turn unknown columns into new text custom fields (named after the header, "
        "labelled with it).",
    ),
]
CustomerKeyOption = Annotated[
    str | None,
    typer.Option(
        "--customer-key",
        help="id, external_id, email or phone: the column that names the customer "
        "(customer_external_id etc. accepted; default: the first present).",
        show_default=False,
    ),
]


# name -> (the parameter's annotation, its default, the ImportOptions field it fills)
_IMPORT_PARAMETERS: dict[str, tuple[Any, Any, str]] = {
    "customer_key": (CustomerKeyOption, None, "customer_key"),
    "encoding": (EncodingOption, None, "encoding"),
    "map_": (MapOption, None, "mapping"),
    "region": (ImportRegionOption, None, "region"),
    "decimal": (DecimalOption, None, "decimal"),
    "date_order": (DateOrderOption, None, "date_order"),
    "rejects": (RejectsOption, None, "rejects"),
    "strict": (StrictOption, False, "strict"),
    "strict_fields": (StrictFieldsOption, False, "strict_fields"),
    "dry_run": (DryRunOption, False, "dry_run"),
}


def import_command(*, customer_key: bool = False) -> Callable[[Any], Any]:
    """Give an `import` command the options every import shares, declared once here.

    The decorated function declares its own parameters and `options` (no default); the
    command gets --encoding --map --region --decimal --date-order --rejects --strict
    --strict-fields --dry-run (and --customer-key when the rows name customers) after its
    own options and before --db / --format, and is called with `options` built by
    import_options from them. Put it under `@app.command(...)`. A new import option is
    added to _IMPORT_PARAMETERS (with its Annotated alias above) and ImportOptions, nothing
    else.
    """
    import functools
    import inspect
    import typing

    names = [n for n in _IMPORT_PARAMETERS if customer_key or n != "customer_key"]

    def wrap(func: Any) -> Any:
        # ImportOptions is imported by command modules for type checking only (so that one
        # loads without the pipeline): read as Any here, and `options` is dropped anyway.
        signature = inspect.signature(func)
        hints = typing.get_type_hints(func, localns={"ImportOptions": Any}, include_extras=True)
        own = [
            p.replace(annotation=hints[p.name])
            for p in signature.parameters.values()
            if p.name != "options"
        ]
        at = next((i for i, p in enumerate(own) if p.name in ("db", "format")), len(own))
        shared = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=_IMPORT_PARAMETERS[name][1],
                annotation=_IMPORT_PARAMETERS[name][0],
            )
            for name in names
        ]
        parameters = [*own[:at], *shared, *own[at:]]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            values = {_IMPORT_PARAMETERS[n][2]: kwargs.pop(n) for n in names}
            options = import_options(**values)
            with dry_run_scope(options.dry_run):  # a dry run creates no database file
                return func(**kwargs, options=options)

        command.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters],
            return_annotation=inspect.Signature.empty,
        )
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        return command

    return wrap


def import_options(**values: Any) -> Any:
    """The pipeline's ImportOptions from the shared import options (checked here, exit 2)."""
    from crmcli.core.errors import InvalidInput
    from crmcli.importing.pipeline import ImportOptions, customer_key_option

    decimal = values.get("decimal")
    if decimal is not None:
        decimal = decimal.strip().lower()
        if decimal not in ("comma", "point"):
            raise InvalidInput("--decimal must be comma or point")
        values["decimal"] = decimal
    order = values.get("date_order")
    if order is not None:
        order = order.strip().lower()
        if order not in ("dmy", "mdy", "ymd"):
            raise InvalidInput("--date-order must be one of: dmy, mdy, ymd")
        values["date_order"] = order
    region = values.get("region")
    if region is not None:
        values["region"] = region.strip().upper()
    values["customer_key"] = customer_key_option(values.get("customer_key"))
    from crmcli.output.progress import Progress

    return ImportOptions(**values, progress=Progress)
