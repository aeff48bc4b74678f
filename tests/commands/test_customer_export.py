"""`crm customer export`: formats, BOM, CSV injection, masking, filters, round trip."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
from pathlib import Path

from crmcli.output.customer_export import EXPORT_COLUMNS


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_file_has_bom_import_field_columns_and_private_mode(
    cli, tmp_path: Path, add_customer
) -> None:  # type: ignore[no-untyped-def]
    add_customer("张伟", phone="13800138000", email="zw@example.cn", tag="vip")
    out = tmp_path / "c.csv"
    result = cli("customer", "export", "--out", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = read_csv(out)
    assert list(rows[0]) == EXPORT_COLUMNS
    assert rows[0]["name"] == "张伟" and rows[0]["tags"] == "vip"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_stdout_csv_has_no_bom(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann")
    text = cli.ok("customer", "export")
    assert not text.startswith("\ufeff")
    assert next(csv.reader(io.StringIO(text))) == EXPORT_COLUMNS


def test_csv_injection_is_neutralised(cli, tmp_path: Path, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer('=HYPERLINK("http://evil")', company="+cmd|' /C calc'!A0", notes="@SUM(1)")
    add_customer("-2+3", address="\tTabbed")
    rows = list(csv.DictReader(io.StringIO(cli.ok("customer", "export"))))
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["company"] == "'+cmd|' /C calc'!A0"
    assert rows[0]["notes"] == "'@SUM(1)"
    assert rows[1]["name"] == "'-2+3"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_masking_option_and_env_default(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer(
        "Ann", phone="13800138000", email="ann.lee@example.com", address="北京市朝阳区建国路88号"
    )
    masked = cli.json("customer", "export", "--mask")[0]
    assert masked["phone"] == "+86138****8000"
    assert masked["email"] == "a*****e@example.com"
    assert masked["address"].startswith("北京市") and "*" in masked["address"]
    assert masked["name"] == "Ann"
    plain = cli.json("customer", "export")[0]
    assert plain["phone"] == "+8613800138000"
    env_masked = cli.json("customer", "export", env={"CRM_MASK": "1"})[0]
    assert env_masked["phone"] == "+86138****8000"
    unmasked = cli.json("customer", "export", "--no-mask", env={"CRM_MASK": "1"})[0]
    assert unmasked["email"] == "ann.lee@example.com"


def test_json_and_jsonl_and_format_from_suffix(cli, tmp_path: Path, add_customer) -> None:  # type: ignore[no-untyped-def]
    for name in ("A", "B", "C"):
        add_customer(name)
    data = cli.json("customer", "export")
    assert [r["name"] for r in data] == ["A", "B", "C"] and data[0]["tags"] == []
    lines = cli.ok("customer", "export", "--format", "jsonl").splitlines()
    assert [json.loads(x)["name"] for x in lines] == ["A", "B", "C"]
    out = tmp_path / "x.jsonl"
    cli.ok("customer", "export", "--out", str(out))
    assert len(out.read_text().splitlines()) == 3
    assert cli.ok("customer", "export", "--format", "json", "--tag", "none") == "[]\n"
    bad = cli("customer", "export", "--format", "xml")
    assert bad.exit_code == 2


def test_filters_and_changed_since(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    old_t, new_t = ("--as-of", "2024-01-10T00:00:00Z"), ("--as-of", "2024-03-10T00:00:00Z")
    old = cli.ok(*old_t, "customer", "add", "--name", "Old", "--tag", "vip").strip()
    cli.ok(*old_t, "customer", "add", "--name", "Untouched")
    cli.ok(*new_t, "customer", "add", "--name", "New")
    cli.ok(*new_t, "customer", "update", old, "--owner", "bob")
    changed = cli.json("customer", "export", "--changed-since", "2024-03-01")
    assert sorted(r["name"] for r in changed) == ["New", "Old"]
    assert [r["name"] for r in cli.json("customer", "export", "--tag", "vip")] == ["Old"]
    bad = cli("customer", "export", "--changed-since", "not a date")
    assert bad.exit_code == 2


def _table(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT id, external_id, name, phone, email, address, company, lifecycle, owner, notes,"
        " created_at FROM customers ORDER BY id"
    ).fetchall()
    tags = con.execute("SELECT customer_id, tag FROM customer_tags ORDER BY 1, 2").fetchall()
    return rows + tags


def test_export_then_import_into_fresh_db_reproduces_customers(
    cli, tmp_path: Path, add_customer, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    add_customer(
        "张伟", phone="13800138000", email="zw@example.cn", external_id="E1", tag="vip",
        company="=SUM(A1)", address="上海市, 浦东", lifecycle="customer", owner="alice",
        notes="likes tea",
    )  # fmt: skip
    add_customer("+Plus Name", phone="+44 20 7946 0958", external_id="E2")
    add_customer("No Key", email="nokey@example.com")
    add_customer("-minus", notes='quote " and comma ,', external_id="E4")
    cli.ok("customer", "tag", "1", "--add", "wholesale")
    out = tmp_path / "all.csv"
    cli.ok("customer", "export", "--out", str(out))
    fresh = tmp_path / "fresh.db"
    # a fresh database has no companies yet: --create-company makes the customers' ones
    result = cli.json(
        "--db", str(fresh), "customer", "import", str(out), "--key", "external_id",
        "--create-company",
    )  # fmt: skip
    assert result["inserted"] == 4 and result["rejected"] == 0
    assert result["ignored_columns"] == ["id", "updated_at"]
    assert _table(fresh) == _table(db_path)

    def without_updated(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "updated_at"} for r in rows]

    assert without_updated(cli.json("customer", "export")) == without_updated(
        cli.json("--db", str(fresh), "customer", "export")
    )
    again = cli.json("--db", str(fresh), "customer", "import", str(out), "--key", "external_id")
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert again["duplicates"] == 1  # the row without external_id matches by email
