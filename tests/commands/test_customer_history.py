"""`crm customer show` lists the customer's recent tickets, orders and campaigns."""

from __future__ import annotations


def test_show_includes_tickets_orders_and_campaigns(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer("李娜", email="lina@example.cn")
    other = add_customer("Bob", email="bob@example.com")
    cli.ok("order", "add", str(cid), "--amount", "120.50", "--at", "2024-03-01 10:00")
    cli.ok("order", "add", str(cid), "--amount", "79.50", "--at", "2024-04-01 10:00")
    cli.ok("order", "add", str(other), "--amount", "5", "--at", "2024-04-01 10:00")
    ticket = int(
        cli.ok("ticket", "open", str(cid), "--subject", "发票问题", "--category", "billing")
    )
    camp = cli.json("campaign", "create", "Spring", "--channel", "email")
    cli.ok(
        "campaign",
        "target",
        str(camp["id"]),
        "--segment",
        "tag=none or lifecycle=lead",
        "--seed",
        "1",
    )

    shown = cli.json("customer", "show", str(cid))

    assert shown["counts"]["orders"] == 2
    assert [o["amount"] for o in shown["orders"]] == [79.5, 120.5]  # newest first, decimals
    assert shown["order_totals"] == [
        {
            "currency": "CNY",
            "orders": 2,
            "spend": 200.0,
            "first_at": shown["orders"][1]["ordered_at"],
            "last_at": shown["orders"][0]["ordered_at"],
        }
    ]
    assert [t["id"] for t in shown["tickets"]] == [ticket]
    assert shown["tickets"][0]["category"] == "billing"
    assert [c["campaign"] for c in shown["campaigns"]] == ["Spring"]
