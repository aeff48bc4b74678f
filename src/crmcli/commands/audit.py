"""`crm audit ...`: The audit trail: list and verify."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands.options import (
    ColumnsOption,
    DbOption,
    FormatOption,
    LimitOption,
    MaskOption,
    SinceOption,
    UntilOption,
    WideOption,
    note_shown,
    open_db,
    out_format,
    row_limit,
)
from crmcli.db import audit as repo
from crmcli.output import emit as output

app = typer.Typer(help="The audit trail: list and verify.", no_args_is_help=True)


@app.command("list")
def list_(
    entity: Annotated[
        str | None, typer.Option("--entity", help="customer, ticket, ...", show_default=False)
    ] = None,
    entity_id: Annotated[
        str | None, typer.Option("--entity-id", help="Id of the entity.", show_default=False)
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who acted.", show_default=False)
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help="create, update, delete, forget, ...", show_default=False),
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = None,
    mask: MaskOption = None,
    columns: ColumnsOption = None,
    wide: WideOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """List audit entries, newest first.

    Example: crm audit list --entity customer --entity-id 42 --since 2025-01-01
    """
    from crmcli.core.clock import to_iso
    from crmcli.core.masking import mask_personal, should_mask
    from crmcli.core.validate import parse_datetime

    fmt = out_format(format)
    since_iso = to_iso(parse_datetime(since, "--since")) if since else None
    until_iso = to_iso(parse_datetime(until, "--until")) if until else None
    cap = row_limit(limit, fmt)
    where = {
        "entity": entity,
        "entity_id": entity_id,
        "actor": actor,
        "action": action,
        "since": since_iso,
        "until": until_iso,
    }
    with open_db(db) as database:
        rows = repo.list_entries(database, **where, limit=cap)
        note_shown(len(rows), lambda: repo.count_entries(database, **where), cap, fmt)
    if should_mask(mask):
        for r in rows:
            r["details"] = mask_personal(r["details"])
    output.emit_rows(
        rows, fmt, columns=["id", "at", "actor", "action", "entity", "entity_id", "details"]
    )


@app.command("verify")
def verify(
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="A head hash noted earlier: also fail if the chain no longer contains it.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Check the audit log's hash chain; exit 1 and show the first broken row on tampering.

    Example: crm audit verify --format json
    """
    fmt = out_format(format)
    with open_db(db) as database:
        result = repo.verify(database, head=head)
    if fmt == "table":
        if result["ok"] and not result["rows"]:
            output.info("OK: no audit entries yet (nothing has been changed in this database)")
        elif result["ok"]:
            output.info(f"OK: {result['rows']} audit entries, chain intact; head {result['head']}")
        else:
            output.emit_rows([result["broken"]], fmt)
    else:
        output.emit_object(result, fmt)
    if not result["ok"]:
        broken = result["broken"]
        where = f" at row {broken['id']}" if broken.get("id") is not None else ""
        output.error(f"audit chain broken{where}: {broken['reason']}")
        raise typer.Exit(1)
