"""`crm deal ...`: deals (opportunities), their stage workflow and the configurable stages.

One module per family of commands, each with its own Typer; this package joins their
commands into the group's `app` (the way hatch's command groups are put together).
"""

from __future__ import annotations

import typer

from crmcli.commands.deal import imports, manage, stage, workflow

app = typer.Typer(
    help="Deals (opportunities): add, list, move through stages, win, lose, reopen; stages.",
    no_args_is_help=True,
)
app.registered_commands += manage.app.registered_commands
app.registered_commands += workflow.app.registered_commands
app.registered_commands += imports.app.registered_commands
app.add_typer(stage.app, name="stage")
