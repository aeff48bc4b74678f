"""`crm deal move|won|lost|reopen`: the stage workflow (every step in the deal's history)."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands.deal.common import DealArg, shown
from crmcli.commands.options import DbOption, FormatOption, open_db, out_format
from crmcli.output import emit as output
from crmcli.sales import deals as sales

app = typer.Typer()  # its commands join the group's app in __init__

NoteOpt = Annotated[str | None, typer.Option("--note", help="Why (kept in the history).")]


@app.command("move")
def move(
    deal_id: DealArg,
    stage: Annotated[
        str, typer.Argument(help="Open stage name or alias (e.g. proposal, 方案报价).")
    ],
    note: NoteOpt = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Move an open deal to another open stage; its probability becomes the stage's.

    Example: crm deal move 7 negotiation --note "pricing agreed"
    """
    fmt = out_format(format)
    with open_db(db) as database:
        deal = sales.move_deal(database, deal_id, stage, note)
    output.emit_object(shown(deal), fmt, title=f"deal {deal_id}")


@app.command("won")
def won(
    deal_id: DealArg,
    amount: Annotated[str | None, typer.Option("--amount", help="The final amount.")] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Mark an open deal won (optionally with its final amount).

    Example: crm deal won 7 --amount 118000
    """
    from crmcli.core.validate import parse_money

    fmt = out_format(format)
    cents = parse_money(amount, "--amount", None) if amount is not None else None
    with open_db(db) as database:
        deal = sales.close_deal(database, deal_id, "won", amount=cents)
    output.emit_object(shown(deal), fmt, title=f"deal {deal_id}")


@app.command("lost")
def lost(
    deal_id: DealArg,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why it was lost (required).")
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Mark an open deal lost, with the reason.

    Example: crm deal lost 7 --reason "price"
    """
    fmt = out_format(format)
    with open_db(db) as database:
        deal = sales.close_deal(database, deal_id, "lost", reason=reason)
    output.emit_object(shown(deal), fmt, title=f"deal {deal_id}")


@app.command("reopen")
def reopen(
    deal_id: DealArg, note: NoteOpt = None, db: DbOption = None, format: FormatOption = None
) -> None:
    """Reopen a won or lost deal: back to the open stage it closed from.

    Example: crm deal reopen 7 --note "customer came back"
    """
    fmt = out_format(format)
    with open_db(db) as database:
        deal = sales.reopen_deal(database, deal_id, note)
    output.emit_object(shown(deal), fmt, title=f"deal {deal_id}")
