"""SQL injection through every filter, sort and search option of every listing does nothing.

The command tree is walked, so a listing added later is covered without editing this file:
every text option of every `list` / `export` / `due` command, of `audit` and of every
report gets each payload.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from dbstate import snapshot
from fastcli import FastRunner
from typer.main import get_command

from crmcli.cli import app

PAYLOADS = [
    "x' OR '1'='1",
    "1; DROP TABLE customers; --",
    "') OR 1=1; DELETE FROM customers; --",
    '" OR ""="',
    "name DESC; DROP TABLE audit_log",
    "%' UNION SELECT name, sql, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 FROM sqlite_master --",
    "tag=vip or 1=1) OR (1=1",
]
LISTINGS = {"list", "export", "due"}
SKIP_OPTIONS = {"--db", "--format", "--out", "--ics", "--as-of", "--chart-dir", "--config"}
# Reading may log an export; nothing else may change.
MAY_GROW = ("audit_log", "settings", "change_log")


def _walk(command, path=()):  # type: ignore[no-untyped-def]
    subs = getattr(command, "commands", None)
    if subs is not None:
        for name in command.list_commands(None):
            yield from _walk(command.get_command(None, name), (*path, name))
    else:
        yield path, command


def text_options() -> list[tuple[tuple[str, ...], str]]:
    """(command path, option) for every free-text option of every listing."""
    found = []
    for path, command in _walk(get_command(app)):
        if path[-1] not in LISTINGS and path[0] not in ("audit", "report"):
            continue
        for param in command.params:
            opts = getattr(param, "opts", [])
            if not opts or not opts[0].startswith("--") or opts[0] in SKIP_OPTIONS:
                continue
            if getattr(param, "is_flag", False) or getattr(param.type, "name", "") not in (
                "text",
                "str",
            ):
                continue
            found.append((path, opts[0]))
    return found


@pytest.fixture
def seeded(cli, add_customer, db_path: Path) -> Path:  # type: ignore[no-untyped-def]
    a = add_customer("Ann", email="ann@example.com", phone="13800138000", tag="vip")
    add_customer("Bob", company="Acme")
    cli.ok("comm", "log", str(a), "--channel", "phone", "--subject", "hello")
    cli.ok("ticket", "open", str(a), "--subject", "broken", "--category", "billing", "--no-reply")
    return db_path


def test_the_walk_finds_the_known_filters() -> None:
    options = set(text_options())
    assert {
        (("customer", "list"), "--search"),
        (("customer", "list"), "--sort"),
        (("customer", "list"), "--segment"),
        (("audit", "list"), "--actor"),
    } <= options


def test_injection_payloads_change_nothing(seeded: Path, tmp_path: Path) -> None:
    runner = FastRunner()
    before = snapshot(seeded, skip=MAY_GROW)
    tried = 0
    for path, option in text_options():
        for payload in PAYLOADS:
            args = [*path, option, payload, "--format", "json"]
            result = runner.run(args, catch_exceptions=False)
            tried += 1
            output = result.stdout + result.stderr
            assert "Traceback" not in output, args
            assert result.exit_code in {0, 1, 2, 3, 4}, (args, output)
            assert "syntax error" not in output.lower(), (args, output)
    assert tried >= 100
    assert snapshot(seeded, skip=MAY_GROW) == before
    conn = sqlite3.connect(str(seeded))
    try:
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] >= 4
    finally:
        conn.close()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_search_payload_matches_nothing(seeded: Path, cli, payload: str) -> None:  # type: ignore[no-untyped-def]
    """A payload is a search term like any other: no customer's text contains it."""
    result = cli("customer", "list", "--search", payload, "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_sort_payload_is_refused(seeded: Path, cli) -> None:  # type: ignore[no-untyped-def]
    for payload in PAYLOADS:
        result = cli("customer", "list", "--sort", payload)
        assert result.exit_code == 2 and "cannot sort" in result.stderr


def test_segment_payloads_target_nobody(seeded: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """Segment expressions are parsed, never pasted into SQL: a payload targets no one."""
    campaign = cli.ok("campaign", "create", "Spring", "--channel", "sms").strip()
    for payload in PAYLOADS:
        result = cli("campaign", "target", campaign, "--segment", payload)
        assert result.exit_code == 2, (payload, result.stderr)
    conn = sqlite3.connect(str(seeded))
    try:
        assert conn.execute("SELECT count(*) FROM campaign_members").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 2
    finally:
        conn.close()
    cli.ok("campaign", "target", campaign, "--segment", "tag=vip")  # the real thing works
    conn = sqlite3.connect(str(seeded))
    try:
        assert conn.execute("SELECT count(*) FROM campaign_members").fetchone()[0] == 1
    finally:
        conn.close()
