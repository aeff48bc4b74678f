"""`crm deal add|show|list|update|delete|export`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crmcli.commands.deal.common import LIST_COLUMNS, DealArg, SetOpt, shown
from crmcli.commands.options import DbOption, FormatOption, confirm_or_refuse, open_db, out_format
from crmcli.core.sanitize import export_number
from crmcli.db import deals as repo
from crmcli.output import emit as output

app = typer.Typer()  # its commands join the group's app in __init__

CurrencyOpt = Annotated[str | None, typer.Option("--currency", help="ISO currency (default CNY).")]
CloseOpt = Annotated[str | None, typer.Option("--close-date", help="Expected close date.")]
ProbOpt = Annotated[
    int | None,
    typer.Option("--probability", help="Win probability 0-100 (default: the stage's)."),
]


def _values(
    *,
    title: str | None = None,
    amount: str | None = None,
    currency: str | None = None,
    default_currency: str | None = None,
    close_date: str | None = None,
    probability: int | None = None,
    owner: str | None = None,
    source: str | None = None,
    campaign: int | None = None,
    external_id: str | None = None,
    customer: int | None = None,
    company: int | None = None,
) -> dict[str, Any]:
    """Validate user-given deal fields (None = not given; '' clears a text field). The
    amount is checked against --currency, else `default_currency` (a new deal's), else
    (an update) a currency sign in it is refused: the deal's stored currency applies."""
    from crmcli.core.errors import InvalidInput
    from crmcli.core.validate import clean_text, normalize_currency, parse_date, parse_money
    from crmcli.sales.stages import check_probability

    out: dict[str, Any] = {}
    if title is not None:
        if not title.strip():
            raise InvalidInput("a deal needs a title")
        out["title"] = clean_text(title)
    if amount is not None:
        in_currency = normalize_currency(currency) if currency else default_currency
        out["amount"] = parse_money(amount, "--amount", in_currency)
        if out["amount"] < 0:
            raise InvalidInput("--amount must not be negative")
    if currency is not None:
        out["currency"] = normalize_currency(currency)
    if close_date is not None:
        out["close_date"] = (
            parse_date(close_date, "--close-date").isoformat() if close_date.strip() else None
        )
    if probability is not None:
        out["probability"] = check_probability(probability)
    for key, value in (("owner", owner), ("source", source), ("external_id", external_id)):
        if value is not None:
            out[key] = clean_text(value)
    for key, ref in (
        ("campaign_id", campaign),
        ("customer_id", customer),
        ("company_id", company),
    ):
        if ref is not None:
            out[key] = ref
    return out


@app.command("add")
def add(
    title: Annotated[str, typer.Option("--title", help="What is being sold.")],
    amount: Annotated[
        str, typer.Option("--amount", help="Expected amount, e.g. 120000 or 1,200.50.")
    ],
    customer: Annotated[
        int | None, typer.Option("--customer", help="Customer id (the contact).")
    ] = None,
    company: Annotated[int | None, typer.Option("--company", help="Company id.")] = None,
    currency: CurrencyOpt = None,
    stage: Annotated[
        str | None, typer.Option("--stage", help="Open stage (default: the first).")
    ] = None,
    close_date: CloseOpt = None,
    probability: ProbOpt = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Sales owner.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Lead source.")] = None,
    campaign: Annotated[
        int | None, typer.Option("--campaign", help="Campaign id it came from.")
    ] = None,
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="Id in another system.")
    ] = None,
    set_: SetOpt = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Add a deal for a customer and/or a company; prints its id.

    Example: crm deal add --customer 42 --title "ERP 升级" --amount 120000 --close-date 2026-06-30
    """
    from crmcli.customers import fields
    from crmcli.sales.deals import add_deal

    fmt = out_format(format)
    values = _values(title=title, amount=amount, currency=currency, default_currency="CNY",
                     close_date=close_date, probability=probability, owner=owner,
                     source=source, campaign=campaign, external_id=external_id,
                     customer=customer, company=company)  # fmt: skip
    values.setdefault("currency", "CNY")
    with open_db(db) as database, database.transaction():
        custom = fields.parse_assignments(database, "deal", set_)
        new_id = add_deal(database, values, stage)
        fields.apply(database, "deal", new_id, custom)
    output.emit_id(new_id, fmt)


@app.command("show")
def show(deal_id: DealArg, db: DbOption = None, format: FormatOption = None) -> None:
    """Show a deal: fields, custom fields, stage history (times, actors), communications, tickets.

    Example: crm deal show 7 --format json
    """
    from crmcli.core.validate import money
    from crmcli.customers.fields import custom_of

    fmt = out_format(format)
    with open_db(db) as database:
        deal = shown(repo.get_deal(database, deal_id))
        deal["custom"] = custom_of(database, "deal", deal_id)
        history = repo.deal_history(database, deal_id)
    for event in history["events"]:
        event["amount"] = money(event["amount"])
    output.emit_object(deal | history, fmt, title=f"deal {deal_id}")


@app.command("list")
def list_(
    stage: Annotated[
        str | None, typer.Option("--stage", help="In this stage (name or alias).")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Sales owner.")] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open deals only.")] = False,
    won: Annotated[bool, typer.Option("--won", help="Won deals only.")] = False,
    lost: Annotated[bool, typer.Option("--lost", help="Lost deals only.")] = False,
    closing_before: Annotated[
        str | None, typer.Option("--closing-before", help="Expected close date before this date.")
    ] = None,
    stalled: Annotated[
        str | None,
        typer.Option(
            "--stalled",
            help="Open, no stage change and no linked communication for this long (30d).",
        ),
    ] = None,
    customer: Annotated[int | None, typer.Option("--customer", help="Customer id.")] = None,
    company: Annotated[
        int | None, typer.Option("--company", help="Company id (its contacts' deals too).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            help="At most this many (0 = all; default: 50 in a table, all in json/jsonl/csv).",
            min=0,
            show_default=False,
        ),
    ] = None,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many.", min=0)] = 0,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """List deals, filtered. Tables show the first 50 ("showing N of M"); json, jsonl and csv
    carry every match unless --limit.

    Example: crm deal list --open --owner alice --closing-before 2026-07-01
    """
    from crmcli.core import clock
    from crmcli.core.clock import to_iso
    from crmcli.core.errors import InvalidInput
    from crmcli.core.validate import parse_date, parse_duration
    from crmcli.customers.fields import attach_custom
    from crmcli.sales.stages import resolve_stage

    fmt = out_format(format)
    if limit is None:
        limit = 50 if fmt in ("table", "markdown") else 0
    kinds = [k for k, on in (("open", open_), ("won", won), ("lost", lost)) if on]
    if len(kinds) > 1:
        raise InvalidInput("give one of --open, --won, --lost")
    before = parse_date(closing_before, "--closing-before").isoformat() if closing_before else None
    stalled_before = None
    if stalled is not None:
        seconds = parse_duration(stalled, "--stalled")
        from datetime import timedelta

        stalled_before = to_iso(clock.now() - timedelta(seconds=seconds))
    with open_db(db) as database:
        stage_name = resolve_stage(repo.list_stages(database), stage)["name"] if stage else None
        rows, total = repo.list_deals(
            database, stage=stage_name, owner=owner, kind=kinds[0] if kinds else None,
            closing_before=before, stalled_before=stalled_before, customer_id=customer,
            company_id=company, limit=limit or None, offset=offset,
        )  # fmt: skip
        attach_custom(database, "deal", rows, fmt)
    from crmcli.core.validate import money

    for r in rows:  # shown(), in place: list rows have no internal columns
        r["amount"] = money(r["amount"])
    output.emit_rows(rows, fmt, columns=LIST_COLUMNS if fmt in ("table", "markdown") else None)
    if limit and total > offset + len(rows):
        output.info(f"showing {len(rows)} of {total}")


@app.command("update")
def update(
    deal_id: DealArg,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="New amount.")] = None,
    currency: CurrencyOpt = None,
    close_date: CloseOpt = None,
    probability: ProbOpt = None,
    owner: Annotated[str | None, typer.Option("--owner", help="New owner ('' clears).")] = None,
    source: Annotated[str | None, typer.Option("--source", help="New source.")] = None,
    campaign: Annotated[int | None, typer.Option("--campaign", help="Campaign id.")] = None,
    customer: Annotated[int | None, typer.Option("--customer", help="Customer id.")] = None,
    company: Annotated[int | None, typer.Option("--company", help="Company id.")] = None,
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="New external id.")
    ] = None,
    set_: SetOpt = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Change fields of a deal (not its stage: see move, won, lost, reopen); prints what changed.

    Example: crm deal update 7 --amount 95000 --close-date 2026-07-15
    """
    from crmcli.core.errors import InvalidInput
    from crmcli.core.validate import money
    from crmcli.customers import fields

    fmt = out_format(format)
    changes = _values(title=title, amount=amount, currency=currency, close_date=close_date,
                      probability=probability, owner=owner, source=source, campaign=campaign,
                      external_id=external_id, customer=customer, company=company)  # fmt: skip
    if not changes and not set_:
        raise InvalidInput("nothing to update; give at least one option")
    with open_db(db) as database, database.transaction():
        custom = fields.parse_assignments(database, "deal", set_)
        diff = repo.update_deal(database, deal_id, changes)
        fields.apply(database, "deal", deal_id, custom)
    if "amount" in diff:
        diff["amount"] = [money(v) for v in diff["amount"]]
    output.emit_changes(diff, fmt)


@app.command("delete")
def delete(
    deal_id: DealArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Delete a deal and its history (the audit log keeps the record).

    Example: crm deal delete 7 --yes
    """
    fmt = out_format(format)
    with open_db(db) as database:
        deal = repo.get_deal(database, deal_id)
        confirm_or_refuse(f"Delete deal {deal_id} ({deal['title']})?", yes)
        repo.delete_deal(database, deal_id)
    if fmt in ("json", "jsonl"):
        output.emit_json({"id": deal_id, "deleted": True})
    else:
        output.info(f"Deleted deal {deal_id}")


@app.command("export")
def export(db: DbOption = None, format: FormatOption = None) -> None:
    """Export every deal, with a column per custom field (CSV) or `custom` (JSON).

    Example: crm deal export --format csv > deals.csv
    """
    from crmcli.db import fields as field_repo

    fmt = out_format(format)
    with open_db(db) as database:
        rows = [shown(r) for r in repo.iter_deals(database)]
        defs = field_repo.list_fields(database, "deal")
        values = field_repo.values_for(database, "deal", [r["id"] for r in rows])
    for r in rows:
        if fmt == "csv":
            for f in defs:
                r[f"custom.{f['name']}"] = export_number(values[r["id"]].get(f["name"]))
        else:
            r["custom"] = values[r["id"]]
    output.emit_rows(rows, fmt)
