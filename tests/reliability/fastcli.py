"""A CliRunner that builds the `crm` command tree once instead of on every invoke.

typer's CliRunner rebuilds the click command (and cli.py loads the group lazily) on each
invoke, about 0.2 s; tests that run hundreds of command lines in one process reuse it.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from typer.main import get_command
from typer.testing import CliRunner, Result

from crmcli.cli import app


class FastRunner(CliRunner):
    def __init__(self) -> None:
        super().__init__()
        self.command = get_command(app)

    def run(self, args: list[str], **kwargs: Any) -> Result:
        with mock.patch("typer.testing._get_command", lambda _app: self.command):
            return self.invoke(app, args, **kwargs)
