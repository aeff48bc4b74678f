"""Mail parsing details: RFC 2047 headers, charsets, HTML to text, Message-IDs."""

from __future__ import annotations

import base64
import email
from email.message import EmailMessage
from email.policy import SMTP

from crmcli.importing.mail import (
    decode_header_text,
    html_to_text,
    iter_messages,
    message_id,
    to_item,
)
from crmcli.importing.office import Item, Skipped


def test_rfc2047_b_and_q_in_several_charsets() -> None:
    assert decode_header_text("=?UTF-8?B?5ZCI5ZCM57ut562+?=") == "合同续签"
    assert decode_header_text("=?gb2312?Q?=B1=A8=BC=DB?=") == "报价"
    assert decode_header_text("=?big5?B?pXjGVw==?=") == "台灣"
    # Adjacent encoded words join without the folding whitespace between them (RFC 2047 6.2).
    assert decode_header_text("=?utf-8?Q?=E5=90=88?=\r\n =?utf-8?Q?=E5=90=8C?=") == "合同"
    assert decode_header_text("Re: =?utf-8?Q?=E6=8A=A5=E4=BB=B7?= for Q2") == "Re: 报价 for Q2"
    # Labelled GB2312 but holding a GBK-only character (镕), as many mailers send it.
    label = "=?gb2312?B?" + base64.b64encode("朱镕基".encode("gbk")).decode() + "?="
    assert decode_header_text(label) == "朱镕基"
    assert decode_header_text(None) == "" and decode_header_text("plain") == "plain"


def test_html_to_text() -> None:
    html = (
        "<html><head><title>t</title><style>.x{}</style></head><body>"
        "<h1>Hi&nbsp;there</h1><ul><li>one</li><li>two &lt;3</li></ul>"
        "<p>a<br/>b</p><script>var x = 1;</script><table><tr><td>c</td><td>d</td></tr></table>"
        "</body></html>"
    )
    assert html_to_text(html) == "Hi there\n\n- one\n\n- two <3\n\na\nb\n\nc d"


def test_a_message_built_with_the_email_package_round_trips() -> None:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "王芳 <Wang@Client.cn>"
    msg["To"] = "sales@ourco.com, 李娜 <li.na@client.cn>"
    msg["Subject"] = "关于续约的报价（第二版）"
    msg["Date"] = "Tue, 10 Mar 2026 09:30:00 +0800"
    msg["Message-ID"] = "<built-1@client.cn>"
    msg.set_content("正文：请查看附件。\n谢谢")
    msg.add_alternative("<p>正文：请查看<b>附件</b>。</p>", subtype="html")
    raw = msg.as_bytes()
    assert b"=?utf-8?" in raw  # really encoded on the wire
    item = to_item(raw, "built")
    assert isinstance(item, Item)
    assert item.subject == "关于续约的报价（第二版）"
    assert item.content == "正文：请查看附件。\n谢谢"
    assert item.sender is not None and item.sender.email == "wang@client.cn"
    assert item.sender.name == "王芳"
    assert [p.email for p in item.others] == ["sales@ourco.com", "li.na@client.cn"]
    assert item.key == "mail:<built-1@client.cn>"
    assert item.occurred_at.isoformat() == "2026-03-10T01:30:00+00:00"


def test_message_id_missing_or_bare() -> None:
    raw = b"From: a@b.cn\r\nDate: Tue, 10 Mar 2026 09:30:00 +0800\r\n\r\nbody\r\n"
    first = to_item(raw, "x")
    assert isinstance(first, Item)
    assert first.key.startswith("mail:<") and first.key.endswith("@crmcli.generated>")
    assert first.key == to_item(raw, "again").key  # stable: re-imports match
    bare = email.message_from_bytes(b"Message-ID: abc@host\r\n\r\n")
    assert message_id(bare, b"") == "<abc@host>"


def test_skipped_messages_say_why() -> None:
    assert to_item(b"To: a@b.cn\r\nDate: Tue, 10 Mar 2026 09:30:00 +0800\r\n\r\nx", "s") == Skipped(
        "s", "no From address"
    )
    bad_date = b"From: a@b.cn\r\nDate: someday\r\n\r\nx"
    assert to_item(bad_date, "s") == Skipped("s", "no readable Date header")


def test_single_eml_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "one.eml"
    path.write_bytes(
        b"From: a@b.cn\r\nTo: c@d.cn\r\nSubject: hi\r\nDate: Tue, 10 Mar 2026 09:30:00 +0000\r\n"
        b"Message-ID: <one@b.cn>\r\n\r\nhello\r\n"
    )
    items = list(iter_messages(path))
    assert len(items) == 1 and isinstance(items[0], Item) and items[0].content == "hello"
