"""`crm report ...`: Reports: dashboard, customers, communications, tickets, value, loyalty, quality.

One module per family of commands, each with its own Typer; this package joins their
commands into the group's `app` (the way hatch's command groups are put together).
"""

from __future__ import annotations

import typer

from crmcli.commands.report import comm, overview, pipeline, tickets, value

app = typer.Typer(
    help="Reports: dashboard, customers, communications, tickets, value, loyalty, quality, pipeline.",
    no_args_is_help=True,
)
app.registered_commands += overview.app.registered_commands
app.registered_commands += comm.app.registered_commands
app.registered_commands += tickets.app.registered_commands
app.registered_commands += value.app.registered_commands
app.registered_commands += pipeline.app.registered_commands
