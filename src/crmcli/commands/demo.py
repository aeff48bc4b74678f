"""`crm demo`: build a realistic demo database and show the dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._common import DbOption, FormatOption, open_db, out_format


def demo(
    customers: Annotated[
        int, typer.Option("--customers", help="How many customers to create.", min=10)
    ] = 3000,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed builds the same database.")
    ] = 7,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Build a demo database (customers in Chinese and English, ...) and show a summary.

    Example: crm demo --db demo.db --customers 3000
    """
    from crmcli import demo_data, output

    fmt = out_format(format)
    with open_db(db) as database:
        demo_data.build(database, customers=customers, seed=seed)
        summary = demo_data.summary(database)
    output.emit_object(summary, fmt, title="demo database")
