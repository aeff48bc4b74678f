"""Backup -> restore reproduces every row of every table (into the same file or a new one)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dbstate import snapshot


def seed_everything(cli, add_customer, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = [
        add_customer(f"客户{i}", email=f"c{i}@example.com", phone=f"1380013{i:04d}", tag="vip")
        for i in range(12)
    ]
    for i, cid in enumerate(ids[:6]):
        cli.ok("comm", "log", str(cid), "--channel", "email", "--subject", f"hello {i}")
        ticket = cli.ok(
            "ticket", "open", str(cid), "--subject", f"issue {i}", "--category", "billing"
        ).strip()
        cli.ok("ticket", "comment", ticket, f"note {i}")
        if i % 2:
            cli.ok("ticket", "resolve", ticket)
    conn = sqlite3.connect(str(db_path))
    try:
        with conn:
            conn.execute(
                "INSERT INTO campaigns(name, channel, created_at, updated_at)"
                " VALUES ('Spring', 'sms', '2025-03-01T00:00:00Z', '2025-03-01T00:00:00Z')"
            )
            conn.executemany(
                "INSERT INTO campaign_members(campaign_id, customer_id, variant, result, revenue)"
                " VALUES (1, ?, ?, 'success', ?)",
                [(cid, "A" if cid % 2 else "B", cid * 100) for cid in ids],
            )
            conn.executemany(
                "INSERT INTO orders(external_id, customer_id, ordered_at, amount, currency,"
                " created_at, updated_at) VALUES (?, ?, '2025-03-02T00:00:00Z', ?, 'CNY',"
                " '2025-03-02T00:00:00Z', '2025-03-02T00:00:00Z')",
                [(f"SO-{cid}", cid, cid * 999) for cid in ids],
            )
    finally:
        conn.close()
    cli.ok("customer", "forget", str(ids[-1]), "--yes")  # redactions round-trip too


def audit_ids(db_path: Path) -> int:
    conn = sqlite3.connect(str(db_path))
    try:
        return int(conn.execute("SELECT max(id) FROM audit_log").fetchone()[0])
    finally:
        conn.close()


def without_later_audit(snap: dict, last_id: int) -> dict:  # type: ignore[type-arg]
    """Backup and restore append their own audit rows (and so change nothing else)."""
    out = dict(snap)
    out["audit_log"] = [r for r in snap["audit_log"] if r[0] <= last_id]
    # audit_seal counts the audit rows (db id, rows, created_at): without its count.
    out["audit_seal"] = [(r[0], r[2]) for r in snap.get("audit_seal", [])]
    return out


def test_restore_into_the_same_file_reproduces_every_row(cli, add_customer, db_path: Path) -> None:
    seed_everything(cli, add_customer, db_path)
    original = snapshot(db_path)
    last = audit_ids(db_path)
    assert len(original["ticket_events"]) >= 6 and len(original["orders"]) == 12
    made = cli.json("db", "backup")
    # Damage the live database in every way a bad day can.
    other = add_customer("Intruder")
    cli.ok("customer", "update", "1", "--name", "Changed")
    cli.ok("customer", "delete", str(other), "--yes")
    cli.ok("customer", "tag", "2", "--remove", "vip")
    cli.json("db", "restore", made["path"], "--yes")
    restored = snapshot(db_path)
    assert without_later_audit(restored, last) == without_later_audit(original, last)
    assert cli("db", "check").exit_code == 0
    assert cli("audit", "verify").exit_code == 0


def test_restore_into_a_new_file_reproduces_every_row(
    cli, add_customer, db_path: Path, tmp_path: Path
) -> None:
    seed_everything(cli, add_customer, db_path)
    original = snapshot(db_path)
    last = audit_ids(db_path)
    made = cli.json("db", "backup", str(tmp_path / "offsite.db"))
    fresh = tmp_path / "replacement" / "crm.db"  # the disk was lost: a new, empty file
    fresh.parent.mkdir()  # a write command creates a missing file, never a missing folder
    cli.json("--db", str(fresh), "db", "restore", made["path"], "--yes")
    assert without_later_audit(snapshot(fresh), last) == without_later_audit(original, last)
    assert cli("--db", str(fresh), "db", "check").exit_code == 0
