"""Complete machine output (#13): JSON, JSONL and CSV listings carry everything the filters
match unless --limit is given; tables say "showing N of M"; `campaign members`;
`campaign show` holds every member; `comm due --limit`. And a walk over every listing and
report on the demo database: no time in UTC `Z` under CRM_TZ=Asia/Shanghai, and every
listing's length equals a COUNT(*) of the same filter."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

AS_OF = "2026-06-30T12:00:00+08:00"
UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$")


def count(db: Path, sql: str, params: tuple[Any, ...] = ()) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute(sql, params).fetchone()[0])
    finally:
        con.close()


def test_customer_list_formats_carry_everything_tables_say_how_many(cli, db_path: Path) -> None:
    for i in range(90):
        cli.ok("customer", "add", "--name", f"Person {i:02d}")
    assert len(cli.json("customer", "list")) == 90
    jsonl = cli.ok("customer", "list", "--format", "jsonl")
    assert len(jsonl.splitlines()) == 90
    rows = list(csv.DictReader(io.StringIO(cli.ok("customer", "list", "--format", "csv"))))
    assert len(rows) == 90
    assert len(cli.json("customer", "list", "--limit", "10")) == 10
    table = cli("customer", "list")
    assert table.exit_code == 0
    assert "showing 50 of 90 (--limit 0 for all)" in table.stderr
    assert "Person 49" in table.stdout and "Person 50" not in table.stdout
    full = cli("customer", "list", "--limit", "0")
    assert "showing" not in full.stderr and "Person 89" in full.stdout
    explicit = cli("customer", "list", "--limit", "20")
    assert "showing 20 of 90" in explicit.stderr


def _campaign_with_members(cli, n: int) -> int:  # type: ignore[no-untyped-def]
    for i in range(n):
        cli.ok("customer", "add", "--name", f"M{i}", "--tag", "t")
    cid = int(cli.ok("campaign", "create", "Spring", "--channel", "email").strip())
    cli.ok("campaign", "target", str(cid), "--segment", "tag=t", "--variants", "A,B", "--seed", "1")
    return cid


def test_campaign_show_json_holds_every_member(cli) -> None:
    cid = _campaign_with_members(cli, 45)
    shown = cli.json("campaign", "show", str(cid))
    assert len(shown["members"]) == 45
    assert shown["members_total"] == 45
    few = cli.json("campaign", "show", str(cid), "--members", "5")
    assert len(few["members"]) == 5 and few["members_total"] == 45


def test_campaign_members_lists_and_filters(cli, db_path: Path) -> None:
    cid = _campaign_with_members(cli, 30)
    members = cli.json("campaign", "members", str(cid))
    assert len(members) == 30
    a = cli.json("campaign", "members", str(cid), "--variant", "A")
    assert len(a) == count(
        db_path,
        "SELECT count(*) FROM campaign_members WHERE campaign_id = ? AND variant = 'A'",
        (cid,),
    )
    assert {m["variant"] for m in a} == {"A"}
    first = members[0]["customer_id"]
    cli.ok("campaign", "result", str(cid), str(first), "success")
    won = cli.json("campaign", "members", str(cid), "--result", "success")
    assert [m["customer_id"] for m in won] == [first]
    assert cli("campaign", "members", "999").exit_code == 3
    assert cli("campaign", "members", str(cid), "--result", "maybe").exit_code == 2


def test_comm_due_limit(cli, add_customer) -> None:
    cid = add_customer("Ann")
    for i in range(12):
        cli.ok("comm", "log", str(cid), "-c", "phone", "--follow-up", f"+{i + 1}h")
    assert len(cli.json("comm", "due")) == 12
    assert len(cli.json("comm", "due", "--limit", "5")) == 5
    table = cli("comm", "due", "--limit", "5")
    assert "showing 5 of 12" in table.stderr


def _times(value: Any, where: str, found: list[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _times(v, f"{where}.{k}", found)
    elif isinstance(value, list):
        for i, v in enumerate(value[:200]):
            _times(v, f"{where}[{i}]", found)
    elif isinstance(value, str) and UTC_TIME.match(value):
        found.append(f"{where} = {value}")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from typer.testing import CliRunner

    from crmcli.cli import app
    from crmcli.core import clock

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    clock.pin(None)
    result = CliRunner().invoke(
        app,
        ["--db", str(path), "--as-of", AS_OF, "demo", "--customers", "300", "--seed", "3"],
        env={"CRM_TZ": "Asia/Shanghai", "CRM_ACTOR": "tester"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    clock.pin(None)
    return path


# (argv, COUNT(*) SQL of the same filter)
LISTINGS: list[tuple[tuple[str, ...], str]] = [
    (("customer", "list"), "SELECT count(*) FROM customers"),
    (
        ("customer", "list", "--lifecycle", "customer"),
        "SELECT count(*) FROM customers WHERE lifecycle = 'customer'",
    ),
    (("comm", "list"), "SELECT count(*) FROM communications"),
    (
        ("comm", "list", "--channel", "phone"),
        "SELECT count(*) FROM communications WHERE channel = 'phone'",
    ),
    (
        ("comm", "due", "--all"),
        "SELECT count(*) FROM communications WHERE follow_up_at IS NOT NULL AND done_at IS NULL",
    ),
    (("ticket", "list"), "SELECT count(*) FROM tickets"),
    (
        ("ticket", "list", "--priority", "high"),
        "SELECT count(*) FROM tickets WHERE priority = 'high'",
    ),
    (("ticket", "agent", "list"), "SELECT count(*) FROM agents"),
    (("campaign", "list"), "SELECT count(*) FROM campaigns"),
    (("campaign", "members", "1"), "SELECT count(*) FROM campaign_members WHERE campaign_id = 1"),
    (("order", "list"), "SELECT count(*) FROM orders"),
    (("audit", "list"), "SELECT count(*) FROM audit_log"),
]
REPORTS: list[tuple[str, ...]] = [
    ("report", "dashboard"),
    ("report", "customers"),
    ("report", "comm"),
    ("report", "tickets"),
    ("report", "value"),
    ("report", "loyalty"),
    ("report", "quality"),
    ("campaign", "show", "1"),
    ("campaign", "evaluate", "1"),
    ("customer", "show", "1"),
    ("ticket", "show", "1"),
    ("comm", "show", "1"),
    ("customer", "duplicates", "--threshold", "0"),
    ("db", "status"),
]


@pytest.mark.parametrize(
    "args,sql", LISTINGS, ids=lambda a: " ".join(a) if isinstance(a, tuple) else ""
)
def test_every_listing_is_complete_and_in_local_time(cli, demo_db: Path, args, sql) -> None:  # type: ignore[no-untyped-def]
    result = cli("--db", str(demo_db), "--as-of", AS_OF, *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == count(demo_db, sql), args
    found: list[str] = []
    _times(rows, " ".join(args), found)
    assert found == [], found[:5]
    jsonl = cli("--db", str(demo_db), "--as-of", AS_OF, *args, "--format", "jsonl")
    assert len(jsonl.stdout.splitlines()) == len(rows)


@pytest.mark.parametrize("args", REPORTS, ids=lambda a: " ".join(a))
def test_every_report_json_is_in_local_time(cli, demo_db: Path, args) -> None:  # type: ignore[no-untyped-def]
    result = cli("--db", str(demo_db), "--as-of", AS_OF, *args, "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    if result.exit_code == 1:  # "not enough data" is a documented answer, not a listing
        assert "Traceback" not in result.stderr
        return
    found: list[str] = []
    _times(json.loads(result.stdout), " ".join(args), found)
    assert found == [], found[:5]
