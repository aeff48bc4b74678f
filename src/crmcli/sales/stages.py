"""Deal stage rules: naming a stage (name or alias), and which moves are allowed.

Stages live in the database (`deal_stages`: name, alias, position, probability, kind); the
kinds are `open` (any number, ordered by position), `won` and `lost` (one each, fixed). A
won or lost deal moves only by `deal reopen`, back to the open stage it closed from.
"""

from __future__ import annotations

import re
from typing import Any

from crmcli.core.errors import Conflict, InvalidInput

STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def resolve_stage(stages: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """The stage named by `text` (its name, case-insensitive, or its alias), or exit 2."""
    wanted = text.strip()
    for stage in stages:
        if stage["name"] == wanted.lower() or (stage["alias"] and stage["alias"] == wanted):
            return stage
    known = ", ".join(f"{s['name']} ({s['alias']})" if s["alias"] else s["name"] for s in stages)
    raise InvalidInput(f"unknown deal stage {text!r}; stages: {known}")


def check_new_stage_name(name: str) -> str:
    text = name.strip().lower()
    if not STAGE_NAME.match(text):
        raise InvalidInput(
            f"invalid stage name {name!r}: lower-case letters, digits and _ (up to 40)"
        )
    return text


def check_probability(value: int | None, what: str = "--probability") -> int | None:
    if value is not None and not 0 <= value <= 100:
        raise InvalidInput(f"{what} must be between 0 and 100, got {value}")
    return value


def check_move(deal: dict[str, Any], current: dict[str, Any], target: dict[str, Any]) -> None:
    """Raise unless a deal in `current` may move to the open stage `target` by `deal move`."""
    if current["kind"] != "open":
        raise Conflict(f"deal {deal['id']} is {current['name']}; only `crm deal reopen` moves it")
    if target["kind"] == "won":
        raise InvalidInput("use `crm deal won ID` to win a deal")
    if target["kind"] == "lost":
        raise InvalidInput("use `crm deal lost ID --reason R` to lose a deal")


def check_close(deal: dict[str, Any], current: dict[str, Any], outcome: str) -> None:
    """Raise unless an open deal may be won or lost."""
    if current["kind"] != "open":
        raise Conflict(
            f"deal {deal['id']} is already {current['name']}; `crm deal reopen` it first"
        )


def check_reopen(deal: dict[str, Any], current: dict[str, Any]) -> None:
    if current["kind"] == "open":
        raise Conflict(f"deal {deal['id']} is open ({current['name']}); nothing to reopen")


def new_order(stages: list[dict[str, Any]], names: list[str]) -> list[str]:
    """Validate a full new order of the open stages (every open stage exactly once)."""
    open_names = [s["name"] for s in stages if s["kind"] == "open"]
    resolved = [resolve_stage(stages, n)["name"] for n in names]
    if sorted(resolved) != sorted(open_names) or len(set(resolved)) != len(resolved):
        raise InvalidInput(
            "name every open stage exactly once, in the new order: " + " ".join(open_names)
        )
    return resolved
