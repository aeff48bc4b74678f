"""`crm comm ...`: Log calls, emails and meetings; follow-ups; contact trends and forecasts.

Kept light: `crm comm log` runs in shell loops thousands of times, so nothing heavy is
imported here (no pandas; icalendar only for `due --ics`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmcli.commands.hot import find_customer as _find_customer
from crmcli.commands.hot import log_communication, read_content
from crmcli.commands.hot import option_time as _time
from crmcli.commands.options import (
    ColumnsOption,
    DbOption,
    FollowSymlinksOption,
    FormatOption,
    ImportFileArgument,
    LimitOption,
    MaskOption,
    SinceOption,
    UntilOption,
    WideOption,
    confirm_or_refuse,
    import_command,
    note_shown,
    open_db,
    out_format,
    row_limit,
)
from crmcli.core import clock
from crmcli.core.clock import to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import (
    CHANNELS,
    DIRECTIONS,
    clean_text,
    normalize_enum,
    parse_duration,
)
from crmcli.db import communications as repo
from crmcli.output import emit as output

if TYPE_CHECKING:
    from crmcli.importing.pipeline import ImportOptions

app = typer.Typer()  # its commands join the group's app in __init__

LIST_COLUMNS = [
    "id",
    "customer_id",
    "customer_name",
    "channel",
    "direction",
    "occurred_at",
    "subject",
    "agent",
    "follow_up_at",
    "done_at",
]
DUE_COLUMNS = [
    "id",
    "follow_up_at",
    "overdue",
    "customer_id",
    "customer_name",
    "customer_phone",
    "channel",
    "subject",
    "agent",
]


# ---------------------------------------------------------------- option types

ChannelOpt = Annotated[
    str | None,
    typer.Option(
        "--channel",
        "-c",
        help="phone, email, meeting, chat, sms, visit, social or other (电话, 邮件 ... accepted).",
        show_default=False,
    ),
]
DirectionOpt = Annotated[
    str | None,
    typer.Option("--direction", help="inbound or outbound (呼入 / 呼出).", show_default=False),
]
SubjectOpt = Annotated[str | None, typer.Option("--subject", help="Subject.", show_default=False)]
ContentOpt = Annotated[
    str | None,
    typer.Option(
        "--content", help="Text of the contact; '-' reads standard input.", show_default=False
    ),
]
ContentFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--content-file", help="Read the text from this file (UTF-8).", show_default=False
    ),
]
AgentOpt = Annotated[
    str | None, typer.Option("--agent", help="Who made the contact.", show_default=False)
]
DurationOpt = Annotated[
    str | None,
    typer.Option("--duration", help="Length: 15m, 1h30m, 90s, 0:45.", show_default=False),
]
FollowUpOpt = Annotated[
    str | None,
    typer.Option(
        "--follow-up",
        help="When to follow up: '+3d', 'tomorrow 9am', '2024-05-01 10:00'.",
        show_default=False,
    ),
]
ExternalIdOpt = Annotated[
    str | None,
    typer.Option("--external-id", help="Find the customer by external id.", show_default=False),
]
EmailOpt = Annotated[
    str | None, typer.Option("--email", help="Find the customer by email.", show_default=False)
]
PhoneOpt = Annotated[
    str | None, typer.Option("--phone", help="Find the customer by phone.", show_default=False)
]


# ---------------------------------------------------------------- log / show / list


@app.command("log")
def log(
    customer_id: Annotated[
        int | None, typer.Argument(help="Customer id (or use --external-id / --email / --phone).")
    ] = None,
    channel: ChannelOpt = None,
    direction: DirectionOpt = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="When it happened (default: now).", show_default=False),
    ] = None,
    subject: SubjectOpt = None,
    content: ContentOpt = None,
    content_file: ContentFileOpt = None,
    agent: AgentOpt = None,
    duration: DurationOpt = None,
    follow_up: FollowUpOpt = None,
    external_id: ExternalIdOpt = None,
    email: EmailOpt = None,
    phone: PhoneOpt = None,
    deal: Annotated[
        int | None, typer.Option("--deal", help="Deal id it is about.", show_default=False)
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Log a call, email, meeting ... with a customer and print its id.

    Example: crm comm log 42 --channel phone --direction inbound --subject "报价" --duration 15m --follow-up "+3d"
    """
    log_communication(
        customer_id=customer_id,
        channel=channel,
        direction=direction,
        at=at,
        subject=subject,
        content=content,
        content_file=content_file,
        agent=agent,
        duration=duration,
        follow_up=follow_up,
        external_id=external_id,
        email=email,
        phone=phone,
        deal=deal,
        db=db,
        format=format,
    )


@app.command("show")
def show(
    comm_id: Annotated[int, typer.Argument(help="Communication id.")],
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Show one communication with its full text.

    Example: crm comm show 7 --format json
    """
    fmt = out_format(format)
    with open_db(db) as database:
        record = repo.get_communication(database, comm_id)
    output.emit_object(record, fmt, title=f"communication {comm_id}")


@app.command("list")
def list_(
    customer: Annotated[
        int | None, typer.Option("--customer", help="Customer id.", show_default=False)
    ] = None,
    external_id: ExternalIdOpt = None,
    email: EmailOpt = None,
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", "-c", help="Channel (repeatable).", show_default=False),
    ] = None,
    agent: AgentOpt = None,
    since: SinceOption = None,
    until: UntilOption = None,
    search: Annotated[
        str | None,
        typer.Option("--search", "-s", help="Text in the subject or content.", show_default=False),
    ] = None,
    limit: LimitOption = None,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many.", min=0)] = 0,
    columns: ColumnsOption = None,
    wide: WideOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """List communications, newest first.

    Example: crm comm list --customer 42 --channel phone --since 2024-01-01 --search 报价
    """
    fmt = out_format(format)
    flt = repo.CommFilter(
        channels=[normalize_enum(c, CHANNELS, "channel") for c in channel or []],
        agent=clean_text(agent),
        since=_time(since, "--since") if since else None,
        until=_time(until, "--until") if until else None,
        search=search.strip() if search and search.strip() else None,
    )
    if flt.since and flt.until and flt.since >= flt.until:
        raise InvalidInput("--since must be before --until")
    with open_db(db) as database:
        if customer is not None or external_id is not None or email is not None:
            flt.customer_id = _find_customer(database, customer, external_id, email, None)
        cap = row_limit(limit, fmt)
        rows = repo.list_communications(database, flt, limit=cap, offset=offset)
        note_shown(len(rows), lambda: repo.count_communications(database, flt), cap, fmt)
    output.emit_rows(rows, fmt, columns=LIST_COLUMNS if fmt in ("table", "markdown") else None)


# ---------------------------------------------------------------- update / delete


@app.command("update")
def update(
    comm_id: Annotated[int, typer.Argument(help="Communication id.")],
    channel: ChannelOpt = None,
    direction: DirectionOpt = None,
    at: Annotated[
        str | None, typer.Option("--at", help="New time of the contact.", show_default=False)
    ] = None,
    subject: SubjectOpt = None,
    content: ContentOpt = None,
    content_file: ContentFileOpt = None,
    agent: AgentOpt = None,
    duration: DurationOpt = None,
    follow_up: Annotated[
        str | None,
        typer.Option("--follow-up", help="New follow-up time ('' clears it).", show_default=False),
    ] = None,
    customer: Annotated[
        int | None,
        typer.Option("--customer", help="Move to another customer (id).", show_default=False),
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Change fields of a communication; prints what changed. '' clears an optional field.

    Example: crm comm update 7 --subject "报价 v2" --follow-up "2024-05-02 10:00"
    """
    fmt = out_format(format)
    changes: dict[str, Any] = {}
    if channel is not None:
        changes["channel"] = normalize_enum(channel, CHANNELS, "channel")
    if direction is not None:
        changes["direction"] = normalize_enum(direction, DIRECTIONS, "direction")
    if at is not None:
        changes["occurred_at"] = _time(at, "--at")
    if subject is not None:
        changes["subject"] = clean_text(subject)
    if content is not None or content_file is not None:
        changes["content"] = read_content(content, content_file)
    if agent is not None:
        changes["agent"] = clean_text(agent)
    if duration is not None:
        changes["duration_s"] = parse_duration(duration, "--duration") if duration.strip() else None
    if follow_up is not None:
        changes["follow_up_at"] = _time(follow_up, "--follow-up") if follow_up.strip() else None
        changes["done_at"] = None  # a new follow-up is open again
    if customer is not None:
        changes["customer_id"] = customer
    if not changes:
        raise InvalidInput("nothing to update; give at least one --field value")
    with open_db(db, write=True) as database:
        diff = repo.update_communication(database, comm_id, changes)
    output.emit_changes(diff, fmt)


@app.command("delete")
def delete(
    comm_id: Annotated[int, typer.Argument(help="Communication id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Delete a communication (asks on a terminal; refuses without --yes elsewhere).

    Example: crm comm delete 7 --yes
    """
    fmt = out_format(format)
    with open_db(db, write=True) as database:
        record = repo.get_communication(database, comm_id)
        confirm_or_refuse(
            f"Delete communication {comm_id} ({record['channel']} with {record['customer_name']})?",
            yes,
        )
        repo.delete_communication(database, comm_id)
    if fmt in ("json", "jsonl"):
        output.emit_json({"id": comm_id, "deleted": True})
    else:
        output.info(f"Deleted communication {comm_id}")


# ---------------------------------------------------------------- follow-ups


@app.command("due")
def due(
    within: Annotated[
        str,
        typer.Option("--within", help="Follow-ups due within this time from now: 7d, 12h, 2w."),
    ] = "7d",
    agent: AgentOpt = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only follow-ups already past due.")
    ] = False,
    all_: Annotated[
        bool, typer.Option("--all", help="Every open follow-up, however far ahead.")
    ] = False,
    ics: Annotated[
        Path | None,
        typer.Option(
            "--ics",
            help="Write the follow-ups to this iCalendar file (atomically).",
            show_default=False,
        ),
    ] = None,
    follow_symlinks: FollowSymlinksOption = False,
    mask: MaskOption = None,
    columns: ColumnsOption = None,
    limit: LimitOption = None,
    wide: WideOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Open follow-ups coming due (overdue ones included), oldest first.

    A table shows the first 50 (stderr says how many there are); json, jsonl, csv and
    --ics carry all of them unless --limit is given.

    Example: crm comm due --within 3d --agent alice --ics ~/followups.ics
    """
    from datetime import timedelta

    fmt = out_format(format)
    if overdue and all_:
        raise InvalidInput("--overdue and --all contradict each other")
    seconds = parse_duration(within, "--within")
    now = clock.now()
    until = None if all_ else to_iso(now + timedelta(seconds=seconds))
    with open_db(db) as database:
        rows = repo.due_follow_ups(database, until, to_iso(now), clean_text(agent), overdue)
    cap = row_limit(limit, fmt) if ics is None else (limit or None)
    total = len(rows)
    rows = rows[:cap] if cap is not None else rows
    if ics is None:
        note_shown(len(rows), total, cap, fmt)
    from crmcli.core import masking

    if masking.should_mask(mask):
        rows = masking.mask_personal(rows)
    if ics is not None:
        from crmcli.reports.comm import write_follow_ups_ics

        written = write_follow_ups_ics(rows, ics, follow_symlinks)
        if fmt in ("json", "jsonl"):
            output.emit_json({"file": str(written), "events": len(rows)})
        else:
            output.info(f"Wrote {len(rows)} follow-up(s) to {written}")
        return
    output.emit_rows(rows, fmt, columns=DUE_COLUMNS if fmt in ("table", "markdown") else None)


@app.command("done")
def done(
    comm_id: Annotated[int, typer.Argument(help="Communication id whose follow-up is done.")],
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Close a follow-up (exit 4 if it has none or is already done).

    Example: crm comm done 7
    """
    fmt = out_format(format)
    with open_db(db, write=True) as database:
        record = repo.mark_done(database, comm_id)
    if fmt in ("json", "jsonl"):
        output.emit_json({"id": comm_id, "done_at": record["done_at"]})
    else:
        output.info(f"Follow-up of communication {comm_id} done")


# ---------------------------------------------------------------- import


@app.command("import")
@import_command(customer_key=True)
def import_(
    file: ImportFileArgument,
    options: ImportOptions,
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel",
            help="Channel of rows without one (a call log: --channel phone); a channel cell wins.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Import communications from CSV in one transaction; summary on stderr (JSON on stdout).

    Columns: customer_external_id (or customer_id / customer_email / customer_phone),
    occurred_at, channel, direction, subject, content, agent, duration_s, follow_up_at,
    external_id. Chinese headers (时间, 渠道, 内容 ...) and values (电话, 呼入 ...) work too.

    Example: crm comm import calls.csv --customer-key external_id --rejects bad.csv
    """
    from crmcli.importing.comms import import_communications

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        summary = import_communications(database, str(file), options, channel)
    output.emit_import_summary(summary, fmt)
