"""`crm comm log` runs without the CLI tree (crmcli.launch) and answers exactly as the CLI.

Every command line below runs twice as a real process on its own copy of one database:
through the `crm` entry point (crmcli.launch: the fast path, or the CLI when it is not
sure) and through the CLI itself (crmcli.cli.main). Exit code, stdout, stderr and the
communications stored must be the same.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

NOW = "2026-05-04T10:00:00Z"

CASES: list[list[str]] = [
    ["comm", "log", "1", "--channel", "phone"],
    ["comm", "log", "1", "-c", "email", "--direction", "inbound", "--subject", "报价",
     "--duration", "15m", "--follow-up", "+3d", "--agent", "bob"],
    ["--db", "{db}", "comm", "log", "1", "-c", "phone"],
    ["comm", "log", "--channel=phone", "1", "--format", "json"],
    ["-f", "json", "comm", "log", "1", "-c", "meeting"],
    ["-f", "json", "comm", "log", "1", "-c", "meeting", "-f", "csv"],
    ["comm", "log", "1", "-c", "phone", "-q", "--as-of", "2026-01-01T00:00:00Z"],
    ["comm", "log", "1", "-c", "phone", "--as-of", "not a time"],
    ["--as-of", "not a time", "comm", "log", "1", "-c", "phone"],
    ["comm", "log", "999", "-c", "phone"],
    ["comm", "log", "1"],
    ["comm", "log", "1", "-c", "fax"],
    ["comm", "log", "abc", "-c", "phone"],
    ["comm", "log", "1", "2", "-c", "phone"],
    ["comm", "log", "1", "-c"],
    ["comm", "log", "--help"],
    ["comm", "log", "-h"],
    ["comm", "-h", "log"],
    ["comm", "log", "1", "-c", "phone", "--content", "-"],
    ["comm", "log", "1", "-c", "phone", "--content-file", "missing.txt"],
    ["comm", "log", "1", "-c", "phone", "--content", "x", "--content-file", "missing.txt"],
    ["comm", "log", "1", "-c", "phone", "--at", "03/05/2024"],
    ["comm", "log", "1", "-c", "phone", "--at", "03/05/2024", "--date-order", "dmy"],
    ["comm", "log", "1", "-c", "phone", "--date-order", "xyz", "--as-of", "bad"],
    ["comm", "log", "1", "-c", "phone", "--as-of", "bad", "--date-order", "xyz"],
    ["comm", "log", "--email", "wei@example.com", "-c", "phone"],
    ["comm", "log", "--phone", "13800138000", "-c", "phone"],
    ["comm", "log", "--external-id", "nope", "-c", "phone"],
    ["comm", "log", "1", "-c", "phone", "--deal", "77"],
    ["comm", "log", "1", "-c", "phone", "--deal", "x"],
    ["--lang", "fr", "comm", "log", "1", "-c", "phone"],
    ["--lang", "zh", "comm", "log", "1", "-c", "phone"],
    ["comm", "log", "1", "-c", "phone", "--subject=a=b", "--agent="],
    ["comm", "log", "1", "-c", "phone", "-c", "email"],
    ["comm", "log", "1", "-qc", "phone"],
    ["comm", "log", "1", "-cphone"],
    ["comm", "log", "1", "--chan", "phone"],
    ["comm", "log", "1", "-c", "phone", "--quiet=yes"],
    ["--quiet", "comm", "log", "1", "-c", "phone", "--db", "{tmp}/new.db"],
    ["comm", "log", "1", "-c", "phone", "--db", "{tmp}/new2.db"],
    ["comm", "log", "1", "-c", "phone", "--db", "{tmp}/no/such/folder.db"],
    ["--actor", "alice", "comm", "log", "1", "-c", "phone", "--actor", "bob"],
    ["comm", "log", "1", "--channel", "电话", "--direction", "呼入"],
    ["comm", "log", "--", "1", "-c", "phone"],
    ["comm", "log", "1", "-c", "phone", "--subject", "-x"],
    ["comm", "log", "1", "-c", "phone", "--duration", "forever"],
    ["comm", "log", "-1", "-c", "phone"],
    ["comm", "log", "99999999999999999999999", "-c", "phone"],
    ["--version", "comm", "log", "1", "-c", "phone"],
    ["comm", "log", "1", "-c", "phone", "--follow-symlinks"],
    ["--follow-symlinks", "comm", "log", "1", "-c", "phone"],
]  # fmt: skip


def _run(entry: str, args: list[str], env: dict[str, str], stdin: str) -> Any:
    return subprocess.run(
        [sys.executable, "-c", f"from {entry} import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
    )


@pytest.fixture
def base_db(cli: Any, add_customer: Any, tmp_path: Path) -> Path:
    add_customer("张伟", email="wei@example.com", phone="13800138000")
    add_customer("Li Na")
    return Path(os.environ["CRM_DB"])


def _stored(cli: Any, db: Path) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    listed = cli("--db", str(db), "comm", "list", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    return json.loads(listed.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_the_entry_point_answers_as_the_cli(
    args: list[str], base_db: Path, cli: Any, tmp_path: Path
) -> None:
    results = []
    for n, entry in enumerate(("crmcli.launch", "crmcli.cli")):
        work = tmp_path / f"run{n}"
        work.mkdir()
        db = work / "crm.db"
        shutil.copyfile(base_db, db)
        env = {**os.environ, "CRM_DB": str(db), "CRM_NOW": NOW}
        argv = [a.replace("{db}", str(db)).replace("{tmp}", str(work)) for a in args]
        proc = _run(entry, argv, env, stdin="  from stdin  \n")
        stored = _stored(cli, db)
        created = sorted(p.name for p in work.iterdir() if p.suffix == ".db")
        results.append(
            (proc.returncode, proc.stdout, proc.stderr.replace(str(work), "WORK"), stored, created)
        )
    assert results[0] == results[1]


def test_a_plain_comm_log_imports_neither_typer_nor_click(base_db: Path) -> None:
    env = {**os.environ, "CRM_NOW": NOW}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "crmcli", "comm", "log", "2", "-c", "sms"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().isdigit()
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "crmcli.commands.hot" in modules  # the list of modules is really there
    assert not {m.split(".")[0] for m in modules} & {"typer", "click", "rich"}
    assert "crmcli.cli" not in modules


@pytest.mark.parametrize(
    ("value", "direct"),
    [
        ("2026-11-01T00:00:00Z", True),
        (" 2026-11-01T23:59:59Z ", True),
        ("2024-02-29T12:00:00Z", True),
        ("2026-02-30T00:00:00Z", False),  # no such day: parse_datetime says so
        ("2026-11-01T24:00:00Z", False),
        ("2026-11-01T00:00:00+08:00", False),
        ("2026-11-01 00:00:00Z", False),
        ("2026-11-01T00:00Z", False),
        ("２０２６-11-01T00:00:00Z", False),
        ("+3d", False),
    ],
)
def test_a_utc_stamp_as_of_is_read_as_parse_datetime_reads_it(value: str, direct: bool) -> None:
    """The --as-of scripts pass is read without importing core.validate: the same instant
    and zone as parse_datetime gives; any other form is left to parse_datetime (None)."""
    from datetime import UTC, datetime

    from crmcli.commands.session import _utc_stamp
    from crmcli.core.validate import parse_datetime

    stamp = _utc_stamp(value)
    assert (stamp is not None) == direct
    if stamp is not None:
        expected = parse_datetime(value, "--as-of", base=datetime.now(UTC))
        assert stamp == expected and stamp.tzinfo == expected.tzinfo
