"""`crm export ...`: Exports for other systems: data warehouse star schema."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Exports for other systems: data warehouse star schema.", no_args_is_help=True
)
