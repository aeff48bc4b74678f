"""The secondary contact points a merge kept (other_emails / other_phones /
other_addresses) survive `customer export` -> `customer import`: into a new database, back
into the one they came from (no change), and as additions to existing customers. Another
customer's email is never stored as this one's too."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest


def _merged(cli: Any, add_customer: Any) -> int:
    keep = add_customer(
        "张伟", email="zw@example.cn", phone="13800138000", address="北京市朝阳区 1 号"
    )
    a = add_customer(
        "张伟", email="zhang.wei@work.cn", phone="13900139000", address="上海市浦东新区; 2 号楼"
    )
    b = add_customer("Zhang Wei", email="zw.old@example.cn", phone="+49 30 1234567")
    cli.ok("customer", "merge", str(keep), str(a), str(b), "--yes")
    return keep


def _contacts(db: Path) -> set[tuple[str, str, str]]:
    con = sqlite3.connect(db)
    try:
        return set(
            con.execute(
                "SELECT c.name, k.kind, k.value FROM customer_contacts k"
                " JOIN customers c ON c.id = k.customer_id"
            )
        )
    finally:
        con.close()


EXPECTED = {
    ("张伟", "email", "zhang.wei@work.cn"),
    ("张伟", "email", "zw.old@example.cn"),
    ("张伟", "phone", "+8613900139000"),
    ("张伟", "phone", "+49301234567"),
    ("张伟", "address", "上海市浦东新区; 2 号楼"),
}


@pytest.mark.parametrize("big", [False, True], ids=["rows", "big-import-transfer"])
def test_an_export_imports_into_a_new_database_with_its_contact_points(
    cli: Any, add_customer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, big: bool
) -> None:
    _merged(cli, add_customer)
    out = tmp_path / "customers.csv"
    cli.ok("customer", "export", "--format", "csv", "-o", str(out))
    row = next(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    # an address holding "; " is one line of its cell, not two addresses
    assert row["other_addresses"] == "上海市浦东新区; 2 号楼"
    assert set(row["other_emails"].split("; ")) == {"zhang.wei@work.cn", "zw.old@example.cn"}
    source = Path(os.environ["CRM_DB"])
    assert _contacts(source) == EXPECTED
    fresh = tmp_path / "fresh.db"
    hook = tmp_path / "hook.txt"
    if big:  # a big import: deferred indexes, new customers appended by transfer, FKs off
        import crmcli.importing.customers as customer_import

        monkeypatch.setattr(customer_import, "INDEX_REBUILD_MIN_ROWS", 1)
        monkeypatch.setenv("CRM_IMPORT_STAGE_HOOK", str(hook))
    result = cli("customer", "import", str(out), env={"CRM_DB": str(fresh)})
    assert result.exit_code == 0, result.stderr
    assert "unknown column" not in result.stderr
    assert big == ("apply.inserts.transfer" in (hook.read_text() if hook.exists() else ""))
    assert _contacts(fresh) == EXPECTED
    summary = cli.json("customer", "import", str(out), "--key", "email", env={"CRM_DB": str(fresh)})
    assert (summary["unchanged"], summary["updated"], summary["contacts_added"]) == (1, 0, 0)
    assert _contacts(fresh) == EXPECTED
    # found by a restored secondary email, as in the database it came from
    shown = cli.json("customer", "show", "--email", "zw.old@example.cn", env={"CRM_DB": str(fresh)})
    assert shown["name"] == "张伟"


def test_an_export_back_into_its_own_database_changes_nothing(
    cli: Any, add_customer: Any, tmp_path: Path
) -> None:
    _merged(cli, add_customer)
    out = tmp_path / "customers.csv"
    cli.ok("customer", "export", "--format", "csv", "-o", str(out))
    summary = cli.json("customer", "import", str(out), "--key", "id")
    assert (summary["unchanged"], summary["updated"], summary["contacts_added"]) == (1, 0, 0)
    assert _contacts(Path(os.environ["CRM_DB"])) == EXPECTED


def test_other_contacts_add_to_an_existing_customer_and_count_as_an_update(
    cli: Any, add_customer: Any, tmp_path: Path
) -> None:
    cid = add_customer("李娜", email="lina@example.cn", phone="13700137000")
    other = add_customer("王芳", email="wangfang@example.cn")
    path = tmp_path / "more.csv"
    path.write_text(
        "email,other_emails,other_phones\r\n"
        "lina@example.cn,li.na@corp.cn; LINA@example.cn ;wangfang@example.cn;not-an-email,"
        "138 0013 8001;(0)30 1234567\r\n",
        encoding="utf-8",
    )
    rejects = tmp_path / "r.csv"
    summary = cli.json("customer", "import", str(path), "--key", "email", "--rejects", str(rejects))
    assert (summary["updated"], summary["rejected"], summary["contacts_added"]) == (1, 0, 2)
    shown = cli.json("customer", "show", str(cid))
    assert {(c["kind"], c["value"]) for c in shown["contact_points"]} == {
        ("email", "li.na@corp.cn"),
        ("phone", "+8613800138001"),
    }
    # another customer's email is a warning, not a second home for it; a bad one too
    warned = list(csv.DictReader(io.StringIO(rejects.read_text(encoding="utf-8-sig"))))
    by_value = {w["value"]: w["reason"] for w in warned}
    assert f"the email of customer {other}" in by_value["wangfang@example.cn"]
    assert "not-an-email" in by_value and "(0)30 1234567" in by_value
    assert all(w["field"] in ("other_emails", "other_phones") for w in warned)
    assert cli.json("customer", "show", "--email", "wangfang@example.cn")["id"] == other
    again = cli.json("customer", "import", str(path), "--key", "email", "--rejects", str(rejects))
    assert (again["unchanged"], again["updated"], again["contacts_added"]) == (1, 0, 0)


def test_two_rows_of_a_file_never_share_an_other_email(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    path.write_text(
        "name,email,other_emails\r\n"
        "甲,a@example.cn,shared@example.cn\r\n"
        "乙,b@example.cn,shared@example.cn\r\n"
        "丙,shared@example.cn,\r\n",
        encoding="utf-8",
    )
    summary = cli.json("customer", "import", str(path), "--rejects", str(tmp_path / "r.csv"))
    # the first row keeps it; the second is warned; the third is that customer again
    assert (summary["inserted"], summary["duplicates"], summary["contacts_added"]) == (2, 1, 1)
    assert _contacts(Path(os.environ["CRM_DB"])) == {("甲", "email", "shared@example.cn")}


def test_a_masked_export_imported_back_stores_no_masked_value(
    cli: Any, add_customer: Any, tmp_path: Path
) -> None:
    # `customer export --mask` (or CRM_MASK=1 in a cron job) hides emails, phones and
    # addresses: z*@example.cn is a valid address by the RFCs, and was stored as one
    _merged(cli, add_customer)
    out = tmp_path / "shared.csv"
    cli.ok("customer", "export", "--mask", "-o", str(out))
    row = next(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert row["email"] == "z*@example.cn" and "*" in row["address"]
    fresh = tmp_path / "fresh.db"
    rejects = tmp_path / "r.csv"
    summary = cli.json(
        "customer", "import", str(out), "--rejects", str(rejects), env={"CRM_DB": str(fresh)}
    )
    assert summary["inserted"] == 1 and summary["contacts_added"] == 0
    with sqlite3.connect(fresh) as con:
        stored = con.execute("SELECT name, email, phone, address FROM customers").fetchall()
        contacts = con.execute("SELECT count(*) FROM customer_contacts").fetchone()[0]
    assert stored == [("张伟", None, None, None)] and contacts == 0
    warned = list(csv.DictReader(io.StringIO(rejects.read_text(encoding="utf-8-sig"))))
    fields = sorted(w["field"] for w in warned)
    assert fields == sorted(
        ["email", "phone", "address", "other_emails", "other_emails", "other_phones",
         "other_phones", "other_addresses"]
    )  # fmt: skip
    assert all(
        "looks masked" in w["reason"] or "masked or a service code" in w["reason"] for w in warned
    )


def test_real_addresses_with_asterisks_are_not_taken_for_masked(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        'name,email,address\r\nAnn,a*b.c@x.com,Unit 5* Harbour Rd\r\nBo,bo@x.com,"Block B**, Lot 7"\r\n',
        encoding="utf-8",
    )
    summary = cli.json("customer", "import", str(path))
    assert summary["inserted"] == 2 and summary["warnings"] == 0
    with sqlite3.connect(os.environ["CRM_DB"]) as con:
        got = sorted(con.execute("SELECT email, address FROM customers"))
    assert got == [("a*b.c@x.com", "Unit 5* Harbour Rd"), ("bo@x.com", "Block B**, Lot 7")]


def test_a_suspect_phone_stays_suspect_through_export_and_import(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """`(415) 555-0100` read in the default region (CN) is stored +864155550100 and flagged
    suspect; the export writes the flag, so its E.164 `+86...` read back (into the same
    database or another) does not clear the doubt `report quality` counts."""
    src = tmp_path / "nanp.csv"
    src.write_text("name,phone\nJ,(415) 555-0100\nK,13800138000\n", encoding="utf-8")
    cli.ok("customer", "import", str(src))
    export = tmp_path / "export.csv"
    cli.ok("customer", "export", "--out", str(export))
    rows = list(csv.DictReader(io.StringIO(export.read_text("utf-8-sig"))))
    assert [(r["phone"], r["phone_suspect"]) for r in rows] == [
        ("'+864155550100", "1"),
        ("'+8613800138000", "0"),
    ]
    summary = cli.json("customer", "import", str(export), "--key", "id")
    assert (summary["updated"], summary["unchanged"]) == (0, 2)
    other = tmp_path / "other.db"
    cli.ok("customer", "import", str(export), "--db", str(other))
    for db in (None, other):
        assert sql_rows("SELECT phone, phone_suspect FROM customers ORDER BY id", db) == [
            ("+864155550100", 1),
            ("+8613800138000", 0),
        ]
