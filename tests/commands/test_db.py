"""`crm db ...`: status, migrate, check, backup, restore, vacuum, optimize."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from crmcli.db import connect, migrations


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None)


def count(path: Path, table: str = "customers") -> int:
    with raw(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_status_reports_schema_counts_and_last_backup(cli, add_customer, db_path: Path) -> None:
    add_customer("Ann")
    add_customer("Bob")
    info = cli.json("db", "status")
    assert info["path"] == str(db_path)
    assert info["schema_version"] == len(migrations.MIGRATIONS)
    assert info["migrations_pending"] == []
    assert info["migrations_applied"][0] == "m001_initial"
    tables = {t["table"]: t["rows"] for t in info["tables"]}
    assert tables["customers"] == 2 and tables["audit_log"] == 2
    assert info["size_bytes"] > 0 and info["last_backup"] is None
    made = cli.json("db", "backup")
    assert cli.json("db", "status")["last_backup"]["path"] == made["path"]


def _old_database(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database at schema version 1 holding one customer."""
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", [migrations.m001_initial])
        db = connect(path)
        db.execute(
            "INSERT INTO customers(name, email, created_at, updated_at)"
            " VALUES ('Old', 'old@example.com', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')"
        )
        db.close()


@pytest.mark.nodb  # lists or creates the database file itself
def test_migrate_dry_run_then_apply_with_backup_first(
    cli, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old_database(db_path, monkeypatch)
    later = [m.__name__ for m in migrations.MIGRATIONS[1:]]
    dry = cli.json("db", "migrate", "--dry-run")
    assert dry["pending"] == later and dry["applied"] == []
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert not (db_path.parent / "backups").exists()

    done = cli.json("db", "migrate")
    assert done["applied"] == later
    backups = list((db_path.parent / "backups").glob("crm-pre-migrate-*.db"))
    assert len(backups) == 1 and mode(backups[0]) == 0o600
    with raw(backups[0]) as conn:  # the copy is the database as it was before
        assert conn.execute("SELECT count(*) FROM _migrations").fetchone()[0] == 1
        assert conn.execute("SELECT email FROM customers").fetchone()[0] == "old@example.com"
    assert count(db_path) == 1
    assert done["backup"] == str(backups[0])
    assert cli.json("db", "migrate") == {
        "pending": [],
        "applied": [],
        "dry_run": False,
        "backup": None,
    }
    assert cli("db", "check").exit_code == 0


@pytest.mark.nodb  # lists or creates the database file itself
def test_migration_on_open_also_backs_up_first(cli, db_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _old_database(db_path, monkeypatch)
    rows = cli.json("customer", "list")  # any command migrates on open
    assert [r["name"] for r in rows] == ["Old"]
    assert len(list((db_path.parent / "backups").glob("crm-pre-migrate-*.db"))) == 1


def test_new_database_is_not_backed_up(cli, db_path: Path) -> None:
    cli.ok("customer", "list")
    assert not (db_path.parent / "backups").exists()


def test_check_passes_on_a_sound_database(cli, add_customer) -> None:
    add_customer("Ann", email="ann@example.com", phone="13800138000")
    result = cli("db", "check")
    assert result.exit_code == 0 and "OK" in result.stderr
    assert cli.json("db", "check") == []


def test_check_lists_every_broken_invariant_and_exits_1(cli, add_customer, db_path: Path) -> None:
    a = add_customer("Ann", email="ann@example.com")
    add_customer("Bob")
    t = "2025-01-02T00:00:00Z"
    with raw(db_path) as conn:
        conn.execute("UPDATE customers SET email = 'ANN@Example.com' WHERE id = ?", (a,))
        conn.execute("UPDATE customers SET phone = '12345' WHERE name = 'Bob'")
        conn.execute(
            "INSERT INTO tickets(customer_id, subject, status, created_at, updated_at, resolved_at)"
            " VALUES (?, 'x', 'resolved', ?, ?, NULL)",
            (a, t, t),
        )
        conn.execute(
            "INSERT INTO tickets(customer_id, subject, status, created_at, updated_at, resolved_at)"
            " VALUES (?, 'y', 'resolved', ?, ?, '2024-12-31T00:00:00Z')",
            (a, t, t),
        )
        conn.execute(
            "INSERT INTO campaigns(name, channel, created_at, updated_at) VALUES ('c', 'sms', ?, ?)",
            (t, t),
        )
        conn.execute(
            "INSERT INTO campaign_members(campaign_id, customer_id, variant) VALUES (1, ?, 'zz')",
            (a,),
        )
        conn.execute("UPDATE customers SET created_at = '2025/01/01' WHERE name = 'Bob'")
        conn.execute("DROP TRIGGER customers_fts_au")
        conn.execute("UPDATE customers SET name = 'Robert' WHERE name = 'Bob'")
    result = cli("db", "check", "--format", "json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    checks = {p["check"] for p in problems}
    assert {
        "customers.email",
        "customers.phone",
        "tickets.resolved",
        "tickets.order",
        "campaign_members.variant",
        "customers.created_at",
        "fts",
    } <= checks
    assert "problem(s) found" in result.stderr


def test_check_detects_foreign_key_and_integrity_problems(cli, add_customer, db_path: Path) -> None:
    add_customer("Ann")
    with raw(db_path) as conn:  # foreign keys are off on a raw connection
        conn.execute("INSERT INTO customer_tags(customer_id, tag) VALUES (999, 'ghost')")
    problems = json.loads(cli("db", "check", "-f", "json").stdout)
    assert any(p["check"] == "foreign_key_check" for p in problems)


def test_backup_default_place_mode_verified_and_rotation(cli, add_customer, db_path: Path) -> None:
    for name in ("Ann", "Bob", "Cai"):
        add_customer(name)
    first = cli.json("db", "backup")
    path = Path(first["path"])
    assert path.parent == db_path.parent / "backups"
    assert path.name.startswith("crm-") and first["verified"] is True
    assert mode(path) == 0o600
    with raw(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert count(path) == 3
    cli.json("db", "backup")
    third = cli.json("db", "backup", "--keep", "2")
    assert len(third["rotated_out"]) == 1 and third["rotated_out"][0] == str(path)
    left = sorted((db_path.parent / "backups").glob("crm-*.db"))
    assert len(left) == 2 and not path.exists()
    assert all(mode(p) == 0o600 for p in left)


def test_backup_to_named_file_and_refusals(cli, add_customer, tmp_path: Path) -> None:
    add_customer("Ann")
    dest = tmp_path / "out" / "copy.db"
    assert Path(cli.json("db", "backup", str(dest))["path"]) == dest
    assert count(dest) == 1 and mode(dest) == 0o600
    assert cli("db", "backup", str(dest)).exit_code == 4  # never overwrites
    assert cli("db", "backup", str(tmp_path / "b.db"), "--keep", "2").exit_code == 2
    assert cli("db", "backup", "--keep", "0").exit_code == 2
    folder = tmp_path / "folder"
    folder.mkdir()
    assert Path(cli.json("db", "backup", str(folder))["path"]).parent == folder


def test_backup_is_online_and_consistent(add_customer, db_path: Path) -> None:
    """A writer holding an open transaction does not stop the copy nor leak into it."""
    import subprocess
    import sys
    import time

    add_customer("Ann")
    writer = raw(db_path)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO customers(name, created_at, updated_at) VALUES ('Half', 'x', 'x')")
    dest = db_path.parent / "online.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crmcli", "db", "backup", str(dest), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The copy is taken while the writer still holds its transaction ...
        for _ in range(600):
            if dest.exists() and dest.stat().st_size > 0 or proc.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        writer.execute("ROLLBACK")  # ... which then lets the backup's audit entry in.
        writer.close()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["verified"] is True
    with raw(dest) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM customers")] == ["Ann"]


def test_restore_replaces_contents_and_keeps_previous_aside(
    cli, add_customer, db_path: Path
) -> None:
    add_customer("Ann")
    made = cli.json("db", "backup")
    add_customer("Bob")
    result = cli.json("db", "restore", made["path"], "--yes")
    assert [r["name"] for r in cli.json("customer", "list")] == ["Ann"]
    aside = Path(result["previous_kept_at"])
    assert mode(aside) == 0o600
    with raw(aside) as conn:
        assert {r[0] for r in conn.execute("SELECT name FROM customers")} == {"Ann", "Bob"}
    assert cli("db", "check").exit_code == 0
    assert cli("audit", "verify").exit_code == 0
    actions = [e["action"] for e in cli.json("audit", "list", "--limit", "1")]
    assert actions == ["restore"]


def test_restore_refuses_without_yes_bad_files_and_unchecked_backups(
    cli, add_customer, db_path: Path, tmp_path: Path
) -> None:
    add_customer("Ann")
    made = cli.json("db", "backup")
    add_customer("Bob")
    before = db_path.read_bytes()
    assert cli("db", "restore", made["path"]).exit_code == 2  # not on a terminal, no --yes
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    result = cli("db", "restore", str(garbage), "--yes")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert cli("db", "restore", str(tmp_path / "none.db"), "--yes").exit_code == 3
    with raw(Path(made["path"])) as conn:  # a backup that breaks an invariant
        conn.execute("UPDATE customers SET phone = 'not a phone'")
    result = cli("db", "restore", made["path"], "--yes")
    assert result.exit_code == 1 and "fails the check" in result.stderr
    assert {r["name"] for r in cli.json("customer", "list")} == {"Ann", "Bob"}
    assert db_path.read_bytes() == before or count(db_path) == 2


def test_vacuum_reclaims_space_and_optimize_runs(cli, add_customer, db_path: Path) -> None:
    add_customer("Ann")
    with raw(db_path) as conn:
        conn.executemany(
            "INSERT INTO customers(name, notes, created_at, updated_at) VALUES (?, ?, ?, ?)",
            [
                (f"n{i}", "x" * 500, "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
                for i in range(600)
            ],
        )
        conn.execute("DELETE FROM customers WHERE name LIKE 'n%'")
    result = cli.json("db", "vacuum")
    assert result["bytes_after"] < result["bytes_before"]
    assert cli.json("db", "optimize")["fts_optimized"] == ["customers_fts"]
    assert cli("db", "check").exit_code == 0


def test_database_wal_and_shm_are_private(db_path: Path) -> None:
    db = connect(db_path)
    try:
        db.execute("INSERT INTO settings(key, value, updated_at) VALUES ('k', 'v', 'x')")
        for suffix in ("", "-wal", "-shm"):
            path = Path(str(db_path) + suffix)
            assert path.exists() and mode(path) == 0o600, suffix
    finally:
        db.close()


def _legacy_audit(path: Path, tamper: bool = False) -> None:
    """Audit rows as the pre-m050 code wrote them (chained over the details text)."""
    from crmcli.db.audit import legacy_row_hash

    conn = raw(path)
    prev = None
    for i in range(3):
        row = {
            "at": f"2024-01-0{i + 1}T00:00:00Z",
            "actor": "old",
            "action": "create",
            "entity": "customer",
            "entity_id": str(i + 1),
            "details": json.dumps({"name": f"n{i}"}),
        }
        digest = legacy_row_hash(prev, row)
        conn.execute(
            "INSERT INTO audit_log(at, actor, action, entity, entity_id, details, prev_hash, hash)"
            " VALUES (:at, :actor, :action, :entity, :entity_id, :details, :prev, :hash)",
            {**row, "prev": prev, "hash": digest},
        )
        prev = digest
    if tamper:
        conn.execute('UPDATE audit_log SET details = \'{"name": "forged"}\' WHERE id = 2')
    conn.close()


@pytest.mark.nodb  # lists or creates the database file itself
@pytest.mark.parametrize("tamper", [False, True])
def test_m050_reseals_an_old_chain_and_says_whether_it_was_intact(
    cli, db_path: Path, monkeypatch: pytest.MonkeyPatch, tamper: bool
) -> None:
    _old_database(db_path, monkeypatch)
    _legacy_audit(db_path, tamper)
    reseal = cli.json("audit", "list", "--action", "reseal")
    assert len(reseal) == 1
    assert reseal[0]["details"] == {
        "rows": 3,
        "legacy_chain_intact": not tamper,
        "first_broken_id": 2 if tamper else None,
    }
    assert cli("audit", "verify").exit_code == 0


def test_restore_of_a_backup_from_an_older_schema(
    cli, add_customer, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old" / "crm.db"
    old.parent.mkdir()
    _old_database(old, monkeypatch)
    _legacy_audit(old)
    add_customer("Current")
    cli.json("db", "restore", str(old), "--yes")
    assert [r["name"] for r in cli.json("customer", "list")] == ["Old"]
    assert cli.json("db", "status")["migrations_pending"] == []
    assert cli("db", "check").exit_code == 0
    assert cli("audit", "verify").exit_code == 0


def test_dirty_data_is_backed_up_and_restored_only_with_force(
    cli, add_customer, db_path: Path, tmp_path: Path
) -> None:
    add_customer("Ann")
    with raw(db_path) as conn:  # data that breaks an invariant (as an old script might write)
        conn.execute("UPDATE customers SET phone = '555-0100'")
    made = cli.json("db", "backup")  # a backup is most needed when something is wrong
    assert made["verified"] is True
    add_customer("Bob")
    refused = cli("db", "restore", made["path"], "--yes")
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert count(db_path) == 2
    cli.json("db", "restore", made["path"], "--yes", "--force")
    assert [r["phone"] for r in cli.json("customer", "list")] == ["555-0100"]
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    assert cli("db", "restore", str(garbage), "--yes", "--force").exit_code == 1
    assert count(db_path) == 1


def test_restore_does_not_touch_the_backup_file(cli, add_customer, db_path: Path) -> None:
    add_customer("Ann")
    made = Path(cli.json("db", "backup")["path"])
    before = made.read_bytes()
    cli.json("db", "restore", str(made), "--yes")
    assert made.read_bytes() == before and mode(made) == 0o600


def test_backup_to_a_relative_new_folder_records_the_absolute_path(  # type: ignore[no-untyped-def]
    cli, add_customer, tmp_path, monkeypatch
) -> None:
    add_customer("Ann")
    monkeypatch.chdir(tmp_path)
    made = cli.json("db", "backup", "nas/crm", "--keep", "3")
    folder = tmp_path / "nas" / "crm"
    assert folder.is_dir()
    backups = [p for p in folder.iterdir() if p.name != "manifest.json"]  # + the manifest
    assert len(backups) == 1
    monkeypatch.chdir(tmp_path / "nas")
    status = cli.json("db", "status")
    assert status["last_backup"]["path"] == str(backups[0])
    assert status["last_backup"]["exists"] is True
    assert made["path"] == str(backups[0])
