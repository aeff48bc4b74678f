"""SIGKILL at the worst moments of erasure, backup and restore (real processes).

`CRM_FAULT=<point>` makes the process SIGKILL itself at a named point (see core/faults.py),
which is what an OOM killer or a power cut does at an unlucky moment; the tests then check
that the next run of the command (or `crm db check --repair`) finishes or cleans up.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def crm(
    db: Path, *args: str, fault: str | None = None, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_DB": str(db), **(extra or {})}
    env.pop("CRM_FAULT", None)
    if fault:
        env["CRM_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "crmcli", *args], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def killed(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == -signal.SIGKILL


@pytest.fixture
def outbox_case(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    db = tmp_path / "crm.db"
    box = tmp_path / "box"
    env = {"CRM_OUTBOX": str(box)}
    assert (
        crm(db, "customer", "add", "--name", "Ann Lee", "--email", "ann@example.com").returncode
        == 0
    )
    assert (
        crm(db, "customer", "add", "--name", "Bo Chen", "--email", "bo@example.com").returncode == 0
    )
    assert crm(db, "ticket", "open", "1", "--subject", "Broken invoice", "--category", "billing",
               extra=env).returncode == 0  # fmt: skip
    assert crm(db, "ticket", "open", "2", "--subject", "Other", "--category", "billing",
               extra=env).returncode == 0  # fmt: skip
    assert len(list(box.glob("*.eml"))) == 2
    return db, box, env


def eml_mentions(box: Path, needle: bytes) -> list[Path]:
    return [p for p in box.glob("*.eml") if needle in p.read_bytes().lower()]


def test_forget_killed_after_commit_is_finished_by_the_next_run(
    outbox_case: tuple[Path, Path, dict[str, str]],
) -> None:
    db, box, env = outbox_case
    first = crm(db, "customer", "forget", "1", "--yes", fault="forget.committed", extra=env)
    assert killed(first), first.stderr
    conn = sqlite3.connect(str(db))
    erased = conn.execute("SELECT erased_at FROM customers WHERE id = 1").fetchone()[0]
    conn.close()
    assert erased  # the erasure itself committed
    again = crm(db, "customer", "forget", "1", "--yes", extra=env)
    assert again.returncode == 0, again.stderr
    assert eml_mentions(box, b"ann@example.com") == []
    assert len(eml_mentions(box, b"bo@example.com")) == 1  # someone else's mail stays


def test_forget_killed_after_commit_is_finished_by_db_check_repair(
    outbox_case: tuple[Path, Path, dict[str, str]],
) -> None:
    db, box, env = outbox_case
    assert killed(crm(db, "customer", "forget", "1", "--yes", fault="forget.committed", extra=env))
    check = crm(db, "db", "check", "--repair", extra=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert eml_mentions(box, b"ann@example.com") == []
    status = crm(db, "db", "check", "--format", "json", extra=env)
    assert status.returncode == 0, status.stdout


def test_forget_of_an_erased_customer_exits_0(
    outbox_case: tuple[Path, Path, dict[str, str]],
) -> None:
    db, box, env = outbox_case
    assert crm(db, "customer", "forget", "1", "--yes", extra=env).returncode == 0
    again = crm(db, "customer", "forget", "1", "--yes", extra=env)
    assert again.returncode == 0, again.stderr
    assert "already" in again.stderr.lower()


def backups(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.db"))


@pytest.mark.parametrize("point", ["backup.copied", "backup.verified"])
def test_killed_backups_then_keep_keeps_verified_ones(tmp_path: Path, point: str) -> None:
    db = tmp_path / "crm.db"
    folder = tmp_path / "backups"
    for i in range(5):
        assert crm(db, "customer", "add", "--name", f"C{i}").returncode == 0
    good = json.loads(crm(db, "--format", "json", "db", "backup").stdout)["path"]
    for _ in range(3):
        assert killed(crm(db, "db", "backup", fault=point))
    # nothing a kill left behind looks like a real backup
    for path in backups(folder):
        if str(path) != good:
            pytest.fail(f"a killed backup left {path.name} ({path.stat().st_size} bytes)")
    result = crm(db, "--format", "json", "db", "backup", "--keep", "2")
    assert result.returncode == 0, result.stderr
    kept = backups(folder)
    assert Path(good) in kept
    assert len(kept) == 2
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) in (
        [],
        [".manifest.json"],
    ) or all(p.suffix == ".json" for p in folder.iterdir() if p.name.startswith("."))
    for path in kept:
        conn = sqlite3.connect(str(path))
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 5
        conn.close()


def test_killed_restore_leaves_no_copy_after_the_next_run(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    assert crm(db, "customer", "add", "--name", "Ann Lee", "--email", "ann@x.com").returncode == 0
    backup = tmp_path / "b.db"
    assert crm(db, "db", "backup", str(backup)).returncode == 0
    assert killed(crm(db, "db", "restore", str(backup), "--yes", fault="restore.staged"))
    check = crm(db, "db", "check", "--repair")
    assert check.returncode == 0, check.stdout + check.stderr
    hidden = [p.name for p in (tmp_path / "backups").glob(".*restoring*")]
    assert hidden == []
    assert crm(db, "db", "restore", str(backup), "--yes").returncode == 0


def test_restore_of_an_8192_page_backup(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    assert crm(db, "customer", "add", "--name", "Ann Lee").returncode == 0
    backup = tmp_path / "b8192.db"
    assert crm(db, "db", "backup", str(backup)).returncode == 0
    conn = sqlite3.connect(str(backup), isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA page_size = 8192")
    conn.execute("VACUUM")
    assert conn.execute("PRAGMA page_size").fetchone()[0] == 8192
    conn.close()
    assert crm(db, "customer", "add", "--name", "Later").returncode == 0
    result = crm(db, "db", "restore", str(backup), "--yes")
    assert result.returncode == 0, result.stderr
    listing = json.loads(crm(db, "--format", "json", "customer", "list").stdout)
    assert [r["name"] for r in listing] == ["Ann Lee"]
    assert crm(db, "audit", "verify").returncode == 0
