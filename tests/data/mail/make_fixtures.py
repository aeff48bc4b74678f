"""Writes the mail test fixtures under tests/data/mail/ (run: python make_fixtures.py).

The files are committed; this script says how each was made. Messages marked "email.mime"
are written by Python's own email package exactly as an application using it would send
them; the others are written byte for byte in the formats real mailers and archivers use
(Mailman/Pipermail monthly archives, raw 8-bit headers in Big5/GB18030/Shift_JIS, RFC 6532
UTF-8 headers, obsolete RFC 822 syntax).
"""

from __future__ import annotations

import email.generator
import io
from email.header import Header
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
GLOBBED = HERE / "globbed"


def mime_bytes(msg: object) -> bytes:
    buf = io.BytesIO()
    email.generator.BytesGenerator(buf, mangle_from_=False).flatten(msg)  # type: ignore[arg-type]
    return buf.getvalue()


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def raw(*lines: bytes | str, body: bytes | str = b"") -> bytes:
    out = b""
    for line in lines:
        out += (line.encode() if isinstance(line, str) else line) + b"\n"
    out += b"\n"
    out += body.encode() if isinstance(body, str) else body
    return out


def mime_cases() -> None:
    # 1. email.mime with a whole-value encoded From (what Header('王芳 <...>', 'utf-8') writes).
    msg = MIMEText("王经理：合同已经寄出。", "plain", "utf-8")
    msg["From"] = Header("王芳 <wangfang@example.cn>", "utf-8")
    msg["To"] = "sales@ourco.com"
    msg["Subject"] = Header("合同寄出", "utf-8")
    msg["Date"] = "Wed, 04 Mar 2026 10:00:00 +0800"
    msg["Message-ID"] = "<mime-from-001@example.cn>"
    write(CASES / "01-mime-encoded-from.eml", mime_bytes(msg))

    # 2. email.mime: a text part and an attached message (message/rfc822).
    inner = MIMEText("inner forwarded text", "plain", "utf-8")
    inner["From"] = "other@partner.example"
    inner["To"] = "li.na@client.cn"
    inner["Subject"] = "the forwarded one"
    inner["Date"] = "Mon, 02 Mar 2026 08:00:00 +0000"
    outer = MIMEMultipart(boundary="==b2==")
    outer["From"] = "Li Na <li.na@client.cn>"
    outer["To"] = "sales@ourco.com"
    outer["Subject"] = "Fwd: two messages"
    outer["Date"] = "Thu, 05 Mar 2026 09:00:00 +0800"
    outer["Message-ID"] = "<rfc822-attach-002@client.cn>"
    outer.attach(MIMEText("two attach", "plain", "utf-8"))
    outer.attach(MIMEMessage(inner))
    outer.attach(MIMEMessage(inner))
    write(CASES / "02-rfc822-attachment.eml", mime_bytes(outer))

    # 3. A forwarded message sent base64-encoded (some webmail clients do), before the text.
    import base64

    inner_bytes = mime_bytes(inner)
    encoded = base64.encodebytes(inner_bytes).decode()
    body = (
        "--b3\n"
        "Content-Type: message/rfc822\n"
        "Content-Transfer-Encoding: base64\n"
        'Content-Disposition: attachment; filename="fwd.eml"\n\n'
        f"{encoded}\n"
        "--b3\n"
        'Content-Type: text/plain; charset="utf-8"\n\n'
        "two attach\n"
        "--b3--\n"
    )
    write(
        CASES / "03-rfc822-base64.eml",
        raw(
            "From: Li Na <li.na@client.cn>",
            "To: sales@ourco.com",
            "Subject: Fwd: base64 attached message",
            "Date: Thu, 05 Mar 2026 10:00:00 +0800",
            "Message-ID: <rfc822-base64-003@client.cn>",
            "MIME-Version: 1.0",
            'Content-Type: multipart/mixed; boundary="b3"',
            body=body,
        ),
    )


def header_cases() -> None:
    # 4. Two bare addresses in From (a CRM export that joined them with a space).
    write(
        CASES / "04-two-from.eml",
        raw(
            "From: tim@powerup.example concierge@powerup.example",
            "To: sales@ourco.com",
            "Subject: two senders",
            "Date: Fri, 06 Mar 2026 09:00:00 +0000",
            "Message-ID: <two-from-004@powerup.example>",
            body="hello\n",
        ),
    )
    # 5. A quoted local part.
    write(
        CASES / "05-quoted-local.eml",
        raw(
            'From: "Big Bug bb"@bug.com',
            "To: sales@ourco.com",
            "Subject: quoted local part",
            "Date: Fri, 06 Mar 2026 10:00:00 +0000",
            "Message-ID: <quoted-005@bug.com>",
            body="bug report\n",
        ),
    )
    # 6. RFC 822 obsolete syntax: white space before the colon.
    write(
        CASES / "06-obsolete-colon.eml",
        raw(
            "From  : Old Mailer <zhang.wei@client.cn>",
            "To   : sales@ourco.com",
            "Subject : obsolete syntax",
            "Date : Fri, 06 Mar 2026 11:00:00 +0000",
            "Message-ID : <obsolete-006@client.cn>",
            body="old mailer\n",
        ),
    )
    # 7. Raw Big5 headers, the charset declared on the body only.
    write(
        CASES / "07-big5-declared.eml",
        raw(
            b"From: " + "陳美玲".encode("big5") + b" <chen@client.tw>",
            "To: sales@ourco.com",
            b"Subject: " + "報價單確認，請回覆".encode("big5"),
            "Date: Sat, 07 Mar 2026 09:00:00 +0800",
            "Message-ID: <big5-007@client.tw>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=big5",
            "Content-Transfer-Encoding: 8bit",
            body="您好，報價單已收到。\n".encode("big5"),
        ),
    )
    # 8. Raw GB18030 headers, no charset declared anywhere: the detector decides.
    write(
        CASES / "08-gb18030-undeclared.eml",
        raw(
            b"From: " + "李娜".encode("gb18030") + b" <li.na@client.cn>",
            "To: sales@ourco.com",
            b"Subject: " + "关于下个季度的采购计划和价格调整的通知".encode("gb18030"),
            "Date: Sat, 07 Mar 2026 10:00:00 +0800",
            "Message-ID: <gb18030-008@client.cn>",
            body="plain ascii body\n",
        ),
    )
    # 9. Raw Shift_JIS headers with a Shift_JIS body.
    write(
        CASES / "09-shift-jis.eml",
        raw(
            b"From: " + "山田太郎".encode("shift_jis") + b" <yamada@client.jp>",
            "To: sales@ourco.com",
            b"Subject: " + "お見積もりのご依頼について".encode("shift_jis"),
            "Date: Sat, 07 Mar 2026 11:00:00 +0900",
            "Message-ID: <sjis-009@client.jp>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=Shift_JIS",
            "Content-Transfer-Encoding: 8bit",
            body="よろしくお願いいたします。\n".encode("shift_jis"),
        ),
    )
    # 10. RFC 6532: UTF-8 in the address itself, no MIME declaration.
    write(
        CASES / "10-rfc6532-utf8.eml",
        raw(
            "From: Jürgen Döe <jdöe@mächine.example>".encode(),
            "To: sales@ourco.com",
            "Subject: Grüße aus München".encode(),
            "Date: Sun, 08 Mar 2026 09:00:00 +0100",
            "Message-ID: <utf8-010@xn--mchine-bua.example>",
            body="Hallo!\n",
        ),
    )
    # 11. A long UTF-8 Russian body with one bad byte.
    text = ("Добрый день! Спасибо за ваш заказ, мы отправим его завтра.\n" * 150).encode()
    broken = text[:4000] + b"\xff" + text[4000:]
    write(
        CASES / "11-utf8-one-bad-byte.eml",
        raw(
            "From: Ivan Petrov <ivan@client.ru>",
            "To: sales@ourco.com",
            "Subject: =?utf-8?b?0JfQsNC60LDQtw==?=",
            "Date: Sun, 08 Mar 2026 10:00:00 +0300",
            "Message-ID: <badbyte-011@client.ru>",
            "MIME-Version: 1.0",
            'Content-Type: text/plain; charset="utf-8"',
            "Content-Transfer-Encoding: 8bit",
            body=broken,
        ),
    )
    # 12. 8-bit body with no charset at all (windows-1252 in practice).
    write(
        CASES / "12-undeclared-8bit.eml",
        raw(
            "From: Ivan Petrov <ivan@client.ru>",
            "To: sales@ourco.com",
            "Subject: price",
            "Date: Sun, 08 Mar 2026 11:00:00 +0000",
            "Message-ID: <undeclared-012@client.ru>",
            body=b"Price: 100\x80 \x93net\x94\n",
        ),
    )
    # 13. A Date far in the future.
    write(
        CASES / "13-future-date.eml",
        raw(
            "From: Ivan Petrov <ivan@client.ru>",
            "To: sales@ourco.com",
            "Subject: from the future",
            "Date: Mon, 01 Jan 3609 00:00:00 +0000",
            "Message-ID: <future-013@client.ru>",
            body="hello\n",
        ),
    )
    # 14. 1,500 recipients: the first 1,000 count, the rest are ignored with a warning.
    to = ", ".join(f"person{n:04d}@crowd.example" for n in range(1500))
    write(
        CASES / "14-many-recipients.eml",
        raw(
            "From: Sales <sales@ourco.com>",
            f"To: {to}",
            "Subject: newsletter",
            "Date: Mon, 09 Mar 2026 09:00:00 +0000",
            "Message-ID: <many-014@ourco.com>",
            body="news\n",
        ),
    )


def pipermail() -> None:
    """A Mailman 2 (Pipermail) monthly archive: `From x at host  date` separators, ` at `
    senders with the name in a comment, no To header (the archive drops it)."""
    out = []
    messages = [
        ("jgb", "example.com", "Jesus M. Gonzalez-Barahona", "Tue Mar  3 10:00:00 2026",
         "Tue, 03 Mar 2026 10:00:00 +0100", "[Dev] release 0.3", "<p-001@example.com>",
         None, "Hi all,\n\nthe release is out.\n\n>From the notes: see NEWS.\n"),
        ("zhang.wei", "client.cn", "Zhang Wei", "Tue Mar  3 12:30:05 2026",
         "Tue, 03 Mar 2026 19:30:05 +0800", "[Dev] release 0.3", "<p-002@client.cn>",
         "<p-001@example.com>", "Thanks!\n"),
        ("stranger", "unknown.org", "", "Wed Mar  4 08:00:00 2026",
         "Wed, 4 Mar 2026 08:00:00 -0000", "[Dev] question", "<p-003@unknown.org>",
         None, "A question.\n"),
    ]  # fmt: skip
    for user, host, name, envelope, date, subject, msgid, reply, body in messages:
        out.append(f"From {user} at {host}  {envelope}")
        out.append(f"From: {user} at {host} ({name})" if name else f"From: {user} at {host}")
        out.append(f"Date: {date}")
        out.append(f"Subject: {subject}")
        if reply:
            out.append(f"In-Reply-To: {reply}")
            out.append(f"References: {reply}")
        out.append(f"Message-ID: {msgid}")
        out.append("")
        out.append(body)
    write(HERE / "pipermail-2026-March.txt", "\n".join(out).encode())


def bad_messages_mbox() -> None:
    """An mbox whose middle messages are hostile: bad base64 in the Subject, MIME nested
    2,000 deep; the good messages around them must still be imported."""
    good1 = raw(
        "From: Zhang Wei <zhang.wei@client.cn>",
        "To: sales@ourco.com",
        "Subject: good one",
        "Date: Mon, 09 Mar 2026 09:00:00 +0800",
        "Message-ID: <good-1@client.cn>",
        body="first\n",
    )
    bad_subject = raw(
        "From: Zhang Wei <zhang.wei@client.cn>",
        "To: sales@ourco.com",
        "Subject: =?utf-8?b?5p#$%^&*@!?= broken",
        "Date: Mon, 09 Mar 2026 10:00:00 +0800",
        "Message-ID: <bad-subject@client.cn>",
        body="bad subject\n",
    )
    depth = 2000
    body = "--d0\n"
    for n in range(1, depth):
        body += f'Content-Type: multipart/mixed; boundary="d{n}"\n\n--d{n}\n'
    body += "Content-Type: text/plain\n\ndeep\n"
    for n in reversed(range(depth)):
        body += f"--d{n}--\n"
    deep = raw(
        "From: Zhang Wei <zhang.wei@client.cn>",
        "To: sales@ourco.com",
        "Subject: deep",
        "Date: Mon, 09 Mar 2026 11:00:00 +0800",
        "Message-ID: <deep@client.cn>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="d0"',
        body=body,
    )
    good2 = raw(
        "From: Li Na <li.na@client.cn>",
        "To: sales@ourco.com",
        "Subject: good two",
        "Date: Mon, 09 Mar 2026 12:00:00 +0800",
        "Message-ID: <good-2@client.cn>",
        body="second\n",
    )
    out = b""
    for envelope, msg in (
        ("zhang.wei@client.cn Mon Mar  9 01:00:00 2026", good1),
        ("zhang.wei@client.cn Mon Mar  9 02:00:00 2026", bad_subject),
        ("zhang.wei@client.cn Mon Mar  9 03:00:00 2026", deep),
        ("li.na@client.cn Mon Mar  9 04:00:00 2026", good2),
    ):
        out += f"From {envelope}\n".encode() + msg + b"\n"
    write(HERE / "hostile.mbox", out)


def globbed() -> None:
    """A directory an old client exported: upper-case .EML, and .txt / .raw messages."""
    for name, msgid in (("BASIC.EML", "<upper-1@client.cn>"), ("second.txt", "<txt-2@client.cn>"),
                        ("third.raw", "<raw-3@client.cn>")):  # fmt: skip
        write(
            GLOBBED / name,
            raw(
                "From: Zhang Wei <zhang.wei@client.cn>",
                "To: sales@ourco.com",
                f"Subject: {name}",
                "Date: Tue, 10 Mar 2026 09:00:00 +0800",
                f"Message-ID: {msgid}",
                body="exported\n",
            ),
        )


if __name__ == "__main__":
    mime_cases()
    header_cases()
    pipermail()
    bad_messages_mbox()
    globbed()
