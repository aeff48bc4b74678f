"""`crm deal import` attacked with real export files: HubSpot's fractional probabilities,
a European Excel sheet, `deal export` read back, won_at/lost_at and scientific ids (real CLI,
real database)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent.parent / "data" / "import" / "attack"
NOW = "2026-06-01T10:00:00+08:00"


def rejects(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def by_title(cli: Any) -> dict[str, dict[str, Any]]:
    return {d["title"]: d for d in cli.json("deal", "list", "--limit", "0")}


@pytest.fixture
def crm(cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CRM_NOW", NOW)
    cli.ok("customer", "add", "--name", "Ann", "--external-id", "K1")
    cli.ok("company", "add", "--name", "Acme Manufacturing Ltd", "--domain", "acme-mfg.com")
    cli.ok("company", "add", "--name", "Beta Software GmbH")
    return cli


def test_hubspot_fraction_probabilities_are_read_as_percentages(crm: Any, tmp_path: Path) -> None:
    """HubSpot writes a deal's probability as a share of 1: 0.6 is 60 %, a won deal's 1 is
    100 % (it was stored as 1 %); its currency column is the deal's currency."""
    crm.ok("field", "add", "deal", "deal_type", "--type", "choice", "--choices",
           "newbusiness,existingbusiness", "--label", "Deal Type")  # fmt: skip
    out = tmp_path / "r.csv"
    summary = crm.json("deal", "import", str(DATA / "hubspot_deals.csv"), "--rejects", str(out))
    assert (summary["inserted"], summary["rejected"]) == (4, 0)
    assert summary["conventions"]["probability"] == {"scale": "fraction", "decided_by": "values"}
    # the contact's name is not looked up (names are not unique): reported, never dropped
    assert summary["unknown_columns"] == ["Contact", "Deal Description"]
    got = by_title(crm)
    assert got["ERP rollout"]["probability"] == 60
    assert got["Support renewal"]["probability"] == 100
    assert got["Support renewal"]["stage"] == "won"
    assert got["Pilot"]["probability"] == 25
    assert got["Lost bid"]["probability"] == 0
    assert got["ERP rollout"]["currency"] == "USD" and got["Lost bid"]["currency"] == "EUR"
    assert got["Support renewal"]["amount"] == 18500.5
    assert crm.json("deal", "show", str(got["ERP rollout"]["id"]))["custom"] == {
        "deal_type": "newbusiness"
    }
    again = crm.json("deal", "import", str(DATA / "hubspot_deals.csv"), "--key", "external_id")
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 4)
    assert again["deal_events"] == 0


def test_a_probability_column_mixing_fractions_and_percentages_is_refused(
    crm: Any, tmp_path: Path
) -> None:
    src = tmp_path / "d.csv"
    src.write_text(
        "title,amount,customer_external_id,probability\nA,1,K1,0.5\nB,1,K1,50\n", encoding="utf-8"
    )
    result = crm("deal", "import", str(src))
    assert result.exit_code == 2
    assert "one scale per column" in result.stderr and "Traceback" not in result.stderr
    assert crm.json("deal", "list") == []


def test_a_probability_of_1_in_a_column_of_0_and_1_is_not_guessed(crm: Any, tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text(
        'title,amount,customer_external_id,probability\nA,1,K1,1\nB,1,K1,0\nC,1,K1,"0,0"\n',
        encoding="utf-8",
    )
    summary = crm.json("deal", "import", str(src))
    assert (summary["inserted"], summary["warnings"]) == (3, 1)
    [warning] = rejects(tmp_path / "d.rejects.csv")
    assert warning["field"] == "probability" and "1% or as 100%" in warning["reason"]
    got = by_title(crm)
    assert got["A"]["probability"] == 10  # the stage's: the cell was left out, not guessed
    assert got["B"]["probability"] == 0


def test_percent_column_with_signs_decimal_commas_and_fullwidth_digits(
    crm: Any, tmp_path: Path
) -> None:
    src = tmp_path / "d.csv"
    src.write_text(
        "title,amount,customer_external_id,probability\n"
        'A,1,K1,50 %\nB,1,K1,"60,0"\nC,1,K1,１\nD,1,K1,50.5\nE,1,K1,"1,000"\n',
        encoding="utf-8",
    )
    summary = crm.json("deal", "import", str(src))
    assert summary["conventions"]["probability"]["scale"] == "percent"
    got = by_title(crm)
    assert (got["A"]["probability"], got["B"]["probability"], got["C"]["probability"]) == (
        50, 60, 1,
    )  # fmt: skip
    fields = {r["value"]: r["reason"] for r in rejects(tmp_path / "d.rejects.csv")}
    assert "not a whole percentage" in fields["50.5"]
    assert "1,000" in fields  # a thousand or one: refused
    assert got["D"]["probability"] == 10 and got["E"]["probability"] == 10


def test_european_excel_sheet_decimal_commas_day_first_and_a_scientific_id(
    crm: Any, tmp_path: Path
) -> None:
    crm.ok("company", "add", "--name", "Müller GmbH")
    crm.ok("field", "add", "deal", "rabatt", "--type", "number", "--label", "Rabatt")
    out = tmp_path / "r.csv"
    summary = crm.json("deal", "import", str(DATA / "eu_deals_cp1252.csv"), "--rejects", str(out))
    assert (summary["encoding"], summary["delimiter"]) == ("cp1252", ";")
    assert summary["conventions"]["amount"]["decimal"] == "comma"
    assert summary["conventions"]["close_date"]["date_order"] == "dmy"
    assert summary["inserted"] == 3 and summary["warnings"] == 2
    got = by_title(crm)
    messe = got["Messe München"]
    assert (messe["amount"], messe["close_date"], messe["probability"]) == (
        1234.56, "2026-05-03", 50,
    )  # fmt: skip
    assert messe["external_id"] is None  # 4,71E+11 is no id: its digits are gone
    assert got["Schulung"]["amount"] == 12.5
    custom = {t: crm.json("deal", "show", str(d["id"]))["custom"] for t, d in got.items()}
    assert custom["Messe München"] == {"rabatt": 2.5}
    assert custom["Wartung Köln"] == {"rabatt": 1250.75}
    assert custom["Schulung"] == {}  # 1,2,3 was stored as 123
    reasons = {r["field"]: r["reason"] for r in rejects(out)}
    assert "scientific notation" in reasons["external_id"]
    assert "number field" in reasons["custom.rabatt"]


def test_a_scientific_external_id_with_key_rejects_the_row(crm: Any, tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text(
        "external_id,title,amount,customer_external_id,company_external_id\n"
        "1.23457E+11,A,1,K1,\nX2,B,1,,5.01235E+09\n",
        encoding="utf-8",
    )
    summary = crm.json("deal", "import", str(src), "--key", "external_id")
    assert (summary["inserted"], summary["rejected"]) == (0, 2)
    rows = {r["line"]: r for r in rejects(tmp_path / "d.rejects.csv")}
    assert rows["2"]["field"] == "external_id" and "scientific" in rows["2"]["reason"]
    assert rows["3"]["field"] == "company_external_id" and "scientific" in rows["3"]["reason"]


def test_deal_export_imports_back_unchanged(crm: Any, tmp_path: Path) -> None:
    """`deal export` read back by `deal import --key id`: nothing changes, no events (its
    won_at and lost_at columns clashed as closed_at, the stage's probability became an
    explicit copy with an `update` event, and deals without external id came back twice)."""
    crm.ok("field", "add", "deal", "signed", "--type", "bool")
    crm.ok("field", "add", "deal", "score", "--type", "number")
    crm.ok("deal", "add", "--customer", "1", "--title", "ERP", "--amount", "1234.5",
           "--close-date", "2026-06-30", "--external-id", "D1", "--currency", "USD",
           "--set", "signed=yes", "--set", "score=1.5")  # fmt: skip
    crm.ok("deal", "add", "--company", "1", "--title", "=HYPERLINK()", "--amount", "1000000",
           "--probability", "33", "--owner", "bob")  # fmt: skip
    won = crm.ok("deal", "add", "--company", "1", "--title", "W", "--amount", "10").strip()
    crm.ok("deal", "won", won)
    lost = crm.ok("deal", "add", "--company", "2", "--title", "L", "--amount", "10").strip()
    crm.ok("deal", "lost", lost, "--reason", "price")
    before = crm.json("deal", "list", "--limit", "0")
    src = tmp_path / "deals.csv"
    src.write_text(crm.ok("deal", "export", "--format", "csv"), encoding="utf-8")
    summary = crm.json("deal", "import", str(src), "--key", "id")
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (0, 0, 4)
    assert summary["deal_events"] == 0 and summary["rejected"] == 0
    assert summary["unknown_columns"] == [] and "id" not in summary["ignored_columns"]
    assert crm.json("deal", "list", "--limit", "0") == before
    by_ext = crm.json("deal", "import", str(src), "--key", "external_id")  # no clash now
    assert by_ext["unchanged"] == 1 and by_ext["inserted"] == 3
    assert "won_at" not in by_ext["ignored_columns"]


def test_key_id_names_a_deal_of_this_database(crm: Any, tmp_path: Path) -> None:
    crm.ok("deal", "add", "--customer", "1", "--title", "A", "--amount", "1", "--external-id", "E1")
    crm.ok("deal", "add", "--customer", "1", "--title", "B", "--amount", "1", "--external-id", "E2")
    src = tmp_path / "d.csv"
    src.write_text(
        "id,external_id,title,amount\n99,,Z,1\n1,E2,A,1\nx,,Y,1\n2,E2,B2,5\n", encoding="utf-8"
    )
    summary = crm.json("deal", "import", str(src), "--key", "id")
    assert (summary["updated"], summary["rejected"], summary["inserted"]) == (1, 3, 0)
    reasons = {r["line"]: r["reason"] for r in rejects(tmp_path / "d.rejects.csv")}
    assert reasons["2"] == "no deal with id 99"
    assert "not guessed" in reasons["3"] and "deal 2" in reasons["3"]
    assert reasons["4"] == "invalid id 'x'"
    got = by_title(crm)
    assert got["B2"]["amount"] == 5.0 and got["A"]["external_id"] == "E1"


def test_won_at_lost_at_and_closed_at(crm: Any, tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text(
        "title,amount,stage,customer_external_id,created_at,closed_at,won_at,lost_at\n"
        "W,1,won,K1,2026-01-01,,2026-03-02 12:00,\n"
        "X,1,won,K1,2026-01-01,2026-03-05 12:00,2026-03-02 12:00,\n"
        "L,1,lost,K1,2026-01-01,,2026-03-02 12:00,2026-04-01 09:00\n",
        encoding="utf-8",
    )
    summary = crm.json("deal", "import", str(src))
    assert (summary["inserted"], summary["rejected"], summary["warnings"]) == (2, 1, 1)
    rows = {r["line"]: r for r in rejects(tmp_path / "d.rejects.csv")}
    assert rows["3"]["field"] == "won_at" and "not guessed" in rows["3"]["reason"]
    assert rows["4"]["field"] == "won_at" and "not stored" in rows["4"]["reason"]
    got = by_title(crm)
    assert got["W"]["won_at"] == "2026-03-02T12:00:00+08:00"
    assert got["L"]["lost_at"] == "2026-04-01T09:00:00+08:00" and got["L"]["won_at"] is None


def test_a_contact_name_column_is_reported_not_silently_dropped(crm: Any, tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("title,amount,company,联系人\nA,1,acme-mfg.com,张伟\n", encoding="utf-8")
    summary = crm.json("deal", "import", str(src))
    assert summary["unknown_columns"] == ["联系人"]
    mapped = crm("deal", "import", str(src), "--map", "联系人=customer_name")
    assert mapped.exit_code == 2 and "unknown field" in mapped.stderr
    made = crm.json("deal", "import", str(src), "--create-fields", "--dry-run")
    assert made["fields_created"][0]["label"] == "联系人"  # kept as a text field


def test_currency_code_columns_of_other_crms(crm: Any, tmp_path: Path) -> None:
    """A HubSpot `Deal Currency Code`, Salesforce `Opportunity Currency` or Pipedrive
    `Deal - Currency of Value` column was unknown: the amounts were stored in CNY."""
    for header in ("Deal Currency Code", "Opportunity Currency", "Deal - Currency of Value"):
        src = tmp_path / "d.csv"
        src.write_text(
            f"Deal Name,Amount,{header},customer_external_id\n{header},1500,USD,K1\n",
            encoding="utf-8",
        )
        summary = crm.json("deal", "import", str(src))
        assert summary["unknown_columns"] == [], header
        assert by_title(crm)[header]["currency"] == "USD"
