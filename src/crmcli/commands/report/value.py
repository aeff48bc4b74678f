"""`crm report value` and `crm report loyalty` (added to the report app): customer value
(RFM, BG/NBD + Gamma-Gamma CLV) and loyalty (cohorts, repeat rate, churn risk, CSAT)."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands.options import (
    AsOfOption,
    DbOption,
    MaskOption,
    ModeOption,
    apply_as_of,
    db_path,
    open_db,
)
from crmcli.output.report import (
    OutOption,
    ReportFormatOption,
    default_meta,
    emit_report,
    report_format,
)

app = typer.Typer()  # its commands join the group's app in __init__


@app.command("value")
def value(
    calibration_end: Annotated[
        str | None,
        typer.Option(
            "--calibration-end",
            help="Fit on orders up to this date (default: the as-of day); later orders "
            "up to --as-of become a holdout check.",
            show_default=False,
        ),
    ] = None,
    time_unit: Annotated[str, typer.Option("--time-unit", help="day or week.")] = "week",
    horizon: Annotated[
        float | None,
        typer.Option(
            "--horizon",
            help="Periods (time units) ahead for expected purchases and CLV (default: a year).",
            show_default=False,
        ),
    ] = None,
    discount: Annotated[
        float, typer.Option("--discount", help="Annual discount rate for CLV (0.1 = 10%).")
    ] = 0.10,
    currency: Annotated[
        str | None,
        typer.Option(
            "--currency",
            help="Model orders in this currency (default: the most used).",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            "--top",
            help="Only the N customers with the highest CLV (default: all; 20 in a table).",
            min=0,
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOption = None,
    out: OutOption = None,
    mode: ModeOption = None,
    mask: MaskOption = None,
    db: DbOption = None,
    format: ReportFormatOption = None,
) -> None:
    """Customer value: RFM segments, BG/NBD + Gamma-Gamma fit, and per customer P(alive),
    expected purchases over the horizon, expected average spend and discounted CLV.

    Example: crm report value --calibration-end 1997-09-30 --time-unit week --horizon 39 --format json
    """
    from crmcli.reports.value import ValueOptions, value_report

    apply_as_of(as_of)
    fmt = report_format(format, out)
    if top is None and fmt in ("table", "markdown") and out is None:
        top = 20
    options = ValueOptions(
        calibration_end=calibration_end,
        time_unit=time_unit.strip().lower(),
        horizon=horizon,
        discount=discount,
        currency=currency,
        top=top or None,
    )
    options.check()
    with open_db(db) as database:
        report = value_report(database, options)
        # Inside the block: the per-customer listing is read from the database as written.
        emit_report(
            report,
            fmt,
            "Customer value",
            out=out,
            mode=mode,
            meta=default_meta(db_path(db)),
            mask=mask,
        )


@app.command("loyalty")
def loyalty(
    months: Annotated[
        int, typer.Option("--months", help="Months since first order shown per cohort.", min=1)
    ] = 12,
    churn_threshold: Annotated[
        float,
        typer.Option(
            "--churn-threshold",
            help="P(alive) below which a formerly valuable customer is at risk.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.5,
    top: Annotated[
        int, typer.Option("--top", help="At most this many churn-risk customers (0 = all).", min=0)
    ] = 50,
    as_of: AsOfOption = None,
    out: OutOption = None,
    mode: ModeOption = None,
    mask: MaskOption = None,
    db: DbOption = None,
    format: ReportFormatOption = None,
) -> None:
    """Loyalty: monthly acquisition cohorts x months since first order (retention), repeat
    purchase rate, 90-day retention rate, churn risk among formerly valuable customers
    (low BG/NBD P(alive)), and CSAT from ticket satisfaction ratings.

    Example: crm report loyalty --months 6 --as-of 2024-06-30 --format json
    """
    from crmcli.reports.loyalty import loyalty_report

    apply_as_of(as_of)
    fmt = report_format(format, out)
    with open_db(db) as database:
        report = loyalty_report(database, months, churn_threshold, top or None)
    emit_report(
        report, fmt, "Loyalty", out=out, mode=mode, meta=default_meta(db_path(db)), mask=mask
    )
