"""Reliability tests: faults on purpose (SIGKILL, concurrent writers, hostile input)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

RunCrm = Callable[..., subprocess.CompletedProcess[str]]


def _run(*args: str, db: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_DB": str(db)}
    return subprocess.run(
        [sys.executable, "-m", "crmcli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def crm_process() -> RunCrm:
    """Run `python -m crmcli ...` as a real process against the database `db`."""
    return _run
