"""`crm ticket ...`: Customer service tickets: open, assign, follow up, SLA, satisfaction.

One module per family of commands, each with its own Typer; this package joins their
commands into the group's `app` (the way hatch's command groups are put together).
"""

from __future__ import annotations

import typer

from crmcli.commands.ticket import agent, records

app = typer.Typer(
    help="Customer service tickets: open, assign, follow up, SLA, satisfaction.",
    no_args_is_help=True,
)
app.registered_commands += records.app.registered_commands
app.add_typer(agent.app, name="agent")
