"""`crm customer add/show/list/update/tag/delete/duplicates`: the everyday commands."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

LIST_KEYS = {
    "id",
    "external_id",
    "name",
    "phone",
    "phone_ext",
    "email",
    "address",
    "company_id",
    "company",
    "lifecycle",
    "owner",
    "notes",
    "created_at",
    "updated_at",
    "erased_at",
    "tags",
    "custom",
}


def test_add_prints_id_and_normalises(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli.ok(
        "customer", "add", "--name", " 张伟 ", "--phone", "138 0013 8000", "--email", "ZW@EXAMPLE.CN",
        "--tag", "vip", "--tag", "vip", "--lifecycle", "客户",
    )  # fmt: skip
    assert out == "1\n"
    shown = cli.json("customer", "show", "1")
    assert shown["name"] == "张伟" and shown["phone"] == "+8613800138000"
    assert shown["email"] == "zw@example.cn" and shown["lifecycle"] == "customer"
    assert shown["tags"] == ["vip"]
    assert shown["counts"] == {"communications": 0, "tickets": 0, "campaigns": 0, "orders": 0}
    assert cli.json("customer", "add", "--name", "B") == {"id": 2}


def test_add_rejects_bad_input_with_exit_2_and_duplicates_with_4(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    for args in (["--phone", "12"], ["--email", "nope"], ["--lifecycle", "vip"]):
        result = cli("customer", "add", "--name", "X", *args)
        assert result.exit_code == 2 and result.stderr.startswith("Error: ")
    add_customer("A", email="a@example.com")
    dup = cli("customer", "add", "--name", "B", "--email", "A@example.com")
    assert dup.exit_code == 4
    assert len(cli.json("customer", "list")) == 1


def test_show_by_external_id_or_email_and_not_found(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer("Ann", external_id="X1", email="ann@example.com")
    assert cli.json("customer", "show", "--external-id", "X1")["id"] == cid
    assert cli.json("customer", "show", "--email", "ANN@example.com")["id"] == cid
    assert cli("customer", "show", "--external-id", "nope").exit_code == 3
    assert cli("customer", "show").exit_code == 2


def test_list_json_keys_are_stable_snake_case(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann", email="ann@example.com", tag="vip")
    add_customer("Bob")
    rows = json.loads(cli.ok("customer", "list", "--format", "json"))
    assert len(rows) == 2
    for r in rows:
        assert set(r) == LIST_KEYS
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in r)
    assert rows[0]["tags"] == ["vip"] and rows[1]["tags"] == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", rows[0]["created_at"])
    assert json.loads(cli.ok("customer", "list", "--format", "json", "--tag", "none")) == []


def test_list_filters_sort_and_paging(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("欧阳娜娜", company="北京星辰科技", tag="vip", lifecycle="customer")
    add_customer("John Smith", company="Acme", email="john@acme.com")
    add_customer("Mary", company="Acme Asia", owner="alice")
    names = lambda *a: [r["name"] for r in cli.json("customer", "list", *a)]  # noqa: E731
    assert names("--search", "星辰") == ["欧阳娜娜"]
    assert names("--search", "acme.com") == ["John Smith"]
    assert names("--company", "acme") == ["John Smith", "Mary"]
    assert names("--tag", "vip") == ["欧阳娜娜"]
    assert names("--lifecycle", "customer") == ["欧阳娜娜"]
    assert names("--owner", "alice") == ["Mary"]
    assert names("--sort", "name", "--desc", "--limit", "2") == ["欧阳娜娜", "Mary"]
    assert names("--limit", "1", "--offset", "1") == ["John Smith"]
    assert cli("customer", "list", "--sort", "password").exit_code == 2


def test_list_formats(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann")
    assert cli.ok("customer", "list", "--format", "csv").splitlines()[0].startswith("id,")
    assert "| Ann |" in cli.ok("customer", "list", "--format", "markdown")
    lines = cli.ok("customer", "list", "--format", "jsonl").splitlines()
    assert json.loads(lines[0])["name"] == "Ann"


def test_update_reports_changes_and_clears(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer("Ann", email="ann@example.com")
    changes = cli.json("customer", "update", str(cid), "--owner", "bob", "--email", "")
    assert {c["field"]: c["new"] for c in changes} == {"owner": "bob", "email": None}
    assert cli.json("customer", "update", str(cid), "--owner", "bob") == []
    assert cli("customer", "update", str(cid)).exit_code == 2
    assert cli("customer", "update", "99", "--owner", "x").exit_code == 3


def test_tag_add_remove(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer("Ann", tag="trial")
    result = cli.json("customer", "tag", str(cid), "--add", "vip", "--remove", "trial")
    assert result == {"id": cid, "tags": ["vip"]}
    assert cli("customer", "tag", str(cid)).exit_code == 2


def test_delete_needs_yes_and_cascade_for_history(cli, add_customer, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer("Ann")
    refused = cli("customer", "delete", str(cid))
    assert refused.exit_code == 2
    con = sqlite3.connect(db_path)
    con.execute(
        "INSERT INTO orders(customer_id, ordered_at, amount, created_at, updated_at)"
        " VALUES (?, '2024-01-01T00:00:00Z', 100, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')",
        (cid,),
    )
    con.commit()
    held = cli("customer", "delete", str(cid), "--yes")
    assert held.exit_code == 4 and "merge" in held.stderr
    done = cli.json("customer", "delete", str(cid), "--yes", "--cascade")
    assert done == {"id": cid, "deleted": True, "cascaded": {**done["cascaded"], "orders": 1}}
    assert cli("customer", "show", str(cid)).exit_code == 3


def test_duplicates_command_groups_json_and_table(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    a = add_customer("张伟", phone="13800138000", company="甲公司")
    b = add_customer("Zhang Wei", phone="+86 138 0013 8000")
    c = add_customer("Jonathan Smith", company="Acme Ltd")
    d = add_customer("Jonathon Smith", company="ACME Limited")
    add_customer("Unrelated Person", company="Acme Ltd")
    groups = cli.json("customer", "duplicates")  # default threshold 50: name + company is 45
    assert [[x["id"] for x in g["customers"]] for g in groups] == [[a, b]]
    assert groups[0] | {"customers": None, "links": None, "weakest_link": None} == {
        "group": 1,
        "score": 50.0,
        "auto_merge": False,
        "reason": "same phone",
        "customers": None,
        "links": None,
        "weakest_link": None,
    }
    assert set(groups[0]["customers"][0]) == {"id", "name", "email", "phone", "company", "address"}
    loose = cli.json("customer", "duplicates", "--threshold", "40")
    assert [[x["id"] for x in g["customers"]] for g in loose] == [[a, b], [c, d]]
    assert 40 < loose[1]["score"] < 45
    assert len(cli.json("customer", "duplicates", "--threshold", "40", "--limit", "1")) == 1
    assert cli.json("customer", "duplicates", "--threshold", "100") == []
    assert cli("customer", "duplicates", "--threshold", "101").exit_code == 2
    table = cli.ok("customer", "duplicates", "--threshold", "40")
    assert "same phone" in table and "Jonathon Smith" in table


def test_duplicates_empty(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("Only One")
    assert cli.json("customer", "duplicates") == []
    result = cli("customer", "duplicates")
    assert result.exit_code == 0 and "No results" in result.stderr
