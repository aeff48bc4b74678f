"""The import write lock (#12): an import stages its rows without a lock and merges them in
one write transaction, so another process's write goes ahead during staging, waits (and
then succeeds) during the merge, and a kill anywhere leaves the database as it was and no
file behind. Real processes, real SQLite files; the pause and kill points are
core/faults.py's (`CRM_PAUSE=<point>:<file>`, `CRM_FAULT=<point>`)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dbstate import snapshot


def _env(db: Path, tmp: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "CRM_DB": str(db), "TMPDIR": str(tmp), "SQLITE_TMPDIR": str(tmp)}
    for name in ("CRM_FAULT", "CRM_PAUSE", "CRM_IMPORT_STAGE_HOOK"):
        env.pop(name, None)
    env.update(extra)
    return env


def crm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crmcli", *args], env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crmcli", *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(marker: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the import never reached its pause point"
        time.sleep(0.02)


def customers_csv(path: Path, rows: int, bad_every: int = 0) -> Path:
    lines = ["external_id,name,email"]
    for i in range(rows):
        name = "" if bad_every and i % bad_every == 0 else f"Person {i}"
        lines.append(f"IMP{i},{name},person{i}@example.com")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    db = tmp_path / "crm.db"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = _env(db, tmp)
    assert crm(env, "customer", "add", "--name", "Ann Lee", "--external-id", "ANN").returncode == 0
    logged = crm(env, "comm", "log", "--external-id", "ANN", "--channel", "phone", "--subject", "a")
    assert logged.returncode == 0, logged.stderr
    return db, tmp, env


def comm_subjects(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT subject FROM communications ORDER BY id")]


def imported(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT count(*) FROM customers WHERE external_id LIKE 'IMP%'")
                   .fetchone()[0])  # fmt: skip


def staging_files_open(pid: int, tmp: Path) -> list[str]:
    """The files in `tmp` process `pid` has open (an unlinked one ends in '(deleted)')."""
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(tmp)):
            out.append(target)
    return out


def test_a_writer_goes_ahead_while_an_import_stages(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, tmp, env = setup
    source = customers_csv(tmp_path / "big.csv", 6000)
    marker = tmp_path / "paused"
    proc = start(
        {**env, "CRM_PAUSE": f"import.staging:{marker}"}, "customer", "import", str(source)
    )
    try:
        wait_for(marker, proc)  # the import has staged its first batch and holds no lock
        if Path("/proc").is_dir():
            files = staging_files_open(proc.pid, tmp)
            assert all(f.endswith("(deleted)") for f in files), files
        assert list(tmp.iterdir()) == []  # the staging file is already unlinked
        logged = crm(env, "comm", "log", "--external-id", "ANN", "--channel", "email",
                     "--subject", "during staging")  # fmt: skip
        assert logged.returncode == 0, logged.stderr
        assert proc.poll() is None  # the import is still paused in staging
    finally:
        marker.unlink(missing_ok=True)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert comm_subjects(db) == ["a", "during staging"]
    assert imported(db) == 6000
    assert list(tmp.iterdir()) == []


def test_a_writer_waits_for_the_merge_and_then_succeeds(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, tmp, env = setup
    source = customers_csv(tmp_path / "big.csv", 6000)
    marker = tmp_path / "paused"
    proc = start({**env, "CRM_PAUSE": f"import.merge:{marker}"}, "customer", "import", str(source))
    try:
        wait_for(marker, proc)  # inside the import's write transaction
        said = tmp_path / "writer.err"
        with open(said, "w", encoding="utf-8") as err_file:
            writer = subprocess.Popen(
                [sys.executable, "-m", "crmcli", "comm", "log", "--external-id", "ANN",
                 "--channel", "email", "--subject", "during the merge"],
                env=env, stdout=subprocess.PIPE, stderr=err_file, text=True,
            )  # fmt: skip
        # past the quiet wait it says what it waits for, and keeps waiting
        deadline = time.monotonic() + 120
        while "Waiting for another crm process" not in said.read_text(encoding="utf-8"):
            assert writer.poll() is None, said.read_text(encoding="utf-8")
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert writer.poll() is None  # it cannot finish while the import holds the lock
    finally:
        marker.unlink(missing_ok=True)
    writer.communicate(timeout=120)
    assert writer.returncode == 0, said.read_text(encoding="utf-8")  # then it wrote
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert comm_subjects(db) == ["a", "during the merge"]
    assert imported(db) == 6000
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize(
    "point",
    ["import.staging", "import.staged", "import.merge", "import.rejects_written",
     "import.before_commit"],
)  # fmt: skip
def test_a_kill_leaves_the_database_unchanged_and_no_files(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path, point: str
) -> None:
    db, tmp, env = setup
    inbox = tmp_path / "in"
    inbox.mkdir()
    source = customers_csv(inbox / "list.csv", 6000 if point == "import.staging" else 40, 7)
    before = snapshot(db)
    killed = crm({**env, "CRM_FAULT": point}, "customer", "import", str(source))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert snapshot(db) == before
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert list(tmp.iterdir()) == []  # no staging file
    left = sorted(p.name for p in inbox.iterdir())
    if point in ("import.rejects_written", "import.before_commit"):
        # made durable before the commit: the rejects of the attempt (a rerun replaces it)
        assert left == ["list.csv", "list.rejects.csv"]
    else:
        assert left == ["list.csv"]  # no temporary rejects file either
    # the next run imports the file as if nothing had happened
    again = crm(env, "customer", "import", str(source))
    assert again.returncode == 0, again.stderr
    assert imported(db) == (6000 if point == "import.staging" else 40) - (
        len(range(0, 6000 if point == "import.staging" else 40, 7))
    )
