"""`crm comm ...`: Log calls, emails and meetings; follow-ups; contact trends and forecasts."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Log calls, emails and meetings; follow-ups; contact trends and forecasts.",
    no_args_is_help=True,
)
