"""`crm campaign ...`: Marketing campaigns: target segments, A/B and control groups, results, evaluation."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Marketing campaigns: target segments, A/B and control groups, results, evaluation.",
    no_args_is_help=True,
)
