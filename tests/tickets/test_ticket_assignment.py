"""choose_agent: skills, fallback, disabled and full agents, round robin, least loaded."""

from __future__ import annotations

from typing import Any

from crmcli.tickets.assignment import CURSOR_PREFIX, choose_agent


def agent(i: int, name: str, skills: tuple[str, ...] = (), **kw: Any) -> dict[str, Any]:
    return {"id": i, "name": name, "skills": list(skills), "active": True, "max_open": None,
            "open_tickets": 0} | kw  # fmt: skip


def test_round_robin_cycles_through_the_skilled_pool() -> None:
    team = [agent(1, "a", ("billing",)), agent(2, "b"), agent(3, "c", ("billing",))]
    cursors: dict[str, str] = {}
    picks = []
    for _ in range(5):
        choice = choose_agent(team, "billing", "round_robin", cursors)
        assert choice.cursor_key == CURSOR_PREFIX + "billing"
        cursors[choice.cursor_key] = str(choice.cursor_value)
        picks.append(choice.agent)
    assert picks == ["a", "c", "a", "c", "a"]
    assert "2 active agent(s) have the skill 'billing'" in choice.reasons


def test_fallback_when_nobody_has_the_skill_says_so() -> None:
    team = [agent(1, "a", ("billing",)), agent(2, "b")]
    choice = choose_agent(team, "shipping", "round_robin", {})
    assert choice.agent == "a"
    assert any("no active agent has the skill 'shipping'" in r for r in choice.reasons)
    full = [agent(1, "a", ("billing",), max_open=1, open_tickets=1), agent(2, "b")]
    choice = choose_agent(full, "billing", "round_robin", {})
    assert choice.agent == "b"
    assert any("every agent with the skill 'billing' is full" in r for r in choice.reasons)


def test_disabled_and_full_agents_are_skipped() -> None:
    team = [
        agent(1, "a", active=False),
        agent(2, "b", max_open=3, open_tickets=3),
        agent(3, "c", max_open=3, open_tickets=2),
    ]
    for policy in ("round_robin", "least_loaded"):
        choice = choose_agent(team, None, policy, {})
        assert choice.agent == "c"
        assert "skipped disabled agent(s): a" in choice.reasons
        assert "skipped full agent(s): b" in choice.reasons
    team[2]["open_tickets"] = 3
    choice = choose_agent(team, None, "round_robin", {})
    assert choice.agent is None
    assert choice.reasons[-1] == "every active agent is full: the ticket stays unassigned"
    assert choose_agent([agent(1, "a", active=False)], None, "least_loaded", {}).agent is None


def test_least_loaded_picks_the_smallest_load_then_the_oldest_agent() -> None:
    team = [agent(1, "a", open_tickets=4), agent(2, "b", open_tickets=2),
            agent(3, "c", open_tickets=2)]  # fmt: skip
    choice = choose_agent(team, None, "least_loaded", {})
    assert choice.agent == "b"
    assert "least loaded: b has 2 open ticket(s) (a 4, b 2, c 2)" in choice.reasons


def test_manual_policy_assigns_nobody() -> None:
    assert choose_agent([agent(1, "a")], None, "manual", {}).agent is None
