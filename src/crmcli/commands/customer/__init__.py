"""`crm customer ...`: store, find, update, delete, import, export, dedupe and merge customers.

One module per family of commands, each with its own Typer; this package joins their
commands into the group's `app` (the way hatch's command groups are put together).
"""

from __future__ import annotations

import typer

from crmcli.commands.customer import privacy, records

app = typer.Typer(
    help="Store, find, update, delete, import, export, dedupe and merge customers.",
    no_args_is_help=True,
)
app.registered_commands += records.app.registered_commands
app.registered_commands += privacy.app.registered_commands
