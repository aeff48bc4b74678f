"""`crm audit list` and `crm audit verify`; the append-only triggers and the redaction path."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from crmcli.db import audit, connect


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None)


@pytest.fixture
def history(cli, add_customer) -> list[int]:  # type: ignore[no-untyped-def]
    a = add_customer("Ann", email="ann@example.com", phone="13800138000")
    b = add_customer("Bob")
    cli.ok("customer", "update", str(a), "--owner", "alice")
    cli.ok("--actor", "carol", "customer", "tag", str(b), "--add", "vip")
    return [a, b]


def test_list_filters(cli, history: list[int]) -> None:
    a, b = history
    rows = cli.json("audit", "list", "--entity", "customer", "--entity-id", str(a))
    assert [r["action"] for r in rows] == ["update", "create"]  # newest first
    assert rows[0]["details"] == {"changes": {"owner": [None, "alice"]}}
    assert [r["entity_id"] for r in cli.json("audit", "list", "--action", "create")] == [
        str(b),
        str(a),
    ]
    by_carol = cli.json("audit", "list", "--actor", "carol")
    assert [(r["action"], r["entity_id"]) for r in by_carol] == [("tag", str(b))]
    assert len(cli.json("audit", "list", "--limit", "1")) == 1
    assert cli.json("audit", "list", "--since", "2999-01-01") == []
    assert len(cli.json("audit", "list", "--since", "2000-01-01", "--limit", "0")) == 4
    assert cli.json("audit", "list", "--entity", "nothing") == []


def test_list_rejects_bad_options(cli, history: list[int]) -> None:
    assert cli("audit", "list", "--since", "not a date").exit_code == 2
    assert cli("audit", "list", "--limit", "-1").exit_code == 2


def test_list_masks_personal_values(cli, history: list[int], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    masked = cli.json("audit", "list", "--action", "create", "--mask")
    ann = next(r for r in masked if r["details"]["name"] == "Ann")
    assert ann["details"]["email"] == "a*n@example.com"
    assert ann["details"]["phone"] == "+86138****8000"
    monkeypatch.setenv("CRM_MASK", "1")
    default = cli.json("audit", "list", "--action", "create")
    assert "13800138000" not in json.dumps(default)
    plain = cli.json("audit", "list", "--action", "create", "--no-mask")
    assert "+8613800138000" in json.dumps(plain)


def test_verify_passes_on_an_untouched_log(cli, history: list[int]) -> None:
    result = cli.json("audit", "verify")
    assert result["ok"] is True and result["rows"] == 4 and result["broken"] is None
    assert cli("audit", "verify").exit_code == 0
    assert cli("audit", "verify", "--head", result["head"]).exit_code == 0


def test_triggers_refuse_update_and_delete(history: list[int], db_path: Path) -> None:
    with raw(db_path) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit_log SET details = '{}' WHERE id = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit_log WHERE id = 1")
        conn.execute(
            "INSERT INTO audit_redactions(audit_id, by_audit_id, at, details)"
            " VALUES (1, 2, 'x', NULL)"
        )
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit_redactions")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit_redactions SET details = 'x'")


def _verify_failure(cli) -> dict:  # type: ignore[no-untyped-def]
    result = cli("audit", "verify", "--format", "json")
    assert result.exit_code == 1
    assert "audit chain broken" in result.stderr and "Traceback" not in result.stderr
    return json.loads(result.stdout)["broken"]


def test_verify_finds_an_edited_row(cli, history: list[int], db_path: Path) -> None:
    with raw(db_path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET details = replace(details, 'alice', 'eve') WHERE id = 3")
    broken = _verify_failure(cli)
    assert broken["id"] == 3 and "redaction" in broken["reason"]


def test_verify_finds_a_changed_actor_even_with_rehashed_details(
    cli, history: list[int], db_path: Path
) -> None:
    with raw(db_path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    broken = _verify_failure(cli)
    assert broken["id"] == 2 and "hash" in broken["reason"]


def test_verify_finds_a_removed_row_and_a_truncated_tail(
    cli, history: list[int], db_path: Path
) -> None:
    head = cli.json("audit", "verify")["head"]
    with raw(db_path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("DELETE FROM audit_log WHERE id = 4")  # the newest row
    # Invisible from inside the file, but not to the head kept outside it (m150) ...
    assert "recorded outside the database" in _verify_failure(cli)["reason"]
    assert cli("audit", "verify", "--head", head).exit_code == 1  # ... nor to an anchor
    with raw(db_path) as conn:
        conn.execute("DELETE FROM audit_log WHERE id = 2")
    broken = _verify_failure(cli)
    assert broken["id"] == 3 and "removed" in broken["reason"]


def test_a_redaction_needs_a_forget_entry(cli, history: list[int], db_path: Path) -> None:
    """The trigger lets a recorded redaction through, but verify only honours forget's."""
    with raw(db_path) as conn:
        conn.execute(
            "INSERT INTO audit_redactions(audit_id, by_audit_id, at, details)"
            " VALUES (3, 4, 'x', '{}')"
        )
        conn.execute("UPDATE audit_log SET details = '{}' WHERE id = 3")
    assert _verify_failure(cli)["id"] == 3


def test_redaction_by_forget_keeps_the_chain_valid(db_path: Path) -> None:
    db = connect(db_path, actor="tester")
    try:
        with db.transaction():
            first = audit.record(db, "create", "customer", 1, {"name": "Secret Person"})
            by = audit.record(db, "forget", "customer", 1, {"customer_id": 1})
            audit.redact(db, first, '{"name": "[erased]"}', by)
        assert audit.verify(db)["ok"] is True
        text = db.scalar("SELECT details FROM audit_log WHERE id = ?", (first,))
        assert "Secret" not in text
    finally:
        db.close()


def test_check_reports_a_broken_chain(cli, history: list[int], db_path: Path) -> None:
    with raw(db_path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET action = 'nothing' WHERE id = 1")
    result = cli("db", "check", "--format", "json")
    assert result.exit_code == 1
    assert [p["check"] for p in json.loads(result.stdout)] == ["audit_chain"]
