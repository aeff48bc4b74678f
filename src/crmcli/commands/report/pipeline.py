"""`crm report pipeline`: the sales pipeline report (added to the report app)."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands.options import AsOfOption, DbOption, apply_as_of, db_path, open_db
from crmcli.output.report import (
    OutOption,
    ReportFormatOption,
    default_meta,
    emit_report,
    report_format,
)

app = typer.Typer()  # its commands join the group's app in __init__
STALLED_SHOWN = 20

CHARTS = [
    {"section": "by_stage", "x": "stage", "y": ["amount", "weighted_amount"], "kind": "bar",
     "title": "Open pipeline by stage"},
    {"section": "funnel", "x": "stage", "y": ["share"], "kind": "bar", "title": "Funnel"},
    {"section": "forecast", "x": "month", "y": ["expected_bookings"], "kind": "bar",
     "title": "Expected bookings"},
    {"section": "forecast_backtest", "x": "month", "y": ["expected_bookings", "actual_won"],
     "kind": "bar", "title": "Backtest: forecast against won"},
]  # fmt: skip


@app.command("pipeline")
def pipeline(
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only this owner's deals.", show_default=False)
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Period start (default: 90 days before --until).", show_default=False
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="Period end (default: now, i.e. --as-of).", show_default=False
        ),
    ] = None,
    months: Annotated[
        int,
        typer.Option("--months", help="Forecast (and backtest) this many months.", min=1, max=24),
    ] = 3,
    stalled_days: Annotated[
        int,
        typer.Option(
            "--stalled-days", help="Stalled: no stage change or linked contact for N days.", min=1
        ),
    ] = 30,
    as_of: AsOfOption = None,
    out: OutOption = None,
    db: DbOption = None,
    format: ReportFormatOption = None,
) -> None:
    """Sales pipeline: open and weighted amount by stage, won/lost, win rate with a 95%
    Wilson interval (overall and per owner), sales cycle, velocity, funnel, a bookings
    forecast by close month with its backtest, and stalled deals.

    Example: crm report pipeline --since 2026-01-01 --as-of 2026-04-01 --months 3 --format json
    """
    from crmcli.reports.pipeline import pipeline_report

    apply_as_of(as_of)
    fmt = report_format(format, out)
    with open_db(db) as database:
        report = pipeline_report(database, since, until, owner, months, stalled_days)
    # The terminal shows the 20 longest-idle stalled deals and says how many there are;
    # every file and data format lists them all.
    meta = default_meta(db_path(db), charts=CHARTS, table_rows={"stalled": STALLED_SHOWN})
    emit_report(report, fmt, "Pipeline", out=out, meta=meta)
