"""`crm company import`: a HubSpot companies export, keys, duplicates, ambiguity, custom
fields and --create-fields (real CLI, real database)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent.parent / "data" / "import"


def rejects(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def by_name(cli: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in cli.json("company", "list", "--limit", "0")}


def test_hubspot_export_imports_with_reasons_for_every_row_left_out(
    cli: Any, tmp_path: Path
) -> None:
    cli.ok("field", "add", "company", "tier", "--type", "choice", "--choices", "gold,silver")
    out = tmp_path / "r.csv"
    summary = cli.json(
        "company", "import", str(DATA / "hubspot_companies.csv"), "--rejects", str(out)
    )
    assert (summary["inserted"], summary["rejected"], summary["duplicates"]) == (3, 1, 1)
    assert summary["warnings"] == 2
    assert "City" in summary["unknown_columns"]
    companies = by_name(cli)
    acme = companies["Acme Manufacturing Ltd"]
    assert acme["domain"] == "acme-mfg.com" and acme["size"] == 1200
    assert acme["external_id"] == "5012345001" and acme["owner"] == "Alice Wang"
    beta = companies["Beta Software GmbH"]
    assert beta["domain"] == "beta-soft.de"
    assert beta["size"] is None  # 51-200 is a range: never a guessed number
    lines = {(r["line"], r["field"]): r["reason"] for r in rejects(out)}
    assert "range" in lines[("3", "size")]
    assert "gold, silver" in lines[("3", "custom.tier")]
    assert lines[("4", "name")] == "no name"
    dup = lines[("5", "")]
    assert f"duplicate of company {acme['id']}" in dup and "same name" in dup
    shown = cli.json("company", "show", str(acme["id"]))
    assert shown["custom"] == {"tier": "gold"}
    assert cli.json("company", "show", str(beta["id"]))["custom"] == {}


def test_without_key_an_existing_company_is_a_duplicate_never_updated(
    cli: Any, tmp_path: Path
) -> None:
    cli.ok("company", "add", "--name", "Acme Ltd", "--industry", "old")
    src = tmp_path / "c.csv"
    src.write_text("name,industry\n  ACME  ltd ,new\n", encoding="utf-8")
    summary = cli.json("company", "import", str(src))
    assert summary["duplicates"] == 1 and summary["updated"] == 0
    assert by_name(cli)["Acme Ltd"]["industry"] == "old"
    summary = cli.json("company", "import", str(src), "--key", "name")
    assert summary["updated"] == 1
    assert by_name(cli)["ACME ltd"]["industry"] == "new"  # the file's spelling of the name


def test_key_domain_upserts_and_keeps_what_the_file_leaves_empty(cli: Any, tmp_path: Path) -> None:
    cli.ok("company", "add", "--name", "Acme", "--domain", "acme.com", "--owner", "alice")
    src = tmp_path / "c.csv"
    src.write_text(
        "Company name,Website,Industry,Company owner,tags\n"
        "Acme Group,https://www.acme.com/,Retail,,vip;key\n"
        "Delta,delta.cn,Energy,bob,\n",
        encoding="utf-8",
    )
    summary = cli.json("company", "import", str(src), "--key", "domain")
    assert (summary["inserted"], summary["updated"]) == (1, 1)
    acme = by_name(cli)["Acme Group"]
    assert acme["industry"] == "Retail" and acme["owner"] == "alice"
    assert acme["tags"] == ["key", "vip"]
    again = cli.json("company", "import", str(src), "--key", "domain")
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_a_row_naming_two_companies_is_rejected_with_both_ids(cli: Any, tmp_path: Path) -> None:
    cli.ok("company", "add", "--name", "Acme", "--domain", "acme.com", "--external-id", "A1")
    cli.ok("company", "add", "--name", "Beta", "--domain", "beta.com", "--external-id", "B1")
    src = tmp_path / "c.csv"
    src.write_text("external_id,name,domain\nA1,Acme,beta.com\n", encoding="utf-8")
    summary = cli.json("company", "import", str(src), "--key", "external_id")
    assert summary["rejected"] == 1 and summary["updated"] == 0
    reason = rejects(tmp_path / "c.rejects.csv")[0]["reason"]
    assert "company 1" in reason and "company 2" in reason and "not guessed" in reason
    assert by_name(cli)["Acme"]["domain"] == "acme.com"


def test_a_rename_by_import_renames_the_contacts_company_text(cli: Any, tmp_path: Path) -> None:
    cli.ok("company", "add", "--name", "Acme", "--external-id", "A1")
    cid = cli.json("customer", "add", "--name", "Ann", "--company", "Acme")["id"]
    src = tmp_path / "c.csv"
    src.write_text("external_id,name\nA1,Acme Holdings\n", encoding="utf-8")
    cli.json("company", "import", str(src), "--key", "external_id")
    assert cli.json("customer", "show", str(cid))["company"] == "Acme Holdings"


def test_custom_columns_by_name_or_label_typed_with_the_column_convention(
    cli: Any, tmp_path: Path
) -> None:
    cli.ok("field", "add", "company", "revenue", "--type", "number", "--label", "年收入")
    cli.ok("field", "add", "company", "founded", "--type", "date")
    src = tmp_path / "c.csv"
    src.write_text(
        "name;年收入;Founded\nAcme;1.234.567,50;03/05/2001\nBeta;12,5;25/12/1999\n"
        "Gamma;viel;kein Datum\n",
        encoding="utf-8",
    )
    summary = cli.json("company", "import", str(src))
    assert summary["inserted"] == 3 and summary["warnings"] == 2
    assert summary["conventions"]["custom.revenue"]["decimal"] == "comma"
    assert summary["conventions"]["custom.founded"]["date_order"] == "dmy"
    companies = by_name(cli)
    custom = {n: cli.json("company", "show", str(c["id"]))["custom"] for n, c in companies.items()}
    assert custom["Acme"] == {"revenue": 1234567.5, "founded": "2001-05-03"}
    assert custom["Beta"] == {"revenue": 12.5, "founded": "1999-12-25"}
    assert custom["Gamma"] == {}
    strict = cli("company", "import", str(src), "--key", "name", "--strict-fields", "--strict")
    assert strict.exit_code == 2


def test_create_fields_makes_text_fields_that_map_back_by_label(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("name,Annual Revenue,地区\nAcme,1000,华东\n", encoding="utf-8")
    plain = cli.json("company", "import", str(src), "--dry-run")
    assert plain["unknown_columns"] == ["Annual Revenue", "地区"]
    summary = cli.json("company", "import", str(src), "--create-fields")
    assert summary["unknown_columns"] == []
    assert summary["fields_created"] == [
        {"name": "annual_revenue", "label": "Annual Revenue", "type": "text"},
        {"name": "custom_1", "label": "地区", "type": "text"},
    ]
    fields = {f["name"]: f for f in cli.json("field", "list", "company")}
    assert fields["annual_revenue"]["type"] == "text"  # never a guessed number
    cid = by_name(cli)["Acme"]["id"]
    assert cli.json("company", "show", str(cid))["custom"] == {
        "annual_revenue": "1000",
        "custom_1": "华东",
    }
    again = cli.json("company", "import", str(src), "--key", "name")
    assert again["unknown_columns"] == [] and again["unchanged"] == 1
    assert "fields_created" not in again


def test_dry_run_with_create_fields_creates_nothing(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("name,Segment\nAcme,SMB\n", encoding="utf-8")
    summary = cli.json("company", "import", str(src), "--create-fields", "--dry-run")
    assert summary["fields_created"][0]["name"] == "segment"
    assert cli.json("field", "list", "company") == []
    assert cli.json("company", "list") == []


def test_map_names_a_custom_field(cli: Any, tmp_path: Path) -> None:
    cli.ok("field", "add", "company", "region", "--type", "text")
    src = tmp_path / "c.csv"
    src.write_text("name,Gebiet\nAcme,Nord\n", encoding="utf-8")
    cli.json("company", "import", str(src), "--map", "Gebiet=custom.region")
    cid = by_name(cli)["Acme"]["id"]
    assert cli.json("company", "show", str(cid))["custom"] == {"region": "Nord"}


def test_an_export_imports_back_unchanged(cli: Any, tmp_path: Path) -> None:
    cli.ok("field", "add", "company", "tier", "--type", "text")
    cli.ok("company", "add", "--name", "Acme", "--domain", "acme.com", "--tag", "vip",
           "--set", "tier=gold", "--size", "10")  # fmt: skip
    exported = cli("company", "export", "--format", "csv").stdout
    src = tmp_path / "export.csv"
    src.write_text(exported, encoding="utf-8")
    summary = cli.json("company", "import", str(src), "--key", "domain")
    assert summary["unknown_columns"] == [] and summary["unchanged"] == 1
