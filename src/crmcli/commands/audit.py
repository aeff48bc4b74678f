"""`crm audit ...`: The audit trail: list and verify."""

from __future__ import annotations

import typer

app = typer.Typer(help="The audit trail: list and verify.", no_args_is_help=True)
