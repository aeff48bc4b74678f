"""Merge keeps everything (#13): secondary contact points, --dry-run, full before-images in
the audit log, `customer unmerge`, and external-id conflicts."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

T = "2024-01-01T00:00:00Z"


def _comm(db: Path, customer_id: int, subject: str) -> None:
    con = sqlite3.connect(db)
    con.execute(
        "INSERT INTO communications(customer_id, channel, direction, occurred_at, subject,"
        " created_at, updated_at) VALUES (?, 'phone', 'inbound', ?, ?, ?, ?)",
        (customer_id, T, subject, T, T),
    )
    con.commit()
    con.close()


def _three(add_customer):  # type: ignore[no-untyped-def]
    keep = add_customer(
        "张伟", email="zw@example.cn", phone="13800138000", address="北京市朝阳区 1 号"
    )
    a = add_customer(
        "张伟",
        email="zhang.wei@work.cn",
        phone="13900139000",
        address="上海市浦东新区 2 号",
        tag="vip",
    )
    b = add_customer("Zhang Wei", email="zw@example.cn.old", company="甲公司", notes="old notes")
    return keep, a, b


def test_survivor_keeps_every_email_phone_and_address(cli, add_customer) -> None:
    keep, a, b = _three(add_customer)
    cli.ok("customer", "merge", str(keep), str(a), str(b), "--yes")
    shown = cli.json("customer", "show", str(keep))
    assert shown["email"] == "zw@example.cn" and shown["phone"] == "+8613800138000"
    contacts = {(c["kind"], c["value"]) for c in shown["contact_points"]}
    assert contacts == {
        ("email", "zhang.wei@work.cn"),
        ("email", "zw@example.cn.old"),
        ("phone", "+8613900139000"),
        ("address", "上海市浦东新区 2 号"),
    }
    assert all(c["merged_from"] in (a, b) for c in shown["contact_points"])
    # the table view shows them too
    assert "zhang.wei@work.cn" in cli.ok("customer", "show", str(keep))


def test_secondary_contacts_are_searchable_exported_and_matched(
    cli, add_customer, tmp_path: Path
) -> None:
    keep, a, b = _three(add_customer)
    cli.ok("customer", "merge", str(keep), str(a), str(b), "--yes")
    found = cli.json("customer", "list", "--search", "zhang.wei@work")
    assert [r["id"] for r in found] == [keep]
    found = cli.json("customer", "list", "--search", "13900139000")
    assert [r["id"] for r in found] == [keep]
    exported = cli.ok("customer", "export", "--format", "csv")
    row = next(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    assert "zhang.wei@work.cn" in row["other_emails"]
    assert "+8613900139000" in row["other_phones"]
    assert "上海市浦东新区 2 号" in row["other_addresses"]
    as_json = cli.json("customer", "export")
    assert "zw@example.cn.old" in as_json[0]["other_emails"]
    # naming the customer by a secondary email finds the survivor
    assert cli.json("customer", "show", "--email", "zhang.wei@work.cn")["id"] == keep
    cli.ok("comm", "log", "--email", "zhang.wei@work.cn", "-c", "phone", "--subject", "hi")
    assert cli.json("customer", "show", str(keep))["counts"]["communications"] == 1
    # an import row carrying a secondary email is a duplicate of the survivor, not new
    leads = tmp_path / "leads.csv"
    leads.write_text("name,email\n张伟,zhang.wei@work.cn\n", encoding="utf-8")
    summary = cli.json("customer", "import", str(leads))
    assert summary["inserted"] == 0, summary
    assert len(cli.json("customer", "list")) == 1


def test_dry_run_shows_the_result_field_by_field_and_changes_nothing(
    cli, add_customer, db_path: Path
) -> None:
    keep, a, b = _three(add_customer)
    before = cli.json("customer", "list")
    plan = cli.json("customer", "merge", str(keep), str(a), str(b), "--dry-run")
    fields = {f["field"]: f for f in plan["fields"]}
    assert fields["email"]["result"] == "zw@example.cn"
    assert fields["email"]["from"] == keep
    assert fields["company"]["result"] == "甲公司" and fields["company"]["from"] == b
    assert fields["notes"]["result"] == "old notes"
    assert {(c["kind"], c["value"]) for c in plan["contacts_added"]} >= {
        ("email", "zhang.wei@work.cn"),
        ("phone", "+8613900139000"),
    }
    assert plan["dropped"] == [a, b]
    assert cli.json("customer", "list") == before
    table = cli.ok("customer", "merge", str(keep), str(a), str(b), "--dry-run")
    assert "company" in table and "甲公司" in table
    assert cli.json("customer", "list") == before


def test_audit_holds_full_before_images_and_unmerge_restores(
    cli, add_customer, db_path: Path
) -> None:
    keep, a, b = _three(add_customer)
    _comm(db_path, a, "call a")
    _comm(db_path, b, "call b")
    _comm(db_path, keep, "call keep")
    before = {c: cli.json("customer", "show", str(c)) for c in (keep, a, b)}
    before_comms = {c: cli.json("comm", "list", "--customer", str(c)) for c in (keep, a, b)}
    result = cli.json("customer", "merge", str(keep), str(a), str(b), "--yes")
    audit_id = result["audit_id"]
    entries = cli.json("audit", "list", "--limit", "0")
    entry = next(e for e in entries if e["id"] == audit_id)
    details = (
        entry["details"] if isinstance(entry["details"], dict) else json.loads(entry["details"])
    )
    images = {r["id"]: r for r in details["before"]["dropped"]}
    assert images[a]["email"] == "zhang.wei@work.cn" and images[a]["tags"] == ["vip"]
    assert images[b]["notes"] == "old notes"
    assert details["before"]["keep"]["company"] is None

    out = cli.json("customer", "unmerge", str(audit_id), "--yes")
    assert sorted(out["restored"]) == [a, b]
    for c in (keep, a, b):
        now = cli.json("customer", "show", str(c))
        for key in ("name", "email", "phone", "address", "company", "notes", "tags", "counts"):
            assert now[key] == before[c][key], (c, key)
        assert now.get("contact_points", []) == []
        assert [m["subject"] for m in cli.json("comm", "list", "--customer", str(c))] == [
            m["subject"] for m in before_comms[c]
        ]
    again = cli("customer", "unmerge", str(audit_id), "--yes")
    assert again.exit_code == 4 and "already" in again.stderr


def test_unmerge_of_something_that_is_not_a_merge(cli, add_customer) -> None:
    add_customer("Ann")
    assert cli("customer", "unmerge", "999", "--yes").exit_code == 3
    entries = cli.json("audit", "list")
    result = cli("customer", "unmerge", str(entries[0]["id"]), "--yes")
    assert result.exit_code == 2 and "not a merge" in result.stderr


def test_conflicting_external_ids_refuse_unless_told_which(cli, add_customer) -> None:
    keep = add_customer("Ann", external_id="ERP-1")
    drop = add_customer("Ann", external_id="ERP-2", email="ann@example.com")
    result = cli("customer", "merge", str(keep), str(drop), "--yes")
    assert result.exit_code == 4, result.stdout + result.stderr
    assert "ERP-1" in result.stderr and "ERP-2" in result.stderr
    assert "--keep-external-id" in result.stderr
    assert len(cli.json("customer", "list")) == 2
    bad = cli("customer", "merge", str(keep), str(drop), "--yes", "--keep-external-id", "X")
    assert bad.exit_code == 2
    cli.ok("customer", "merge", str(keep), str(drop), "--yes", "--keep-external-id", "ERP-2")
    shown = cli.json("customer", "show", str(keep))
    assert shown["external_id"] == "ERP-2"
    assert shown["email"] == "ann@example.com"
