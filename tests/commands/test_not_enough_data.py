"""One exit code (1) and one wording for "not enough data" across reports and models."""

from __future__ import annotations

from typing import Any


def test_report_comm_forecast_with_too_little_history_exits_1(cli: Any, add_customer: Any) -> None:
    cid = add_customer("Ann")
    cli.ok("comm", "log", str(cid), "-c", "phone", "--direction", "inbound", "--at", "2024-03-04")
    result = cli("report", "comm", "--by", "day", "--forecast", "3", "--as-of", "2024-03-08")
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("Error: not enough data")
    flat = cli("report", "comm", "--by", "day", "--forecast", "3", "--as-of", "2024-03-04 00:00",
               "--since", "2024-02-01")  # fmt: skip
    assert flat.exit_code == 1 and "not enough data" in flat.stderr  # 32 empty days


def test_report_value_without_orders_exits_1(cli: Any, add_customer: Any) -> None:
    add_customer("Ann")
    result = cli("report", "value")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: not enough data")


def test_ticket_classify_text_without_a_model_exits_1(cli: Any, add_customer: Any) -> None:
    result = cli("ticket", "classify", "--text", "my invoice is wrong")
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("Error: not enough data")


def test_campaign_suggest_without_history_exits_1(cli: Any, add_customer: Any) -> None:
    add_customer("Ann", tag="vip")
    result = cli("campaign", "suggest", "--segment", "tag=vip")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: not enough data")
