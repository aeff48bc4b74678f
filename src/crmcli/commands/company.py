"""`crm company ...`: companies (accounts) that customers and deals belong to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmcli.commands.options import (
    CreateFieldsOption,
    DbOption,
    FormatOption,
    ImportFileArgument,
    SetOption,
    confirm_or_refuse,
    import_command,
    open_db,
    out_format,
)
from crmcli.core.sanitize import export_number
from crmcli.core.validate import split_tag_options
from crmcli.db import companies as repo
from crmcli.output import emit as output

if TYPE_CHECKING:
    from crmcli.importing.pipeline import ImportOptions

app = typer.Typer(help="Companies (accounts): add, show, list, update, delete, import, export.",
                  no_args_is_help=True)  # fmt: skip

LIST_COLUMNS = ["id", "name", "domain", "industry", "size", "owner", "contacts", "tags"]
SetOpt = SetOption
IdArg = Annotated[int, typer.Argument(help="Company id.")]


def _money_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from crmcli.core.validate import money

    return [r | {"amount": money(r["amount"])} for r in rows]


@app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="Company name (unique after normalizing).")],
    domain: Annotated[str | None, typer.Option(help="Web/email domain, e.g. example.com.")] = None,
    industry: Annotated[str | None, typer.Option(help="Industry.")] = None,
    size: Annotated[int | None, typer.Option(help="Number of employees.")] = None,
    owner: Annotated[str | None, typer.Option(help="Account owner.")] = None,
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="Id in another system (unique).")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag (repeatable).")] = None,
    set_: SetOpt = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Add a company and print its id.

    Example: crm company add --name "Acme Ltd" --domain acme.com --industry 制造 --size 120
    """
    from crmcli.customers import fields
    from crmcli.sales.companies import company_values

    fmt = out_format(format)
    values = company_values({"name": name, "domain": domain, "industry": industry,
                             "size": size, "owner": owner, "external_id": external_id})  # fmt: skip
    tags = split_tag_options(tag)  # "a;b" is two tags, as in an import cell
    with open_db(db) as database, database.transaction():
        custom = fields.parse_assignments(database, "company", set_)
        new_id = repo.add_company(database, values, tags)
        fields.apply(database, "company", new_id, custom)
    output.emit_id(new_id, fmt)


@app.command("show")
def show(company_id: IdArg, db: DbOption = None, format: FormatOption = None) -> None:
    """Show a company: fields, contacts, open deals, won amount, last contact, open tickets.

    Example: crm company show 3 --format json
    """
    from crmcli.core.validate import money
    from crmcli.customers.fields import custom_of

    fmt = out_format(format)
    with open_db(db) as database:
        record = repo.get_company(database, company_id)
        extra = repo.profile(database, company_id)
        record["custom"] = custom_of(database, "company", company_id)
    won = _money_rows(extra.pop("won"))
    record["won_amount"] = sum(r["amount"] or 0 for r in won)
    record["won_by_currency"] = won
    record["last_contact_at"] = extra.pop("last_contact_at")
    extra["open_deals"] = [d | {"amount": money(d["amount"])} for d in extra["open_deals"]]
    output.emit_object(record | extra, fmt, title=f"company {company_id}")


@app.command("list")
def list_(
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Text in name, domain or industry.")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Has this tag.")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Account owner.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (0 = all).", min=0)] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many.", min=0)] = 0,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """List companies with their number of contacts (custom fields under `custom` in JSON,
    a `custom.NAME` column each in CSV).

    Example: crm company list --search acme --owner alice
    """
    from crmcli.customers.fields import attach_custom

    fmt = out_format(format)
    with open_db(db) as database:
        rows = repo.list_companies(database, search, tag, owner, limit or None, offset)
        total = repo.count_companies(database, search, tag, owner)
        attach_custom(database, "company", rows, fmt)
    output.emit_rows(rows, fmt, columns=LIST_COLUMNS if fmt in ("table", "markdown") else None)
    if limit and total > offset + len(rows) and fmt in ("table", "markdown"):
        output.info(f"showing {len(rows)} of {total}; --limit 0 shows all")


@app.command("update")
def update(
    company_id: IdArg,
    name: Annotated[str | None, typer.Option(help="New name.", show_default=False)] = None,
    domain: Annotated[str | None, typer.Option(help="New domain ('' clears).")] = None,
    industry: Annotated[str | None, typer.Option(help="New industry ('' clears).")] = None,
    size: Annotated[int | None, typer.Option(help="New number of employees.")] = None,
    owner: Annotated[str | None, typer.Option(help="New owner ('' clears).")] = None,
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="New external id.")
    ] = None,
    add_tag: Annotated[list[str] | None, typer.Option("--add-tag", help="Tag to add.")] = None,
    remove_tag: Annotated[
        list[str] | None, typer.Option("--remove-tag", help="Tag to remove.")
    ] = None,
    set_: SetOpt = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Change fields of a company; prints what changed.

    Example: crm company update 3 --industry retail --size 200 --set tier=gold
    """
    from crmcli.core.errors import InvalidInput
    from crmcli.customers import fields
    from crmcli.sales.companies import company_values

    fmt = out_format(format)
    raw = {"name": name, "domain": domain, "industry": industry, "size": size, "owner": owner,
           "external_id": external_id}  # fmt: skip
    if all(v is None for v in raw.values()) and not (add_tag or remove_tag or set_):
        raise InvalidInput("nothing to update; give at least one option")
    if name is not None and not name.strip():
        raise InvalidInput("a company's name cannot be empty")
    changes = company_values(raw)
    for key in ("domain", "industry", "owner", "external_id"):
        if raw[key] is not None and not str(raw[key]).strip():
            changes[key] = None
    adding, removing = split_tag_options(add_tag), split_tag_options(remove_tag)
    with open_db(db) as database, database.transaction():
        custom = fields.parse_assignments(database, "company", set_)
        diff = repo.update_company(database, company_id, changes)
        if adding or removing:
            old_tags = repo.get_company(database, company_id)["tags"]
            new_tags = repo.change_tags(database, company_id, adding, removing)
            if sorted(old_tags) != sorted(new_tags):
                diff["tags"] = [";".join(old_tags), ";".join(new_tags)]
        before = fields.custom_of(database, "company", company_id) if custom else {}
        fields.apply(database, "company", company_id, custom)
        after = fields.custom_of(database, "company", company_id) if custom else {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):  # shown like a field's change
                diff[f"custom.{key}"] = [before.get(key), after.get(key)]
    output.emit_changes(diff, fmt)


@app.command("delete")
def delete(
    company_id: IdArg,
    cascade: Annotated[
        bool,
        typer.Option(
            "--cascade", help="Unlink its contacts (and delete deals of the company alone)."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Delete a company. Refuses while it has contacts or deals unless --cascade.

    Example: crm company delete 3 --cascade --yes
    """
    fmt = out_format(format)
    with open_db(db) as database:
        company = repo.get_company(database, company_id)
        confirm_or_refuse(f"Delete company {company_id} ({company['name']})?", yes)
        result = repo.delete_company(database, company_id, cascade)
    if fmt in ("json", "jsonl"):
        output.emit_json({"id": company_id, "deleted": True, **result})
    else:
        output.info(
            f"Deleted company {company_id}: " + ", ".join(f"{v} {k}" for k, v in result.items())
        )


@app.command("import")
@import_command()
def import_(
    file: ImportFileArgument,
    options: ImportOptions,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="external_id, domain or name: update the company matching it (upsert). "
            "Without it the import only inserts; an existing company is a duplicate.",
            show_default=False,
        ),
    ] = None,
    create_fields: CreateFieldsOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Import companies from a CSV file in one transaction; summary on stderr.

    Headers: name, domain (or website), industry, size (employees), owner, external_id, tags,
    notes, created_at, HubSpot / Salesforce / Chinese spellings of them, and custom fields
    by name or label. Rejected rows and field-level warnings go to the rejects file.

    Example: crm company import hubspot-companies.csv --key domain
    """
    from crmcli.importing.companies import import_companies

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        summary = import_companies(
            database, str(file), options, key=key, create_fields=create_fields
        )
    output.emit_import_summary(summary, fmt)


@app.command("export")
def export(
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Export every company (all of them: machine output is never truncated), with a column
    per custom field.

    Example: crm company export --format csv > companies.csv
    """
    from crmcli.db import fields as field_repo

    fmt = out_format(format)
    with open_db(db) as database:
        rows = repo.iter_companies(database)
        defs = field_repo.list_fields(database, "company")
        values = field_repo.values_for(database, "company", [r["id"] for r in rows])
    for r in rows:
        if fmt == "csv":
            r["tags"] = ";".join(r["tags"])
            for f in defs:
                r[f"custom.{f['name']}"] = export_number(values[r["id"]].get(f["name"]))
        else:
            r["custom"] = values[r["id"]]
    output.emit_rows(rows, fmt)
