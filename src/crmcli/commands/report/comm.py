"""`crm report comm`: contact volume per period and channel, seasonality, forecast, anomalies
(added to the report app)."""

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
    {"section": "periods", "x": "period", "y": ["inbound", "outbound"], "kind": "stacked",
     "title": "Contacts per period"},
    {"section": "forecast", "x": "period", "y": ["forecast", "lo95", "hi95"], "kind": "line",
     "title": "Forecast with 95% interval"},
]  # fmt: skip


@app.command("comm")
def comm(
    by: Annotated[str, typer.Option("--by", help="Period: day, week or month.")] = "week",
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", "-c", help="Only this channel (repeatable).", show_default=False),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Start (default: the first contact).", show_default=False),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="End (default: now, i.e. --as-of).", show_default=False),
    ] = None,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Only this agent's contacts.", show_default=False)
    ] = None,
    customer: Annotated[
        int | None,
        typer.Option("--customer", help="Only this customer's contacts (id).", show_default=False),
    ] = None,
    seasonality: Annotated[
        bool,
        typer.Option(
            "--seasonality", help="STL trend, seasonal profile and strength of seasonality."
        ),
    ] = False,
    forecast: Annotated[
        int | None,
        typer.Option(
            "--forecast",
            help="Forecast N periods (ETS by AIC, 80%/95% intervals, backtest MASE).",
            min=1,
            max=520,
            show_default=False,
        ),
    ] = None,
    anomalies: Annotated[
        bool,
        typer.Option("--anomalies", help="Periods outside the seasonal baseline's interval."),
    ] = False,
    as_of: AsOfOption = None,
    out: OutOption = None,
    mode: ModeOption = None,
    db: DbOption = None,
    format: ReportFormatOption = None,
) -> None:
    """Communications per period and channel: inbound/outbound, change vs the previous period,
    a sparkline per channel; optionally seasonality, a forecast and anomalies. Periods are
    days, weeks (from Monday) or months of the configured zone (CRM_TZ).

    Example: crm report comm --by week --forecast 12 --as-of 2024-06-30 --format json
    """
    from crmcli.core.validate import CHANNELS, normalize_enum
    from crmcli.reports.comm import comm_report, resolve_window

    apply_as_of(as_of)
    fmt = report_format(format, out)
    channels = [normalize_enum(c, CHANNELS, "channel") for c in channel or []]
    window = resolve_window(by.strip().lower(), since, until, channels, agent, customer)
    with open_db(db) as database:
        report = comm_report(database, window, seasonality, forecast, anomalies)
    meta = default_meta(db_path(db), charts=CHARTS)
    emit_report(report, fmt, "Communications", out=out, mode=mode, meta=meta)
