"""Writes the fixtures of tests/commands/test_office_attack_mail.py (run: python make_attack.py).

The files are committed; this script says how each was made. Messages are written by
Python's email package (email.mime, as an application sending mail writes them) with the
Date headers real senders put on the wire; the mbox files are written byte for byte the
way mboxo writers (procmail, old Pipermail) and Outlook's "save as .eml" (CRLF) write.
"""

from __future__ import annotations

import email.generator
import io
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (file, Date header as the sender wrote it, where such a header comes from)
DATES = [
    ("01-colon-offset.eml", "Mon, 02 Mar 2026 10:00:00 +08:00", "PHP date('D, d M Y H:i:s P')"),
    (
        "02-javascript.eml",
        "Mon Mar 02 2026 10:00:00 GMT+0800 (China Standard Time)",
        "a web form's new Date().toString()",
    ),
    ("03-hour-offset.eml", "Mon, 02 Mar 2026 10:00:00 +08", "ISO 8601 +hh"),
    ("04-pm.eml", "Monday, March 2, 2026 3:15 PM +0800", "a CRM export's long date"),
    ("05-no-zone.eml", "Mon, 02 Mar 2026 10:00:00", "a cron script's strftime"),
    ("06-jst.eml", "Mon, 02 Mar 2026 10:00:00 JST", "an old Japanese mailer"),
    ("07-year-one.eml", "Sat, 01 Jan 0001 00:00:00 +0000", "an ERP's 'no date'"),
    ("08-est.eml", "Mon, 02 Mar 2026 10:00:00 EST", "RFC 822 zone name"),
    ("09-utc-comment.eml", "Mon, 02 Mar 2026 10:00:00 +0000 (UTC)", "Gmail"),
]


def mime_bytes(msg: object, linesep: str = "\n") -> bytes:
    buf = io.BytesIO()
    gen = email.generator.BytesGenerator(buf, mangle_from_=False)
    gen.flatten(msg, linesep=linesep)  # type: ignore[arg-type]
    return buf.getvalue()


def dates() -> None:
    for n, (name, date, origin) in enumerate(DATES, start=1):
        msg = MIMEText(f"询价单 {n}（{origin}）", "plain", "gbk")
        msg["From"] = formataddr((str(Header("张伟", "gbk")), "zhang.wei@client.cn"))
        msg["To"] = "sales@ourco.com"
        msg["Subject"] = Header(f"询价 {n}", "gbk").encode()
        msg["Date"] = date
        msg["Message-ID"] = f"<date-{n:02d}@client.cn>"
        (HERE / "dates" / name).parent.mkdir(parents=True, exist_ok=True)
        (HERE / "dates" / name).write_bytes(mime_bytes(msg))


def mboxo() -> None:
    """Two messages in an mboxo file: body lines starting "From " are not escaped (procmail,
    Pipermail), and the second message's envelope is Pipermail's "user at host"."""
    first = MIMEText(
        "Hello,\n\nFrom the desk of Zhang Wei: the contract is signed.\n"
        "From now on please write to li.na@client.cn.\n\nRegards",
        "plain",
        "us-ascii",  # 7bit: the body's lines are in the file as written
    )
    first["From"] = "Zhang Wei <zhang.wei@client.cn>"
    first["To"] = "sales@ourco.com"
    first["Subject"] = "Contract signed"
    first["Date"] = "Mon, 02 Mar 2026 10:00:00 +0800"
    first["Message-ID"] = "<mboxo-1@client.cn>"
    second = MIMEText("Second message.", "plain", "us-ascii")
    second["From"] = "li.na at client.cn (Li Na)"
    second["Subject"] = "[sales] Re: Contract signed"
    second["Date"] = "Tue, 03 Mar 2026 09:00:00 +0800"
    second["Message-ID"] = "<mboxo-2@client.cn>"
    third = MIMEText("Appended by another tool.", "plain", "us-ascii")
    third["From"] = "dorte@client.de"
    third["Subject"] = "Termin"
    third["Date"] = "Wed, 04 Mar 2026 09:00:00 +0100"
    third["Message-ID"] = "<mboxo-3@client.de>"
    data = (
        b"From zhang.wei@client.cn  Mon Mar  2 02:00:00 2026\n"
        + mime_bytes(first)
        + b"\n\nFrom li.na at client.cn  Tue Mar  3 01:00:00 2026\n"
        + mime_bytes(second)
        # `cat other.mbox >> archive.mbox`: a writer putting an RFC 5322 date on the envelope
        + b"\n\nFrom dorte@client.de Wed, 04 Mar 2026 08:00:00 +0000\n"
        + mime_bytes(third)
        + b"\n"
    )
    (HERE / "mboxo-from-lines.mbox").write_bytes(data)


def bcc() -> None:
    """Our sent copy (Thunderbird's Sent folder keeps Bcc) to a partner, Bcc the customer."""
    msg = MIMEMultipart("alternative", boundary="=====attack-bcc=====")
    msg.attach(MIMEText("Dear partner, the offer is attached.", "plain", "utf-8"))
    msg.attach(MIMEText("<p>Dear partner, the offer is attached.</p>", "html", "utf-8"))
    msg["From"] = formataddr(("Alice Wang", "Alice@OurCo.com"))
    msg["To"] = "partner@partner.example"
    msg["Bcc"] = formataddr((str(Header("张伟", "utf-8")), "Zhang.Wei@Client.CN"))
    msg["Subject"] = "Offer"
    msg["Date"] = "Wed, 04 Mar 2026 11:00:00 +0800"
    msg["Message-ID"] = "<sent-bcc-1@ourco.com>"
    (HERE / "sent-bcc.eml").write_bytes(mime_bytes(msg))


def no_message_id() -> None:
    """One message without a Message-ID, saved as .eml by Outlook (CRLF) and kept in an
    mbox (LF): the same message."""
    msg = MIMEText("Bitte um Rückruf.", "plain", "iso-8859-1")
    msg["From"] = formataddr(("Dörte Sörensen", "dorte@client.de"))
    msg["To"] = "sales@ourco.com"
    msg["Subject"] = Header("Rückruf", "iso-8859-1").encode()
    msg["Date"] = "Thu, 05 Mar 2026 09:00:00 +0100"
    (HERE / "no-id" / "saved.eml").parent.mkdir(parents=True, exist_ok=True)
    (HERE / "no-id" / "saved.eml").write_bytes(mime_bytes(msg, "\r\n"))
    envelope = b"From dorte@client.de  Thu Mar  5 08:00:00 2026\n"
    (HERE / "no-id.mbox").write_bytes(envelope + mime_bytes(msg) + b"\n")


if __name__ == "__main__":
    dates()
    mboxo()
    bcc()
    no_message_id()
