"""`crm customer import --key`: the key names a customer and never replaces its primary
email or phone, a shared phone names nobody, an update needs no name, a row without its key
value is matched as without --key, and --map cannot feed a column that is never imported
(found by a tester: each stored a wrong value or lost one, and exited 0)."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _reasons(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return {row["line"]: row["reason"] for row in csv.DictReader(fh)}


def test_a_key_matching_a_secondary_email_keeps_the_primary(cli: Any, tmp_path: Path) -> None:
    src = _write(
        tmp_path / "m.csv",
        "external_id,name,email,phone\nM1,Ann,ann@x.com,13800138000\n,Ann B,annb@x.com,13900139000\n",
    )
    cli.json("customer", "import", str(src))
    cli.ok("customer", "merge", "1", "2", "--yes")
    by_mail = _write(tmp_path / "s.csv", "email,notes\nannb@x.com,via secondary\n")
    assert cli.json("customer", "import", str(by_mail), "--key", "email")["updated"] == 1
    by_phone = _write(tmp_path / "p.csv", "phone,owner\n+86 139 0013 9000,bob\n")
    assert cli.json("customer", "import", str(by_phone), "--key", "phone")["updated"] == 1
    ann = cli.json("customer", "show", "1")
    assert (ann["email"], ann["phone"]) == ("ann@x.com", "+8613800138000")
    assert (ann["notes"], ann["owner"]) == ("via secondary", "bob")
    assert [c["id"] for c in cli.json("customer", "list", "--search", "ann@x.com")] == [1]


def test_a_shared_phone_as_key_names_nobody(cli: Any, tmp_path: Path) -> None:
    cli.ok("customer", "add", "--name", "P1", "--phone", "13800138000")
    cli.ok("customer", "add", "--name", "P2", "--phone", "13800138000")
    src = _write(tmp_path / "k.csv", "phone,notes\n138 0013 8000,which one?\n")
    summary = cli.json("customer", "import", str(src), "--key", "phone")
    assert (summary["updated"], summary["rejected"]) == (0, 1)
    assert _reasons(tmp_path / "k.rejects.csv")["2"].startswith(
        "phone +8613800138000 is shared by customers 1, 2: which one is meant is not guessed"
    )
    assert [c["notes"] for c in cli.json("customer", "list")] == [None, None]


def test_an_update_row_needs_no_name_and_a_new_one_does(cli: Any, tmp_path: Path) -> None:
    cli.ok("customer", "add", "--name", "Eve", "--external-id", "E1")
    src = _write(tmp_path / "u.csv", "external_id,name,lifecycle\nE1,,prospect\nE2,,lead\n")
    summary = cli.json("customer", "import", str(src), "--key", "external_id")
    assert (summary["updated"], summary["inserted"], summary["rejected"]) == (1, 0, 1)
    eve = cli.json("customer", "show", "1")
    assert (eve["name"], eve["lifecycle"]) == ("Eve", "prospect")
    assert _reasons(tmp_path / "u.rejects.csv")["3"] == "no name"


def test_an_export_imports_back_without_copies_of_customers_lacking_the_key(
    cli: Any, tmp_path: Path, db_path: Path
) -> None:
    cli.ok("customer", "add", "--name", "Keyed", "--external-id", "K1")
    cli.ok("customer", "add", "--name", "Phone Only", "--phone", "13700137000")
    cli.ok("customer", "add", "--name", "Mail Only", "--email", "mail@x.com")
    out = tmp_path / "x.csv"
    cli.ok("customer", "export", "--out", str(out), "--no-mask")
    summary = cli.json("customer", "import", str(out), "--key", "external_id")
    # the keyed customer is unchanged; the others are found by phone and email, as an
    # import without --key finds them (duplicates of the stored customers, not copies)
    assert (summary["inserted"], summary["unchanged"], summary["duplicates"]) == (0, 1, 2)
    with sqlite3.connect(db_path) as con:
        assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 3


def test_map_cannot_feed_a_column_an_import_never_sets(cli: Any, tmp_path: Path) -> None:
    src = _write(tmp_path / "g.csv", "name,gone\nAnn,2024-01-01\n")
    result = cli("customer", "import", str(src), "--map", "gone=erased_at")
    assert result.exit_code == 2
    assert "--map: erased_at cannot be imported" in result.stderr
    assert cli.json("customer", "list") == []


def test_a_company_name_and_a_domain_naming_different_companies_link_neither(
    cli: Any, tmp_path: Path
) -> None:
    companies = _write(tmp_path / "c.csv", "name,domain\nAcme Ltd,acme.com\n")
    cli.json("company", "import", str(companies))
    for name, extra in (("G2", ()), ("G3", ("--create-company",))):
        src = _write(tmp_path / "g.csv", f"name,company,company_domain\n{name},Gamma,acme.com\n")
        assert cli.json("customer", "import", str(src), *extra)["warnings"] == 1
        assert "names no company" in _reasons(tmp_path / "g.rejects.csv")["2"]
    stored = cli.json("customer", "list")
    assert [(c["company"], c["company_id"]) for c in stored] == [(None, None)] * 2
    assert [c["name"] for c in cli.json("company", "list")] == ["Acme Ltd"]  # no Gamma made


def test_an_export_imports_back_by_id_into_the_same_customers(
    cli: Any, tmp_path: Path, db_path: Path
) -> None:
    """`--key id`: the ids of this database, as its export writes them; a customer with
    no external id, email or phone comes back as itself, not as a copy."""
    cli.ok("customer", "add", "--name", "Name Only")
    cli.ok("customer", "add", "--name", "Keyed", "--external-id", "K1", "--tag", "vip")
    out = tmp_path / "x.csv"
    cli.ok("customer", "export", "--out", str(out), "--no-mask")
    summary = cli.json("customer", "import", str(out), "--key", "id")
    assert (summary["inserted"], summary["unchanged"], summary["rejected"]) == (0, 2, 0)
    edited = out.read_text(encoding="utf-8-sig").replace("Name Only", "Name Changed")
    edited += "999,,Stranger,,,,,,lead,,,,,,,,,\r\n"
    out.write_text(edited, encoding="utf-8-sig")
    summary = cli.json("customer", "import", str(out), "--key", "id")
    assert (summary["updated"], summary["unchanged"], summary["rejected"]) == (1, 1, 1)
    assert [c["name"] for c in cli.json("customer", "list")] == ["Name Changed", "Keyed"]
    assert "no customer with id 999" in _reasons(tmp_path / "x.rejects.csv")["4"]
