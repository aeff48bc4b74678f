"""One time display: every time a person or a JSON reader sees is in CRM_TZ with its offset."""

from __future__ import annotations

import json
import re
from typing import Any

UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z")


def test_comm_update_shows_times_in_the_zone(cli: Any, add_customer: Any) -> None:
    cid = add_customer("Ann")
    comm = cli.ok("comm", "log", str(cid), "-c", "phone", "--direction", "inbound",
                  "--at", "2024-03-05 10:00").strip()  # fmt: skip
    for fmt in ("json", "table", "csv"):
        out = cli.ok("comm", "update", comm, "--at", f"2024-03-0{6 if fmt != 'json' else 7} 11:00",
                     "--follow-up", "2024-03-09 09:00", "--format", fmt)  # fmt: skip
        assert not UTC_Z.search(out), out
    diff = cli.json("comm", "update", comm, "--at", "2024-03-08 12:30")
    row = next(r for r in diff if r["field"] == "occurred_at")
    assert row["new"] == "2024-03-08T12:30:00+08:00"


def test_ticket_transitions_show_times_in_the_zone(cli: Any, add_customer: Any) -> None:
    cid = add_customer("Ann")
    tid = cli.ok("--as-of", "2024-03-04 09:00", "ticket", "open", str(cid), "--subject", "x")
    moved = cli.json("--as-of", "2024-03-04 10:00", "ticket", "start", tid.strip())
    assert moved["at"] == "2024-03-04T10:00:00+08:00"
    table = cli.ok("--as-of", "2024-03-04 11:00", "ticket", "wait", tid.strip())
    assert not UTC_Z.search(table), table


def test_audit_list_shows_times_in_the_zone(cli: Any, add_customer: Any) -> None:
    cli.ok("--as-of", "2024-03-04 09:00", "customer", "add", "--name", "Ann")
    rows = cli.json("audit", "list")
    assert rows[0]["at"] == "2024-03-04T09:00:00+08:00"
    for fmt in ("table", "csv", "jsonl"):
        out = cli.ok("audit", "list", "--format", fmt)
        assert not UTC_Z.search(out), out


def test_forget_again_names_the_local_time(cli: Any, add_customer: Any) -> None:
    cid = add_customer("Ann", email="ann@example.com")
    cli.ok("--as-of", "2024-03-04 09:00", "customer", "forget", str(cid), "--yes")
    again = cli("customer", "forget", str(cid), "--yes")
    assert again.exit_code == 0  # already erased: says when, finishes pending purges
    assert "2024-03-04T09:00:00+08:00" in again.stderr and not UTC_Z.search(again.stderr)


def test_show_json_has_no_utc_times(cli: Any, add_customer: Any) -> None:
    cid = add_customer("Ann")
    cli.ok("comm", "log", str(cid), "-c", "phone", "--direction", "inbound", "--at", "2024-03-05")
    text = json.dumps(cli.json("customer", "show", str(cid)))
    assert not UTC_Z.search(text)
