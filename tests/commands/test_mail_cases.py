"""`crm comm import-mail` on the real-world cases of #17 (fixtures: tests/data/mail/, made
by tests/data/mail/make_fixtures.py; some by Python's email.mime, the rest byte for byte).

Each test names the case, imports through the CLI and reads the stored rows with sqlite3.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from office_rows import comms

DATA = Path(__file__).resolve().parent.parent / "data" / "mail"
CASES = DATA / "cases"


def import_mail(cli: Any, path: Path, *args: str) -> tuple[dict[str, Any], str]:
    result = cli("--format", "json", "comm", "import-mail", str(path), *args)
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout), result.stderr


def customer_emails(db_path: Path) -> dict[str, dict[str, Any]]:
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    try:
        return {r["email"]: dict(r) for r in con.execute("SELECT * FROM customers")}
    finally:
        con.close()


def test_whole_from_as_one_encoded_word_written_by_email_mime(
    cli: Any, db_path: Path, add_customer: Any
) -> None:
    wang = add_customer("王芳", email="wangfang@example.cn")
    summary, _ = import_mail(cli, CASES / "01-mime-encoded-from.eml", "--our-domain", "ourco.com")
    assert summary["skipped"] == [] and summary["imported_items"] == 1
    row = comms(db_path)["mail:<mime-from-001@example.cn>"]
    assert row["customer_id"] == wang and row["direction"] == "inbound"
    assert row["subject"] == "合同寄出"
    assert row["content"] == "王经理：合同已经寄出。"


def test_attached_messages_do_not_replace_the_own_text(
    cli: Any, db_path: Path, add_customer: Any
) -> None:
    add_customer("李娜", email="li.na@client.cn")
    import_mail(cli, CASES / "02-rfc822-attachment.eml", "--our-domain", "ourco.com")
    import_mail(cli, CASES / "03-rfc822-base64.eml", "--our-domain", "ourco.com")
    got = comms(db_path)
    assert got["mail:<rfc822-attach-002@client.cn>"]["content"] == "two attach"
    assert got["mail:<rfc822-base64-003@client.cn>"]["content"] == "two attach"


def test_two_addresses_in_from(cli: Any, db_path: Path, add_customer: Any) -> None:
    concierge = add_customer("Concierge", email="concierge@powerup.example")
    summary, _ = import_mail(cli, CASES / "04-two-from.eml", "--our-domain", "ourco.com")
    assert summary["imported_items"] == 1
    assert all(not u["email"].startswith("@") for u in summary["unmatched"])
    assert comms(db_path)["mail:<two-from-004@powerup.example>"]["customer_id"] == concierge


def test_quoted_local_part_becomes_a_lead(cli: Any, db_path: Path) -> None:
    summary, _ = import_mail(
        cli, CASES / "05-quoted-local.eml", "--our-domain", "ourco.com", "--create-leads"
    )
    assert [lead["email"] for lead in summary["leads_created"]] == ['"big bug bb"@bug.com']
    assert summary["imported_items"] == 1


def test_obsolete_space_before_colon(cli: Any, db_path: Path, add_customer: Any) -> None:
    zhang = add_customer("张伟", email="zhang.wei@client.cn")
    summary, _ = import_mail(cli, CASES / "06-obsolete-colon.eml", "--our-domain", "ourco.com")
    assert summary["skipped"] == []
    row = comms(db_path)["mail:<obsolete-006@client.cn>"]
    assert row["customer_id"] == zhang and row["subject"] == "obsolete syntax"
    assert row["occurred_at"] == "2026-03-06T11:00:00Z"


def test_raw_8bit_headers_in_big5_gb18030_shift_jis(cli: Any, db_path: Path) -> None:
    for name in ("07-big5-declared.eml", "08-gb18030-undeclared.eml", "09-shift-jis.eml"):
        import_mail(cli, CASES / name, "--our-domain", "ourco.com", "--create-leads")
    leads = customer_emails(db_path)
    assert leads["chen@client.tw"]["name"] == "陳美玲"
    assert leads["li.na@client.cn"]["name"] == "李娜"
    assert leads["yamada@client.jp"]["name"] == "山田太郎"
    got = comms(db_path)
    assert got["mail:<big5-007@client.tw>"]["subject"] == "報價單確認，請回覆"
    assert got["mail:<big5-007@client.tw>"]["content"] == "您好，報價單已收到。"
    assert (
        got["mail:<gb18030-008@client.cn>"]["subject"] == "关于下个季度的采购计划和价格调整的通知"
    )
    assert got["mail:<sjis-009@client.jp>"]["subject"] == "お見積もりのご依頼について"
    assert got["mail:<sjis-009@client.jp>"]["content"] == "よろしくお願いいたします。"


def test_rfc6532_utf8_address_matches_its_customer(
    cli: Any, db_path: Path, add_customer: Any
) -> None:
    juergen = add_customer("Jürgen Döe", email="JDöe@Mächine.example")
    summary, _ = import_mail(cli, CASES / "10-rfc6532-utf8.eml", "--our-domain", "ourco.com")
    assert summary["unmatched"] == [] and summary["imported_items"] == 1
    row = comms(db_path)["mail:<utf8-010@xn--mchine-bua.example>"]
    assert row["customer_id"] == juergen and row["subject"] == "Grüße aus München"


def test_punycode_and_unicode_domains_match_each_other(
    cli: Any, db_path: Path, add_customer: Any, tmp_path: Path
) -> None:
    jeff = add_customer("Jeff", email="jeff@臺網中心.tw")
    msg = tmp_path / "puny.eml"
    msg.write_bytes(
        b"From: Jeff <jeff@xn--fiqq24b10vi0d.tw>\nTo: sales@ourco.com\nSubject: hi\n"
        b"Date: Mon, 09 Mar 2026 09:00:00 +0800\nMessage-ID: <puny@x>\n\nhi\n"
    )
    summary, _ = import_mail(cli, msg, "--our-domain", "ourco.com")
    assert summary["unmatched"] == []
    assert comms(db_path)["mail:<puny@x>"]["customer_id"] == jeff


def test_one_bad_byte_is_replaced_under_the_declared_charset(
    cli: Any, db_path: Path, add_customer: Any
) -> None:
    add_customer("Ivan", email="ivan@client.ru")
    import_mail(cli, CASES / "11-utf8-one-bad-byte.eml", "--our-domain", "ourco.com")
    content = comms(db_path)["mail:<badbyte-011@client.ru>"]["content"]
    assert content.count("\ufffd") == 1
    assert content.startswith("Добрый день! Спасибо за ваш заказ")
    line = "Добрый день! Спасибо за ваш заказ, мы отправим его завтра."
    assert content.replace("\ufffd", "") == "\n".join([line] * 150)  # nothing else changed


def test_undeclared_8bit_body_is_windows_1252(cli: Any, db_path: Path, add_customer: Any) -> None:
    add_customer("Ivan", email="ivan@client.ru")
    import_mail(cli, CASES / "12-undeclared-8bit.eml", "--our-domain", "ourco.com")
    content = comms(db_path)["mail:<undeclared-012@client.ru>"]["content"]
    assert content == "Price: 100€ “net”"
    assert "\x80" not in content


def test_date_far_in_the_future_is_refused(cli: Any, db_path: Path, add_customer: Any) -> None:
    add_customer("Ivan", email="ivan@client.ru")
    summary, stderr = import_mail(cli, CASES / "13-future-date.eml", "--our-domain", "ourco.com")
    assert summary["imported_items"] == 0 and len(summary["skipped"]) == 1
    assert "future" in summary["skipped"][0]["reason"]
    assert "3609" in stderr
    assert comms(db_path) == {}


def test_recipients_beyond_1000_are_ignored_with_a_warning(
    cli: Any, db_path: Path, add_customer: Any
) -> None:
    early = add_customer("Early", email="person0010@crowd.example")
    add_customer("Late", email="person1200@crowd.example")
    summary, stderr = import_mail(
        cli, CASES / "14-many-recipients.eml", "--our-domain", "ourco.com"
    )
    assert "1,500 recipients" in stderr and "first 1,000" in stderr
    got = comms(db_path)
    assert [r["customer_id"] for r in got.values()] == [early]
    assert len(summary["unmatched"]) == 999  # the other 999 of the first 1,000
    assert summary["unmatched_addresses"] == 999


def test_50000_recipients_are_bounded(cli: Any, db_path: Path, tmp_path: Path) -> None:
    to = ", ".join(f"p{n}@crowd.example" for n in range(50_000))
    msg = tmp_path / "huge.eml"
    msg.write_text(
        f"From: a@ourco.com\nTo: {to}\nSubject: x\nDate: Mon, 09 Mar 2026 09:00:00 +0000\n"
        "Message-ID: <huge@x>\n\nx\n"
    )
    summary, stderr = import_mail(cli, msg, "--our-domain", "ourco.com")
    assert summary["items"] == 1 and summary["unmatched_addresses"] == 1000
    assert "50,000 recipients" in stderr


def test_pipermail_archive_senders_written_with_at(
    cli: Any, db_path: Path, add_customer: Any
) -> None:
    zhang = add_customer("张伟", email="zhang.wei@client.cn")
    summary, _ = import_mail(
        cli, DATA / "pipermail-2026-March.txt", "--our-domain", "ourco.com", "--create-leads"
    )
    assert summary["items"] == 3 and summary["skipped"] == []
    assert summary["imported_items"] == 3
    leads = {lead["email"]: lead["name"] for lead in summary["leads_created"]}
    assert leads == {
        "jgb@example.com": "Jesus M. Gonzalez-Barahona",
        "stranger@unknown.org": "stranger",
    }
    got = comms(db_path)
    assert got["mail:<p-002@client.cn>"]["customer_id"] == zhang
    assert "From the notes: see NEWS." in got["mail:<p-001@example.com>"]["content"]


def test_one_hostile_message_is_skipped_never_the_file(
    cli: Any, db_path: Path, add_customer: Any
) -> None:
    add_customer("张伟", email="zhang.wei@client.cn")
    add_customer("李娜", email="li.na@client.cn")
    summary, stderr = import_mail(cli, DATA / "hostile.mbox", "--our-domain", "ourco.com")
    assert summary["items"] == 4
    got = comms(db_path)
    assert {"mail:<good-1@client.cn>", "mail:<good-2@client.cn>"} <= set(got)
    reasons = {s["source"]: s["reason"] for s in summary["skipped"]}
    assert "mail:<deep@client.cn>" not in got
    assert any("nested" in r for r in reasons.values())
    assert all(r.strip() for r in reasons.values())
    assert "unexpected" not in stderr and "Traceback" not in stderr
    if "mail:<bad-subject@client.cn>" in got:  # kept: the undecodable word stays as written
        assert "broken" in got["mail:<bad-subject@client.cn>"]["subject"]


def test_eml_case_insensitive_and_glob(cli: Any, db_path: Path, add_customer: Any) -> None:
    add_customer("张伟", email="zhang.wei@client.cn")
    summary, _ = import_mail(cli, DATA / "globbed", "--our-domain", "ourco.com", "--dry-run")
    assert summary["items"] == 1  # BASIC.EML
    summary, _ = import_mail(cli, DATA / "globbed", "--our-domain", "ourco.com", "--glob", "*.txt")
    assert summary["items"] == 1 and summary["imported_items"] == 1
    assert "mail:<txt-2@client.cn>" in comms(db_path)
    summary, _ = import_mail(cli, DATA / "globbed", "--our-domain", "ourco.com", "--glob", "*")
    assert summary["items"] == 3 and summary["imported_items"] == 2 and summary["duplicates"] == 1


def test_unmatched_count_is_truthful(
    cli: Any, db_path: Path, add_customer: Any, tmp_path: Path
) -> None:
    """#13: an outbound message to a customer and a stranger is imported; the stranger is
    counted among the unmatched addresses (unmatched_items: messages with no customer)."""
    add_customer("李娜", email="li.na@client.cn")
    msg = tmp_path / "two.eml"
    msg.write_bytes(
        b"From: Sales <sales@ourco.com>\nTo: li.na@client.cn, someone@partner.example\n"
        b"Subject: offer\nDate: Mon, 09 Mar 2026 09:00:00 +0800\nMessage-ID: <two@ourco.com>\n"
        b"\noffer\n"
    )
    summary, stderr = import_mail(cli, msg, "--our-domain", "ourco.com")
    assert summary["imported_items"] == 1 and summary["unmatched_items"] == 0
    assert summary["unmatched_addresses"] == 1 == len(summary["unmatched"])
    assert "1 unmatched address" in stderr


def test_ambiguous_undeclared_headers_warn_and_charset_decides(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    """Two GB18030 words are also valid Korean (cp949): the detector cannot know, so the
    import says so and --charset decides."""
    msg = tmp_path / "short.eml"
    msg.write_bytes(
        b"From: " + "李娜".encode("gb18030") + b" <li.na@client.cn>\nTo: sales@ourco.com\n"
        b"Subject: " + "采购计划".encode("gb18030") + b"\nDate: Mon, 09 Mar 2026 09:00:00 +0800\n"
        b"Message-ID: <short@client.cn>\n\nx\n"
    )
    summary, stderr = import_mail(cli, msg, "--our-domain", "ourco.com", "--dry-run")
    assert "--charset decides" in summary["warnings"][0]["warning"]  # it says it is unsure
    assert "gb18030" in summary["warnings"][0]["warning"] and "--charset" in stderr
    summary, _ = import_mail(
        cli, msg, "--our-domain", "ourco.com", "--create-leads", "--charset", "gb18030"
    )
    assert summary["warnings"] == []
    assert customer_emails(db_path)["li.na@client.cn"]["name"] == "李娜"
    assert comms(db_path)["mail:<short@client.cn>"]["subject"] == "采购计划"
    bad = cli("comm", "import-mail", str(msg), "--charset", "klingon")
    assert bad.exit_code == 2 and "--charset" in bad.stderr
