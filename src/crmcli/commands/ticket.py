"""`crm ticket ...`: Customer service tickets: open, assign, follow up, SLA, satisfaction."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Customer service tickets: open, assign, follow up, SLA, satisfaction.",
    no_args_is_help=True,
)
