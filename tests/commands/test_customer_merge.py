"""`crm customer merge`: history moves to KEEP, empty fields filled, audit, errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

T = "2024-01-01T00:00:00Z"


def history(db: Path, customer_id: int, campaigns: list[int]) -> None:
    """Give a customer a communication, a ticket, an order and campaign memberships."""
    con = sqlite3.connect(db)
    con.execute(
        "INSERT INTO communications(customer_id, channel, direction, occurred_at, subject,"
        " created_at, updated_at) VALUES (?, 'phone', 'inbound', ?, ?, ?, ?)",
        (customer_id, T, f"call {customer_id}", T, T),
    )
    con.execute(
        "INSERT INTO tickets(customer_id, subject, created_at, updated_at) VALUES (?, ?, ?, ?)",
        (customer_id, f"ticket {customer_id}", T, T),
    )
    con.execute(
        "INSERT INTO orders(customer_id, ordered_at, amount, created_at, updated_at)"
        " VALUES (?, ?, 1000, ?, ?)",
        (customer_id, T, T, T),
    )
    for campaign in campaigns:
        con.execute(
            "INSERT INTO campaign_members(campaign_id, customer_id, variant, result)"
            " VALUES (?, ?, ?, ?)",
            (
                campaign,
                customer_id,
                f"v{customer_id}",
                "success" if customer_id == 1 else "failure",
            ),
        )
    con.commit()
    con.close()


def make_campaigns(db: Path, n: int) -> list[int]:
    con = sqlite3.connect(db)
    ids = [
        int(
            con.execute(
                "INSERT INTO campaigns(name, channel, created_at, updated_at) VALUES (?, 'email', ?, ?)",
                (f"c{i}", T, T),
            ).lastrowid
            or 0
        )
        for i in range(n)
    ]
    con.commit()
    con.close()
    return ids


def test_merge_moves_history_fills_fields_and_deletes_drops(
    cli, add_customer, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    keep = add_customer("张伟", phone="13800138000", tag="vip")
    drop = add_customer("张伟 (old)", email="zw@example.cn", company="甲公司", tag="old")
    drop2 = add_customer("Z. Wei", owner="alice", tag="vip", external_id="Z9")
    c1, c2 = make_campaigns(db_path, 2)
    history(db_path, keep, [c1])
    history(db_path, drop, [c1, c2])
    history(db_path, drop2, [])
    result = cli.json("customer", "merge", str(keep), str(drop), str(drop2), "--yes")
    assert result["keep"] == keep and result["dropped"] == [drop, drop2]
    assert result["filled"] == {
        "email": "zw@example.cn",
        "company": "甲公司",
        "company_id": 1,  # add_customer creates the company: the link is filled too
        "owner": "alice",
        "external_id": "Z9",
    }
    shown = cli.json("customer", "show", str(keep))
    assert shown["name"] == "张伟" and shown["phone"] == "+8613800138000"  # KEEP's values stay
    assert shown["email"] == "zw@example.cn" and shown["company"] == "甲公司"
    assert shown["owner"] == "alice" and shown["external_id"] == "Z9"
    assert shown["tags"] == ["old", "vip"]
    assert shown["counts"] == {"communications": 3, "tickets": 3, "campaigns": 2, "orders": 3}
    con = sqlite3.connect(db_path)
    members = con.execute(
        "SELECT campaign_id, customer_id, variant, result FROM campaign_members ORDER BY 1"
    ).fetchall()
    # Both were in c1: KEEP's membership is the one kept; DROP's c2 membership moved over.
    assert members == [(c1, keep, f"v{keep}", "success"), (c2, keep, f"v{drop}", "failure")]
    assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 1
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    audit = con.execute(
        "SELECT action, entity_id, details FROM audit_log WHERE action IN ('merge', 'merged_into')"
        " ORDER BY id"
    ).fetchall()
    assert [(a, e) for a, e, _ in audit] == [
        ("merged_into", str(drop)),
        ("merged_into", str(drop2)),
        ("merge", str(keep)),
    ]
    assert json.loads(audit[-1][2])["moved"]["orders"] == 2
    assert cli("customer", "show", str(drop)).exit_code == 3
    # search index follows: the dropped names are gone, KEEP is found by its new email
    assert cli.json("customer", "list", "--search", "old)") == []
    assert [r["id"] for r in cli.json("customer", "list", "--search", "zw@example")] == [keep]


def test_merge_errors_change_nothing(cli, add_customer, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = add_customer("A")
    b = add_customer("B")
    unknown = cli("customer", "merge", str(a), str(b), "999", "--yes")
    assert unknown.exit_code == 3 and "999" in unknown.stderr
    itself = cli("customer", "merge", str(a), str(a), "--yes")
    assert itself.exit_code == 2
    missing_keep = cli("customer", "merge", "998", str(b), "--yes")
    assert missing_keep.exit_code == 3
    refused = cli("customer", "merge", str(a), str(b))  # not a terminal, no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert [r["name"] for r in cli.json("customer", "list")] == ["A", "B"]


def test_merge_prints_a_line_for_people(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    a = add_customer("A")
    b = add_customer("B", email="b@example.com")
    result = cli("customer", "merge", str(a), str(b), "--yes")
    assert result.exit_code == 0 and result.stdout == ""
    assert f"Merged {b} into {a}" in result.stderr and "email" in result.stderr
