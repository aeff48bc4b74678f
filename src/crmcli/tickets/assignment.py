"""Choosing an agent for a ticket: round robin with a persisted cursor, or least loaded.

Pure: it takes the agents (with their skills and open-ticket load) and the round-robin
cursor, and returns the choice with the reasons, so that `--explain` can show them.
The pool is the active agents with the ticket's category as a skill; when there are none
(or all of them are full) it falls back to every active agent, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CURSOR_PREFIX = "tickets.assignment.cursor."


@dataclass
class Choice:
    agent: str | None
    policy: str
    reasons: list[str] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    cursor_key: str | None = None
    cursor_value: str | None = None

    def explain(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "policy": self.policy,
            "reasons": self.reasons,
            "candidates": self.candidates,
        }


def _has_room(agent: dict[str, Any]) -> bool:
    return agent.get("max_open") is None or int(agent["open_tickets"]) < int(agent["max_open"])


def choose_agent(
    agents: list[dict[str, Any]],
    category: str | None,
    policy: str,
    cursors: dict[str, str],
) -> Choice:
    """Pick an agent. `agents`: dicts with id, name, active, max_open, open_tickets, skills.

    `cursors` maps a pool's cursor key to the id of the agent that pool assigned last.
    """
    choice = Choice(agent=None, policy=policy)
    active = [a for a in agents if a["active"]]
    skilled = [a for a in active if category and category in a["skills"]]
    for a in sorted(agents, key=lambda a: a["id"]):
        note = []
        if not a["active"]:
            note.append("disabled")
        if not _has_room(a):
            note.append(f"full ({a['open_tickets']}/{a['max_open']})")
        if category and category not in a["skills"]:
            note.append(f"no skill {category}")
        choice.candidates.append(
            {
                "agent": a["name"],
                "skills": ", ".join(a["skills"]),
                "open_tickets": a["open_tickets"],
                "max_open": a["max_open"],
                "note": "; ".join(note) or "eligible",
            }
        )
    if policy == "manual":
        choice.reasons.append("assignment policy is manual: tickets are assigned by hand")
        return choice
    if not active:
        choice.reasons.append("no active agent: the ticket stays unassigned")
        return choice
    pool_key = "*"
    pool = [a for a in skilled if _has_room(a)]
    if category and pool:
        pool_key = category
        choice.reasons.append(f"{len(skilled)} active agent(s) have the skill {category!r}")
    elif category and skilled:
        pool = [a for a in active if _has_room(a)]
        choice.reasons.append(
            f"every agent with the skill {category!r} is full; falling back to any active agent"
        )
    elif category:
        pool = [a for a in active if _has_room(a)]
        choice.reasons.append(
            f"no active agent has the skill {category!r}; falling back to any active agent"
        )
    else:
        pool = [a for a in active if _has_room(a)]
        choice.reasons.append("the ticket has no category: any active agent")
    full = [a["name"] for a in active if not _has_room(a)]
    if full:
        choice.reasons.append(f"skipped full agent(s): {', '.join(full)}")
    disabled = [a["name"] for a in agents if not a["active"]]
    if disabled:
        choice.reasons.append(f"skipped disabled agent(s): {', '.join(disabled)}")
    if not pool:
        choice.reasons.append("every active agent is full: the ticket stays unassigned")
        return choice
    pool = sorted(pool, key=lambda a: a["id"])
    if policy == "least_loaded":
        best = min(pool, key=lambda a: (int(a["open_tickets"]), a["id"]))
        loads = ", ".join(f"{a['name']} {a['open_tickets']}" for a in pool)
        choice.reasons.append(
            f"least loaded: {best['name']} has {best['open_tickets']} open ticket(s) ({loads})"
        )
    else:
        key = CURSOR_PREFIX + pool_key
        last = cursors.get(key)
        last_id = int(last) if last and last.isdigit() else 0
        later = [a for a in pool if a["id"] > last_id]
        best = later[0] if later else pool[0]
        previous = next((a["name"] for a in agents if a["id"] == last_id), None)
        choice.reasons.append(
            f"round robin over {', '.join(a['name'] for a in pool)}: "
            + (f"{previous} was assigned last, " if previous else "no one assigned yet, ")
            + f"so {best['name']} is next"
        )
        choice.cursor_key, choice.cursor_value = key, str(best["id"])
    choice.agent = best["name"]
    return choice
