"""`--date-order dmy|mdy|ymd` on every command whose options take dates (#12): it decides an
ambiguous 03/05/2024 and wins over $CRM_DATE_ORDER; without either such a date is refused
(exit 2), never read month-first by guess."""

from __future__ import annotations

from typing import Any

import pytest

AMBIGUOUS = "03/05/2024 10:00"


@pytest.fixture
def ann(cli: Any, add_customer: Any) -> int:
    return int(add_customer("Ann", external_id="A1"))


def test_comm_log_at_and_follow_up(cli: Any, ann: int) -> None:
    refused = cli("comm", "log", str(ann), "--channel", "phone", "--at", AMBIGUOUS)
    assert refused.exit_code == 2 and "ambiguous" in refused.stderr
    assert "--date-order" in refused.stderr
    cli.ok("comm", "log", str(ann), "--channel", "phone", "--at", AMBIGUOUS, "--date-order", "dmy")
    cli.ok("comm", "log", str(ann), "--channel", "email", "--at", AMBIGUOUS, "--date-order", "mdy",
           "--follow-up", "04/06/2099 09:00")  # fmt: skip
    logged = {c["channel"]: c for c in cli.json("comm", "list")}
    assert logged["phone"]["occurred_at"].startswith("2024-05-03T10:00")
    assert logged["email"]["occurred_at"].startswith("2024-03-05T10:00")
    assert logged["email"]["follow_up_at"].startswith("2099-04-06T09:00")


def test_the_option_wins_over_the_environment(cli: Any, ann: int) -> None:
    env = {"CRM_DATE_ORDER": "mdy"}
    cli.ok("comm", "log", str(ann), "--channel", "phone", "--at", AMBIGUOUS, env=env)
    cli.ok("comm", "log", str(ann), "--channel", "email", "--at", AMBIGUOUS,
           "--date-order", "dmy", env=env)  # fmt: skip
    logged = {c["channel"]: c["occurred_at"] for c in cli.json("comm", "list")}
    assert logged["phone"].startswith("2024-03-05") and logged["email"].startswith("2024-05-03")


def test_one_command_s_option_does_not_leak_into_the_next(cli: Any, ann: int) -> None:
    cli.ok("comm", "log", str(ann), "--channel", "phone", "--at", AMBIGUOUS, "--date-order", "dmy")
    again = cli("comm", "log", str(ann), "--channel", "phone", "--at", AMBIGUOUS)
    assert again.exit_code == 2 and "ambiguous" in again.stderr


def test_order_add_and_list(cli: Any, ann: int) -> None:
    refused = cli("order", "add", str(ann), "--amount", "10", "--at", AMBIGUOUS)
    assert refused.exit_code == 2 and "ambiguous" in refused.stderr
    cli.ok("order", "add", str(ann), "--amount", "10", "--at", AMBIGUOUS, "--date-order", "dmy")
    [order] = cli.json("order", "list")
    assert order["ordered_at"].startswith("2024-05-03")
    assert cli("order", "list", "--since", "02/05/2024").exit_code == 2
    since_may = cli.json("order", "list", "--since", "02/05/2024", "--date-order", "dmy")
    since_feb = cli.json("order", "list", "--since", "02/05/2024", "--date-order", "mdy")
    assert len(since_may) == 1 and len(since_feb) == 1
    assert cli.json("order", "list", "--since", "04/05/2024", "--date-order", "dmy") == []


def test_filters_and_segments(cli: Any, ann: int) -> None:
    refused = cli("customer", "list", "--created-since", "03/05/2024")
    assert refused.exit_code == 2 and "ambiguous" in refused.stderr
    listed = cli.json("customer", "list", "--created-since", "03/05/2024", "--date-order", "dmy")
    assert [c["id"] for c in listed] == [ann]  # created now, after 3 May 2024
    refused = cli("customer", "list", "--segment", "created>=03/05/2024")
    assert refused.exit_code == 2 and "ambiguous" in refused.stderr
    listed = cli.json("customer", "list", "--segment", "created>=03/05/2024", "--date-order", "mdy")
    assert [c["id"] for c in listed] == [ann]
    future = cli.json("customer", "list", "--segment", "created>=03/05/2099", "--date-order", "mdy")
    assert future == []


def test_ticket_list_since(cli: Any, ann: int) -> None:
    assert cli("ticket", "list", "--since", "03/05/2024").exit_code == 2
    cli.ok("ticket", "list", "--since", "03/05/2024", "--date-order", "dmy")


def test_a_date_that_decides_itself_needs_no_order(cli: Any, ann: int) -> None:
    cli.ok("comm", "log", str(ann), "--channel", "phone", "--at", "13/05/2024 10:00")
    cli.ok("comm", "log", str(ann), "--channel", "email", "--at", "2024-03-05 10:00")
    # ymd decides nothing between day and month: still refused
    ymd = cli("comm", "log", str(ann), "--channel", "sms", "--at", AMBIGUOUS, "--date-order", "ymd")
    assert ymd.exit_code == 2 and "ambiguous" in ymd.stderr


def test_a_bad_date_order_is_refused(cli: Any, ann: int) -> None:
    bad = cli("comm", "log", str(ann), "--channel", "phone", "--date-order", "ddmm")
    assert bad.exit_code == 2 and "dmy, mdy, ymd" in bad.stderr
    assert cli.json("comm", "list") == []


def test_commands_without_date_options_do_not_offer_it(cli: Any) -> None:
    assert "--date-order" not in cli.ok("customer", "show", "--help")
    for command in (["comm", "log"], ["order", "add"], ["ticket", "list"], ["customer", "list"]):
        assert "--date-order" in cli.ok(*command, "--help"), command
