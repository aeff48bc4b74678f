"""`crm customer forget` (erasure down to the file's bytes) and `crm customer export-data`."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from crmcli.db import audit, connect

T0 = "2025-03-01T02:00:00Z"
T1 = "2025-03-02T02:00:00Z"
SECRETS = {
    "name": "Zhang Weiqiang",
    "email": "zwq.private@example.cn",
    "phone": "13912345678",
    "address": "Chaoyang Rd 88, Beijing",
    "notes": "prefers calls after six",
    "comm": "asked about the Hangzhou apartment loan",
    "ticket": "refund for order with card ending 4242",
    "comment": "customer says the courier lost parcel",
}


def seed(cli, add_customer, db_path: Path) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Customer `cid` with a full history, and an unrelated customer `other`."""
    cid = add_customer(
        SECRETS["name"],
        email=SECRETS["email"],
        phone=SECRETS["phone"],
        address=SECRETS["address"],
        notes=SECRETS["notes"],
        external_id="ERP-777",
        tag="vip",
    )
    other = add_customer("Li Keepme", email="li.keepme@example.com")
    cli.ok("customer", "update", str(cid), "--company", "Acme", "--create-company")
    db = connect(db_path, actor="seed")
    try:
        with db.transaction():
            comm = db.execute(
                "INSERT INTO communications(customer_id, channel, direction, occurred_at, subject,"
                " content, agent, duration_s, created_at, updated_at)"
                " VALUES (?, 'phone', 'inbound', ?, 'Loan question', ?, 'amy', 300, ?, ?)",
                (cid, T0, SECRETS["comm"], T0, T0),
            ).lastrowid
            audit.record(
                db,
                "create",
                "communication",
                comm,
                {"customer_id": cid, "channel": "phone", "content": SECRETS["comm"]},
            )
            ticket = db.execute(
                "INSERT INTO tickets(customer_id, subject, description, category, priority,"
                " status, created_at, updated_at, resolved_at, satisfaction, satisfaction_comment)"
                " VALUES (?, 'Refund', ?, 'billing', 'high', 'resolved', ?, ?, ?, 4, 'ok thanks')",
                (cid, SECRETS["ticket"], T0, T1, T1),
            ).lastrowid
            db.execute(
                "INSERT INTO ticket_events(ticket_id, at, actor, kind, from_status, to_status, body,"
                " details) VALUES (?, ?, 'amy', 'comment', NULL, NULL, ?, ?)",
                (ticket, T1, SECRETS["comment"], json.dumps({"mention": SECRETS["email"]})),
            )
            db.execute(
                "INSERT INTO ticket_events(ticket_id, at, actor, kind, from_status, to_status)"
                " VALUES (?, ?, 'amy', 'status', 'open', 'resolved')",
                (ticket, T1),
            )
            audit.record(
                db,
                "create",
                "ticket",
                ticket,
                {"subject": "Refund", "description": SECRETS["ticket"], "status": "open"},
            )
            db.execute(
                "INSERT INTO campaigns(name, channel, created_at, updated_at)"
                " VALUES ('Spring', 'sms', ?, ?)",
                (T0, T0),
            )
            db.execute(
                "INSERT INTO campaign_members(campaign_id, customer_id, variant, result, revenue)"
                " VALUES (1, ?, 'A', 'success', 12345)",
                (cid,),
            )
            db.execute(
                "INSERT INTO orders(external_id, customer_id, ordered_at, amount, currency,"
                " created_at, updated_at) VALUES ('SO-1', ?, ?, 99900, 'CNY', ?, ?)",
                (cid, T0, T0, T0),
            )
            # An entry about something else that still quotes the customer.
            audit.record(db, "send", "campaign", 1, {"note": f"bounced: {SECRETS['email']}"})
    finally:
        db.close()
    return cid, other


def file_bytes(db_path: Path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(db_path) + suffix)
        if path.exists():
            data += path.read_bytes()
    return data


def test_forget_leaves_no_personal_bytes_and_keeps_the_facts(
    cli, add_customer, db_path: Path
) -> None:
    cid, other = seed(cli, add_customer, db_path)
    assert SECRETS["email"].encode() in file_bytes(db_path)
    reader = sqlite3.connect(str(db_path))  # another process holding the file open
    reader.execute("SELECT count(*) FROM customers").fetchone()
    try:
        summary = cli.json("customer", "forget", str(cid), "--yes")
        assert summary["communications"] == 1 and summary["tickets"] == 1
        assert summary["audit_rows_redacted"] == 4 and summary["wal_truncated"] is True
        raw_bytes = file_bytes(db_path)
    finally:
        reader.close()
    for key, value in SECRETS.items():
        assert value.encode() not in raw_bytes, key
    assert b"8613912345678" not in raw_bytes and b"ERP-777" not in raw_bytes
    assert b"li.keepme@example.com" in raw_bytes  # the grep does see what is still there

    customer = cli.json("customer", "show", str(cid))
    assert customer["name"] == "[erased]" and customer["erased_at"]
    assert customer["email"] is None and customer["phone"] is None
    assert customer["address"] is None and customer["notes"] is None
    assert customer["external_id"] is None and customer["tags"] == []
    assert customer["company"] == "Acme" and customer["counts"]["orders"] == 1
    conn = sqlite3.connect(str(db_path))
    try:
        comm = conn.execute(
            "SELECT channel, direction, occurred_at, subject, content, duration_s FROM communications"
        ).fetchone()
        assert comm == ("phone", "inbound", T0, None, None, 300)
        ticket = conn.execute(
            "SELECT subject, description, category, priority, status, resolved_at, satisfaction,"
            " satisfaction_comment FROM tickets"
        ).fetchone()
        assert ticket == ("[erased]", None, "billing", "high", "resolved", T1, 4, None)
        events = conn.execute(
            "SELECT kind, to_status, body FROM ticket_events ORDER BY id"
        ).fetchall()
        assert events == [("comment", None, None), ("status", "resolved", None)]
        assert conn.execute("SELECT revenue, result FROM campaign_members").fetchone() == (
            12345,
            "success",
        )
        assert conn.execute("SELECT amount FROM orders").fetchone() == (99900,)
    finally:
        conn.close()
    assert cli.json("customer", "show", str(other))["email"] == "li.keepme@example.com"
    assert cli.json("customer", "list", "--search", "zwq.private") == []
    assert cli("audit", "verify").exit_code == 0
    assert cli("db", "check").exit_code == 0
    forget = cli.json("audit", "list", "--action", "forget")
    assert len(forget) == 1 and SECRETS["name"] not in json.dumps(forget)


def test_forget_refuses_without_yes_unknown_and_twice(cli, add_customer, db_path: Path) -> None:
    cid = add_customer("Ann Private", email="ann.private@example.com")
    result = cli("customer", "forget", str(cid))
    assert result.exit_code == 2
    assert cli.json("customer", "show", str(cid))["email"] == "ann.private@example.com"
    assert cli("customer", "forget", "999", "--yes").exit_code == 3
    cli.ok("customer", "forget", str(cid), "--yes")
    again = cli("customer", "forget", str(cid), "--yes")
    assert again.exit_code == 0 and "already erased" in again.stderr  # finishes pending work


def test_export_data_holds_everything_about_the_customer(
    cli, add_customer, db_path: Path, tmp_path: Path
) -> None:
    cid, other = seed(cli, add_customer, db_path)
    data = json.loads(cli.ok("customer", "export-data", str(cid)))
    assert data["customer"]["email"] == SECRETS["email"] and data["tags"] == ["vip"]
    assert [c["content"] for c in data["communications"]] == [SECRETS["comm"]]
    assert data["tickets"][0]["description"] == SECRETS["ticket"]
    assert [e["kind"] for e in data["tickets"][0]["events"]] == ["comment", "status"]
    assert data["campaign_memberships"][0]["campaign_name"] == "Spring"
    assert data["campaign_memberships"][0]["revenue"] == 123.45
    assert data["orders"][0]["amount"] == 999.0
    actions = [(e["entity"], e["action"]) for e in data["audit_entries"]]
    assert ("customer", "create") in actions and ("customer", "update") in actions
    assert ("communication", "create") in actions and ("ticket", "create") in actions
    assert all(
        e["entity_id"] != str(other) or e["entity"] != "customer" for e in data["audit_entries"]
    )

    out = tmp_path / "sar.json"
    cli.ok("customer", "export-data", str(cid), "--out", str(out))
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert json.loads(out.read_text(encoding="utf-8"))["customer"] == data["customer"]


def test_export_data_masking_and_errors(cli, add_customer, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = add_customer("Ann", email="ann@example.com", phone="13800138000")
    masked = json.loads(cli.ok("customer", "export-data", str(cid), "--mask"))
    assert masked["customer"]["email"] == "a*n@example.com"
    assert masked["customer"]["phone"] == "+86138****8000"
    monkeypatch.setenv("CRM_MASK", "1")
    assert "ann@example.com" not in cli.ok("customer", "export-data", str(cid))
    assert "ann@example.com" in cli.ok("customer", "export-data", str(cid), "--no-mask")
    assert cli("customer", "export-data", "404").exit_code == 3
    assert cli("customer", "export-data", str(cid), "--format", "csv").exit_code == 2


def test_forget_scrubs_tables_added_later_and_spares_other_people(
    cli, add_customer, db_path: Path
) -> None:
    cid = add_customer("Li", email="li.secret@example.com", phone="13711112222")
    other = add_customer("Li Keepme", email="keep@example.com")
    db = connect(db_path, actor="seed")
    try:
        with db.transaction():
            # A table another group might add later, keyed by customer_id.
            db.execute(
                "CREATE TABLE visit_notes (id INTEGER PRIMARY KEY, customer_id INTEGER,"
                " kind TEXT, body TEXT)"
            )
            db.execute(
                "INSERT INTO visit_notes(customer_id, kind, body) VALUES (?, 'visit', ?)",
                (cid, "met Li at home, call 13711112222 or li.secret@example.com"),
            )
            db.execute(
                "INSERT INTO visit_notes(customer_id, kind, body) VALUES (?, 'visit', 'met Li')",
                (other,),
            )
            audit.record(db, "send", "campaign", 1, {"to": "Li", "cc": "Lisa", "n": 2})
    finally:
        db.close()
    exported = json.loads(cli.ok("customer", "export-data", str(cid)))
    assert exported["other_records"]["visit_notes"][0]["kind"] == "visit"
    cli.ok("customer", "forget", str(cid), "--yes")
    conn = sqlite3.connect(str(db_path))
    try:
        bodies = dict(conn.execute("SELECT customer_id, body FROM visit_notes").fetchall())
        sends = conn.execute("SELECT details FROM audit_log WHERE action = 'send'").fetchone()
    finally:
        conn.close()
    assert "13711112222" not in bodies[cid] and "li.secret" not in bodies[cid]
    assert "Li " not in bodies[cid]
    assert bodies[other] == "met Li"  # someone else's record is not touched
    assert json.loads(sends[0]) == {"to": "[erased]", "cc": "Lisa", "n": 2}
    assert cli.json("customer", "show", str(other))["name"] == "Li Keepme"
    keep = cli.json("audit", "list", "--entity", "customer", "--entity-id", str(other))
    assert keep[0]["details"]["name"] == "Li Keepme"
    assert cli("audit", "verify").exit_code == 0


def test_forget_covers_duplicates_merged_into_the_customer(
    cli, add_customer, db_path: Path
) -> None:
    keep = add_customer("Wang Fang", email="wang.fang.now@example.cn")
    old = add_customer("Wang Fang Old", email="wang.fang.2019@example.cn", phone="13655556666")
    older = add_customer("W. Fang", address="Old Street 12, Shanghai")
    cli.ok("customer", "merge", str(old), str(older), "--yes")
    cli.ok("customer", "merge", str(keep), str(old), "--yes")
    exported = json.loads(cli.ok("customer", "export-data", str(keep)))
    actions = {(e["action"], e["entity_id"]) for e in exported["audit_entries"]}
    assert {("create", str(old)), ("create", str(older)), ("merged_into", str(older))} <= actions
    cli.ok("customer", "forget", str(keep), "--yes")
    raw_bytes = file_bytes(db_path)
    for value in ("wang.fang.now", "wang.fang.2019", "13655556666", "Old Street 12", "W. Fang"):
        assert value.encode() not in raw_bytes, value
    assert cli("audit", "verify").exit_code == 0


def test_forget_deletes_the_auto_replies_sent_to_the_customer(
    cli, add_customer, db_path: Path
) -> None:
    cid = add_customer("Zhao Min", email="zhao.min@example.cn")
    other = add_customer("Qian Li", email="qian.li@example.cn")
    for who in (cid, other):
        cli.ok(
            "ticket", "open", str(who), "--subject", "Where is my parcel", "--category", "billing"
        )
    outbox = db_path.parent / "outbox"
    mails = sorted(outbox.glob("*.eml"))
    assert len(mails) == 2, "ticket open writes one auto-reply per ticket"
    summary = cli.json("customer", "forget", str(cid), "--yes")
    assert summary["outbox_files_removed"] == 1
    left = [p.read_bytes() for p in outbox.glob("*.eml")]
    assert len(left) == 1 and b"qian.li@example.cn" in left[0]


def test_subject_access_and_erasure_cover_custom_fields_contacts_company_and_deals(
    cli, add_customer, db_path: Path
) -> None:
    cli.ok("field", "add", "customer", "wechat", "--type", "text")
    cli.ok("field", "add", "customer", "score", "--type", "number")
    cli.ok("company", "add", "--name", "Acme Trading")
    keep = add_customer("Zhao Lei", email="zhao.lei@example.cn", company="Acme Trading")
    old = add_customer("Zhao Lei", email="zl.1999@example.cn")
    cli.ok("customer", "update", str(keep), "--set", "wechat=zhaolei_wx88", "--set", "score=7")
    cli.ok("customer", "merge", str(keep), str(old), "--yes")
    deal = cli.ok(
        "deal",
        "add",
        "--customer",
        str(keep),
        "--title",
        "Loan for Zhao Lei",
        "--amount",
        "1200.50",
    ).strip()
    cli.ok("deal", "move", deal, "proposal")
    data = json.loads(cli.ok("customer", "export-data", str(keep)))
    assert data["custom"] == {"wechat": "zhaolei_wx88", "score": 7}
    assert [(c["kind"], c["value"]) for c in data["contact_points"]] == [
        ("email", "zl.1999@example.cn")
    ]
    assert data["company"]["name"] == "Acme Trading"
    assert [d["amount"] for d in data["deals"]] == [1200.5]
    assert [e["to_stage"] for e in data["deals"][0]["events"]][-1] == "proposal"
    assert "customer_contacts" not in data["other_records"] and "deals" not in data["other_records"]

    summary = json.loads(cli.ok("customer", "forget", str(keep), "--yes", "--format", "json"))
    assert summary["custom_values"] == 2
    after = json.loads(cli.ok("customer", "export-data", str(keep)))
    assert after["custom"] == {} and after["contact_points"] == []
    raw_bytes = file_bytes(db_path)
    for value in ("zhaolei_wx88", "zl.1999@example.cn", "zhao.lei@example.cn"):
        assert value.encode() not in raw_bytes, value
    assert cli("audit", "verify").exit_code == 0
