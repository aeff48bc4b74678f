"""`crm campaign ...`: Marketing campaigns: target segments, A/B and control groups, results, evaluation.

One module per family of commands, each with its own Typer; this package joins their
commands into the group's `app` (the way hatch's command groups are put together).
"""

from __future__ import annotations

import typer

from crmcli.commands.campaign import records

app = typer.Typer(
    help="Marketing campaigns: target segments, A/B and control groups, results, evaluation.",
    no_args_is_help=True,
)
app.registered_commands += records.app.registered_commands
