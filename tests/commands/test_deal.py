"""`crm deal ...`: the stage workflow, configurable stages, listing filters and links."""

from __future__ import annotations

import pytest


@pytest.fixture
def customer(add_customer) -> str:  # type: ignore[no-untyped-def]
    return str(add_customer("李娜", email="lina@example.cn"))


def new_deal(cli, customer: str, *extra: str) -> str:  # type: ignore[no-untyped-def]
    return cli.ok(
        "deal", "add", "--customer", customer, "--title", "ERP 升级", "--amount", "12000.50",
        *extra,
    ).strip()  # fmt: skip


def test_add_and_show(cli, customer) -> None:  # type: ignore[no-untyped-def]
    deal = new_deal(cli, customer, "--owner", "alice", "--close-date", "2026-06-30")
    shown = cli.json("deal", "show", deal)
    assert shown["stage"] == "lead"
    assert shown["probability"] == 10  # the stage's default
    assert shown["amount"] == 12000.5
    assert shown["currency"] == "CNY"
    assert shown["close_date"] == "2026-06-30"
    assert shown["customer_id"] == int(customer)
    assert [e["to_stage"] for e in shown["events"]] == ["lead"]
    assert shown["events"][0]["actor"] == "tester"


def test_stage_workflow(cli, customer) -> None:  # type: ignore[no-untyped-def]
    deal = new_deal(cli, customer)
    cli.ok("deal", "move", deal, "qualified", "--note", "budget confirmed")
    cli.ok("deal", "move", deal, "方案报价")  # Chinese alias of proposal
    shown = cli.json("deal", "show", deal)
    assert (shown["stage"], shown["probability"]) == ("proposal", 50)
    cli.ok("deal", "won", deal, "--amount", "11000")
    shown = cli.json("deal", "show", deal)
    assert shown["stage"] == "won" and shown["won_at"] and shown["amount"] == 11000
    # A won deal moves only by reopen.
    assert cli("deal", "move", deal, "negotiation").exit_code == 4
    assert cli("deal", "lost", deal, "--reason", "x").exit_code == 4
    cli.ok("deal", "reopen", deal)
    shown = cli.json("deal", "show", deal)
    assert (shown["stage"], shown["won_at"]) == ("proposal", None)
    assert cli("deal", "lost", deal).exit_code == 2  # a reason is required
    cli.ok("deal", "lost", deal, "--reason", "price")
    shown = cli.json("deal", "show", deal)
    assert (shown["stage"], shown["lost_reason"]) == ("lost", "price")
    assert cli("deal", "won", deal).exit_code == 4
    events = [(e["from_stage"], e["to_stage"]) for e in shown["events"]]
    assert events == [
        (None, "lead"),
        ("lead", "qualified"),
        ("qualified", "proposal"),
        ("proposal", "won"),
        ("won", "proposal"),
        ("proposal", "lost"),
    ]
    assert shown["events"][1]["note"] == "budget confirmed"
    assert shown["events"][3]["amount"] == 11000


def test_bad_input(cli, customer) -> None:  # type: ignore[no-untyped-def]
    args = ("deal", "add", "--title", "x", "--amount", "10")
    assert cli(*args).exit_code == 2  # neither --customer nor --company
    assert cli(*args, "--customer", "999").exit_code == 3
    assert cli(*args, "--customer", customer, "--amount", "abc").exit_code == 2
    assert cli(*args, "--customer", customer, "--stage", "nosuch").exit_code == 2
    assert cli(*args, "--customer", customer, "--probability", "120").exit_code == 2
    deal = new_deal(cli, customer)
    assert cli("deal", "move", deal, "won").exit_code == 2  # use deal won
    assert cli("deal", "move", "999", "qualified").exit_code == 3
    result = cli("deal", "move", deal, "nosuch")
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_stage_configuration(cli, customer) -> None:  # type: ignore[no-untyped-def]
    stages = cli.json("deal", "stage", "list")
    assert [(s["name"], s["probability"]) for s in stages] == [
        ("lead", 10), ("qualified", 25), ("proposal", 50), ("negotiation", 75),
        ("won", 100), ("lost", 0),
    ]  # fmt: skip
    assert {s["name"]: s["alias"] for s in stages}["negotiation"] == "谈判"
    cli.ok("deal", "stage", "add", "demo", "--probability", "40", "--after", "qualified")
    names = [s["name"] for s in cli.json("deal", "stage", "list")]
    assert names[:4] == ["lead", "qualified", "demo", "proposal"]
    deal = new_deal(cli, customer, "--stage", "demo")
    assert cli.json("deal", "show", deal)["probability"] == 40
    cli.ok("deal", "stage", "update", "demo", "--probability", "45", "--alias", "演示")
    assert cli.json("deal", "show", deal)["probability"] == 45
    assert cli("deal", "stage", "remove", "demo").exit_code == 4  # a deal is in it
    assert cli("deal", "stage", "remove", "won").exit_code == 4  # won/lost are fixed
    cli.ok("deal", "move", deal, "演示")
    cli.ok("deal", "move", deal, "lead")
    cli.ok("deal", "stage", "remove", "demo")
    cli.ok("deal", "stage", "reorder", "qualified", "lead", "proposal", "negotiation")
    names = [s["name"] for s in cli.json("deal", "stage", "list")]
    assert names == ["qualified", "lead", "proposal", "negotiation", "won", "lost"]
    assert cli("deal", "stage", "reorder", "lead", "proposal").exit_code == 2  # not all


def test_list_filters(cli, customer, add_customer) -> None:  # type: ignore[no-untyped-def]
    a = cli.ok("deal", "add", "--customer", customer, "--title", "A", "--amount", "1",
               "--owner", "alice", "--close-date", "2026-03-01",
               env={"CRM_NOW": "2026-01-01 09:00"}).strip()  # fmt: skip
    b = cli.ok("deal", "add", "--customer", customer, "--title", "B", "--amount", "2",
               "--owner", "bob", "--close-date", "2026-05-01",
               env={"CRM_NOW": "2026-02-20 09:00"}).strip()  # fmt: skip
    c = cli.ok("deal", "add", "--customer", customer, "--title", "C", "--amount", "3",
               env={"CRM_NOW": "2026-02-20 09:00"}).strip()  # fmt: skip
    cli.ok("deal", "won", c, env={"CRM_NOW": "2026-02-21 09:00"})
    now = {"env": {"CRM_NOW": "2026-03-01 09:00"}}

    def titles(*args: str) -> list[str]:
        return [r["title"] for r in cli.json("deal", "list", *args, **now)]

    assert titles() == ["A", "B", "C"]
    assert titles("--open") == ["A", "B"]
    assert titles("--won") == ["C"]
    assert titles("--lost") == []
    assert titles("--owner", "bob") == ["B"]
    assert titles("--stage", "won") == ["C"]
    assert titles("--closing-before", "2026-04-01") == ["A"]
    assert titles("--stalled", "30d") == ["A"]  # no change since 01-01
    assert titles("--customer", customer) == ["A", "B", "C"]
    assert cli("deal", "list", "--open", "--won").exit_code == 2
    assert cli("deal", "list", "--stalled", "soon").exit_code == 2
    assert a and b


def test_update_delete_and_links(cli, customer) -> None:  # type: ignore[no-untyped-def]
    deal = new_deal(cli, customer)
    diff = {r["field"]: r for r in cli.json("deal", "update", deal, "--amount", "500",
                                            "--title", "新标题")}  # fmt: skip
    assert (diff["amount"]["old"], diff["amount"]["new"]) == (12000.5, 500.0)
    comm = cli.ok("comm", "log", customer, "--channel", "phone", "--subject", "报价",
                  "--deal", deal).strip()  # fmt: skip
    ticket = cli.ok("ticket", "open", customer, "--subject", "安装问题", "--deal", deal).strip()
    shown = cli.json("deal", "show", deal)
    assert [c["id"] for c in shown["communications"]] == [int(comm)]
    assert [t["id"] for t in shown["tickets"]] == [int(ticket)]
    assert cli("comm", "log", customer, "--channel", "phone", "--deal", "999").exit_code == 3
    assert cli("deal", "delete", deal).exit_code == 2  # not on a terminal without --yes
    cli.ok("deal", "delete", deal, "--yes")
    assert cli("deal", "show", deal).exit_code == 3


def test_campaign_roi_counts_won_deals(cli, customer) -> None:  # type: ignore[no-untyped-def]
    camp = cli.ok("campaign", "create", "春季", "--channel", "email",
                  "--cost", "1000").strip()  # fmt: skip
    cli.ok("campaign", "target", camp, "--segment", "name=李娜", "--seed", "1")
    deal = new_deal(cli, customer, "--campaign", camp)
    other = new_deal(cli, customer, "--campaign", camp)
    cli.ok("deal", "won", deal, "--amount", "3000")
    cli.ok("deal", "lost", other, "--reason", "price")
    ev = cli.json("campaign", "evaluate", camp)
    assert ev["deals"]["won_deals"] == 1
    assert ev["deals"]["won_amount"] == 3000.0
    # ROI with deals: (member revenue 0 + won deals 3000 - cost 1000) / 1000.
    assert ev["deals"]["roi_with_deals"] == 2.0
