"""`crm customer ...`: store, find, update, delete, import, export, dedupe and merge customers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmcli.commands.options import (
    ColumnsOption,
    CompanyIdOption,
    CreateCompanyOption,
    CreateFieldsOption,
    DbOption,
    FollowSymlinksOption,
    FormatOption,
    ImportFileArgument,
    LimitOption,
    LinkByDomainOption,
    MaskOption,
    PhoneRegionOption,
    SetOption,
    WideOption,
    confirm_or_refuse,
    import_command,
    note_shown,
    open_db,
    out_format,
    row_limit,
)
from crmcli.core.clock import to_iso
from crmcli.core.masking import mask_personal, should_mask
from crmcli.core.validate import (
    LIFECYCLES,
    normalize_enum,
    parse_datetime,
    split_tag_options,
)
from crmcli.customers.fields import attach_custom
from crmcli.customers.profile import customer_profile
from crmcli.customers.rules import normalize_fields
from crmcli.db import customers as repo
from crmcli.output import emit as output

if TYPE_CHECKING:
    from crmcli.importing.pipeline import ImportOptions

app = typer.Typer()  # its commands join the group's app in __init__

# In order of importance: a table on a narrow terminal shows the first ones that fit.
LIST_COLUMNS = [
    "id",
    "name",
    "phone",
    "email",
    "lifecycle",
    "owner",
    "company",
    "tags",
    "external_id",
    "created_at",
]

IdArg = Annotated[int | None, typer.Argument(help="Customer id.", show_default=False)]
ExternalIdOpt = Annotated[
    str | None,
    typer.Option("--external-id", help="Find the customer by external id.", show_default=False),
]
EmailOpt = Annotated[
    str | None, typer.Option("--email", help="Find the customer by email.", show_default=False)
]


def customer_fields(params: dict[str, Any]) -> dict[str, Any]:
    """The customer fields among a command's parameters (`locals()` at its top), by name."""
    return {k: params[k] for k in repo.CUSTOMER_FIELDS if k in params}


@app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="Full name (required).")],
    phone: Annotated[str | None, typer.Option(help="Phone; stored as E.164.")] = None,
    email: Annotated[str | None, typer.Option(help="Email; stored lower-case.")] = None,
    address: Annotated[str | None, typer.Option(help="Postal address.")] = None,
    company: Annotated[
        str | None, typer.Option(help="Company name (an existing company, by normalized name).")
    ] = None,
    company_id: CompanyIdOption = None,
    create_company: CreateCompanyOption = False,
    link_by_domain: LinkByDomainOption = False,
    set_: SetOption = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", help="Tag (repeatable; 'a;b' or 'a,b' is two tags, as in import files)."
        ),
    ] = None,
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="Id in another system (unique).")
    ] = None,
    lifecycle: Annotated[str, typer.Option(help="lead, prospect, customer or churned.")] = "lead",
    owner: Annotated[str | None, typer.Option(help="Account owner.")] = None,
    notes: Annotated[str | None, typer.Option(help="Free-text notes.")] = None,
    region: PhoneRegionOption = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Add a customer and print its id.

    Example: crm customer add --name "张伟" --phone 13800138000 --email zw@example.cn --tag vip
    """
    fmt = out_format(format)
    values = normalize_fields(customer_fields(locals()), region)
    tags = split_tag_options(tag)
    from crmcli.customers.links import CompanyChoice, add_customer

    choice = CompanyChoice(company_id, company, create_company, link_by_domain)
    with open_db(db, write=True) as database:
        outcome = add_customer(database, values, tags, choice, set_)
    for warning in outcome.warnings:
        output.warn(warning)
    output.emit_id(outcome.id, fmt)


def resolve(
    database: Any, customer_id: int | None, external_id: str | None, email: str | None
) -> int:
    return repo.find_customer_id(database, customer_id, external_id, email)


@app.command("show")
def show(
    customer_id: IdArg = None,
    external_id: ExternalIdOpt = None,
    email: EmailOpt = None,
    mask: MaskOption = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Show one customer with tags, counts of related records, recent contacts.

    Example: crm customer show 42 --format json
    """
    fmt = out_format(format)
    with open_db(db) as database:
        cid = resolve(database, customer_id, external_id, email)
        record = customer_profile(database, cid)
    if should_mask(mask):
        record = mask_personal(record)
    output.emit_object(record, fmt, title=f"customer {cid}")


def build_filter(
    search: str | None = None,
    tag: list[str] | None = None,
    lifecycle: str | None = None,
    company: str | None = None,
    owner: str | None = None,
    created_since: str | None = None,
    changed_since: str | None = None,
    segment: str | None = None,
    database: Any = None,
) -> repo.CustomerFilter:
    """Turn list/export options into a CustomerFilter (validating each)."""
    flt = repo.CustomerFilter(
        search=search.strip() if search and search.strip() else None,
        tags=split_tag_options(tag),
        lifecycle=normalize_enum(lifecycle, LIFECYCLES, "lifecycle") if lifecycle else None,
        company=company,
        owner=owner,
        created_since=to_iso(parse_datetime(created_since, "--created-since"))
        if created_since
        else None,
        changed_since=to_iso(parse_datetime(changed_since, "--changed-since"))
        if changed_since
        else None,
    )
    if segment is not None:  # an empty --segment is an error, not "everyone"
        from crmcli.db.segments import compile_segment

        flt.segment_sql = compile_segment(segment, db=database)
    return flt


SearchOpt = Annotated[
    str | None,
    typer.Option(
        "--search", "-s", help="Text in name, email, phone or company.", show_default=False
    ),
]
TagOpt = Annotated[
    list[str] | None,
    typer.Option("--tag", help="Has this tag (repeatable: all must match).", show_default=False),
]
LifecycleOpt = Annotated[
    str | None,
    typer.Option("--lifecycle", help="lead, prospect, customer or churned.", show_default=False),
]
CompanyOpt = Annotated[
    str | None, typer.Option("--company", help="Company contains this text.", show_default=False)
]
OwnerOpt = Annotated[str | None, typer.Option("--owner", help="Account owner.", show_default=False)]
CreatedSinceOpt = Annotated[
    str | None,
    typer.Option("--created-since", help="Created at or after this date.", show_default=False),
]
SegmentOpt = Annotated[
    str | None,
    typer.Option(
        "--segment", help="Segment expression, e.g. 'tag=vip and orders>=2'.", show_default=False
    ),
]


@app.command("list")
def list_(
    search: SearchOpt = None,
    tag: TagOpt = None,
    lifecycle: LifecycleOpt = None,
    company: CompanyOpt = None,
    owner: OwnerOpt = None,
    created_since: CreatedSinceOpt = None,
    segment: SegmentOpt = None,
    sort: Annotated[
        str, typer.Option("--sort", help="Sort field: id, name, email, company, created_at, ...")
    ] = "id",
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
    limit: LimitOption = None,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many rows.", min=0)] = 0,
    mask: MaskOption = None,
    columns: ColumnsOption = None,
    wide: WideOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """List customers, filtered and sorted.

    Example: crm customer list --search 张 --tag vip --sort created_at --desc --limit 20
    """
    fmt = out_format(format)
    cap = row_limit(limit, fmt)
    with open_db(db) as database:
        flt = build_filter(
            search, tag, lifecycle, company, owner, created_since, segment=segment,
            database=database,
        )  # fmt: skip
        rows = repo.list_customers(database, flt, sort=sort, desc=desc, limit=cap, offset=offset)
        note_shown(len(rows), lambda: repo.count_customers(database, flt), cap, fmt)
        attach_custom(database, "customer", rows, fmt)
    if should_mask(mask):
        rows = mask_personal(rows)
    output.emit_rows(rows, fmt, columns=LIST_COLUMNS if fmt in ("table", "markdown") else None)


@app.command("update")
def update(
    customer_id: Annotated[int, typer.Argument(help="Customer id.")],
    name: Annotated[str | None, typer.Option(help="New name.", show_default=False)] = None,
    phone: Annotated[
        str | None, typer.Option(help="New phone ('' clears).", show_default=False)
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="New email ('' clears).", show_default=False)
    ] = None,
    address: Annotated[str | None, typer.Option(help="New address.", show_default=False)] = None,
    company: Annotated[
        str | None, typer.Option(help="New company by name ('' clears).", show_default=False)
    ] = None,
    company_id: CompanyIdOption = None,
    create_company: CreateCompanyOption = False,
    link_by_domain: LinkByDomainOption = False,
    set_: SetOption = None,
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="New external id.", show_default=False)
    ] = None,
    lifecycle: Annotated[
        str | None, typer.Option(help="lead, prospect, customer or churned.", show_default=False)
    ] = None,
    owner: Annotated[str | None, typer.Option(help="New owner.", show_default=False)] = None,
    notes: Annotated[str | None, typer.Option(help="New notes.", show_default=False)] = None,
    region: PhoneRegionOption = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Change fields of a customer; prints what changed.

    Example: crm customer update 42 --lifecycle customer --owner alice
    """
    from crmcli.core.errors import InvalidInput

    fmt = out_format(format)
    raw = customer_fields(locals())
    given = {k: v for k, v in raw.items() if v is not None and k != "company"}
    if not given and company is None and company_id is None and not link_by_domain and not set_:
        raise InvalidInput("nothing to update; give at least one --field value")
    changes = normalize_fields(given, region)  # a blank value clears its field
    from crmcli.customers.links import CompanyChoice, update_customer

    choice = CompanyChoice(company_id, company, create_company, link_by_domain)
    with open_db(db, write=True) as database:
        outcome = update_customer(database, customer_id, changes, choice, set_)
    for warning in outcome.warnings:
        output.warn(warning)
    output.emit_changes(outcome.diff, fmt)


@app.command("tag")
def tag_(
    customer_id: Annotated[int, typer.Argument(help="Customer id.")],
    add: Annotated[list[str] | None, typer.Option("--add", help="Tag to add (repeatable).")] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="Tag to remove (repeatable).")
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Add or remove tags; prints the tags afterwards.

    Example: crm customer tag 42 --add vip --remove trial
    """
    from crmcli.core.errors import InvalidInput

    fmt = out_format(format)
    if not add and not remove:
        raise InvalidInput("give --add TAG and/or --remove TAG")
    with open_db(db, write=True) as database:
        tags = repo.change_tags(
            database,
            customer_id,
            split_tag_options(add),
            split_tag_options(remove),
        )
    if fmt in ("json", "jsonl"):
        output.emit_json({"id": customer_id, "tags": tags})
    else:
        output.emit_rows([{"tag": t} for t in tags], fmt, columns=["tag"])


@app.command("delete")
def delete(
    customer_id: Annotated[int, typer.Argument(help="Customer id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    cascade: Annotated[
        bool,
        typer.Option(
            "--cascade",
            help="Also delete the customer's communications, tickets, campaign memberships and orders.",
        ),
    ] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Delete a customer. Refuses if the customer has history unless --cascade.

    Without --yes it asks on a terminal and refuses when not on one. To keep the history,
    merge the customer into another (`customer merge`) or erase only personal data
    (`customer forget`).

    Example: crm customer delete 42 --yes
    """
    fmt = out_format(format)
    with open_db(db, write=True) as database:
        customer = repo.get_customer(database, customer_id)
        confirm_or_refuse(f"Delete customer {customer_id} ({customer['name']})?", yes)
        counts = repo.delete_customer(database, customer_id, cascade=cascade)
    if fmt in ("json", "jsonl"):
        output.emit_json({"id": customer_id, "deleted": True, "cascaded": counts})
    else:
        output.info(
            f"Deleted customer {customer_id}"
            + (
                " with " + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
                if any(counts.values())
                else ""
            )
        )


# ---------------------------------------------------------------- import and export


@app.command("import")
@import_command()
def import_(
    file: ImportFileArgument,
    options: ImportOptions,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="external_id, email, phone or id (this database's, as its export writes"
            " it): update customers matching it (upsert).",
            show_default=False,
        ),
    ] = None,
    create_company: Annotated[
        bool,
        typer.Option(
            "--create-company",
            help="Create the companies the company column names that do not exist yet.",
        ),
    ] = False,
    link_by_domain: Annotated[
        bool,
        typer.Option(
            "--link-by-domain",
            help="A row naming no company links to the company with its email's domain "
            "(never free mail, never replacing a customer's company).",
        ),
    ] = False,
    create_fields: CreateFieldsOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Import customers from a CSV file in one transaction; summary on stderr.

    Headers may be field names, English or Chinese aliases (姓名, 电话, 邮箱, 标签...) or
    mapped with --map (SRC=FIELD, "A+B=FIELD" joins, SRC=- ignores). Rejected rows and
    field-level warnings go to the rejects file with line, field, value and reason.

    Example: crm customer import leads.csv --key external_id --map "客户代码=external_id"
    """
    from crmcli.importing.customers import import_customers

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        summary = import_customers(
            database, str(file), options, key=key, create_company=create_company,
            link_by_domain=link_by_domain, create_fields=create_fields,
        )  # fmt: skip
    output.emit_import_summary(summary, fmt)


@app.command("export")
def export(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write to this file (atomically) instead of stdout.",
            show_default=False,
        ),
    ] = None,
    search: SearchOpt = None,
    tag: TagOpt = None,
    lifecycle: LifecycleOpt = None,
    company: CompanyOpt = None,
    owner: OwnerOpt = None,
    created_since: CreatedSinceOpt = None,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since", help="Created or changed at or after this time.", show_default=False
        ),
    ] = None,
    segment: SegmentOpt = None,
    mask: MaskOption = None,
    columns: ColumnsOption = None,
    wide: WideOption = False,
    follow_symlinks: FollowSymlinksOption = False,
    db: DbOption = None,
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="csv (default), json or jsonl.", show_default=False),
    ] = None,
) -> None:
    """Export customers as CSV (UTF-8 with BOM in a file), JSON or JSON Lines.

    The columns are the import's field names: `crm customer import FILE --key external_id`
    reads an export back. Formula-like cells are neutralised against CSV injection.

    Example: crm customer export --changed-since 2024-06-01 --out changed.csv
    """
    from crmcli.output.customer_export import choose_format, export_customers

    fmt = choose_format(format, out)
    with open_db(db) as database:
        flt = build_filter(
            search,
            tag,
            lifecycle,
            company,
            owner,
            created_since,
            changed_since,
            segment,
            database,
        )
        n = export_customers(database, flt, fmt, out, should_mask(mask), follow_symlinks)
    if out is not None and str(out) != "-":
        output.info(f"Exported {n} customer(s) to {out}")


# ---------------------------------------------------------------- duplicates and merge


@app.command("duplicates")
def duplicates(
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            min=0,
            max=100,
            help="Report groups whose weakest link scores at least this (0..100).",
        ),
    ] = 50.0,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="At most this many groups (0 = all).")
    ] = 0,
    mask: MaskOption = None,
    columns: ColumnsOption = None,
    wide: WideOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Groups of likely duplicate customers, each pair's score explained by its evidence.

    Points per pair: same email 55, same phone 50, name up to 35, company up to 10, address
    up to 25 (similarity x weight; capped at 100). A group scores its weakest link; 90 and
    more is `auto_merge` (never name + company + address alone). Merge a group with
    `crm customer merge KEEP DROP...` (try --dry-run first).

    Example: crm customer duplicates --threshold 40 --limit 50 --format json
    """
    import sys

    from crmcli.analytics.dedupe import find_duplicate_groups
    from crmcli.output.customer_export import stream_json

    fmt = out_format(format)
    with open_db(db) as database:
        groups = find_duplicate_groups(
            repo.iter_match_records(database), threshold, limit=limit or None
        )
    if should_mask(mask):
        groups = mask_personal(groups)
    if fmt in ("json", "jsonl"):
        stream_json(groups, fmt, sys.stdout)
        return
    rows = [
        {
            "group": g["group"],
            "score": g["score"],
            "weakest": f"{g['weakest_link']['a']}-{g['weakest_link']['b']}",
            "reason": g["reason"],
            **c,
        }
        for g in groups
        for c in g["customers"]
    ]
    output.emit_rows(
        rows,
        fmt,
        columns=["group", "score", "weakest", "reason", "id", "name", "phone", "email", "company"],
    )


@app.command("merge")
def merge(
    keep: Annotated[int, typer.Argument(help="The customer to keep.")],
    drop: Annotated[list[int], typer.Argument(help="Customers merged into KEEP, then deleted.")],
    keep_external_id: Annotated[
        str | None,
        typer.Option(
            "--keep-external-id",
            help="The external id the survivor keeps when the customers have different ones.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the result field by field; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Merge duplicates into KEEP: their history moves over, KEEP's empty fields are filled,
    their other emails, phones and addresses stay as KEEP's secondary contact points.

    Communications, tickets, orders, campaign memberships (KEEP's wins when both are in one
    campaign) and tags move to KEEP; the others are deleted. The audit entry keeps their
    full records: `crm customer unmerge AUDIT_ID` restores them. Different external ids
    refuse the merge (exit 4) unless --keep-external-id names the one to keep.

    Example: crm customer merge 42 57 61 --dry-run
    """
    from crmcli.core.errors import InvalidInput
    from crmcli.db import merge as merging

    fmt = out_format(format)
    if keep in drop:
        raise InvalidInput(f"KEEP ({keep}) is also among the customers to drop")
    with open_db(db, write=not dry_run) as database:
        plan = merging.plan_merge(database, keep, drop, keep_external_id)
        if dry_run:
            plan.pop("_records")
            plan.pop("_custom")
            _emit_merge_plan(plan, fmt)
            return
        kept = repo.get_customer(database, keep)
        confirm_or_refuse(
            f"Merge customer(s) {', '.join(map(str, drop))} into {keep} ({kept['name']})"
            " and delete them?",
            yes,
        )
        result = merging.merge_customers(database, keep, drop, keep_external_id)
    if fmt in ("json", "jsonl"):
        output.emit_json(result)
        return
    moved = ", ".join(f"{n} {t}" for t, n in result["moved"].items())
    kept_contacts = len(result["contacts_added"])
    output.info(
        f"Merged {', '.join(map(str, result['dropped']))} into {keep}"
        + (f"; moved {moved}" if moved else "")
        + (f"; filled {', '.join(result['filled'])}" if result["filled"] else "")
        + (f"; kept {kept_contacts} other contact point(s)" if kept_contacts else "")
        + _custom_note(result["custom"])
        + f" (undo: crm customer unmerge {result['audit_id']})"
    )


def _custom_note(custom: dict[str, Any]) -> str:
    """The custom values a merge moved and the ones it kept only in the audit entry."""
    text = ""
    if custom["moved"]:
        text += "; custom fields taken over: " + ", ".join(m["field"] for m in custom["moved"])
    if custom["conflicts"]:
        text += "; survivor's custom value kept for " + ", ".join(
            f"{c['field']} (#{c['from']} had {c['value']!r})" for c in custom["conflicts"]
        )
    return text


def _emit_merge_plan(plan: dict[str, Any], fmt: str) -> None:
    if fmt in ("json", "jsonl"):
        output.emit_json(plan)
        return
    ids = [plan["keep"], *plan["dropped"]]
    rows = [
        {
            "field": f["field"],
            **{f"#{cid}": f["values"].get(str(cid)) for cid in ids},
            "result": f["result"],
            "from": f["from"],
        }
        for f in plan["fields"]
    ]
    output.emit_rows(rows, fmt, columns=["field", *(f"#{cid}" for cid in ids), "result", "from"])
    for c in plan["contacts_added"]:
        output.info(f"kept as a secondary {c['kind']}: {c['value']} (from {c['merged_from']})")
    moves = ", ".join(f"{n} {t}" for t, n in plan["moves"].items())
    output.info(
        f"would move {moves or 'no related records'}{_custom_note(plan['custom'])};"
        " nothing was changed (--dry-run)"
    )


@app.command("unmerge")
def unmerge(
    audit_id: Annotated[int, typer.Argument(help="The audit entry of the merge (`audit list`).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Undo a merge: the merged customers come back with their ids, fields, tags and
    history; the survivor gets its own fields back and loses the contact points the merge
    added. Exit 4 if it was undone already or a merged id is in use again.

    Example: crm customer unmerge 1234 --yes
    """
    from crmcli.db import merge as merging

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        confirm_or_refuse(f"Undo the merge recorded in audit entry {audit_id}?", yes)
        result = merging.unmerge(database, audit_id)
    if fmt in ("json", "jsonl"):
        output.emit_json(result)
        return
    output.info(
        f"Restored customer(s) {', '.join(map(str, result['restored']))} from {result['keep']}"
    )
