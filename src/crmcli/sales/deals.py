"""Deal workflow: add, move, win, lose, reopen, each checked against the stage rules."""

from __future__ import annotations

from typing import Any

from crmcli.core.errors import InvalidInput
from crmcli.db import Database
from crmcli.db import deals as repo
from crmcli.sales import stages as rules


def add_deal(db: Database, values: dict[str, Any], stage: str | None) -> int:
    """A new deal in `stage` (name or alias; default: the first open stage)."""
    if values.get("customer_id") is None and values.get("company_id") is None:
        raise InvalidInput("a deal needs --customer ID or --company ID")
    stages = repo.list_stages(db)
    if stage is None:
        chosen = next(s for s in stages if s["kind"] == "open")
    else:
        chosen = rules.resolve_stage(stages, stage)
        if chosen["kind"] != "open":
            raise InvalidInput(
                f"a new deal starts in an open stage; add it, then `crm deal {chosen['kind']}`"
            )
    return repo.add_deal(db, {**values, "stage": chosen["name"]})


def move_deal(db: Database, deal_id: int, stage: str, note: str | None = None) -> dict[str, Any]:
    with db.transaction():
        deal = repo.get_deal(db, deal_id)
        stages = repo.list_stages(db)
        target = rules.resolve_stage(stages, stage)
        current = rules.resolve_stage(stages, deal["stage"])
        rules.check_move(deal, current, target)
        if target["name"] != deal["stage"]:
            repo.set_stage(db, deal_id, target["name"], "open", note=note)
        return repo.get_deal(db, deal_id)


def close_deal(
    db: Database, deal_id: int, outcome: str, amount: int | None = None, reason: str | None = None
) -> dict[str, Any]:
    """Win (outcome 'won') or lose ('lost', with a reason) an open deal."""
    if outcome == "lost" and not (reason and reason.strip()):
        raise InvalidInput("say why the deal was lost: --reason R")
    with db.transaction():
        deal = repo.get_deal(db, deal_id)
        stages = repo.list_stages(db)
        current = rules.resolve_stage(stages, deal["stage"])
        rules.check_close(deal, current, outcome)
        target = next(s for s in stages if s["kind"] == outcome)
        repo.set_stage(
            db, deal_id, target["name"], outcome, amount=amount,
            lost_reason=reason.strip() if reason else None,
        )  # fmt: skip
        return repo.get_deal(db, deal_id)


def reopen_deal(db: Database, deal_id: int, note: str | None = None) -> dict[str, Any]:
    """Back to the open stage the deal closed from (the first open stage if that is gone)."""
    with db.transaction():
        deal = repo.get_deal(db, deal_id)
        stages = repo.list_stages(db)
        current = rules.resolve_stage(stages, deal["stage"])
        rules.check_reopen(deal, current)
        before = repo.stage_before_close(db, deal_id)
        open_names = [s["name"] for s in stages if s["kind"] == "open"]
        target = before if before is not None and before in open_names else open_names[0]
        repo.reopen_deal(db, deal_id, target, note)
        return repo.get_deal(db, deal_id)
