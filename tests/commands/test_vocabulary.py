"""One vocabulary: global options on every command, `campaign add`, `--file-format`, one tag
splitting rule, an empty --segment refused everywhere, plain words on an empty audit log."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

GLOBAL = ("--db", "--format", "--quiet", "--as-of", "--actor")


def _commands(cli: Any) -> list[list[str]]:
    """Every command path, read from the help screens (nothing imported from crmcli)."""

    def names(text: str) -> list[str]:
        part = text.split("Commands:", 1)
        if len(part) < 2:
            return []
        return [m.group(1) for m in re.finditer(r"^\s{2}([a-z][\w-]*)\s", part[1], re.M)]

    found: list[list[str]] = []

    def walk(path: list[str]) -> None:
        children = names(cli.ok(*path, "--help"))
        if not children:
            found.append(path)
        for child in children:
            walk([*path, child])

    for group in names(cli.ok("--help")):
        walk([group])
    return found


def test_global_options_work_on_every_command(cli: Any) -> None:
    commands = _commands(cli)
    assert len(commands) > 40
    missing = {}
    for path in commands:
        text = cli.ok(*path, "--help")
        lacking = [opt for opt in GLOBAL if not re.search(rf"(^|[\s,]){opt}\b", text, re.M)]
        if lacking:
            missing[" ".join(path)] = lacking
    assert missing == {}


def test_quiet_actor_and_as_of_after_the_group(cli: Any, db_path: Path) -> None:
    result = cli("customer", "list", "--quiet")
    assert result.exit_code == 0 and result.stderr == ""
    new = cli.ok("customer", "add", "--name", "Ann", "--actor", "bob", "--as-of", "2024-01-02")
    cid = new.strip()
    shown = cli.json("customer", "show", cid)
    assert shown["created_at"] == "2024-01-02T00:00:00+08:00"
    audit = cli.json("audit", "list")
    assert audit[0]["actor"] == "bob"
    # The same options before the group mean the same.
    cli.ok("--actor", "eve", "--quiet", "customer", "update", cid, "--owner", "x")
    assert cli.json("audit", "list")[0]["actor"] == "eve"
    other = db_path.parent / "other.db"
    cli.ok("customer", "add", "--name", "Bo", "--db", str(other))
    assert len(json.loads(cli.ok("customer", "list", "--db", str(other), "--format", "json"))) == 1


def test_campaign_add_and_hidden_create(cli: Any) -> None:
    made = cli.json("campaign", "add", "Spring", "--channel", "email")
    assert made["id"] == 1
    assert cli.json("campaign", "create", "Old name", "--channel", "sms")["id"] == 2
    help_text = cli.ok("campaign", "--help")
    assert re.search(r"^\s+add\s", help_text, re.M)
    assert not re.search(r"^\s+create\s", help_text, re.M)


def test_export_warehouse_file_format(cli: Any, add_customer: Any, tmp_path: Path) -> None:
    add_customer("Ann")
    target = tmp_path / "wh"
    out = cli.ok("export", "warehouse", str(target), "--file-format", "csv", "--format", "json")
    manifest = json.loads(out)
    assert manifest["format"] == "csv"
    assert all(str(t["file"]).endswith(".csv") for t in manifest["tables"].values())
    bad = cli("export", "warehouse", str(tmp_path / "wh2"), "--file-format", "json")
    assert bad.exit_code == 2 and "parquet or csv" in bad.stderr


@pytest.mark.parametrize("text", ["a;b", "a,b", "a；b", " a ; b ; a "])
def test_tags_split_the_same_in_add_tag_and_import(
    cli: Any, add_customer: Any, tmp_path: Path, text: str
) -> None:
    added = cli.json("customer", "show", str(add_customer("Ann", tag=text)))
    assert sorted(added["tags"]) == ["a", "b"]
    other = add_customer("Bo")
    cli.ok("customer", "tag", str(other), "--add", text)
    assert sorted(cli.json("customer", "show", str(other))["tags"]) == ["a", "b"]
    cli.ok("customer", "tag", str(other), "--remove", text)
    assert cli.json("customer", "show", str(other))["tags"] == []
    src = tmp_path / "c.csv"
    src.write_text(f'name,email,tags\nCy,cy@example.com,"{text}"\n', encoding="utf-8")
    cli.ok("customer", "import", str(src))
    imported = next(r for r in cli.json("customer", "list") if r["name"] == "Cy")
    assert sorted(cli.json("customer", "show", str(imported["id"]))["tags"]) == ["a", "b"]


@pytest.mark.parametrize(
    "args",
    [
        ["customer", "export", "--segment", ""],
        ["customer", "list", "--segment", ""],
        ["customer", "list", "--segment", "   "],
        ["campaign", "target", "1", "--segment", ""],
        ["campaign", "suggest", "--segment", ""],
    ],
)
def test_an_empty_segment_is_an_error_everywhere(
    cli: Any, add_customer: Any, args: list[str]
) -> None:
    add_customer("Ann")
    cli.ok("campaign", "create", "Spring", "--channel", "email")
    result = cli(*args)
    assert result.exit_code == 2, result.stdout
    assert "empty segment" in result.stderr
    assert result.stdout == ""


def test_audit_verify_on_an_empty_database_says_so(cli: Any) -> None:
    result = cli("audit", "verify")
    assert result.exit_code == 0
    assert "None" not in result.stderr + result.stdout
    assert "no audit entries" in (result.stderr + result.stdout).lower()
    shown = cli.json("audit", "verify")
    assert shown["rows"] == 0 and shown["ok"] is True
