"""The command-line contract: help on every command, exit codes, stdout/stderr split."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from typer.main import get_command

from crmcli.cli import app


def _walk(command, path=()):  # type: ignore[no-untyped-def]
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, (*path, name))


def test_every_command_has_help_with_an_example() -> None:
    missing = []
    for path, command in _walk(get_command(app)):
        if not path:
            continue
        text = command.help or ""
        if not text.strip():
            missing.append(" ".join(path) + " (no help)")
        elif not hasattr(command, "commands") and "Example" not in text:
            missing.append(" ".join(path) + " (no example)")
    assert not missing, missing


def test_database_file_is_private(cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli.ok("customer", "add", "--name", "Ann")
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600


def test_format_before_group_or_on_command(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann", email="ann@example.com")
    a = json.loads(cli.ok("--format", "json", "customer", "list"))
    b = json.loads(cli.ok("customer", "list", "--format", "json"))
    assert a == b and a[0]["email"] == "ann@example.com"


def test_db_option_before_group_or_on_command(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other.db"
    cli.ok("--db", str(other), "customer", "add", "--name", "Ann")
    rows = json.loads(cli.ok("customer", "list", "--db", str(other), "--format", "json"))
    assert [r["name"] for r in rows] == ["Ann"]
    assert json.loads(cli.ok("customer", "list", "--format", "json")) == []


def test_error_is_one_line_on_stderr_with_exit_code(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("customer", "show", "99")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.strip() == "Error: no customer with id 99"


def test_usage_error_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("customer", "list", "--limit", "abc").exit_code == 2
    assert cli("customer", "list", "--sort", "name; DROP TABLE customers").exit_code == 2
    assert cli("customer", "list", "--format", "yaml").exit_code == 2


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    env = {**os.environ, "CRM_DB": str(tmp_path / "x.db")}
    out = subprocess.run(
        [sys.executable, "-m", "crmcli", "--version"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0 and out.stdout.startswith("crm ")
