"""`crm campaign ...`: Marketing campaigns: target segments, A/B and control groups, results, evaluation.

One module per family of commands; each adds its commands to `app`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Marketing campaigns: target segments, A/B and control groups, results, evaluation.",
    no_args_is_help=True,
)

from crmcli.commands.campaign import records  # noqa: E402, F401 - registers their commands
