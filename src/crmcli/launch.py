"""The `crm` entry point: `crm comm log` runs without building the CLI (issue #18).

`crm comm log ID --channel phone` runs in shell loops thousands of times, and importing
typer and click and building the command tree cost more than the command itself (0.2 s
a call). This module parses exactly that command line the way click would parse it (the
root options, `comm log`, its options and the global ones every command takes, `--x=v`
forms, the last of a repeated option winning, callbacks in the order given) and calls
the command's body (commands.hot.log_communication) with the same values, mapping errors
to the same one-line messages and exit codes (commands.failures).

Whatever it is not sure of goes to the full CLI (crmcli.cli) untouched: any other
command, --help, an unknown or abbreviated option, an option cluster (-qc), a missing
value, `--`, a value click would refuse (a customer id that is not an integer, an
unreadable path), arguments that are not UTF-8, shell completion. Before that nothing has
been done, so the full CLI gives exactly the answer it always gave.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# The root options (cli.root): option -> parameter.
_ROOT_VALUES = {
    "--db": "db",
    "--format": "format",
    "-f": "format",
    "--actor": "actor",
    "--as-of": "as_of",
    "--lang": "lang",
}
_ROOT_FLAGS = {"--quiet": "quiet", "-q": "quiet", "--follow-symlinks": "follow_symlinks"}

# `comm log`'s own options (commands/comm/records.py) and the global ones it gets from
# commands.options.add_global_options (it declares --db and --format itself; --at and
# --follow-up take dates, so it has --date-order).
_LOG_VALUES = {
    "--channel": "channel",
    "-c": "channel",
    "--direction": "direction",
    "--at": "at",
    "--subject": "subject",
    "--content": "content",
    "--content-file": "content_file",
    "--agent": "agent",
    "--duration": "duration",
    "--follow-up": "follow_up",
    "--external-id": "external_id",
    "--email": "email",
    "--phone": "phone",
    "--deal": "deal",
    "--db": "db",
    "--format": "format",
    "-f": "format",
    "--as-of": "as_of",
    "--actor": "actor",
    "--date-order": "date_order",
}
_LOG_FLAGS = {"--quiet": "quiet", "-q": "quiet"}
_LOG_GLOBALS = ("quiet", "as_of", "actor", "date_order")  # callbacks, not parameters
_INTEGERS = ("deal",)
_PATHS = ("db", "content_file")


class _Unsure(Exception):
    """The full CLI decides this command line."""


def main() -> None:
    """`crm`: the fast path for `comm log`, else the full CLI."""
    try:
        call = _parse_comm_log(sys.argv[1:])
    except _Unsure:
        call = None
    if call is None:
        from crmcli.cli import main as cli_main

        cli_main()
        return
    sys.exit(_run(*call))


def _options(
    args: list[str], values: dict[str, str], flags: dict[str, str], interspersed: bool
) -> tuple[dict[str, Any], list[str], list[str]]:
    """click's parser for these options: (values by parameter, positional arguments,
    parameters in the order first given). Without `interspersed` (a group) parsing stops
    at the first positional argument, which starts the rest."""
    found: dict[str, Any] = {}
    order: list[str] = []
    positional: list[str] = []
    rest = list(args)
    while rest:
        token = rest.pop(0)
        if token == "--":
            raise _Unsure
        if not token.startswith("-") or len(token) == 1:
            positional.append(token)
            if not interspersed:
                positional += rest
                break
            continue
        name, equals, attached = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in values:
            if equals:
                value: Any = attached
            elif rest:
                value = rest.pop(0)
            else:
                raise _Unsure  # "Option requires an argument"
            param = values[name]
        elif name in flags and not equals:
            value, param = True, flags[name]
        else:
            raise _Unsure  # unknown, abbreviated, --help, a cluster, a flag given a value
        found[param] = value
        if param not in order:
            order.append(param)
    return found, positional, order


def _path(value: str) -> Path:
    """typer's Path conversion (click.Path: readable, need not exist)."""
    try:
        os.stat(value)
    except OSError:
        return Path(value)
    except Exception:  # noqa: BLE001 - e.g. a NUL byte: let click say it
        raise _Unsure from None
    if not os.access(value, os.R_OK):
        raise _Unsure  # click: "... is not readable."
    return Path(value)


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _Unsure from None  # click: "... is not a valid integer."


def _parse_comm_log(
    argv: list[str],
) -> tuple[dict[str, Any], dict[str, Any], list[str]] | None:
    """(root options, comm log's parameters, its global options in the order given) when
    argv is a `comm log` this module runs; None for any other command."""
    if "comm" not in argv or "log" not in argv:
        return None
    if any(key.endswith("_COMPLETE") for key in os.environ):
        return None  # shell completion
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return None  # the full CLI says which argument is not UTF-8
    root, rest, _ = _options(argv, _ROOT_VALUES, _ROOT_FLAGS, interspersed=False)
    if rest[:2] != ["comm", "log"]:
        return None
    log, positional, order = _options(rest[2:], _LOG_VALUES, _LOG_FLAGS, interspersed=True)
    if len(positional) > 1:
        return None  # "Got unexpected extra argument"
    if positional:
        log["customer_id"] = _integer(positional[0])
    for name in _INTEGERS:
        if name in log:
            log[name] = _integer(log[name])
    for name in _PATHS:
        if name in log:
            log[name] = _path(log[name])
    if "db" in root:
        root["db"] = _path(root["db"])
    return root, log, [name for name in order if name in _LOG_GLOBALS]


def _run(root: dict[str, Any], log: dict[str, Any], callbacks: list[str]) -> int:
    """Run `comm log` as cli.CrmGroup would: the root callback, the global options'
    callbacks, the command; errors as one line and an exit code."""
    from crmcli.commands.failures import error_line, write_failure
    from crmcli.core.errors import CrmError

    try:
        from crmcli.commands.session import start

        try:
            start(
                root.get("db"),
                root.get("format"),
                root.get("actor"),
                root.get("as_of"),
                bool(root.get("quiet")),
                root.get("lang"),
                bool(root.get("follow_symlinks")),
            )
        except CrmError as exc:
            return write_failure((exc.message, exc.exit_code, None))  # cli.root: no hint
        _apply_globals(log, callbacks)
        from crmcli.commands.hot import log_communication

        params = {k: v for k, v in log.items() if k not in _LOG_GLOBALS}
        log_communication(**params)
    except KeyboardInterrupt:
        return write_failure(("interrupted; nothing was changed by the unfinished step", 130, None))
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        failure = error_line(exc)
        if failure is None:
            raise
        return write_failure(failure)
    return 0


def _apply_globals(log: dict[str, Any], callbacks: list[str]) -> None:
    """commands.options' callbacks for the global options given on the command, in the
    order given."""
    from crmcli.core import config

    for name in callbacks:
        value = log[name]
        if name == "quiet":
            config.settings.quiet = True
        elif name == "as_of":
            from crmcli.commands.session import apply_as_of

            apply_as_of(value)
        elif name == "actor":
            config.settings.actor = value
        else:
            from crmcli.core.validate import set_date_order

            set_date_order(value)
    # Without --date-order the CLI's callback clears the order: nothing to clear in a new
    # process (and core.validate stays unimported).
