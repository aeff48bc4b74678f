"""`crm report ...`: Reports: dashboard, customers, communications, tickets, value, loyalty, quality."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Reports: dashboard, customers, communications, tickets, value, loyalty, quality.",
    no_args_is_help=True,
)

from crmcli.commands.report import comm, overview, tickets, value  # noqa: E402, F401 - registers their commands
