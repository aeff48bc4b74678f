"""`crm ticket ...`: Customer service tickets: open, assign, follow up, SLA, satisfaction."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmcli.commands.options import (
    ColumnsOption,
    DbOption,
    FormatOption,
    ImportFileArgument,
    LimitOption,
    SetOption,
    WideOption,
    import_command,
    note_shown,
    open_db,
    out_format,
    row_limit,
)
from crmcli.core.clock import to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import PRIORITIES, normalize_enum, parse_datetime, parse_duration
from crmcli.output import emit as output

if TYPE_CHECKING:
    from crmcli.importing.pipeline import ImportOptions

app = typer.Typer()  # its commands join the group's app in __init__

LIST_COLUMNS = [
    "id",
    "customer",
    "subject",
    "category",
    "priority",
    "status",
    "assignee",
    "created_at",
    "due_at",
    "breached",
]

TicketId = Annotated[int, typer.Argument(help="Ticket id.")]
NoteOpt = Annotated[
    str | None, typer.Option("--note", help="A note kept in the timeline.", show_default=False)
]
ExplainOpt = Annotated[bool, typer.Option("--explain", help="Show why the agent was chosen.")]


def _priority(value: str) -> str:
    return normalize_enum(value, PRIORITIES, "priority")


def _channel(value: str | None) -> str | None:
    from crmcli.core.validate import CHANNELS, clean_text

    if value is None:
        return None
    try:
        return normalize_enum(value, (*CHANNELS, "web"), "channel")
    except InvalidInput:
        return (clean_text(value) or "").lower() or None


def _explain(result: dict[str, Any]) -> None:
    """The reasons behind an assignment, for people, on stderr."""
    agent = result.get("agent") or result.get("assignee")
    output.info(f"Assigned to: {agent or 'nobody'} (policy {result.get('policy')})")
    for reason in result.get("reasons", []):
        output.info(f"  - {reason}")
    for c in result.get("candidates", []):
        output.info(
            f"    {c['agent']}: {c['open_tickets']} open"
            + (f" / max {c['max_open']}" if c["max_open"] is not None else "")
            + f", skills [{c['skills']}] -> {c['note']}"
        )


@app.command("open")
def open_(
    customer_id: Annotated[
        int | None, typer.Argument(help="Customer id.", show_default=False)
    ] = None,
    subject: Annotated[str, typer.Option("--subject", help="One-line summary (required).")] = "",
    description: Annotated[
        str | None,
        typer.Option(
            "--description", help="Full text; '-' reads standard input.", show_default=False
        ),
    ] = None,
    priority: Annotated[str, typer.Option(help="low, normal, high or urgent.")] = "normal",
    category: Annotated[
        str | None,
        typer.Option(help="Category (default: keyword rules, then the model).", show_default=False),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="email, phone, chat, web, ...", show_default=False)
    ] = None,
    external_id: Annotated[
        str | None,
        typer.Option("--external-id", help="Customer by external id.", show_default=False),
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Customer by email.", show_default=False)
    ] = None,
    no_reply: Annotated[
        bool, typer.Option("--no-reply", help="Do not write the auto-reply.")
    ] = False,
    explain: ExplainOpt = False,
    deal: Annotated[
        int | None, typer.Option("--deal", help="Deal id it is about.", show_default=False)
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Custom field NAME=VALUE (repeatable).", show_default=False),
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Open a ticket: classify, assign, set SLA due times, write the auto-reply; prints the id.

    Example: crm ticket open 42 --subject "发票开错了" --priority high --channel email
    """
    from crmcli.db.customers import find_customer_id
    from crmcli.tickets.service import open_ticket

    fmt = out_format(format)
    if not subject.strip():
        raise InvalidInput("a ticket needs a --subject")
    if description == "-":
        description = sys.stdin.read()
    description = description.strip() if description and description.strip() else None
    with open_db(db, write=True) as database:
        from crmcli.customers import fields
        from crmcli.db.deals import check_deal_link, link_ticket

        cid = find_customer_id(database, customer_id, external_id, email)
        custom = fields.parse_assignments(database, "ticket", set_)
        if deal is not None:
            check_deal_link(database, deal, cid)
        result = open_ticket(
            database,
            cid,
            subject,
            description,
            priority=_priority(priority),
            category=category.strip() if category and category.strip() else None,
            channel=_channel(channel),
            reply=not no_reply,
        )
        with database.transaction():
            if deal is not None:
                link_ticket(database, result["id"], deal)
            fields.apply(database, "ticket", result["id"], custom)
    if explain:
        _explain(result["assignment"])
        cls = result["classification"]
        output.info(f"Category: {result['category'] or 'none'} ({cls['source']})")
        if fmt in ("json", "jsonl"):
            output.emit_json(result)
            return
    output.emit_id(result["id"], fmt)


def _transition(action: str, ticket_id: int, note: str | None, db: Any, fmt: str) -> None:
    from crmcli.tickets.service import transition

    with open_db(db, write=True) as database:
        result = transition(database, ticket_id, action, note)
    output.emit_object(result, fmt)


@app.command("start")
def start(
    ticket_id: TicketId, note: NoteOpt = None, db: DbOption = None, format: FormatOption = None
) -> None:
    """Start work on a ticket (open or waiting -> in_progress); counts as the first response.

    Example: crm ticket start 7 --note "looking into it"
    """
    _transition("start", ticket_id, note, db, out_format(format))


@app.command("wait")
def wait(
    ticket_id: TicketId, note: NoteOpt = None, db: DbOption = None, format: FormatOption = None
) -> None:
    """Wait on the customer (-> waiting): the SLA clock stops until the ticket moves on.

    Example: crm ticket wait 7 --note "asked for the order number"
    """
    _transition("wait", ticket_id, note, db, out_format(format))


@app.command("resolve")
def resolve(
    ticket_id: TicketId, note: NoteOpt = None, db: DbOption = None, format: FormatOption = None
) -> None:
    """Resolve a ticket (open, in_progress or waiting -> resolved).

    Example: crm ticket resolve 7 --note "refund issued"
    """
    _transition("resolve", ticket_id, note, db, out_format(format))


@app.command("close")
def close(
    ticket_id: TicketId, note: NoteOpt = None, db: DbOption = None, format: FormatOption = None
) -> None:
    """Close a resolved ticket (resolved -> closed).

    Example: crm ticket close 7
    """
    _transition("close", ticket_id, note, db, out_format(format))


@app.command("reopen")
def reopen(
    ticket_id: TicketId, note: NoteOpt = None, db: DbOption = None, format: FormatOption = None
) -> None:
    """Reopen a resolved or closed ticket (-> open); the SLA clock runs again.

    Example: crm ticket reopen 7 --note "customer says it still fails"
    """
    _transition("reopen", ticket_id, note, db, out_format(format))


@app.command("assign")
def assign(
    ticket_id: TicketId,
    agent: Annotated[str | None, typer.Argument(help="Agent name.", show_default=False)] = None,
    auto: Annotated[bool, typer.Option("--auto", help="Choose by the assignment policy.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Assign even if the agent is full.")
    ] = False,
    explain: ExplainOpt = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Assign a ticket to an agent, or let the policy choose with --auto.

    Example: crm ticket assign 7 --auto --explain
    """
    from crmcli.tickets.service import assign as do_assign

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        result = do_assign(database, ticket_id, agent, auto=auto, force=force)
    if explain:
        _explain(result)
    if fmt in ("json", "jsonl"):
        output.emit_json(result if explain else {"id": ticket_id, "assignee": result["agent"]})
    else:
        output.emit_object({"id": ticket_id, "assignee": result["agent"]}, fmt)


@app.command("comment")
def comment(
    ticket_id: TicketId,
    text: Annotated[str, typer.Argument(help="The comment; '-' reads standard input.")],
    internal: Annotated[
        bool, typer.Option("--internal", help="For the team only (not a response).")
    ] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Add a comment to the timeline; the first public one counts as the first response.

    Example: crm ticket comment 7 "We have reissued the invoice."
    """
    from crmcli.tickets.service import comment as add_comment

    if text == "-":
        text = sys.stdin.read()
    with open_db(db, write=True) as database:
        result = add_comment(database, ticket_id, text, internal)
    output.emit_object(result, out_format(format))


@app.command("update")
def update(
    ticket_id: TicketId,
    subject: Annotated[str | None, typer.Option(help="New subject.", show_default=False)] = None,
    description: Annotated[
        str | None, typer.Option(help="New description.", show_default=False)
    ] = None,
    priority: Annotated[
        str | None,
        typer.Option(help="New priority (due times follow).", show_default=False),
    ] = None,
    category: Annotated[
        str | None, typer.Option(help="New category ('' clears).", show_default=False)
    ] = None,
    channel: Annotated[str | None, typer.Option(help="New channel.", show_default=False)] = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="New status by its legal move (处理中, resolved, ...).", show_default=False
        ),
    ] = None,
    set_: SetOption = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Change a ticket's fields; prints what changed.

    Example: crm ticket update 7 --priority urgent --category billing
    """
    from crmcli.tickets.service import update as do_update
    from crmcli.tickets.workflow import normalize_status

    fmt = out_format(format)
    changes: dict[str, Any] = {}
    if subject is not None:
        if not subject.strip():
            raise InvalidInput("the subject cannot be empty")
        changes["subject"] = subject.strip()
    if description is not None:
        changes["description"] = description.strip() or None
    if priority is not None:
        changes["priority"] = _priority(priority)
    if category is not None:
        changes["category"] = category.strip() or None
    if channel is not None:
        changes["channel"] = _channel(channel)
    if status is not None:
        changes["status"] = normalize_status(status)
    if not changes and not set_:
        raise InvalidInput("nothing to update; give at least one option")
    with open_db(db, write=True) as database:
        from crmcli.customers import fields

        with database.transaction():
            custom = fields.parse_assignments(database, "ticket", set_)
            diff = do_update(database, ticket_id, changes) if changes else {}
            if custom:
                before = fields.custom_of(database, "ticket", ticket_id)
                fields.apply(database, "ticket", ticket_id, custom)
                after = fields.custom_of(database, "ticket", ticket_id)
                for name in sorted(set(before) | set(after)):
                    if before.get(name) != after.get(name):
                        diff[f"custom.{name}"] = [before.get(name), after.get(name)]
    output.emit_changes(diff, fmt)


@app.command("rate")
def rate(
    ticket_id: TicketId,
    score: Annotated[int, typer.Argument(help="Satisfaction 1 (bad) .. 5 (great).")],
    comment: Annotated[
        str | None, typer.Option("--comment", help="The customer's words.", show_default=False)
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Record the customer's satisfaction (CSAT) with a resolved or closed ticket.

    Example: crm ticket rate 7 5 --comment "很满意"
    """
    from crmcli.tickets.service import rate as do_rate

    with open_db(db, write=True) as database:
        result = do_rate(database, ticket_id, score, comment)
    output.emit_object(result, out_format(format))


@app.command("show")
def show(ticket_id: TicketId, db: DbOption = None, format: FormatOption = None) -> None:
    """Show a ticket: fields, SLA state and the full timeline (events).

    Example: crm ticket show 7 --format json
    """
    from crmcli.tickets.service import flat_sla
    from crmcli.tickets.service import show as ticket_view

    fmt = out_format(format)
    with open_db(db) as database:
        from crmcli.customers.fields import custom_of

        record = ticket_view(database, ticket_id)
        record["custom"] = custom_of(database, "ticket", ticket_id)
    if fmt not in ("json", "jsonl"):
        flat_sla(record)
        for event in record["events"]:
            event["details"] = output.cell(event["details"]) if event["details"] else None
    output.emit_object(record, fmt, title=f"ticket {ticket_id}")


@app.command("list")
def list_(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="Status (repeatable; 未处理/处理中/已处理 too).", show_default=False
        ),
    ] = None,
    assignee: Annotated[str | None, typer.Option(help="Agent name.", show_default=False)] = None,
    category: Annotated[str | None, typer.Option(help="Category.", show_default=False)] = None,
    priority: Annotated[str | None, typer.Option(help="Priority.", show_default=False)] = None,
    customer: Annotated[int | None, typer.Option(help="Customer id.", show_default=False)] = None,
    breached: Annotated[bool, typer.Option("--breached", help="Only SLA breaches.")] = False,
    since: Annotated[
        str | None, typer.Option(help="Created at or after this time.", show_default=False)
    ] = None,
    limit: LimitOption = None,
    columns: ColumnsOption = None,
    wide: WideOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """List tickets, newest first.

    Example: crm ticket list --status 未处理 --priority high --breached
    """
    from crmcli.db.tickets import TicketFilter, count_tickets
    from crmcli.tickets.service import flat_sla, list_with_sla
    from crmcli.tickets.workflow import normalize_status

    fmt = out_format(format)
    flt = TicketFilter(
        statuses=[normalize_status(s, "--status") for s in status or []] or None,
        assignee=assignee,
        category=category,
        priority=_priority(priority) if priority else None,
        customer_id=customer,
        breached=breached,
        since=to_iso(parse_datetime(since, "--since")) if since else None,
    )
    cap = row_limit(limit, fmt)
    from crmcli.core.clock import now_iso

    now = now_iso()
    with open_db(db) as database:
        rows = list_with_sla(database, flt, limit=cap)
        note_shown(len(rows), lambda: count_tickets(database, flt, now), cap, fmt)
    if fmt not in ("json", "jsonl"):
        rows = [flat_sla(r) for r in rows]
    output.emit_rows(rows, fmt, columns=LIST_COLUMNS if fmt in ("table", "markdown") else None)


@app.command("sla")
def sla(
    at_risk: Annotated[
        str | None,
        typer.Option(
            "--at-risk", help="Due within this much business time (e.g. 2h).", show_default=False
        ),
    ] = None,
    breached: Annotated[bool, typer.Option("--breached", help="Only SLA breaches.")] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Active tickets with their SLA clocks; --at-risk and --breached narrow it down.

    Example: crm ticket sla --at-risk 2h
    """
    from crmcli.tickets.service import sla_listing

    fmt = out_format(format)
    seconds = parse_duration(at_risk, "--at-risk") if at_risk else None
    with open_db(db) as database:
        rows = sla_listing(database, seconds, breached)
    output.emit_rows(rows, fmt)


@app.command("classify")
def classify(
    ticket_id: Annotated[
        int | None,
        typer.Argument(help="Explain the model's guess for this ticket.", show_default=False),
    ] = None,
    train: Annotated[
        bool, typer.Option("--train", help="Train on resolved tickets; report CV accuracy.")
    ] = False,
    text: Annotated[
        str | None, typer.Option("--text", help="Classify this text instead.", show_default=False)
    ] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.", min=2)] = 5,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Store the model even when it is no better than the majority class."
        ),
    ] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Train the category model (--train), or explain its prediction for a ticket or text.

    Training prints the cross-validated accuracy with a verdict; a model whose accuracy is
    not above the majority-class baseline is not stored (exit 1) unless --force.

    Example: crm ticket classify --train && crm ticket classify 7
    """
    from crmcli.output.report import emit_report
    from crmcli.tickets.classifying import explain, train_model

    fmt = out_format(format)
    if train == (ticket_id is not None or text is not None):
        raise InvalidInput("give --train, or a ticket ID or --text to explain")
    if force and not train:
        raise InvalidInput("--force goes with --train")
    with open_db(db, write=train) as database:
        report = (
            train_model(database, folds, force) if train else explain(database, ticket_id, text)
        )
    emit_report(report, fmt, title="ticket classifier")
    if train:
        verdict = report["verdict"]
        line = f"Cross-validated accuracy {verdict['score']:.3f}: {verdict['text']}."
        if verdict["ok"]:
            output.info(line)
        elif force:
            output.warn(line + " Stored anyway (--force).")
        else:
            output.warn(line + " The model was not stored; --force stores it anyway.")
            raise typer.Exit(1)


@app.command("import")
@import_command(customer_key=True)
def import_(
    file: ImportFileArgument,
    options: ImportOptions,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Import ticket history from CSV in one transaction, keeping timestamps and statuses.

    Existing tickets (same external_id) are updated. Statuses may use 未处理/处理中/已处理.

    Example: crm ticket import tickets.csv --customer-key external_id
    """
    from crmcli.importing.tickets import import_tickets

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        summary = import_tickets(database, str(file), options)
    output.emit_import_summary(summary, fmt)
