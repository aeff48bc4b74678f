"""`crm deal import`: deals from a CSV file through the one import pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmcli.commands.options import (
    CreateFieldsOption,
    CustomerKeyOption,
    DateOrderOption,
    DbOption,
    DecimalOption,
    DryRunOption,
    EncodingOption,
    FormatOption,
    ImportRegionOption,
    MapOption,
    RejectsOption,
    StrictFieldsOption,
    StrictOption,
    import_options,
    open_db,
    out_format,
)
from crmcli.output import emit as output

app = typer.Typer()  # its commands join the group's app in __init__


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="CSV file (UTF-8, UTF-8-BOM, GB18030, UTF-16), or - for stdin.")
    ],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="external_id: update the deal with the row's external_id (upsert). Without "
            "it the import only inserts; an existing deal is a duplicate.",
            show_default=False,
        ),
    ] = None,
    customer_key: CustomerKeyOption = None,
    currency: Annotated[
        str, typer.Option("--currency", help="Currency of rows without a currency column.")
    ] = "CNY",
    create_fields: CreateFieldsOption = False,
    encoding: EncodingOption = None,
    map_: MapOption = None,
    region: ImportRegionOption = None,
    decimal: DecimalOption = None,
    date_order: DateOrderOption = None,
    rejects: RejectsOption = None,
    strict: StrictOption = False,
    strict_fields: StrictFieldsOption = False,
    dry_run: DryRunOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Import deals from a CSV file in one transaction, with their stage history; summary
    on stderr.

    Headers: title, amount, currency, stage (name or alias: 线索, 赢单, Closed Won), close_date,
    probability, owner, source, campaign, external_id, created_at, closed_at; the customer
    (customer_external_id, customer_email, ...) and/or the company (company, company_domain,
    company_external_id, company_id); custom fields by name or label.

    Example: crm deal import opportunities.csv --key external_id --encoding gbk
    """
    from crmcli.importing.deals import import_deals

    fmt = out_format(format)
    options = import_options(
        encoding=encoding, mapping=map_, region=region, decimal=decimal, date_order=date_order,
        rejects=rejects, strict=strict, strict_fields=strict_fields, dry_run=dry_run,
        customer_key=customer_key,
    )  # fmt: skip
    with open_db(db, write=True) as database:
        summary = import_deals(
            database, str(file), options, key=key, currency=currency, create_fields=create_fields
        )
    output.emit_import_summary(summary, fmt)
