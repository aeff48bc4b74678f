"""`crm ticket ...`: Customer service tickets: open, assign, follow up, SLA, satisfaction.

One module per family of commands; each adds its commands to `app`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Customer service tickets: open, assign, follow up, SLA, satisfaction.",
    no_args_is_help=True,
)

from crmcli.commands.ticket.agent import app as agent_app  # noqa: E402

app.add_typer(agent_app, name="agent")

from crmcli.commands.ticket import records  # noqa: E402, F401 - registers their commands
