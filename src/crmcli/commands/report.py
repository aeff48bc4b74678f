"""`crm report ...`: Reports: dashboard, customers, communications, tickets, value, loyalty, quality."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Reports: dashboard, customers, communications, tickets, value, loyalty, quality.",
    no_args_is_help=True,
)
