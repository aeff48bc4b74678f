"""`crm comm import-mail`: a real-format mbox (tests/data/mail/sample.mbox) and .eml files.

The mbox holds: multipart/alternative with quoted-printable UTF-8 bodies; a GB2312 subject
in RFC 2047 Q encoding with a base64 body; an HTML-only message; an outbound message with
a GBK subject in B encoding and a PDF attachment; an unknown sender; an internal message;
and a second copy of the first message.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from crmcli.db import connect

DATA = Path(__file__).resolve().parent.parent / "data" / "mail"
MBOX = DATA / "sample.mbox"


@pytest.fixture
def customers(add_customer: Any) -> dict[str, int]:
    return {
        "zhang": add_customer("张伟", email="zhang.wei@client.cn"),
        "li": add_customer("李娜", email="li.na@client.cn"),
        "wang": add_customer("王芳", email="wang@client.cn"),
    }


def rows(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    db = connect(db_path)
    try:
        return db.query(sql, params)
    finally:
        db.close()


def comms(db_path: Path) -> dict[str, dict[str, Any]]:
    return {r["external_id"]: r for r in rows(db_path, "SELECT * FROM communications")}


def import_mail(cli: Any, *args: str) -> dict[str, Any]:
    return json.loads(cli.ok("--format", "json", "comm", "import-mail", *args))


def test_mbox_becomes_email_communications(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    summary = import_mail(cli, str(MBOX), "--our-domain", "ourco.com")
    assert summary["items"] == 7
    assert summary["communications_created"] == 4 and summary["imported_items"] == 4
    assert summary["duplicates"] == 1  # the second copy of <contract-001@client.cn>
    assert summary["internal"] == 1 and summary["unmatched_items"] == 1
    assert {(u["email"], u["role"]) for u in summary["unmatched"]} == {
        ("stranger@unknown.org", "sender"),
        ("someone@partner.example", "recipient"),
    }
    got = comms(db_path)
    assert set(got) == {
        "mail:<contract-001@client.cn>",
        "mail:<quote-002@client.cn>",
        "mail:<invoice-003@client.cn>",
        "mail:<draft-004@ourco.com>",
    }
    contract = got["mail:<contract-001@client.cn>"]
    assert contract["customer_id"] == customers["zhang"]  # From had Zhang.Wei@Client.cn
    assert contract["channel"] == "email" and contract["direction"] == "inbound"
    assert contract["subject"] == "合同续签"  # RFC 2047 B, UTF-8
    # text/plain preferred over the HTML alternative; quoted-printable decoded.
    assert contract["content"] == "张经理您好：\n附件是新的合同草案，请查收。\n谢谢！"
    assert contract["occurred_at"] == "2026-03-02T09:15:00Z"  # Date: 17:15 +0800

    quote = got["mail:<quote-002@client.cn>"]
    assert quote["customer_id"] == customers["li"]
    assert quote["subject"] == "Re: 报价 for Q2"  # RFC 2047 Q, GB2312, between ASCII words
    assert quote["content"] == "您好，报价单已收到。价格可以再优惠一些吗？"  # base64, GB2312
    assert quote["occurred_at"] == "2026-03-03T01:00:00Z"  # "-0000" read as UTC

    invoice = got["mail:<invoice-003@client.cn>"]
    assert invoice["subject"] == "发票问题"  # RFC 2047 Q, UTF-8
    assert invoice["content"] == "发票抬头有误\n\n请重开 & 寄回\n谢谢"  # HTML-only, as text
    for noise in ("alert", "color", "ignored", "<", "&amp;"):
        assert noise not in invoice["content"]

    draft = got["mail:<draft-004@ourco.com>"]
    assert draft["customer_id"] == customers["zhang"] and draft["direction"] == "outbound"
    assert draft["subject"] == "合同草案 v2" and draft["agent"] == "Alice"
    assert draft["content"] == "张总，附件为合同草案第二版。\nFrom the sales team."  # >From undone
    assert "PDF" not in draft["content"]

    audit = rows(db_path, "SELECT action, details FROM audit_log WHERE action = 'import_mail'")
    assert len(audit) == 1
    assert json.loads(audit[0]["details"])["communications_created"] == 4


def test_reimport_adds_nothing(cli: Any, db_path: Path, customers: dict[str, int]) -> None:
    import_mail(cli, str(MBOX), "--our-domain", "ourco.com")
    before = comms(db_path)
    again = import_mail(cli, str(MBOX), "--our-domain", "ourco.com")
    assert again["communications_created"] == 0 and again["duplicates"] == 5
    assert comms(db_path) == before
    assert len(rows(db_path, "SELECT id FROM audit_log WHERE action = 'import_mail'")) == 2


def test_unmatched_senders_on_stderr_and_created_as_leads(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    result = cli("comm", "import-mail", str(MBOX), "--our-domain", "ourco.com")
    assert result.exit_code == 0
    assert "unmatched sender stranger@unknown.org (Stranger Danger)" in result.stderr
    summary = import_mail(cli, str(MBOX), "--our-domain", "ourco.com", "--create-leads")
    assert [(lead["name"], lead["email"]) for lead in summary["leads_created"]] == [
        ("Stranger Danger", "stranger@unknown.org")
    ]
    lead = rows(db_path, "SELECT * FROM customers WHERE email = 'stranger@unknown.org'")[0]
    assert lead["lifecycle"] == "lead" and lead["name"] == "Stranger Danger"
    hello = comms(db_path)["mail:<hello-005@unknown.org>"]
    assert hello["customer_id"] == lead["id"] and hello["direction"] == "inbound"
    assert hello["content"] == "Hello, we would like to partner with you."
    # Recipients of our own mail are listed, never created.
    assert not rows(db_path, "SELECT id FROM customers WHERE email LIKE '%partner.example'")
    third = import_mail(cli, str(MBOX), "--our-domain", "ourco.com", "--create-leads")
    assert third["leads_created"] == [] and third["communications_created"] == 0


def test_dry_run_changes_nothing_and_reports_the_same_counts(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    dry = import_mail(cli, str(MBOX), "--our-domain", "ourco.com", "--create-leads", "--dry-run")
    assert dry["dry_run"] is True and dry["communications_created"] == 5
    assert dry["leads_created"][0]["id"] is None
    assert comms(db_path) == {}
    assert len(rows(db_path, "SELECT id FROM customers")) == 3
    assert not rows(db_path, "SELECT id FROM audit_log WHERE action = 'import_mail'")
    real = import_mail(cli, str(MBOX), "--our-domain", "ourco.com", "--create-leads")
    assert real["communications_created"] == dry["communications_created"]


def test_direction_without_our_domain(cli: Any, db_path: Path, customers: dict[str, int]) -> None:
    import_mail(cli, str(MBOX))
    got = comms(db_path)
    assert got["mail:<contract-001@client.cn>"]["direction"] == "inbound"
    assert got["mail:<draft-004@ourco.com>"]["direction"] == "outbound"  # to a customer


def test_directory_of_eml_files(cli: Any, db_path: Path, customers: dict[str, int]) -> None:
    summary = import_mail(cli, str(DATA / "eml"), "--our-domain", "ourco.com")
    assert summary["items"] == 2 and summary["communications_created"] == 1
    quote = comms(db_path)["mail:<quote-002@client.cn>"]
    assert quote["subject"] == "Re: 报价 for Q2" and quote["customer_id"] == customers["li"]


def test_the_same_message_from_mbox_and_eml_is_one_communication(
    cli: Any, db_path: Path, tmp_path: Path, customers: dict[str, int]
) -> None:
    import_mail(cli, str(DATA / "eml"), "--our-domain", "ourco.com")
    summary = import_mail(cli, str(MBOX), "--our-domain", "ourco.com")
    assert summary["communications_created"] == 3
    assert len(comms(db_path)) == 4


@pytest.mark.parametrize("kind", ["missing", "empty_dir", "not_mail", "bad_domain"])
def test_bad_input_exits_2_and_changes_nothing(
    cli: Any, db_path: Path, tmp_path: Path, customers: dict[str, int], kind: str
) -> None:
    args = [str(MBOX), "--our-domain", "ourco.com"]
    if kind == "missing":
        args[0] = str(tmp_path / "nope.mbox")
    elif kind == "empty_dir":
        (tmp_path / "empty").mkdir()
        args[0] = str(tmp_path / "empty")
    elif kind == "not_mail":
        bad = tmp_path / "list.csv"
        bad.write_bytes("姓名,电话\n张三,13800138000\n".encode())
        args[0] = str(bad)
    else:
        args[2] = "not a domain"
    result = cli("comm", "import-mail", *args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("Error: ") and result.stdout == ""
    assert comms(db_path) == {}


def test_a_message_without_date_is_skipped_and_named(
    cli: Any, db_path: Path, tmp_path: Path, customers: dict[str, int]
) -> None:
    folder = tmp_path / "eml"
    shutil.copytree(DATA / "eml", folder)
    (folder / "03-nodate.eml").write_bytes(
        b"From: wang@client.cn\r\nTo: sales@ourco.com\r\nSubject: hi\r\n\r\nno date\r\n"
    )
    result = cli("--format", "json", "comm", "import-mail", str(folder))
    summary = json.loads(result.stdout)
    assert summary["skipped"] == [{"source": "03-nodate.eml", "reason": "no readable Date header"}]
    assert "skipped 03-nodate.eml" in result.stderr
    assert summary["communications_created"] == 1
