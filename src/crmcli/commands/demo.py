"""`crm demo`: build a realistic demo database and show the dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands.options import DbOption, ModeOption, db_path, open_db
from crmcli.output.report import (
    OutOption,
    ReportFormatOption,
    default_meta,
    emit_report,
    report_format,
)


def demo(
    customers: Annotated[
        int,
        typer.Option("--customers", help="How many customers to create.", min=10, max=2_000_000),
    ] = 3000,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed builds the same database.")
    ] = 7,
    db: DbOption = None,
    out: OutOption = None,
    mode: ModeOption = None,
    format: ReportFormatOption = None,
) -> None:
    """Build a demo database covering every group — customers in Chinese and English, a year
    of communications with a weekly pattern, tickets with history and CSAT, two A/B-tested
    campaigns, repeat orders — then show the dashboard. Data is relative to now (--as-of /
    CRM_NOW pin it): the same seed on the same day builds the same database.

    Example: crm --db demo.db demo --customers 3000 --seed 7
    """
    from crmcli.core import clock
    from crmcli.db import demo as demo_db
    from crmcli.demo import data as demo_data
    from crmcli.output import emit as output
    from crmcli.reports.dashboard import CHARTS, dashboard_report
    from crmcli.reports.periods import resolve_period

    fmt = report_format(format, out)
    with open_db(db, write=True) as database:
        demo_db.ensure_empty(database)
        data = demo_data.generate(customers, seed, clock.now())
        counts = demo_db.write(database, data)
        output.info(
            f"Demo database {db_path(db)}: "
            + ", ".join(f"{n} {table}" for table, n in counts.items())
        )
        period = resolve_period(None, None)
        report = dashboard_report(database, period)
    meta = default_meta(db_path(db), charts=CHARTS)
    emit_report(report, fmt, "CRM dashboard", out=out, mode=mode, meta=meta)
