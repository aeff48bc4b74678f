"""Assignment through the CLI: persisted round-robin fairness, least loaded, skills, agents."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def quiet_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_OUTBOX", str(tmp_path / "outbox"))


def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "crm.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("CRM_CONFIG", str(path))


def open_many(cli, customer: int, n: int, *extra: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [
        int(cli.ok("ticket", "open", str(customer), "--subject", f"t{i}", "--no-reply", *extra))
        for i in range(n)
    ]


def assignees(cli) -> Counter[str]:  # type: ignore[no-untyped-def]
    return Counter(r["assignee"] for r in cli.json("ticket", "list", "--limit", "0"))


def test_round_robin_is_fair_across_invocations(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer()
    for name in ("ann", "bob", "cat", "dan"):
        cli.ok("ticket", "agent", "add", name)
    open_many(cli, cid, 30)
    counts = assignees(cli)
    assert set(counts) == {"ann", "bob", "cat", "dan"}
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) == 30
    # The cursor is persisted: the next ticket goes to whoever is next in turn.
    last = cli.json("ticket", "list", "--limit", "1")[0]["assignee"]
    nxt = cli.json("ticket", "show", str(open_many(cli, cid, 1)[0]))["assignee"]
    order = ["ann", "bob", "cat", "dan"]
    assert nxt == order[(order.index(last) + 1) % 4]


def test_skills_disabled_and_full_agents(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer()
    cli.ok("ticket", "agent", "add", "ann", "--skill", "billing")
    cli.ok("ticket", "agent", "add", "bob", "--skill", "billing", "--max-open", "2")
    cli.ok("ticket", "agent", "add", "cat")
    cli.ok("ticket", "agent", "add", "dan", "--skill", "billing")
    cli.ok("ticket", "agent", "disable", "dan")
    open_many(cli, cid, 8, "--category", "billing")
    counts = assignees(cli)
    assert counts == Counter({"ann": 6, "bob": 2})  # bob is full at 2; dan disabled; cat unskilled
    agents = {a["name"]: a for a in cli.json("ticket", "agent", "list")}
    assert agents["bob"]["open_tickets"] == 2 and agents["dan"]["active"] is False
    cli.ok("ticket", "agent", "enable", "dan")
    tid = open_many(cli, cid, 1, "--category", "billing")[0]
    assert cli.json("ticket", "show", str(tid))["assignee"] == "dan"


def test_least_loaded_from_config_per_category(cli, add_customer, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config(tmp_path, monkeypatch,
           '[tickets.assignment]\npolicy = "round_robin"\n'
           '[tickets.assignment.categories]\nbilling = "least_loaded"\n')  # fmt: skip
    cid = add_customer()
    cli.ok("ticket", "agent", "add", "ann")
    cli.ok("ticket", "agent", "add", "bob")
    first = open_many(cli, cid, 4)  # round robin: ann, bob, ann, bob
    assert assignees(cli) == Counter({"ann": 2, "bob": 2})
    cli.ok("ticket", "resolve", str(first[0]))
    cli.ok("ticket", "resolve", str(first[2]))  # ann now has 0 open, bob 2
    result = cli.json(
        "ticket", "open", str(cid), "--subject", "inv", "--category", "billing", "--explain",
        "--no-reply",
    )  # fmt: skip
    assert result["assignee"] == "ann"
    assert result["assignment"]["policy"] == "least_loaded"
    assert any("least loaded: ann has 0" in r for r in result["assignment"]["reasons"])
    second = cli.json("ticket", "open", str(cid), "--subject", "x", "--category", "billing",
                      "--explain", "--no-reply")  # fmt: skip
    assert second["assignee"] == "ann"  # ann 1 < bob 2


def test_assign_by_hand_and_auto_explain(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer()
    tid = open_many(cli, cid, 1)[0]
    assert cli.json("ticket", "show", str(tid))["assignee"] is None
    assert cli("ticket", "assign", str(tid), "--auto").exit_code == 4  # nobody to choose
    cli.ok("ticket", "agent", "add", "ann", "--max-open", "1")
    cli.ok("ticket", "agent", "add", "bob", "--skill", "shipping")
    assert cli("ticket", "assign", str(tid), "zed").exit_code == 3
    cli.ok("ticket", "assign", str(tid), "ann")
    other = open_many(cli, cid, 1, "--category", "returns")[0]  # ann is full -> bob, fallback
    shown = cli.json("ticket", "show", str(other))
    assert shown["assignee"] == "bob"
    reasons = next(e for e in shown["events"] if e["kind"] == "assigned")["details"]["reasons"]
    assert any("no active agent has the skill 'returns'" in r for r in reasons)
    full = cli("ticket", "assign", str(other), "ann")
    assert full.exit_code == 4 and "full" in full.stderr
    cli.ok("ticket", "assign", str(other), "ann", "--force")
    result = cli("ticket", "assign", str(tid), "--auto", "--explain")
    assert result.exit_code == 0
    assert "Assigned to: bob" in result.stderr and "ann" in result.stderr
    assert cli("ticket", "assign", str(tid)).exit_code == 2
    cli.ok("ticket", "agent", "disable", "bob")
    assert cli("ticket", "assign", str(other), "bob").exit_code == 4
    assert cli("ticket", "agent", "add", "ann").exit_code == 4
    assert cli("ticket", "agent", "disable", "zed").exit_code == 3
    updated = cli.json("ticket", "agent", "update", "ann", "--skill", "a", "--skill", "b",
                       "--no-limit")  # fmt: skip
    assert updated["skills"] == ["a", "b"] and updated["max_open"] is None
