"""`crm deal ...`: deals (opportunities), their stage workflow and the configurable stages."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Deals (opportunities): add, list, move through stages, win, lose, reopen; stages.",
    no_args_is_help=True,
)

from crmcli.commands.deal import manage, stage, workflow  # noqa: E402,F401
