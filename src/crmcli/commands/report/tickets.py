"""`crm report tickets`: the helpdesk report (added to the report app)."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands.options import AsOfOption, DbOption, ModeOption, apply_as_of, db_path, open_db
from crmcli.output.report import (
    OutOption,
    ReportFormatOption,
    default_meta,
    emit_report,
    report_format,
)

app = typer.Typer()  # its commands join the group's app in __init__

CHARTS = [
    {"section": "volume", "x": "period", "y": ["opened", "resolved"], "kind": "line",
     "title": "Tickets opened and resolved"},
    {"section": "aging", "x": "age", "y": ["tickets"], "kind": "bar", "title": "Backlog age"},
]  # fmt: skip


@app.command("tickets")
def tickets(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Window start (default: 90 days before --until).", show_default=False
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="Window end (default: now, i.e. --as-of).", show_default=False
        ),
    ] = None,
    period: Annotated[
        str, typer.Option("--period", help="Volume trend per day, week or month.")
    ] = "week",
    horizon: Annotated[
        int, typer.Option("--horizon", help="Forecast this many periods ahead.", min=1, max=52)
    ] = 4,
    as_of: AsOfOption = None,
    out: OutOption = None,
    mode: ModeOption = None,
    db: DbOption = None,
    format: ReportFormatOption = None,
) -> None:
    """Helpdesk report: backlog by status/priority/assignee, aging, SLA compliance,
    first-response and resolution times (median, p90), CSAT with a 95% interval, volume
    trend and forecast. Tickets opened in the window (default: the last 90 days).

    Example: crm report tickets --since 2024-01-01 --as-of 2024-03-31 --format json
    """
    from crmcli.analytics.forecast import normalize_freq
    from crmcli.reports.tickets import ticket_report

    apply_as_of(as_of)
    fmt = report_format(format, out)
    normalize_freq(period)
    with open_db(db) as database:
        report = ticket_report(database, since, until, period=period, horizon=horizon)
    meta = default_meta(db_path(db), charts=CHARTS)
    emit_report(report, fmt, "Tickets", out=out, mode=mode, meta=meta)
