"""Customer import: the company column links to companies (--create-company, --link-by-domain)
and custom-field columns (--create-fields); a HubSpot contacts export (real CLI)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent.parent / "data" / "import"
NAME = ["--map", "First Name+Last Name=name"]


def rejects(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def by_name(cli: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in cli.json("customer", "list")}


@pytest.fixture
def acme(cli: Any) -> int:
    cli.ok("field", "add", "customer", "region", "--type", "choice", "--choices", "华东,华北,华南")
    cli.ok("field", "add", "customer", "score", "--type", "number", "--label", "Lead Score")
    return int(cli.json("company", "add", "--name", "ACME  manufacturing ltd",
                        "--domain", "acme-mfg.com")["id"])  # fmt: skip


def test_hubspot_contacts_link_companies_and_custom_fields(
    cli: Any, acme: int, tmp_path: Path
) -> None:
    out = tmp_path / "r.csv"
    summary = cli.json(
        "customer", "import", str(DATA / "hubspot_contacts.csv"), *NAME, "--rejects", str(out),
        "--link-by-domain",
    )  # fmt: skip
    assert summary["inserted"] == 5 and summary["rejected"] == 0
    assert summary["custom_fields"] == ["region", "score"]
    assert summary["companies_created"] == 0 and summary["linked_by_domain"] == 1
    got = by_name(cli)
    ann = got["Ann Lee"]
    assert (ann["company_id"], ann["company"]) == (acme, "ACME manufacturing ltd")
    assert ann["custom"] == {"region": "华东", "score": 85}
    assert (got["Cy Xu"]["company_id"], got["Cy Xu"]["company"]) == (acme, "ACME manufacturing ltd")
    assert got["Dee Ma"]["company_id"] is None  # qq.com is free mail: never linked
    bob = got["Bob Wu"]  # no such company: not stored as unlinked text
    assert bob["company_id"] is None and bob["company"] is None
    assert bob["custom"] == {"region": "华北"}  # the bad score is dropped, the row kept
    warned = {(r["line"], r["field"]): r for r in rejects(out)}
    assert "--create-company" in warned[("3", "company")]["reason"]
    assert warned[("3", "custom.score")]["value"] == "n/a"
    assert got["Eve Qin"]["company"] is None


def test_create_company_creates_the_missing_ones_once(cli: Any, acme: int, tmp_path: Path) -> None:
    summary = cli.json(
        "customer", "import", str(DATA / "hubspot_contacts.csv"), *NAME, "--create-company",
        "--rejects", str(tmp_path / "r.csv"),
    )  # fmt: skip
    assert summary["companies_created"] == 2
    companies = {c["name"]: c for c in cli.json("company", "list")}
    assert set(companies) == {"ACME manufacturing ltd", "Beta Software GmbH", "NewCo Trading"}
    assert companies["Beta Software GmbH"]["contacts"] == 1
    again = cli.json(
        "customer", "import", str(DATA / "hubspot_contacts.csv"), *NAME, "--create-company",
        "--key", "email", "--rejects", str(tmp_path / "r.csv"),
    )  # fmt: skip
    assert again["companies_created"] == 0 and again["unchanged"] == 5


def test_company_domain_and_id_columns_and_conflicts(cli: Any, acme: int, tmp_path: Path) -> None:
    other = cli.json("company", "add", "--name", "Beta", "--domain", "beta.cn")["id"]
    src = tmp_path / "c.csv"
    src.write_text(
        "name,company,company_domain,company_id\n"
        "A,,https://www.acme-mfg.com,\n"
        f"B,,,{other}\n"
        "C,acme-mfg.com,,\n"
        "D,Beta,acme-mfg.com,\n"
        "E,,,999\n",
        encoding="utf-8",
    )
    summary = cli.json("customer", "import", str(src))
    assert summary["inserted"] == 5 and summary["warnings"] == 2
    got = by_name(cli)
    assert [got[n]["company_id"] for n in "ABCDE"] == [acme, other, acme, None, None]
    reasons = {r["line"]: r["reason"] for r in rejects(tmp_path / "c.rejects.csv")}
    assert "two companies" in reasons["5"] and "no company with id '999'" in reasons["6"]
    strict = cli("customer", "import", str(src), "--strict-fields", "--strict", "--key", "name")
    assert strict.exit_code == 2


def test_link_by_domain_never_replaces_a_company(cli: Any, acme: int, tmp_path: Path) -> None:
    beta = cli.json("company", "add", "--name", "Beta")["id"]
    cid = cli.json("customer", "add", "--name", "Ann", "--email", "ann@acme-mfg.com",
                   "--company-id", str(beta))["id"]  # fmt: skip
    src = tmp_path / "c.csv"
    src.write_text(
        "email,name,owner\nann@acme-mfg.com,Ann,alice\nnew@acme-mfg.com,New,bob\n",
        encoding="utf-8",
    )
    summary = cli.json("customer", "import", str(src), "--key", "email", "--link-by-domain")
    assert summary["linked_by_domain"] == 1 and summary["updated"] == 1
    assert by_name(cli)["New"]["company_id"] == acme
    shown = cli.json("customer", "show", str(cid))
    assert shown["company_id"] == beta and shown["owner"] == "alice"


def test_create_fields_and_custom_values_on_upsert(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("external_id,name,VIP Level,渠道\nK1,Ann,gold,展会\nK2,Bob,,网站\n",
                   encoding="utf-8")  # fmt: skip
    summary = cli.json("customer", "import", str(src), "--create-fields", "--key", "external_id")
    assert [f["name"] for f in summary["fields_created"]] == ["vip_level", "custom_1"]
    assert all(f["type"] == "text" for f in summary["fields_created"])
    got = by_name(cli)
    assert got["Ann"]["custom"] == {"vip_level": "gold", "custom_1": "展会"}
    assert got["Bob"]["custom"] == {"custom_1": "网站"}
    src.write_text("external_id,VIP Level,渠道\nK1,platinum,\nK2,,网站\n", encoding="utf-8")
    again = cli.json("customer", "import", str(src), "--key", "external_id")
    assert again["unknown_columns"] == []  # mapped back by their labels
    assert (again["updated"], again["unchanged"]) == (1, 1)  # only a custom value changed
    got = by_name(cli)
    assert got["Ann"]["custom"] == {"vip_level": "platinum", "custom_1": "展会"}  # empty keeps
    seg = cli.json("customer", "list", "--segment", "custom.vip_level=platinum")
    assert [r["name"] for r in seg] == ["Ann"]
