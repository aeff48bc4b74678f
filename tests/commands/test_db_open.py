"""Opening a database (#13): read commands never create anything, write commands create a
missing file (never missing folders), `crm db init`, a crmcli application_id, foreign SQLite
files refused untouched, and a newer schema readable but not writable."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

CRM_APPLICATION_ID = 0x43524D31  # "CRM1"

# These tests are about files that do or do not exist: no database is made beforehand.
pytestmark = pytest.mark.nodb


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pragma(path: Path, name: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


READS = [
    ("customer", "list"),
    ("customer", "show", "1"),
    ("customer", "duplicates"),
    ("comm", "list"),
    ("comm", "due"),
    ("ticket", "list"),
    ("campaign", "list"),
    ("order", "list"),
    ("audit", "list"),
    ("report", "dashboard"),
    ("db", "status"),
]


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_read_command_on_missing_file_exits_3_and_creates_nothing(
    cli, tmp_path: Path, args: tuple[str, ...]
) -> None:
    target = tmp_path / "typo.db"
    result = cli("--db", str(target), *args)
    assert result.exit_code == 3, result.stdout + result.stderr
    assert f"no crm database at {target}" in result.stderr
    assert f"crm db init {target}" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing may be created"


def test_read_command_in_missing_folder_creates_no_folder(cli, tmp_path: Path) -> None:
    target = tmp_path / "nonexistent" / "dir" / "x.db"
    result = cli("--db", str(target), "customer", "list")
    assert result.exit_code == 3
    assert not (tmp_path / "nonexistent").exists()


def test_write_command_creates_missing_file_and_says_so(cli, tmp_path: Path) -> None:
    target = tmp_path / "new.db"
    result = cli("--db", str(target), "customer", "add", "--name", "Ann")
    assert result.exit_code == 0, result.stderr
    assert target.exists()
    assert str(target) in result.stderr and "created" in result.stderr.lower()
    assert pragma(target, "application_id") == CRM_APPLICATION_ID
    # the second write does not announce anything
    again = cli("--db", str(target), "customer", "add", "--name", "Bob")
    assert again.exit_code == 0 and "created" not in again.stderr


def test_write_command_never_creates_missing_folders(cli, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "x.db"
    result = cli("--db", str(target), "customer", "add", "--name", "Ann")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert str(target.parent) in result.stderr
    assert not (tmp_path / "no").exists()


def test_db_init_creates_an_empty_crm_database(cli, tmp_path: Path) -> None:
    target = tmp_path / "fresh.db"
    result = cli("db", "init", str(target))
    assert result.exit_code == 0, result.stderr
    assert pragma(target, "application_id") == CRM_APPLICATION_ID
    assert pragma(target, "user_version") > 0
    # and now reads work on it
    assert cli("--db", str(target), "customer", "list", "--format", "json").stdout.strip() == "[]"
    # init on an existing crm database changes nothing and says so (exit 0)
    before = cli.json("--db", str(target), "db", "status")
    again = cli("db", "init", str(target))
    assert again.exit_code == 0 and "already" in again.stderr
    assert (
        cli.json("--db", str(target), "db", "status")["schema_version"]
        == (before["schema_version"])
    )


def test_db_init_defaults_to_the_configured_database(cli, db_path: Path) -> None:
    db_path.unlink(missing_ok=True)
    for side in ("-wal", "-shm"):
        Path(str(db_path) + side).unlink(missing_ok=True)
    assert cli("customer", "list").exit_code == 3
    assert cli("db", "init").exit_code == 0
    assert pragma(db_path, "application_id") == CRM_APPLICATION_ID


def _foreign(path: Path) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, file TEXT)")
    conn.execute("INSERT INTO photos(file) VALUES ('a.jpg')")
    conn.commit()
    conn.close()
    return digest(path)


@pytest.mark.parametrize(
    "args",
    [
        ("customer", "list"),
        ("customer", "add", "--name", "Ann"),
        ("db", "status"),
        ("db", "migrate"),
        ("db", "init"),
        ("report", "dashboard"),
        ("comm", "due"),
    ],
    ids=lambda a: " ".join(a),
)
def test_foreign_sqlite_file_is_refused_and_left_byte_identical(
    cli, tmp_path: Path, args: tuple[str, ...]
) -> None:
    target = tmp_path / "photos.db"
    before = _foreign(target)
    if args[:2] == ("db", "init"):
        result = cli(*args, str(target))
    else:
        result = cli("--db", str(target), *args)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "not a crm database" in result.stderr
    assert "Traceback" not in result.stderr
    assert digest(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos.db"]  # no -wal, -shm


def test_existing_crm_database_without_the_id_gets_it_by_migration(cli, db_path: Path) -> None:
    cli.ok("customer", "add", "--name", "Ann")
    conn = sqlite3.connect(db_path)
    # as every crmcli database made before the id: no id, m130 not applied yet
    conn.execute("PRAGMA application_id = 0")
    conn.execute("DELETE FROM _migrations WHERE name = 'm130_application_id'")
    conn.execute("PRAGMA user_version = " + str(pragma(db_path, "user_version") - 1))
    conn.commit()
    conn.close()
    assert pragma(db_path, "application_id") == 0
    rows = cli.json("customer", "list")
    assert [r["name"] for r in rows] == ["Ann"]
    assert pragma(db_path, "application_id") == CRM_APPLICATION_ID


def test_newer_schema_is_readable_but_not_writable(cli, db_path: Path) -> None:
    cli.ok("customer", "add", "--name", "Ann")
    ours = pragma(db_path, "user_version")
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {ours + 5}")
    conn.commit()
    conn.close()
    rows = cli.json("customer", "list")
    assert [r["name"] for r in rows] == ["Ann"]
    before = digest(db_path)
    result = cli("customer", "add", "--name", "Bob")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert str(ours + 5) in result.stderr and str(ours) in result.stderr
    assert "newer" in result.stderr
    assert "Traceback" not in result.stderr
    result = cli("customer", "tag", "1", "--add", "vip")
    assert result.exit_code == 1
    assert [r["name"] for r in cli.json("customer", "list")] == ["Ann"]
    assert pragma(db_path, "user_version") == ours + 5
    del before
