"""`crm customer forget` and `crm customer export-data`: erasure and subject access requests.

Registered on the customer group's app (see cli._register); the work is in db/privacy.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crmcli.commands.options import (
    DbOption,
    FollowSymlinksOption,
    FormatOption,
    MaskOption,
    confirm_or_refuse,
    open_db,
    out_format,
)
from crmcli.core.clock import display_time
from crmcli.db import privacy
from crmcli.output import emit as output

app = typer.Typer()  # its commands join the group's app in __init__

MAX_ID = 2**63 - 1  # SQLite INTEGER


@app.command("forget")
def forget(
    customer_id: Annotated[int, typer.Argument(help="Customer id.", min=1, max=MAX_ID)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Erase a customer's personal data everywhere (GDPR / PIPL), keeping aggregate facts.

    Name, phone, email, address, notes, external id and tags go; so does free text about
    the customer in communications, tickets, ticket events and audit details. Counts,
    amounts, dates, channels and statuses stay. The file is then vacuumed so the erased
    values are not left in its bytes. Irreversible (backups still hold the old data).

    Example: crm customer forget 42 --yes
    """
    from crmcli.customers.purge import finish_pending
    from crmcli.db.customers import get_customer

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        customer = get_customer(database, customer_id)
        if customer.get("erased_at"):
            # A run killed after the erasure's commit left files to clean: finish them.
            done = finish_pending(database)
            erased = display_time(customer["erased_at"])
            output.info(
                f"Customer {customer_id} was already erased at {erased};"
                f" {done['purges']} pending purge(s) finished"
                f" ({done['outbox_files_removed']} outbox e-mails deleted)."
            )
            if fmt != "table":
                output.emit_object(
                    {"customer_id": customer_id, "already_erased": True, **done}, fmt
                )
            return
        confirm_or_refuse(
            f"Erase all personal data of customer {customer_id}? This cannot be undone.", yes
        )
        summary = privacy.forget_customer(database, customer_id)
        summary.pop("ticket_ids")
        done = finish_pending(database)
        summary["outbox_files_removed"] = done["outbox_files_removed"]
        summary["rejects_rows_removed"] = done["rejects_rows_removed"]
    if not summary.get("purged", True):
        output.warn("erased, but the file could not be vacuumed now: run `crm db vacuum`")
    elif not summary.get("wal_truncated", True):
        output.warn("another process holds the database open: old pages may stay in the WAL")
    if fmt == "table":
        output.info(
            f"Erased customer {customer_id}: {summary['communications']} communications,"
            f" {summary['tickets']} tickets, {summary['audit_rows_redacted']} audit entries redacted,"
            f" {summary['outbox_files_removed']} outbox e-mails deleted."
        )
    else:
        output.emit_object(summary, fmt)


@app.command("export-data")
def export_data(
    customer_id: Annotated[int, typer.Argument(help="Customer id.", min=1, max=MAX_ID)],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the JSON to this file (mode 0600; - is stdout).",
            show_default=False,
        ),
    ] = None,
    mask: MaskOption = None,
    follow_symlinks: FollowSymlinksOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Everything held about one customer as JSON (a subject access request).

    The record, tags, communications, tickets with their events, campaign memberships,
    orders and the audit entries about them.

    Example: crm customer export-data 42 --out customer-42.json
    """
    from crmcli.core.masking import should_mask

    out_format(format or "json", ("json",))
    with open_db(db) as database:
        data = privacy.export_customer(database, customer_id)
    if should_mask(mask):
        from crmcli.core.masking import mask_personal

        data = mask_personal(data)
    text = output.to_json(_prepare(data)) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    from crmcli.core.files import follow_default, write_file

    write_file(out, text, follow_symlinks=follow_default(follow_symlinks))
    if str(out) != "-":
        output.info(f"Wrote {out}")


def _prepare(value: Any, key: str = "") -> Any:
    """Times in the configured zone, like every other JSON output."""
    if isinstance(value, dict):
        return {k: _prepare(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_prepare(v, key) for v in value]
    return output.prepare({key: value})[key] if key else value
