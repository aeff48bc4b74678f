"""`crm comm import-mail` and `crm comm import-calendar`: office mail and meetings as
communications (registered onto the comm group's app; see cli._register)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crmcli.commands.options import DbOption, FormatOption, open_db, out_format
from crmcli.commands.session import dry_run as dry_run_scope
from crmcli.output import emit as output

app = typer.Typer()  # its commands join the group's app in __init__

OurDomainOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--our-domain",
        help="A domain of ours (repeatable): mail from it is outbound; its people are agents.",
        show_default=False,
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be imported; change nothing.")
]
UNMATCHED_LINES = 50


def _report(summary: dict[str, Any], fmt: str, noun: str) -> None:
    """Summary on stdout; unmatched addresses and a one-line result on stderr."""
    unmatched = summary["unmatched"]
    for entry in unmatched[:UNMATCHED_LINES]:
        name = f" ({entry['name']})" if entry.get("name") else ""
        output.warn(f"unmatched {entry['role']} {entry['email']}{name}: {entry['items']} {noun}")
    if len(unmatched) > UNMATCHED_LINES:
        output.warn(f"... and {len(unmatched) - UNMATCHED_LINES} more unmatched addresses")
    for skipped in summary["skipped"][:UNMATCHED_LINES]:
        output.warn(f"skipped {skipped['source']}: {skipped['reason']}")
    if len(summary["skipped"]) > UNMATCHED_LINES:
        more = len(summary["skipped"]) - UNMATCHED_LINES
        output.warn(f"... and {more} more skipped (all of them in --format json)")
    for warning in summary["warnings"][:UNMATCHED_LINES]:
        output.warn(f"{warning['source']}: {warning['warning']}")
    if len(summary["warnings"]) > UNMATCHED_LINES:
        more = len(summary["warnings"]) - UNMATCHED_LINES
        output.warn(f"... and {more} more warnings (all of them in --format json)")
    if fmt in ("json", "jsonl"):
        output.emit_json(summary)
    else:
        output.emit_object(summary, fmt, title=f"import {summary['kind']}")
    head = "Dry run: would create" if summary["dry_run"] else "Created"
    changes = ""
    if summary["kind"] == "calendar":
        changes = f", {summary['updated']} updated, {summary['removed']} removed"
    if summary.get("matched_by_reply_to"):
        changes = f", {summary['matched_by_reply_to']} matched through Reply-To"
    addresses = summary["unmatched_addresses"]
    output.info(
        f"{head} {summary['communications_created']} communications from "
        f"{summary['imported_items']} of {summary['items']} {noun} "
        f"({summary['duplicates']} already imported{changes}, "
        f"{summary['unmatched_items']} without a customer, {len(summary['skipped'])} skipped; "
        f"{addresses} unmatched address{'' if addresses == 1 else 'es'})."
    )


@app.command("import-mail")
def import_mail(
    source: Annotated[
        Path,
        typer.Argument(help="An mbox file, a message file, or a directory of .eml files."),
    ],
    our_domain: OurDomainOpt = None,
    glob: Annotated[
        str | None,
        typer.Option(
            "--glob",
            help="In a directory, read the files matching this pattern (default: *.eml, any case).",
            show_default=False,
        ),
    ] = None,
    charset: Annotated[
        str | None,
        typer.Option(
            "--charset",
            help="Charset of undeclared 8-bit headers (default: detected, with a warning when"
            " another one fits as well).",
            show_default=False,
        ),
    ] = None,
    create_leads: Annotated[
        bool,
        typer.Option("--create-leads", help="Create unknown senders as customers (lead)."),
    ] = False,
    dry_run: DryRunOpt = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Import mail as email communications, matched to customers by address.

    Direction comes from --our-domain (mail from it is outbound). Headers are decoded per
    header (RFC 2047, declared charsets, UTF-8, detection), bodies taken as text (HTML
    converted), times from the Date header (one without a time zone is skipped: its moment
    is unknown). Recipients are To, Cc and Bcc. A message that cannot be read is skipped
    with its reason; the first 1,000 recipients of a message are read. Re-importing the same
    mailbox adds nothing (Message-ID -> external_id "mail:<id>"). One transaction and one
    audit row per import.

    Example: crm comm import-mail inbox.mbox --our-domain example.com --create-leads
    """
    from crmcli.core import clock
    from crmcli.core.errors import InvalidInput
    from crmcli.importing.mail import charset_label, check_source, iter_messages
    from crmcli.importing.office import Summary, import_items, normalize_domains

    fmt = out_format(format)
    domains = normalize_domains(our_domain)
    check_source(source)
    codec = charset_label(charset) if charset else None
    if charset and codec is None:
        raise InvalidInput(f"unknown --charset {charset!r}; use a name such as gb18030 or big5")
    summary = Summary(source=str(source), kind="mail", dry_run=dry_run)
    messages = iter_messages(source, glob=glob, now=clock.now(), charset=codec)
    with dry_run_scope(dry_run), open_db(db, write=True) as database:  # (none created)
        import_items(database, messages, summary, domains, create_leads)
    _report(summary.as_dict(), fmt, "messages")


@app.command("import-calendar")
def import_calendar(
    source: Annotated[Path, typer.Argument(help="An iCalendar (.ics) file.")],
    our_domain: OurDomainOpt = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Window start (default: 90 days ago).", show_default=False),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Window end (default: 30 days ahead).", show_default=False),
    ] = None,
    dry_run: DryRunOpt = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Import meetings with known customers as meeting communications.

    Each VEVENT occurrence in the window (recurring events expanded by recurring-ical-events:
    RRULE, RDATE incl. periods, EXDATE, RECURRENCE-ID overrides incl. THISANDFUTURE) becomes
    one communication per customer attendee: time = DTSTART, duration from DTEND/DURATION,
    subject = SUMMARY, content = DESCRIPTION. Copies of one event: the highest SEQUENCE, then
    the latest DTSTAMP wins. Re-importing updates renamed or moved meetings and removes
    cancelled ones (external_id "ics:<UID>:<start>"). A bad event is skipped with its reason.

    Example: crm comm import-calendar team.ics --our-domain example.com --since 2024-01-01
    """
    from datetime import timedelta

    from crmcli.core import clock
    from crmcli.core.errors import InvalidInput
    from crmcli.core.validate import parse_datetime
    from crmcli.importing.calendar import CalendarReader
    from crmcli.importing.office import Summary, import_items, normalize_domains

    fmt = out_format(format)
    domains = normalize_domains(our_domain)
    now = clock.now()
    start = parse_datetime(since, "--since") if since else now - timedelta(days=90)
    end = parse_datetime(until, "--until") if until else now + timedelta(days=30)
    if end < start:
        raise InvalidInput("--until is before --since")
    reader = CalendarReader(source, clock.local_zone())
    summary = Summary(source=str(source), kind="calendar", dry_run=dry_run)
    with dry_run_scope(dry_run), open_db(db, write=True) as database:  # (none created)
        import_items(database, reader.items(start, end), summary, domains, update_existing=True)
    for warning in reader.warnings:
        summary.warnings.append({"source": source.name, "warning": warning})
    summary.extra = {
        **reader.stats.as_dict(),
        "since": clock.display_time(clock.to_iso(start)),
        "until": clock.display_time(clock.to_iso(end)),
    }
    _report(summary.as_dict(), fmt, "meetings")
