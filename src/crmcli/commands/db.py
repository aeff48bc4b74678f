"""`crm db ...`: Database maintenance: status, migrate, check, backup, restore, vacuum."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Database maintenance: status, migrate, check, backup, restore, vacuum.",
    no_args_is_help=True,
)
