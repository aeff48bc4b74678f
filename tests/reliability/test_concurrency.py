"""Four processes writing at once (and a fifth taking online backups): no "database is
locked", no lost or duplicated rows, and every backup taken meanwhile is consistent."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

COUNT = 200  # per worker; the add worker makes ~320 operations, the others 200-250
WORKERS = Path(__file__).with_name("workers.py")


def query(db: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    conn = sqlite3.connect(str(db))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_four_writers_at_once(tmp_path: Path, crm_process) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "crm.db"
    for i in range(10):
        assert crm_process("customer", "add", "--name", f"Base {i}", db=db).returncode == 0
    env = {**os.environ, "CRM_DB": str(db)}
    procs = []
    for role in ("add", "import", "comm", "ticket", "backup"):
        workdir = tmp_path / role
        workdir.mkdir()
        procs.append(
            subprocess.Popen(
                [sys.executable, str(WORKERS), role, str(COUNT), str(workdir)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    for report in reports:
        assert report["failures"] == [], report
        assert "locked" not in json.dumps(report)
    ops = {r["role"]: r["ops"] for r in reports}
    assert ops["add"] >= 300 and ops["comm"] == COUNT and ops["ticket"] == COUNT

    # Nothing lost, nothing duplicated.
    emails = [r[0] for r in query(db, "SELECT email FROM customers WHERE email LIKE 'add%'")]
    assert sorted(emails) == sorted(f"add{i}@example.com" for i in range(COUNT))
    imported = [
        r[0] for r in query(db, "SELECT external_id FROM customers WHERE external_id LIKE 'IMP-%'")
    ]
    assert sorted(imported) == sorted(f"IMP-{b}-{j}" for b in range(COUNT // 20) for j in range(20))
    assert query(db, "SELECT count(*) FROM customers") == [(10 + COUNT + COUNT,)]
    assert query(db, "SELECT count(*) FROM customers WHERE owner = 'bob'") == [((COUNT + 2) // 3,)]
    assert query(db, "SELECT count(*) FROM customer_tags WHERE tag = 'busy'") == [
        ((COUNT + 3) // 4,)
    ]
    subjects = [r[0] for r in query(db, "SELECT subject FROM communications")]
    assert sorted(subjects) == sorted(f"call {i}" for i in range(COUNT))
    assert query(db, "SELECT status, count(*) FROM tickets GROUP BY status") == [
        ("resolved", COUNT // 4)
    ]
    assert query(db, "SELECT count(*) FROM ticket_events WHERE body LIKE 'looking at issue %'") == [
        (COUNT // 4,)
    ]
    check = crm_process("db", "check", "--format", "json", db=db)
    assert check.returncode == 0, check.stdout + check.stderr
    assert crm_process("audit", "verify", db=db).returncode == 0
    # Every backup taken in the middle of it all is a consistent database on its own.
    copies = sorted((tmp_path / "backup").glob("backup*.db"))
    assert len(copies) == COUNT // 25
    sizes = []
    for copy in copies:
        assert crm_process("db", "check", db=copy).returncode == 0, copy
        assert crm_process("audit", "verify", db=copy).returncode == 0, copy
        sizes.append(query(copy, "SELECT count(*) FROM customers")[0][0])
    assert sizes == sorted(sizes)  # taken one after the other: never fewer customers
