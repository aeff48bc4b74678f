"""`crm field ...`: custom fields on customers, companies, deals and tickets."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands.options import DbOption, FormatOption, open_db, out_format
from crmcli.db import fields as repo
from crmcli.output import emit as output

app = typer.Typer(help="Custom fields: define, list and remove them (set with --set NAME=VALUE).",
                  no_args_is_help=True)  # fmt: skip
EntityArg = Annotated[str, typer.Argument(help="customer, company, deal or ticket.")]


@app.command("add")
def add(
    entity: EntityArg,
    name: Annotated[str, typer.Argument(help="Field name (lower-case letters, digits, _).")],
    type_: Annotated[str, typer.Option("--type", help="text, number, date, bool or choice.")],
    choices: Annotated[str | None, typer.Option("--choices", help="For choice: a,b,c.")] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="Display name (e.g. 中文名); imports map it too.")
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Define a custom field; prints its id.

    Example: crm field add customer region --type choice --choices 华东,华北,华南 --label 区域
    """
    from crmcli.customers.fields import check_definition

    fmt = out_format(format)
    entity, name, type_, parsed = check_definition(entity, name, type_, choices)
    with open_db(db) as database:
        new_id = repo.add_field(
            database, entity, name, type_, parsed, (label or "").strip() or None
        )
    output.emit_id(new_id, fmt)


@app.command("list")
def list_(
    entity: Annotated[str | None, typer.Argument(help="Only this entity's fields.")] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """List custom fields with their type, choices, label and how many records set them.

    Example: crm field list customer
    """
    from crmcli.core.errors import InvalidInput

    fmt = out_format(format)
    if entity is not None and entity not in repo.ENTITIES:
        raise InvalidInput(f"unknown entity {entity!r}; use one of: {', '.join(repo.ENTITIES)}")
    with open_db(db) as database:
        rows = repo.list_fields(database, entity)
    output.emit_rows(rows, fmt)


@app.command("remove")
def remove(
    entity: EntityArg,
    name: Annotated[str, typer.Argument(help="Field name.")],
    drop_values: Annotated[
        bool, typer.Option("--drop-values", help="Also delete its values.")
    ] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Remove a custom field; refuses while values exist unless --drop-values.

    Example: crm field remove customer region --drop-values
    """
    fmt = out_format(format)
    with open_db(db) as database:
        dropped = repo.remove_field(database, entity, name, drop_values)
    if fmt in ("json", "jsonl"):
        output.emit_json(
            {"entity": entity, "name": name, "removed": True, "values_dropped": dropped}
        )
    else:
        output.info(f"Removed {entity} field {name} ({dropped} value(s) dropped)")
