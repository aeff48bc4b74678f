"""End to end in a real process: open -> show; simple ticket commands stay light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def crm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "crmcli", *args],
        capture_output=True, text=True, env=env,
    )  # fmt: skip


def test_open_show_in_a_subprocess_without_heavy_imports(tmp_path: Path) -> None:
    env = {**os.environ, "CRM_DB": str(tmp_path / "crm.db"), "CRM_TZ": "Asia/Shanghai",
           "CRM_OUTBOX": str(tmp_path / "box"), "HOME": str(tmp_path)}  # fmt: skip
    assert crm(env, "customer", "add", "--name", "张伟", "--email", "zw@example.cn").returncode == 0
    assert crm(env, "ticket", "agent", "add", "alice").returncode == 0
    opened = crm(env, "--as-of", "2024-03-04 09:00", "ticket", "open", "1", "--subject", "退款")
    assert opened.returncode == 0 and opened.stdout == "1\n"
    shown = crm(env, "--as-of", "2024-03-04 10:00", "ticket", "show", "1", "--format", "json")
    assert shown.returncode == 0
    record = json.loads(shown.stdout)
    assert record["assignee"] == "alice" and record["sla"]["response"]["remaining_minutes"] == 420
    heavy = {"pandas", "numpy", "sklearn", "scipy", "statsmodels", "matplotlib"}
    for proc in (opened, shown):
        names = {
            line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in proc.stderr.splitlines()
            if line.startswith("import time:") and "|" in line
        }
        assert "crmcli" in names and not names & heavy
    illegal = crm(env, "ticket", "close", "1")
    assert illegal.returncode == 4
    assert illegal.stderr.splitlines()[-1] == (
        "Error: cannot close ticket 1: it is open; allowed from open: start, wait, resolve"
    )
