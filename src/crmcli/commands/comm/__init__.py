"""`crm comm ...`: Log calls, emails and meetings; follow-ups; contact trends and forecasts.

Kept light: `crm comm log` runs in shell loops thousands of times, so nothing heavy is
imported here (no pandas; icalendar only for `due --ics`).

One module per family of commands; each adds its commands to `app`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Log calls, emails and meetings; follow-ups; contact trends and forecasts.",
    no_args_is_help=True,
)

from crmcli.commands.comm import office, records  # noqa: E402, F401 - registers their commands
