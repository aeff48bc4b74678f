"""Test isolation: every test gets its own database file and a pinned environment.

No test touches a real home directory: CRM_DB points into tmp_path, HOME and the
platformdirs data directory too. NO_COLOR and COLUMNS keep rich's output stable.

Read commands never create a database (#13), so every test starts with one made by
`crm db init` at CRM_DB, as a user would; a test marked `@pytest.mark.nodb` starts
without one (for tests about creating or opening files).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crmcli.cli import app
from crmcli.core import clock, config


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    db = tmp_path / "crm.db"
    monkeypatch.setenv("CRM_DB", str(db))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))
    # Audit keys live in the user config directory: beside tmp_path, not in it (tests list
    # tmp_path's files).
    monkeypatch.setenv("XDG_CONFIG_HOME", f"{tmp_path}-config")
    monkeypatch.delenv("CRM_KEY_DIR", raising=False)
    monkeypatch.setenv("CRM_TZ", "Asia/Shanghai")
    monkeypatch.setenv("CRM_ACTOR", "tester")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    for var in ("CRM_NOW", "CRM_MASK", "CRM_DEBUG", "CRM_FORMAT"):
        monkeypatch.delenv(var, raising=False)
    clock.pin(None)
    config.settings.db_path = None
    config.settings.format = None
    config.settings.actor = None
    config.settings.quiet = False
    if request.node.get_closest_marker("nodb") is None:
        made = CliRunner().invoke(app, ["db", "init"], catch_exceptions=False)
        assert made.exit_code == 0, made.stderr
        clock.pin(None)
        config.settings.db_path = None
        config.settings.format = None
        config.settings.actor = None
        config.settings.quiet = False
    return db


@pytest.fixture
def db_path(isolated_env: Path) -> Path:
    return isolated_env


class Cli:
    """Runs `crm` in-process with CliRunner; stdout and stderr kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Any:
        return self.runner.invoke(
            app, [str(a) for a in args], input=input, env=env, catch_exceptions=False
        )

    def json(self, *args: str, **kwargs: Any) -> Any:
        result = self(*args, "--format", "json", **kwargs)
        assert result.exit_code == 0, result.stderr + result.stdout
        return json.loads(result.stdout)

    def ok(self, *args: str, **kwargs: Any) -> str:
        result = self(*args, **kwargs)
        assert result.exit_code == 0, f"exit {result.exit_code}: {result.stderr}{result.stdout}"
        return result.stdout


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def add_customer(cli: Cli) -> Callable[..., int]:
    def _add(name: str = "张伟", **fields: str) -> int:
        args = ["customer", "add", "--name", name]
        for key, value in fields.items():
            args += [f"--{key.replace('_', '-')}", value]
        if "company" in fields:  # the company is created when it does not exist yet
            args.append("--create-company")
        return int(cli.ok(*args).strip())

    return _add


@pytest.fixture
def sql_rows(db_path: Path) -> Callable[..., list[tuple[Any, ...]]]:
    """sql_rows(SQL, db=PATH): the rows a query returns, as tuples, from the test's database
    (or another file), read with a connection of its own that is closed again."""
    import sqlite3

    def _rows(sql: str, db: Path | None = None) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(db or db_path)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return _rows
