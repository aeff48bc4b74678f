"""Tampering with the audit trail, the way someone with write access to the file would.

The chain is keyed (HMAC under a per-database secret outside the database) and its head is
kept outside the database too, so each attack below must make `crm audit verify` and
`crm db check` fail, naming the first bad row where there is one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@contextmanager
def raw(db: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(str(db), isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def drop_audit_triggers(conn: sqlite3.Connection) -> None:
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        " AND tbl_name IN ('audit_log', 'audit_redactions')"
    ).fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')


def sha_row_hash(prev: str | None, row: dict[str, Any]) -> str:
    """The published, unkeyed chain formula: anyone can recompute it."""
    fields = [row["at"], row["actor"], row["action"], row["entity"], row["entity_id"],
              row["details_sha256"]]  # fmt: skip
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(((prev or "") + text).encode()).hexdigest()


@pytest.fixture
def history(cli: Any, db_path: Path) -> Path:
    for name in ("Ann Lee", "Bo Chen", "Cy Wu"):
        cli.ok("customer", "add", "--name", name, "--email", f"{name.split()[0].lower()}@x.com")
    cli.ok("customer", "update", "1", "--company", "Acme", "--create-company")
    cli.ok("customer", "forget", "3", "--yes")
    cli.ok("customer", "update", "2", "--company", "Beta", "--create-company")
    assert cli("audit", "verify").exit_code == 0
    assert cli("db", "check").exit_code == 0
    return db_path


def assert_detected(cli: Any, first_bad: int | None = None) -> None:
    verify = cli("audit", "verify")
    assert verify.exit_code == 1, verify.stderr + verify.stdout
    assert "unexpected" not in verify.stderr
    if first_bad is not None:
        assert f"row {first_bad}" in verify.stderr, verify.stderr
    check = cli("db", "check")
    assert check.exit_code == 1, check.stderr + check.stdout
    assert "audit" in check.stdout.lower() + check.stderr.lower()


def test_forged_redaction_is_detected(cli: Any, history: Path) -> None:
    with raw(history) as conn:
        (forget_id,) = conn.execute("SELECT id FROM audit_log WHERE action = 'forget'").fetchone()
        (target,) = conn.execute(
            "SELECT id FROM audit_log WHERE action = 'update' ORDER BY id LIMIT 1"
        ).fetchone()
        forged = '{"changes": "nothing to see"}'
        conn.execute(
            "INSERT INTO audit_redactions(audit_id, by_audit_id, at, details)"
            " VALUES (?, ?, '2024-01-01T00:00:00Z', ?)",
            (target, forget_id, forged),
        )
        conn.execute("UPDATE audit_log SET details = ? WHERE id = ?", (forged, target))
    assert_detected(cli, target)


def test_dropped_table_is_detected(cli: Any, history: Path) -> None:
    with raw(history) as conn:
        conn.execute("DROP TABLE audit_redactions")
        conn.execute("DROP TABLE audit_log")
    verify = cli("audit", "verify")
    assert verify.exit_code == 1
    assert "OK" not in verify.stderr
    assert cli("db", "check").exit_code == 1


def test_appended_row_with_recomputed_hash_is_detected(cli: Any, history: Path) -> None:
    with raw(history) as conn:
        prev, last_id = conn.execute(
            "SELECT hash, id FROM audit_log ORDER BY id DESC LIMIT 1"
        ).fetchone()
        row = {"at": "2030-01-01T00:00:00Z", "actor": "admin", "action": "update",
               "entity": "customer", "entity_id": "1", "details": None,
               "details_sha256": None}  # fmt: skip
        conn.execute(
            "INSERT INTO audit_log(at, actor, action, entity, entity_id, details,"
            " details_sha256, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?)",
            (*row.values(), prev, sha_row_hash(prev, row)),
        )
    assert_detected(cli, last_id + 1)


def test_edited_row_with_recomputed_chain_is_detected(cli: Any, history: Path) -> None:
    with raw(history) as conn:
        drop_audit_triggers(conn)
        rows = [
            dict(zip(("id", "at", "actor", "action", "entity", "entity_id", "details_sha256"), r,
                     strict=True))
            for r in conn.execute(
                "SELECT id, at, actor, action, entity, entity_id, details_sha256"
                " FROM audit_log ORDER BY id"
            )
        ]  # fmt: skip
        victim = rows[1]["id"]
        prev = None
        for row in rows:
            if row["id"] == victim:
                row["actor"] = "someone-else"
            digest = sha_row_hash(prev, row)
            conn.execute(
                "UPDATE audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (row["actor"], prev, digest, row["id"]),
            )
            prev = digest
    assert_detected(cli, victim)


def test_deleted_last_row_is_detected(cli: Any, history: Path) -> None:
    with raw(history) as conn:
        drop_audit_triggers(conn)
        conn.execute("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
    assert_detected(cli)


def test_deleted_middle_row_is_detected(cli: Any, history: Path) -> None:
    with raw(history) as conn:
        drop_audit_triggers(conn)
        conn.execute("DELETE FROM audit_log WHERE id = 2")
    assert_detected(cli, 3)


def test_rolled_back_file_is_detected(cli: Any, history: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with raw(history) as conn:
        conn.execute("VACUUM INTO ?", (str(old),))
    cli.ok("customer", "add", "--name", "Dee Ng")
    cli.ok("customer", "update", "4", "--company", "Later", "--create-company")
    for suffix in ("-wal", "-shm"):
        Path(str(history) + suffix).unlink(missing_ok=True)
    shutil.copyfile(old, history)
    assert_detected(cli)


def test_restore_records_the_new_head(cli: Any, history: Path, tmp_path: Path) -> None:
    backup = tmp_path / "b.db"
    cli.ok("db", "backup", str(backup))
    cli.ok("customer", "add", "--name", "Dee Ng")
    cli.ok("db", "restore", str(backup), "--yes")
    assert cli("audit", "verify").exit_code == 0
    assert cli("db", "check").exit_code == 0
    cli.ok("customer", "add", "--name", "Eve Ho")
    assert cli("audit", "verify").exit_code == 0


def test_status_names_the_key_file(cli: Any, history: Path) -> None:
    status = cli.json("db", "status")
    key = Path(status["audit_key"]["path"])
    assert key.is_file()
    assert (key.stat().st_mode & 0o777) == 0o600
    assert history.parent not in key.parents  # outside the database's folder
