"""`crm deal import`: deals from a CSV file through the one import pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from crmcli.commands.options import (
    CreateFieldsOption,
    DbOption,
    FormatOption,
    ImportCurrencyOption,
    ImportFileArgument,
    import_command,
    open_db,
    out_format,
)
from crmcli.output import emit as output

if TYPE_CHECKING:
    from crmcli.importing.pipeline import ImportOptions

app = typer.Typer()  # its commands join the group's app in __init__


@app.command("import")
@import_command(customer_key=True)
def import_(
    file: ImportFileArgument,
    options: ImportOptions,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="external_id: update the deal with the row's external_id (upsert); id: the "
            "deal with the row's id, this database's (`deal export` read back). Without it "
            "the import only inserts; an existing deal is a duplicate.",
            show_default=False,
        ),
    ] = None,
    currency: ImportCurrencyOption = None,
    create_fields: CreateFieldsOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Import deals from a CSV file in one transaction, with their stage history; summary
    on stderr.

    Headers: title, amount, currency, stage (name or alias: 线索, 赢单, Closed Won), close_date,
    probability (60, 60% or a column of fractions 0.6), owner, source, campaign, external_id,
    created_at, closed_at (or won_at / lost_at); the customer
    (customer_external_id, customer_email, ...) and/or the company (company, company_domain,
    company_external_id, company_id); custom fields by name or label.

    Example: crm deal import opportunities.csv --key external_id --encoding gbk
    """
    from crmcli.importing.deals import import_deals

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        summary = import_deals(
            database, str(file), options, key=key, currency=currency, create_fields=create_fields
        )
    output.emit_import_summary(summary, fmt)
