"""`crm order ...`: Orders from ERP systems: import, list, show, add."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmcli.commands.options import (
    ColumnsOption,
    DbOption,
    FormatOption,
    ImportCurrencyOption,
    ImportFileArgument,
    LimitOption,
    WideOption,
    import_command,
    note_shown,
    open_db,
    out_format,
    row_limit,
)
from crmcli.core.clock import to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import history_datetime, money, normalize_currency, parse_money
from crmcli.db import orders as repo
from crmcli.output import emit as output

if TYPE_CHECKING:
    from crmcli.importing.pipeline import ImportOptions

app = typer.Typer(help="Orders from ERP systems: import, list, show, add.", no_args_is_help=True)

LIST_COLUMNS = [
    "id",
    "external_id",
    "customer_id",
    "customer_name",
    "ordered_at",
    "amount",
    "currency",
]


def _shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r | {"amount": money(r["amount"])} for r in rows]


@app.command("import")
@import_command(customer_key=True)
def import_(
    file: ImportFileArgument,
    options: ImportOptions,
    create_customers: Annotated[
        bool,
        typer.Option("--create-customers", help="Create customers the file names but we lack."),
    ] = False,
    currency: ImportCurrencyOption = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Import orders (upsert by order external id) in one transaction; bad rows go to a
    rejects file. Columns: external_id, customer_external_id (or customer_id / customer_email /
    customer_phone), ordered_at, amount, currency; rows sharing an order id are its lines
    (sku, product, quantity, unit_price, line_amount) and the order total is their sum.

    Example: crm order import erp_orders.csv --customer-key external_id --decimal comma
    """
    from crmcli.importing.orders import import_orders

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        summary = import_orders(
            database, str(file), options, currency=currency, create_customers=create_customers
        )
    output.emit_import_summary(summary, fmt)


@app.command("list")
def list_(
    customer: Annotated[
        int | None, typer.Option("--customer", help="Only this customer's orders (id).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Ordered at or after this time.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Ordered before this time.")] = None,
    limit: LimitOption = None,
    columns: ColumnsOption = None,
    wide: WideOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """List orders, newest first.

    Example: crm order list --customer 42 --since 2024-01-01 --format json
    """
    fmt = out_format(format)
    since_iso = repo.to_stored(since, "--since") if since else None
    until_iso = repo.to_stored(until, "--until") if until else None
    if since_iso and until_iso and since_iso >= until_iso:
        raise InvalidInput("--since must be before --until")
    with open_db(db) as database:
        cap = row_limit(limit, fmt)
        rows = repo.list_orders(database, customer, since_iso, until_iso, cap)
        note_shown(
            len(rows), lambda: repo.count_orders(database, customer, since_iso, until_iso), cap, fmt
        )
    output.emit_rows(_shown(rows), fmt, columns=LIST_COLUMNS)


@app.command("show")
def show(
    order_id: Annotated[int, typer.Argument(help="Order id.")],
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Show one order with its lines (sku, product, quantity, unit price, amount).

    Example: crm order show 7 --format json
    """
    fmt = out_format(format)
    with open_db(db) as database:
        order = repo.get_order(database, order_id)
    order["amount"] = money(order["amount"])
    order["lines"] = [
        line | {"unit_price": money(line["unit_price"]), "amount": money(line["amount"])}
        for line in order["lines"]
    ]
    output.emit_object(order, fmt, title=f"order {order_id}")


@app.command("add")
def add(
    customer: Annotated[int, typer.Argument(help="Customer id.")],
    amount: Annotated[str, typer.Option("--amount", help="Order amount (decimal, e.g. 99.50).")],
    at: Annotated[str, typer.Option("--at", help="When the order was placed.")] = "now",
    external_id: Annotated[
        str | None,
        typer.Option("--external-id", help="Order id in the ERP (unique).", show_default=False),
    ] = None,
    currency: Annotated[str, typer.Option("--currency", help="ISO currency code.")] = "CNY",
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Record one order and print its id.

    Example: crm order add 42 --amount 199.00 --at 2024-05-01 --external-id SO-1001
    """
    fmt = out_format(format)
    code = normalize_currency(currency)
    cents = parse_money(amount, "--amount", code)
    when = to_iso(history_datetime(at, "--at"))
    ext = external_id.strip() if external_id and external_id.strip() else None
    with open_db(db, write=True) as database:
        new_id = repo.add_order(database, customer, cents, when, code, ext)
    output.emit_id(new_id, fmt)
