"""An amount given as an option carries no currency of its own: a sign or code written in
it must be able to mean the currency it is stored in (`--amount €12,50` is not 12.50 CNY).
Where the command has no --currency (deal won, campaign result, updates without it), the
record's stored currency applies, so a sign there is refused rather than read past."""

from __future__ import annotations

from typing import Any


def test_order_add_refuses_a_sign_that_is_not_its_currency(
    cli: Any, add_customer: Any, sql_rows: Any
) -> None:
    cid = str(add_customer("Ann"))
    for amount in ("€12,50", "12,50 EUR", "$5.00", "£3"):
        result = cli("order", "add", cid, "--amount", amount, "--at", "2024-05-01")
        assert result.exit_code == 2, amount
        assert "is not in CNY" in result.stderr and "--currency" in result.stderr
    assert sql_rows("SELECT count(*) FROM orders") == [(0,)]
    cli.ok("order", "add", cid, "--amount", "€12,50", "--currency", "EUR", "--at", "2024-05-01")
    cli.ok("order", "add", cid, "--amount", "¥1,200.00", "--at", "2024-05-02")  # ¥ can be CNY
    assert sql_rows("SELECT amount, currency FROM orders ORDER BY id") == [
        (1250, "EUR"),
        (120000, "CNY"),
    ]


def test_deal_amounts_follow_the_deal_currency(cli: Any, add_customer: Any, sql_rows: Any) -> None:
    cid = str(add_customer("Ann"))
    result = cli("deal", "add", "--customer", cid, "--title", "ERP", "--amount", "$5,000.00")
    assert result.exit_code == 2 and "is not in CNY" in result.stderr
    deal = cli.ok(
        "deal",
        "add",
        "--customer",
        cid,
        "--title",
        "ERP",
        "--amount",
        "$5,000.00",
        "--currency",
        "USD",
    ).strip()
    result = cli("deal", "update", deal, "--amount", "€6.000,00")  # the deal is in USD
    assert result.exit_code == 2 and "currency applies" in result.stderr
    result = cli("deal", "won", deal, "--amount", "€6.000,00")
    assert result.exit_code == 2 and "currency applies" in result.stderr
    assert sql_rows("SELECT amount, currency, won_at IS NOT NULL FROM deals") == [
        (500000, "USD", 0)
    ]
    cli.ok("deal", "update", deal, "--amount", "€6.000,00", "--currency", "EUR")
    cli.ok("deal", "won", deal, "--amount", "6100")
    assert sql_rows("SELECT amount, currency, won_at IS NOT NULL FROM deals") == [
        (610000, "EUR", 1)
    ]


def test_campaign_cost_and_revenue_follow_the_campaign_currency(
    cli: Any, add_customer: Any, sql_rows: Any
) -> None:
    cid = str(add_customer("Ann", tag="vip"))
    args = ("campaign", "add", "Spring", "--channel", "email", "--starts", "2024-03-01")
    result = cli(*args, "--cost", "€1.200,00")
    assert result.exit_code == 2 and "is not in CNY" in result.stderr
    camp = cli.ok(*args, "--cost", "€1.200,00", "--currency", "EUR").strip()
    result = cli("campaign", "update", camp, "--cost", "$1,500.00")
    assert result.exit_code == 2 and "currency applies" in result.stderr
    assert sql_rows("SELECT cost, currency FROM campaigns") == [(120000, "EUR")]
    cli.ok("campaign", "target", camp, "--segment", "tag=vip")
    result = cli("campaign", "result", camp, cid, "success", "--revenue", "$299")
    assert result.exit_code == 2 and "currency applies" in result.stderr
    cli.ok("campaign", "result", camp, cid, "success", "--revenue", "299,00")
    assert sql_rows("SELECT revenue FROM campaign_members") == [(29900,)]


def test_history_options_refuse_the_future(cli: Any, add_customer: Any, sql_rows: Any) -> None:
    """An order placed, a response given: more than a day ahead of now is refused, as the
    same cell is in an import (a comm may be planned, so `comm log --at` is not checked)."""
    cid = str(add_customer("Ann", tag="vip"))
    now = ("--as-of", "2024-05-01 12:00")
    result = cli("order", "add", cid, "--amount", "5", "--at", "2024-05-03", *now)
    assert result.exit_code == 2 and "in the future" in result.stderr
    cli.ok("order", "add", cid, "--amount", "5", "--at", "2024-05-02 10:00", *now)  # within a day
    camp = cli.ok("campaign", "add", "S", "--channel", "sms", "--starts", "2024-04-01").strip()
    cli.ok("campaign", "target", camp, "--segment", "tag=vip")
    result = cli("campaign", "result", camp, cid, "success", "--at", "2024-06-01", *now)
    assert result.exit_code == 2 and "in the future" in result.stderr
    assert sql_rows("SELECT count(*), min(ordered_at) FROM orders") == [(1, "2024-05-02T02:00:00Z")]
    assert sql_rows("SELECT result FROM campaign_members") == [("pending",)]
