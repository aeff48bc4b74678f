"""Ticket statuses and the transitions between them.

    start:   open, waiting              -> in_progress
    wait:    open, in_progress          -> waiting      (stops the SLA clock)
    resolve: open, in_progress, waiting -> resolved     (stops the SLA clock)
    close:   resolved                   -> closed
    reopen:  resolved, closed           -> open         (the clock runs again)

Any other move is illegal (errors.Conflict, exit 4) and the message names the moves that
are allowed from the ticket's current status.
"""

from __future__ import annotations

from crmcli.core.errors import Conflict, InvalidInput
from crmcli.core.validate import TICKET_STATUSES, normalize_enum

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": (("open", "waiting"), "in_progress"),
    "wait": (("open", "in_progress"), "waiting"),
    "resolve": (("open", "in_progress", "waiting"), "resolved"),
    "close": (("resolved",), "closed"),
    "reopen": (("resolved", "closed"), "open"),
}
# Moves that count as the team's first response to the customer.
RESPONDING_ACTIONS = ("start", "wait", "resolve")
ACTIVE_STATUSES = ("open", "in_progress", "waiting")


def normalize_status(value: str, field: str = "status") -> str:
    """A status name or one of its aliases (未处理, 处理中, 已处理, ...) -> the status."""
    return normalize_enum(value, TICKET_STATUSES, field, alias_key="ticket_status")


def allowed_actions(status: str) -> list[str]:
    """The actions that are legal from `status`, in workflow order."""
    return [name for name, (sources, _) in TRANSITIONS.items() if status in sources]


def next_status(ticket_id: int, status: str, action: str) -> str:
    """The status `action` leads to from `status`, or Conflict naming the allowed actions."""
    if action not in TRANSITIONS:
        raise InvalidInput(f"unknown action {action!r}; choose one of: {', '.join(TRANSITIONS)}")
    sources, target = TRANSITIONS[action]
    if status not in sources:
        allowed = allowed_actions(status)
        raise Conflict(
            f"cannot {action} ticket {ticket_id}: it is {status}; "
            f"allowed from {status}: {', '.join(allowed) if allowed else 'nothing'}"
        )
    return target


def action_for(ticket_id: int, status: str, target: str) -> str:
    """The action that moves a ticket from `status` to `target` (for `update --status`)."""
    if status == target:
        raise Conflict(f"ticket {ticket_id} is already {status}")
    for name, (sources, dest) in TRANSITIONS.items():
        if dest == target and status in sources:
            return name
    allowed = [f"{a} ({TRANSITIONS[a][1]})" for a in allowed_actions(status)]
    raise Conflict(
        f"ticket {ticket_id} cannot go from {status} to {target}; "
        f"allowed from {status}: {', '.join(allowed) if allowed else 'nothing'}"
    )
