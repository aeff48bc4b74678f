"""`crm comm ...`: Log calls, emails and meetings; follow-ups; contact trends and forecasts.

Kept light: `crm comm log` runs in shell loops thousands of times, so nothing heavy is
imported here (no pandas; icalendar only for `due --ics`).

One module per family of commands, each with its own Typer; this package joins their
commands into the group's `app` (the way hatch's command groups are put together).
"""

from __future__ import annotations

import typer

from crmcli.commands.comm import office, records

app = typer.Typer(
    help="Log calls, emails and meetings; follow-ups; contact trends and forecasts.",
    no_args_is_help=True,
)
app.registered_commands += records.app.registered_commands
app.registered_commands += office.app.registered_commands
