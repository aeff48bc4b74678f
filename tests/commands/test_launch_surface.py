"""The fast `comm log` path (crmcli.launch) knows exactly the options the CLI declares: an
option added to `comm log` or the root falls through to the full CLI (the fast path is
unsure of it), but one renamed or removed would still be accepted by the fast path; this
test makes both kinds of drift fail."""

from __future__ import annotations

from typing import Any

from typer.main import get_command

from crmcli import launch
from crmcli.cli import app


def _options(command: Any) -> tuple[set[str], set[str]]:
    """(options taking a value, flags) of a click command, every spelling."""
    values: set[str] = set()
    flags: set[str] = set()
    for param in command.params:
        if param.param_type_name != "option":  # typer's own click: no isinstance
            continue
        names = {*param.opts, *param.secondary_opts}
        (flags if param.is_flag else values).update(names)
    return values, flags


def test_the_fast_path_knows_every_option_of_comm_log_and_no_other() -> None:
    root = get_command(app)
    ctx = root.context_class(root)
    comm = root.get_command(ctx, "comm")  # type: ignore[attr-defined]
    log = comm.get_command(ctx, "log")
    assert log is not None
    values, flags = _options(log)
    flags -= {"--help", "-h"}
    assert set(launch._LOG_VALUES) == values
    assert set(launch._LOG_FLAGS) == flags


def test_the_fast_path_knows_every_root_option() -> None:
    root = get_command(app)
    values, flags = _options(root)
    flags -= {"--help", "-h", "--install-completion", "--show-completion", "--version"}
    assert set(launch._ROOT_VALUES) == values
    assert set(launch._ROOT_FLAGS) == flags
