"""Options and rendering shared by the deal commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crmcli.commands.options import SetOption

DealArg = Annotated[int, typer.Argument(help="Deal id.")]
SetOpt = SetOption
LIST_COLUMNS = ["id", "title", "stage", "amount", "currency", "probability", "close_date",
                "owner", "customer_id", "company_id"]  # fmt: skip


def shown(deal: dict[str, Any]) -> dict[str, Any]:
    """A deal for output: money as decimals, internal columns dropped."""
    from crmcli.core.validate import money

    out = {k: v for k, v in deal.items() if k != "kind"}
    out["amount"] = money(deal["amount"])
    return out
