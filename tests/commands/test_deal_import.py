"""`crm deal import`: a Chinese GBK deal sheet, a Salesforce opportunities report, the
customer / company references, stages, history (deal_events) and upserts (real CLI)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent.parent / "data" / "import"
NOW = "2026-06-01T10:00:00+08:00"


def rejects(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def deals(cli: Any) -> dict[str, dict[str, Any]]:
    return {d["external_id"]: d for d in cli.json("deal", "list")}


@pytest.fixture
def crm(cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CRM_NOW", NOW)
    cli.ok("customer", "add", "--name", "张伟", "--external-id", "K1", "--email", "zw@acme.cn")
    cli.ok("customer", "add", "--name", "李娜", "--external-id", "K2")
    cli.ok("company", "add", "--name", "Acme Manufacturing Ltd", "--domain", "acme-mfg.com")
    cli.ok("company", "add", "--name", "上海华东贸易有限公司", "--external-id", "HD-9")
    return cli


def test_gbk_sheet_with_chinese_stages(crm: Any, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    summary = crm.json("deal", "import", str(DATA / "cn_deals_gbk.csv"), "--rejects", str(out))
    assert summary["encoding"] == "gb18030"
    assert (summary["inserted"], summary["rejected"]) == (4, 1)
    [bad] = rejects(out)
    assert bad["line"] == "4" and bad["field"] == "stage" and bad["value"] == "初步接触"
    assert "线索" in bad["reason"]  # the reason lists the stages
    got = deals(crm)
    assert got["SJ-001"]["stage"] == "proposal" and got["SJ-001"]["amount"] == 120000.0
    assert got["SJ-001"]["customer_id"] == 1 and got["SJ-001"]["close_date"] == "2026-06-30"
    assert got["SJ-002"]["stage"] == "won" and got["SJ-002"]["company_id"] == 2
    assert got["SJ-004"]["stage"] == "negotiation" and got["SJ-004"]["owner"] == "王芳"
    assert got["SJ-005"]["stage"] == "lost"


def test_history_of_imported_deals(crm: Any, tmp_path: Path) -> None:
    crm.json("deal", "import", str(DATA / "cn_deals_gbk.csv"), "--rejects", str(tmp_path / "r"))
    got = deals(crm)
    open_events = crm.json("deal", "show", str(got["SJ-001"]["id"]))["events"]
    assert [(e["kind"], e["to_stage"]) for e in open_events] == [("create", "proposal")]
    assert open_events[0]["at"].startswith("2026-01-05T00:00:00")
    won = crm.json("deal", "show", str(got["SJ-002"]["id"]))
    # a deal imported won: created with no known stage, won at its close date
    assert [(e["kind"], e["to_stage"]) for e in won["events"]] == [("create", None), ("won", "won")]
    assert won["won_at"].startswith("2026-03-01T00:00:00")
    assert won["created_at"].startswith("2026-01-10T00:00:00")


def test_pipeline_report_reads_imported_history(crm: Any, tmp_path: Path) -> None:
    crm.json("deal", "import", str(DATA / "cn_deals_gbk.csv"), "--rejects", str(tmp_path / "r"))
    report = crm.json("report", "pipeline", "--since", "2026-01-01", "--until", "2026-06-01")
    assert report["totals"]["won_deals"] == 1 and report["totals"]["won_amount"] == 50000.0
    assert report["totals"]["lost_deals"] == 1 and report["totals"]["open_deals"] == 2
    before = crm.json("report", "pipeline", "--as-of", "2026-02-20T12:00:00+08:00")
    # at noon on 20 Feb: SJ-002 (won on 1 Mar) was open in a stage nobody knows, so it is
    # neither won nor in an open stage; SJ-005 was lost at the start of that day; SJ-001
    # and SJ-004 (created 15 Feb) were open
    assert before["totals"]["won_deals"] == 0
    assert before["totals"]["open_deals"] == 2


def test_salesforce_report_us_dates_dollars_and_closed_won(crm: Any, tmp_path: Path) -> None:
    crm.ok("company", "add", "--name", "Beta Software GmbH")
    out = tmp_path / "r.csv"
    summary = crm.json(
        "deal", "import", str(DATA / "salesforce_opportunities.csv"), "--rejects", str(out),
        "--currency", "USD",
    )  # fmt: skip
    assert summary["conventions"]["close_date"]["date_order"] == "mdy"
    assert (summary["inserted"], summary["rejected"]) == (3, 2)
    reasons = {r["line"]: r for r in rejects(out)}
    assert reasons["4"]["field"] == "stage" and reasons["4"]["value"] == "Prospecting"
    assert reasons["6"]["reason"] == "no company with name 'Nowhere Corp'"
    got = deals(crm)
    assert got["0065g00000A1"]["company_id"] == 1  # by name
    assert got["0065g00000A2"]["company_id"] == 1  # by domain
    assert got["0065g00000A2"]["stage"] == "won" and got["0065g00000A2"]["currency"] == "USD"
    assert got["0065g00000A4"]["company_id"] == 2 and got["0065g00000A4"]["stage"] == "lost"
    assert got["0065g00000A1"]["probability"] == 60 and got["0065g00000A1"]["amount"] == 120000


def test_upsert_by_external_id_keeps_history_truthful(crm: Any, tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text(
        "external_id,title,amount,stage,customer_external_id\nD1,ERP,1000,lead,K1\n",
        encoding="utf-8",
    )
    crm.json("deal", "import", str(src))
    again = crm.json("deal", "import", str(src))
    assert again["duplicates"] == 1 and again["inserted"] == 0  # no --key: insert only
    same = crm.json("deal", "import", str(src), "--key", "external_id")
    assert same["unchanged"] == 1 and same["deal_events"] == 0
    src.write_text(
        "external_id,title,amount,stage\nD1,ERP,1500,谈判\n", encoding="utf-8"
    )  # no customer column: the deal keeps its customer
    moved = crm.json("deal", "import", str(src), "--key", "external_id")
    assert moved["updated"] == 1 and moved["deal_events"] == 1
    src.write_text("external_id,title,amount,stage\nD1,ERP,1500,won\n", encoding="utf-8")
    crm.json("deal", "import", str(src), "--key", "external_id")
    src.write_text("external_id,title,amount,stage\nD1,ERP,1500,qualified\n", encoding="utf-8")
    crm.json("deal", "import", str(src), "--key", "external_id")
    deal = crm.json("deal", "show", str(deals(crm)["D1"]["id"]))
    assert deal["customer_id"] == 1 and deal["amount"] == 1500.0 and deal["won_at"] is None
    assert [(e["kind"], e["from_stage"], e["to_stage"]) for e in deal["events"]] == [
        ("create", None, "lead"),
        ("move", "lead", "negotiation"),
        ("won", "negotiation", "won"),
        ("reopen", "won", "qualified"),
    ]
    assert deal["events"][1]["amount"] == 1500.0
    src.write_text("external_id,title,amount\nD1,ERP,1800\n", encoding="utf-8")
    crm.json("deal", "import", str(src), "--key", "external_id")
    events = crm.json("deal", "show", str(deals(crm)["D1"]["id"]))["events"]
    assert (events[-1]["kind"], events[-1]["to_stage"], events[-1]["amount"]) == (
        "update", "qualified", 1800.0,
    )  # fmt: skip


def test_references_customer_key_and_conflicting_companies(crm: Any, tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text(
        "title,amount,customer_email,company,company_external_id\n"
        "A,10,zw@acme.cn,,\n"
        "B,10,nobody@x.cn,,\n"
        "C,10,,Acme Manufacturing Ltd,HD-9\n"
        "D,10,,,HD-9\n"
        "E,10,,,\n",
        encoding="utf-8",
    )
    summary = crm.json("deal", "import", str(src), "--customer-key", "email")
    assert summary["customer_key"] == "email"
    assert (summary["inserted"], summary["rejected"]) == (2, 3)
    reasons = {r["line"]: r["reason"] for r in rejects(tmp_path / "d.rejects.csv")}
    assert "no customer with email nobody@x.cn" in reasons["3"]
    assert "two companies" in reasons["4"]
    assert reasons["6"] == "no customer or company"


def test_a_closed_deal_without_a_close_time_is_rejected(crm: Any, tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text(
        "title,amount,stage,customer_external_id,closed_at,close_date,probability,campaign\n"
        "Won no date,10,赢单,K1,,,,\n"
        "Won at,10,Closed Won,K1,2026-05-02 15:00,,,\n"
        "Open,10,线索,K1,,not a date,120%,Nope\n",
        encoding="utf-8",
    )
    summary = crm.json("deal", "import", str(src))
    assert (summary["inserted"], summary["rejected"], summary["warnings"]) == (2, 1, 4)
    rows = rejects(tmp_path / "d.rejects.csv")
    assert rows[0]["line"] == "2" and "needs closed_at or close_date" in rows[0]["reason"]
    assert rows[1]["line"] == "3" and "sales cycle" in rows[1]["reason"]  # no created_at
    assert {r["field"] for r in rows[2:]} == {"close_date", "probability", "campaign"}
    won = next(d for d in crm.json("deal", "list") if d["title"] == "Won at")
    assert won["won_at"] == "2026-05-02T15:00:00+08:00"


def test_deal_custom_fields_and_campaign_by_name(crm: Any, tmp_path: Path) -> None:
    crm.ok("field", "add", "deal", "segment", "--type", "choice", "--choices", "SMB,KA",
           "--label", "客户类型")  # fmt: skip
    crm.ok("campaign", "create", "Spring", "--channel", "sms")
    src = tmp_path / "d.csv"
    src.write_text(
        "title,amount,customer_external_id,客户类型,campaign\nA,10,K1,KA,Spring\nB,5,K2,XL,\n",
        encoding="utf-8",
    )
    summary = crm.json("deal", "import", str(src))
    assert summary["warnings"] == 1 and summary["inserted"] == 2
    got = {d["title"]: d for d in crm.json("deal", "list")}
    assert got["A"]["campaign_id"] == 1
    assert crm.json("deal", "show", str(got["A"]["id"]))["custom"] == {"segment": "KA"}
    assert crm.json("deal", "show", str(got["B"]["id"]))["custom"] == {}


def test_a_dollar_amount_is_never_stored_as_yuan(crm: Any, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    summary = crm.json(
        "deal", "import", str(DATA / "salesforce_opportunities.csv"), "--rejects", str(out)
    )  # the default currency is CNY: every "$" amount is refused with the reason
    assert summary["inserted"] == 0
    reasons = [r["reason"] for r in rejects(out) if r["field"] == "amount"]
    assert reasons and all("is not in CNY" in r for r in reasons)
    src = tmp_path / "d.csv"
    src.write_text(
        "title,amount,currency,customer_external_id\nA,￥1200,CNY,K1\nB,12.50 EUR,EUR,K1\n"
        "C,€12,USD,K1\n",
        encoding="utf-8",
    )
    mixed = crm.json("deal", "import", str(src))
    assert (mixed["inserted"], mixed["rejected"]) == (2, 1)


def test_a_won_deal_closing_in_the_future_is_refused(crm: Any, tmp_path: Path) -> None:
    """A won or lost deal's close date is history: one in the future is refused (it was
    stored as won in 2027, with a `won` event there); an open deal's is its expected close."""
    src = tmp_path / "f.csv"
    src.write_text(
        "external_id,title,amount,stage,close_date,customer_external_id\n"
        "F1,ERP upgrade,120000.00,won,2027-06-30,K1\n"
        "F2,ERP upgrade 2,5000.00,won,2026-05-30,K1\n"
        "F3,Open one,100.00,lead,2027-06-30,K1\n",
        encoding="utf-8",
    )
    out = tmp_path / "f.rejects.csv"
    summary = crm.json("deal", "import", str(src), "--rejects", str(out))
    assert (summary["inserted"], summary["rejected"]) == (2, 1)
    reason = {r["line"]: r for r in rejects(out)}["2"]
    assert reason["field"] == "close_date" and "in the future" in reason["reason"]
    got = deals(crm)
    assert set(got) == {"F2", "F3"} and got["F3"]["close_date"] == "2027-06-30"


def test_an_empty_currency_cell_is_no_currency(crm: Any, tmp_path: Path) -> None:
    """As in the order import: an empty cell of a currency column names no currency (the
    default CNY would be a guess), rejected unless --currency names it."""
    src = tmp_path / "deals.csv"
    src.write_text(
        "external_id,title,amount,currency,customer_external_id\n"
        "D1,Pumps,1200.00,USD,K1\n"
        "D2,Valves,800.00,,K2\n",
        encoding="utf-8",
    )
    summary = crm.json("deal", "import", str(src), "--key", "external_id")
    assert (summary["inserted"], summary["rejected"]) == (1, 1)
    assert rejects(tmp_path / "deals.rejects.csv")[0]["reason"].startswith("no currency")
    summary = crm.json("deal", "import", str(src), "--key", "external_id", "--currency", "EUR")
    assert (summary["inserted"], summary["unchanged"]) == (1, 1)
    got = deals(crm)
    assert (got["D1"]["currency"], got["D2"]["currency"]) == ("USD", "EUR")
