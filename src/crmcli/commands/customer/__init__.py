"""`crm customer ...`: store, find, update, delete, import, export, dedupe and merge customers.

One module per family of commands; each adds its commands to `app`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Store, find, update, delete, import, export, dedupe and merge customers.",
    no_args_is_help=True,
)

from crmcli.commands.customer import comm, history, privacy, records  # noqa: E402, F401 - registers their commands
