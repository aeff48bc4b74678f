"""`crm ticket` workflow: every transition (legal and illegal), aliases, SLA pauses, show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ACTIONS = ("start", "wait", "resolve", "close", "reopen")
# How to bring a new ticket into each status.
PATHS = {
    "open": [],
    "in_progress": ["start"],
    "waiting": ["wait"],
    "resolved": ["resolve"],
    "closed": ["resolve", "close"],
}
LEGAL = {
    ("open", "start"): "in_progress",
    ("open", "wait"): "waiting",
    ("open", "resolve"): "resolved",
    ("in_progress", "wait"): "waiting",
    ("in_progress", "resolve"): "resolved",
    ("waiting", "start"): "in_progress",
    ("waiting", "resolve"): "resolved",
    ("resolved", "close"): "closed",
    ("resolved", "reopen"): "open",
    ("closed", "reopen"): "open",
}
AT = "2024-03-04T09:00:00+08:00"  # a Monday


@pytest.fixture(autouse=True)
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    box = tmp_path / "outbox"
    monkeypatch.setenv("CRM_OUTBOX", str(box))
    return box


@pytest.fixture
def business_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = tmp_path / "crm.toml"
    cfg.write_text(
        '[tickets.sla]\nbusiness_hours = "09:00-18:00"\ntimezone = "Asia/Shanghai"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CRM_CONFIG", str(cfg))
    return cfg


def _open(cli, customer: int, at: str = AT, *extra: str) -> int:  # type: ignore[no-untyped-def]
    out = cli.ok("--as-of", at, "ticket", "open", str(customer), "--subject", "help", *extra)
    return int(out.strip())


@pytest.mark.parametrize("status", list(PATHS))
@pytest.mark.parametrize("action", ACTIONS)
def test_every_transition(cli, add_customer, status: str, action: str) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer("Ann", email="ann@example.com")
    tid = _open(cli, cid)
    later = ("--as-of", "2024-03-04T10:00:00+08:00")
    for step in PATHS[status]:
        cli.ok(*later, "ticket", step, str(tid))
    before = cli.json(*later, "ticket", "show", str(tid))
    assert before["status"] == status
    result = cli(*later, "ticket", action, str(tid), "--note", "n")
    if (status, action) in LEGAL:
        assert result.exit_code == 0, result.stderr
        after = cli.json(*later, "ticket", "show", str(tid))
        assert after["status"] == LEGAL[(status, action)]
        last = after["events"][-1]
        assert (last["kind"], last["from_status"], last["to_status"], last["body"]) == (
            "status", status, LEGAL[(status, action)], "n",
        )  # fmt: skip
    else:
        assert result.exit_code == 4
        allowed = [a for a in ACTIONS if (status, a) in LEGAL]
        assert f"allowed from {status}: {', '.join(allowed)}" in result.stderr
        assert result.stdout == ""
        assert cli.json(*later, "ticket", "show", str(tid)) == before  # nothing changed


def test_seed_aliases_everywhere(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer()
    a, b = _open(cli, cid), _open(cli, cid)
    cli.ok("ticket", "update", str(b), "--status", "处理中")
    assert [r["id"] for r in cli.json("ticket", "list", "--status", "未处理")] == [a]
    assert [r["id"] for r in cli.json("ticket", "list", "--status", "处理中")] == [b]
    cli.ok("ticket", "update", str(b), "--status", "已处理")
    assert [r["id"] for r in cli.json("ticket", "list", "--status", "已处理")] == [b]
    bad = cli("ticket", "update", str(a), "--status", "已关闭")  # open -> closed is illegal
    assert bad.exit_code == 4 and "allowed from open" in bad.stderr
    assert cli("ticket", "list", "--status", "done-ish").exit_code == 2


def test_first_response_from_start_or_public_comment(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer()
    a, b = _open(cli, cid), _open(cli, cid)
    cli.ok(
        "--as-of", "2024-03-04T09:10:00+08:00", "ticket", "comment", str(a), "note", "--internal"
    )
    assert cli.json("ticket", "show", str(a))["first_response_at"] is None
    cli.ok("--as-of", "2024-03-04T09:20:00+08:00", "ticket", "comment", str(a), "We are on it")
    cli.ok("--as-of", "2024-03-04T09:30:00+08:00", "ticket", "comment", str(a), "More")
    shown = cli.json("ticket", "show", str(a))
    assert shown["first_response_at"] == "2024-03-04T09:20:00+08:00"
    assert shown["sla"]["response"]["state"] == "met"
    cli.ok("--as-of", "2024-03-04T09:45:00+08:00", "ticket", "start", str(b))
    assert cli.json("ticket", "show", str(b))["first_response_at"] == "2024-03-04T09:45:00+08:00"


def test_wait_pauses_the_clock_exact_minutes(cli, add_customer, business_hours) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer()
    tid = _open(cli, cid)  # Mon 09:00, normal: response 8h, resolution 3 business days
    shown = cli.json("ticket", "show", str(tid))
    assert shown["response_due_at"] == "2024-03-04T17:00:00+08:00"
    assert shown["due_at"] == "2024-03-06T18:00:00+08:00"  # 3 x 9h from Mon 09:00
    cli.ok("--as-of", "2024-03-04T10:00:00+08:00", "ticket", "wait", str(tid))
    paused = cli.json("--as-of", "2024-03-05T15:00:00+08:00", "ticket", "show", str(tid))
    assert paused["sla"]["resolution"] == {
        "state": "paused",
        "due_at": "2024-03-06T18:00:00+08:00",
        "remaining_minutes": 480 + 540 + 540,  # Mon 10-18, Tue, Wed
    }
    cli.ok("--as-of", "2024-03-05T11:00:00+08:00", "ticket", "start", str(tid))
    # Stopped Mon 10:00 -> Tue 11:00 = 480 + 120 business minutes, added to the due time.
    resumed = cli.json("--as-of", "2024-03-05T11:00:00+08:00", "ticket", "show", str(tid))
    assert resumed["sla_paused_seconds"] == 600 * 60
    assert resumed["sla"]["paused_minutes"] == 600
    assert resumed["due_at"] == "2024-03-08T10:00:00+08:00"  # Wed 18:00 + 600 min
    assert resumed["sla"]["resolution"]["remaining_minutes"] == 420 + 540 + 540 + 60
    assert resumed["events"][-1]["details"]["clock_stopped_minutes"] == 600
    # Second pause: Tue 17:00 -> Wed 10:00 = 60 + 60 minutes.
    cli.ok("--as-of", "2024-03-05T17:00:00+08:00", "ticket", "wait", str(tid))
    cli.ok("--as-of", "2024-03-06T10:00:00+08:00", "ticket", "resolve", str(tid))
    done = cli.json("--as-of", "2024-03-09T10:00:00+08:00", "ticket", "show", str(tid))
    assert done["sla_paused_seconds"] == 720 * 60
    assert done["due_at"] == "2024-03-08T12:00:00+08:00"
    assert done["sla"]["resolution"]["state"] == "met"
    assert done["resolved_at"] == "2024-03-06T10:00:00+08:00"


def test_breach_and_sla_listing(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer()
    urgent = _open(cli, cid, AT, "--priority", "urgent")  # response 1h, resolution 4h
    normal = _open(cli, cid, AT, "--priority", "紧急")  # alias of urgent too
    low = _open(cli, cid, AT, "--priority", "low")
    cli.ok("--as-of", "2024-03-04T09:30:00+08:00", "ticket", "start", str(normal))
    at = "2024-03-04T11:30:00+08:00"
    breached = cli.json("--as-of", at, "ticket", "list", "--breached")
    assert [r["id"] for r in breached] == [urgent]
    risky = cli.json("--as-of", at, "ticket", "sla", "--at-risk", "2h")
    assert [(r["id"], r["minutes_left"]) for r in risky] == [(normal, 90)]
    assert [r["id"] for r in cli.json("--as-of", at, "ticket", "sla", "--breached")] == [urgent]
    paused = _open(cli, cid, "2024-03-04T10:00:00+08:00", "--priority", "urgent")
    cli.ok("--as-of", "2024-03-04T10:10:00+08:00", "ticket", "wait", str(paused))
    wide = cli.json("--as-of", at, "ticket", "sla", "--at-risk", "4h")
    assert [r["id"] for r in wide] == [normal]  # the waiting ticket's clock is stopped
    frozen = next(r for r in cli.json("--as-of", at, "ticket", "sla") if r["id"] == paused)
    assert (frozen["resolution"], frozen["minutes_left"]) == ("paused", 230)
    everything = cli.json("--as-of", at, "ticket", "sla")
    assert {r["id"] for r in everything} == {urgent, normal, low, paused}


def test_rate_only_when_resolved_and_update(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer()
    tid = _open(cli, cid)
    assert cli("ticket", "rate", str(tid), "5").exit_code == 4
    cli.ok("ticket", "resolve", str(tid))
    assert cli("ticket", "rate", str(tid), "6").exit_code == 2
    cli.ok("ticket", "rate", str(tid), "4", "--comment", "不错")
    shown = cli.json("ticket", "show", str(tid))
    assert (shown["satisfaction"], shown["satisfaction_comment"]) == (4, "不错")
    assert shown["events"][-1]["kind"] == "rated"
    diff = cli.json("ticket", "update", str(tid), "--subject", "new", "--category", "billing")
    assert {r["field"] for r in diff} == {"subject", "category"}
    assert cli("ticket", "update", str(tid)).exit_code == 2
    assert cli("ticket", "show", "999").exit_code == 3
    assert cli("ticket", "start", "999").exit_code == 3


def test_priority_change_moves_due_times(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer()
    tid = _open(cli, cid)
    cli.ok(
        "--as-of", "2024-03-04T09:30:00+08:00", "ticket", "update", str(tid), "--priority", "urgent"
    )
    shown = cli.json("ticket", "show", str(tid))
    assert shown["response_due_at"] == "2024-03-04T10:00:00+08:00"
    assert shown["due_at"] == "2024-03-04T13:00:00+08:00"
    assert shown["events"][-1]["details"]["priority"] == ["normal", "urgent"]


def test_open_by_email_reads_stdin_and_rejects_bad_input(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann", email="ann@example.com")
    out = cli.ok(
        "ticket", "open", "--email", "ANN@example.com", "--subject", "s", "--description", "-",
        input="long text\nline 2\n",
    )  # fmt: skip
    shown = cli.json("ticket", "show", out.strip())
    assert shown["description"] == "long text\nline 2"
    assert cli("ticket", "open", "99", "--subject", "s").exit_code == 3
    assert cli("ticket", "open", "--subject", "s").exit_code == 2
    assert cli("ticket", "open", "1", "--subject", " ").exit_code == 2
    assert cli("ticket", "open", "1", "--subject", "s", "--priority", "asap").exit_code == 2
    assert len(cli.json("ticket", "list")) == 1


def test_show_has_full_timeline(cli, add_customer, outbox: Path) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer("Ann", email="ann@example.com")
    tid = _open(cli, cid)
    cli.ok("ticket", "comment", str(tid), "hello")
    cli.ok("ticket", "resolve", str(tid))
    shown = cli.json("ticket", "show", str(tid))
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds == ["opened", "classified", "unassigned", "sla", "auto_reply", "comment", "status"]
    assert shown["allowed_actions"] == ["close", "reopen"]
    table = cli.ok("ticket", "show", str(tid))
    assert "auto_reply" in table and "sla_resolution" in table
    assert json.loads(cli.ok("ticket", "list", "--format", "json"))[0]["status"] == "resolved"
