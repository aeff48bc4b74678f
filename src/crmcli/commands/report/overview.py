"""`crm report dashboard | customers | quality`: the overview reports (added to the report app).

Every report accepts --as-of (or $CRM_NOW), --format table|json|jsonl|csv|markdown|html|xlsx
and --out FILE (format from the extension, written atomically), so cron jobs can export them.
"""

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

SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since", help="Period start (default: 30 days before --until).", show_default=False
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", help="Period end (default: now, i.e. --as-of).", show_default=False),
]


@app.command("dashboard")
def dashboard(
    since: SinceOption = None,
    until: UntilOption = None,
    as_of: AsOfOption = None,
    out: OutOption = None,
    mode: ModeOption = None,
    db: DbOption = None,
    format: ReportFormatOption = None,
) -> None:
    """KPI dashboard: customers, contacts, tickets, satisfaction, value and loyalty, each
    against the previous period of equal length (default: the last 30 days).

    Example: crm report dashboard --as-of 2024-06-30 --out /srv/reports/dashboard.html
    """
    from crmcli.reports.dashboard import CHARTS, dashboard_report
    from crmcli.reports.periods import resolve_period

    apply_as_of(as_of)
    fmt = report_format(format, out)
    period = resolve_period(since, until)
    with open_db(db) as database:
        report = dashboard_report(database, period)
    meta = default_meta(db_path(db), charts=CHARTS, subtitle=_window(period.describe()))
    emit_report(report, fmt, "CRM dashboard", out=out, mode=mode, meta=meta)


@app.command("customers")
def customers(
    since: SinceOption = None,
    until: UntilOption = None,
    period: Annotated[
        str, typer.Option("--period", help="Growth per day, week, month, quarter or year.")
    ] = "month",
    as_of: AsOfOption = None,
    out: OutOption = None,
    mode: ModeOption = None,
    db: DbOption = None,
    format: ReportFormatOption = None,
) -> None:
    """Customer growth per period (default: monthly over the last year) and the customer
    base by lifecycle, tag and owner.

    Example: crm report customers --period quarter --since 2023-01-01 --format markdown
    """
    from crmcli.reports.customers import CHARTS, customers_report
    from crmcli.reports.periods import UNITS, Period, resolve_period, unit_floor

    apply_as_of(as_of)
    fmt = report_format(format, out)
    unit = period.strip().lower()
    if unit not in UNITS:
        from crmcli.core.errors import InvalidInput

        raise InvalidInput(f"unknown --period {period!r}; choose one of: {', '.join(UNITS)}")
    window = resolve_period(since, until, default_days=365)
    if since is None:  # whole calendar periods: the first one starts a year ago, rounded down
        window = Period(unit_floor(window.start, unit), window.end)
    with open_db(db) as database:
        report = customers_report(database, window, unit)
    meta = default_meta(db_path(db), charts=CHARTS, subtitle=_window(window.describe()))
    emit_report(report, fmt, "Customers", out=out, mode=mode, meta=meta)


@app.command("quality")
def quality(
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under",
            help="Exit 1 (after writing the report) when the score is below this (0-100).",
            min=0,
            max=100,
            show_default=False,
        ),
    ] = None,
    stale_days: Annotated[
        int,
        typer.Option(
            "--stale-days", help="A customer with no contact for this long is stale.", min=1
        ),
    ] = 180,
    as_of: AsOfOption = None,
    out: OutOption = None,
    mode: ModeOption = None,
    db: DbOption = None,
    format: ReportFormatOption = None,
) -> None:
    """Data-quality scorecard: completeness and validity per field, duplicates, stale
    customers and orphan records, with an overall score out of 100.

    Example: crm --quiet report quality --fail-under 80 --out /srv/reports/quality.html
    """
    from crmcli.core import clock
    from crmcli.core.clock import to_iso
    from crmcli.core.errors import OperationalError
    from crmcli.reports.quality import CHARTS, quality_report

    apply_as_of(as_of)
    fmt = report_format(format, out)
    with open_db(db) as database:
        report = quality_report(database, to_iso(clock.now()), stale_days)
    meta = default_meta(db_path(db), charts=CHARTS)
    emit_report(report, fmt, "Data quality", out=out, mode=mode, meta=meta)
    if fail_under is not None:
        score = report["score"].get("overall")
        if score is None:
            raise OperationalError("data quality: no customers to score")
        if score < fail_under:
            raise OperationalError(f"data quality score {score} is below {fail_under:g}")


def _window(period: dict[str, object]) -> str:
    from crmcli.core.clock import display_time

    since = display_time(str(period["since_at"])) or ""
    until = display_time(str(period["until_at"])) or ""
    return f"period {since[:16].replace('T', ' ')} – {until[:16].replace('T', ' ')}"
