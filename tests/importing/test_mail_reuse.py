"""`crm comm import-mail`: a Message-ID reused by a different message, and Reply-To on
contact-form mail, through the real CLI against a real database file.

Messages are built with email.message.EmailMessage, written as CRLF .eml files (the SMTP
policy, as a mail client saves them) and as mbox files by mailbox.mbox (LF, "From " body
lines escaped as ">From "), the way real mailers and archivers write them.
"""

from __future__ import annotations

import json
import mailbox
import re
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest

ZHANG = "Zhang Wei <zhang.wei@client.cn>"
LI = "Li Na <li.na@client.cn>"
VARIANT = re.compile(r"^mail:<reused-1@client\.cn>~[0-9a-f]{16}$")


def message(
    msg_id: str,
    date: str,
    subject: str,
    body: str,
    sender: str = ZHANG,
    to: str = "Sales <sales@ourco.com>",
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = msg_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def write_mbox(path: Path, *messages: EmailMessage) -> Path:
    box = mailbox.mbox(str(path))
    try:
        for msg in messages:
            box.add(msg)
        box.flush()
    finally:
        box.close()
    return path


def write_eml(folder: Path, name: str, msg: EmailMessage) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(msg.as_bytes(policy=SMTP))  # CRLF line ends
    return folder


def import_mail(cli: Any, source: Path, *args: str) -> tuple[dict[str, Any], str]:
    result = cli("--format", "json", "comm", "import-mail", str(source), *args)
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout), result.stderr


@pytest.fixture
def customers(add_customer: Callable[..., int]) -> dict[str, int]:
    return {
        "zhang": add_customer("Zhang Wei", email="zhang.wei@client.cn"),
        "li": add_customer("Li Na", email="li.na@client.cn"),
    }


FIRST = message(
    "<reused-1@client.cn>",
    "Mon, 03 Mar 2025 10:00:00 +0800",
    "Order 1001",
    "Please send 10 units.\nFrom the desk of Zhang Wei",  # mbox escapes this as >From
)
SECOND = message(  # broken mailer: the same Message-ID on the next message
    "<reused-1@client.cn>",
    "Tue, 04 Mar 2025 15:30:00 +0800",
    "Order 1002",
    "Please send 20 more units.",
)


def test_a_different_message_under_a_reused_id_is_stored_and_said(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    mbox = write_mbox(tmp_path / "inbox.mbox", FIRST, SECOND)
    summary, stderr = import_mail(cli, mbox, "--our-domain", "ourco.com")
    assert summary["communications_created"] == 2 and summary["duplicates"] == 0
    assert summary["reused_message_ids"] == 1
    rows = sql_rows("SELECT external_id, subject, occurred_at FROM communications ORDER BY id")
    assert rows[0] == ("mail:<reused-1@client.cn>", "Order 1001", "2025-03-03T02:00:00Z")
    assert VARIANT.match(rows[1][0]) and rows[1][1:] == ("Order 1002", "2025-03-04T07:30:00Z")
    (warning,) = summary["warnings"]
    assert warning["source"] == "inbox.mbox#2 <reused-1@client.cn>"
    assert "also used by a different message" in warning["warning"]
    assert rows[1][0] in warning["warning"] and rows[1][0] in stderr

    again, _ = import_mail(cli, mbox, "--our-domain", "ourco.com")  # idempotent
    assert again["communications_created"] == 0 and again["duplicates"] == 2
    assert again["reused_message_ids"] == 0 and again["warnings"] == []
    assert sql_rows("SELECT count(*) FROM communications") == [(2,)]


def test_the_same_message_as_crlf_eml_and_in_an_mbox_stays_one(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    folder = write_eml(tmp_path / "saved", "order.eml", FIRST)
    delivered = message(  # the copy the mail server delivered: transport headers added
        "<reused-1@client.cn>",
        "Mon, 03 Mar 2025 10:00:00 +0800",
        "Order 1001",
        "Please send 10 units.\nFrom the desk of Zhang Wei",
        Received="from mx.client.cn by mx.ourco.com; Mon, 03 Mar 2025 02:00:05 +0000",
    )
    mbox = write_mbox(tmp_path / "inbox.mbox", delivered, SECOND, delivered)
    assert b"\n>From the desk" in mbox.read_bytes()  # mboxo escaping, undone on reading
    assert b"\r\n" in (folder / "order.eml").read_bytes()
    first, _ = import_mail(cli, folder, "--our-domain", "ourco.com")
    assert first["communications_created"] == 1
    summary, _ = import_mail(cli, mbox, "--our-domain", "ourco.com")
    # the .eml's copy twice: silent duplicates; the other message under the reused id: stored
    assert summary["duplicates"] == 2 and summary["communications_created"] == 1
    assert summary["reused_message_ids"] == 1 and len(summary["warnings"]) == 1
    assert summary["warnings"][0]["source"] == "inbox.mbox#2 <reused-1@client.cn>"
    subjects = sql_rows("SELECT subject FROM communications ORDER BY subject")
    assert subjects == [("Order 1001",), ("Order 1002",)]


def test_the_variant_key_does_not_depend_on_which_message_came_first(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    alone = write_mbox(tmp_path / "second-only.mbox", SECOND)
    both = write_mbox(tmp_path / "both.mbox", FIRST, SECOND)
    import_mail(cli, alone, "--our-domain", "ourco.com")
    summary, _ = import_mail(cli, both, "--our-domain", "ourco.com")
    assert summary["communications_created"] == 1 and summary["duplicates"] == 1
    assert summary["reused_message_ids"] == 1
    rows = dict(sql_rows("SELECT subject, external_id FROM communications"))
    assert rows["Order 1002"] == "mail:<reused-1@client.cn>"  # it was first in the database
    assert VARIANT.match(rows["Order 1001"])
    for source in (both, alone):
        again, _ = import_mail(cli, source, "--our-domain", "ourco.com")
        assert again["communications_created"] == 0 and again["warnings"] == []
    assert sql_rows("SELECT count(*) FROM communications") == [(2,)]


def test_same_id_and_date_but_other_subject_and_text_is_another_message(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    """Hand-made test mails: headers copied, subject and text changed. (Only the text
    changed is one message: what an earlier version stored may differ in one part.)"""
    date = "Mon, 03 Mar 2025 10:00:00 +0800"
    one = message("<reused-1@client.cn>", date, "Test", "first try")
    two = message("<reused-1@client.cn>", date, "Test 2", "second try")
    three = message("<reused-1@client.cn>", date, "Test", "third try")
    summary, _ = import_mail(cli, write_mbox(tmp_path / "t.mbox", one, two, three))
    assert summary["communications_created"] == 2 and summary["reused_message_ids"] == 1
    assert summary["duplicates"] == 1
    assert sql_rows("SELECT content FROM communications ORDER BY id") == [
        ("first try",),
        ("second try",),
    ]


def test_a_message_an_earlier_version_stored_otherwise_is_no_new_one(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    """A cron job re-imports a growing mailbox after an upgrade: a message stored with
    another Date (an earlier version read its zone otherwise) or another text (its body
    read otherwise) is still a duplicate, and so is its reused-id variant."""
    mbox = write_mbox(tmp_path / "inbox.mbox", FIRST, SECOND)
    import_mail(cli, mbox, "--our-domain", "ourco.com")
    rows = sql_rows("SELECT id FROM communications ORDER BY id")
    assert len(rows) == 2
    cli.ok("comm", "update", str(rows[0][0]), "--content", "Please send 10 units. (as read by 1.0)")
    cli.ok("comm", "update", str(rows[1][0]), "--at", "2025-03-04 07:30")
    again, _ = import_mail(cli, mbox, "--our-domain", "ourco.com")
    assert again["communications_created"] == 0 and again["duplicates"] == 2
    assert again["warnings"] == []


def test_a_variant_stays_put_when_the_first_message_had_no_customer(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    """The first holder of the id matched nobody (not stored): a re-import must still find
    the second message under its variant, not store it again under the plain key."""
    stranger = message(
        "<reused-1@client.cn>",
        "Mon, 03 Mar 2025 10:00:00 +0800",
        "Hello",
        "who am I",
        sender="someone@unknown.example",
    )
    mbox = write_mbox(tmp_path / "inbox.mbox", stranger, SECOND)
    summary, _ = import_mail(cli, mbox, "--our-domain", "ourco.com")
    assert summary["unmatched_items"] == 1 and summary["communications_created"] == 1
    assert summary["reused_message_ids"] == 1
    again, _ = import_mail(cli, mbox, "--our-domain", "ourco.com")
    assert again["communications_created"] == 0 and again["duplicates"] == 1
    assert again["unmatched_items"] == 1
    (key,) = sql_rows("SELECT external_id FROM communications")[0]
    assert VARIANT.match(key)
    assert sql_rows("SELECT count(*) FROM communications") == [(1,)]


def test_a_dry_run_reports_the_reuse_and_stores_nothing(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    mbox = write_mbox(tmp_path / "inbox.mbox", FIRST, SECOND)
    summary, _ = import_mail(cli, mbox, "--dry-run")
    assert summary["reused_message_ids"] == 1 and summary["communications_created"] == 2
    assert sql_rows("SELECT count(*) FROM communications") == [(0,)]


# ------------------------------------------------------------------------------ Reply-To


def contact_form(n: int, sender: str, reply_to: str, **headers: str) -> EmailMessage:
    return message(
        f"<form-{n}@site.example>",
        f"Wed, 05 Mar 2025 0{n}:00:00 +0800",
        "New contact form submission",
        f"Name: someone\nMessage: request number {n}",
        sender=sender,
        **{"Reply-To": reply_to, **headers},
    )


def test_contact_form_from_our_noreply_is_the_reply_to_customers(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    mbox = write_mbox(
        tmp_path / "forms.mbox",
        contact_form(1, "Website <noreply@ourco.com>", "Zhang Wei <Zhang.Wei@client.cn>"),
    )
    summary, stderr = import_mail(cli, mbox, "--our-domain", "ourco.com")
    assert summary["matched_by_reply_to"] == 1 and summary["internal"] == 0
    assert "(0 already imported, 1 matched through Reply-To," in stderr
    assert sql_rows("SELECT customer_id, direction, agent FROM communications") == [
        (customers["zhang"], "inbound", "Sales")  # handled by its recipient, not "Website"
    ]


def test_contact_form_from_a_form_service_makes_no_lead_of_it(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    mbox = write_mbox(
        tmp_path / "forms.mbox",
        contact_form(1, "WordPress <wordpress@forms.example>", "li.na@client.cn"),
        contact_form(2, "WordPress <wordpress@forms.example>", "new.person@else.example"),
    )
    summary, _ = import_mail(cli, mbox, "--our-domain", "ourco.com", "--create-leads")
    assert summary["matched_by_reply_to"] == 1
    # an unknown Reply-To is not guessed at: today's rule (a lead of the From) stands
    assert [lead["email"] for lead in summary["leads_created"]] == ["wordpress@forms.example"]
    rows = sql_rows("SELECT customer_id, subject FROM communications ORDER BY occurred_at")
    assert rows[0] == (customers["li"], "New contact form submission")
    assert sql_rows("SELECT count(*) FROM customers WHERE email = 'li.na@client.cn'") == [(1,)]


def test_reply_to_without_our_domain(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    mbox = write_mbox(
        tmp_path / "forms.mbox", contact_form(1, "noreply@web.example", "zhang.wei@client.cn")
    )
    summary, _ = import_mail(cli, mbox)
    assert summary["matched_by_reply_to"] == 1 and summary["unmatched_items"] == 0
    assert sql_rows("SELECT customer_id, direction FROM communications") == [
        (customers["zhang"], "inbound")
    ]


def test_reply_to_is_not_used_when_unsafe(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    form = "noreply@forms.example"
    mbox = write_mbox(
        tmp_path / "mixed.mbox",
        # 1: two addresses: which one is the sender is a guess
        contact_form(1, form, "zhang.wei@client.cn, li.na@client.cn"),
        # 2: a mailing list's message: its Reply-To names the list's people, not the sender
        contact_form(2, form, "zhang.wei@client.cn", List_Id="<buyers.client.cn>"),
        # 3: bulk mail
        contact_form(3, form, "li.na@client.cn", Precedence="bulk"),
        # 4: the From is a customer: it wins, Reply-To changes nothing
        contact_form(4, LI, "zhang.wei@client.cn"),
        # 5: our own mail to a customer, replies to another one: outbound to the recipient
        message(
            "<out-5@ourco.com>",
            "Wed, 05 Mar 2025 05:00:00 +0800",
            "Offer",
            "see attached",
            sender="Sales <sales@ourco.com>",
            to=LI,
            Reply_To="zhang.wei@client.cn",
        ),
        # 6: a Reply-To that is ours
        contact_form(6, form, "support@ourco.com"),
    )
    summary, stderr = import_mail(cli, mbox, "--our-domain", "ourco.com")
    assert summary["matched_by_reply_to"] == 0
    assert summary["unmatched_items"] == 4  # 1, 2, 3 and 6: from the form service
    got = {w["source"].split()[0]: w["warning"] for w in summary["warnings"]}
    assert got == {
        "mixed.mbox#1": "Reply-To zhang.wei@client.cn is a customer but was not used:"
        " Reply-To holds 2 addresses",
        "mixed.mbox#2": "Reply-To zhang.wei@client.cn is a customer but was not used:"
        " mailing-list or bulk mail (List-Id header)",
        "mixed.mbox#3": "Reply-To li.na@client.cn is a customer but was not used:"
        " bulk mail (Precedence: bulk)",
    }
    assert "Reply-To holds 2 addresses" in stderr
    assert sql_rows("SELECT customer_id, direction, subject FROM communications ORDER BY id") == [
        (customers["li"], "inbound", "New contact form submission"),
        (customers["li"], "outbound", "Offer"),
    ]


def test_reply_to_reimport_is_idempotent(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    folder = write_eml(
        tmp_path / "forms", "1.eml", contact_form(1, "noreply@ourco.com", "li.na@client.cn")
    )
    import_mail(cli, folder, "--our-domain", "ourco.com")
    again, _ = import_mail(cli, folder, "--our-domain", "ourco.com")
    assert again["duplicates"] == 1 and again["matched_by_reply_to"] == 0
    assert sql_rows("SELECT customer_id FROM communications") == [(customers["li"],)]


def test_a_reused_id_for_another_customer_is_another_message(
    cli: Any, tmp_path: Path, customers: dict[str, int], sql_rows: Any
) -> None:
    """A mail merge that gave every copy one Message-ID: the same Date and Subject, to
    Zhang and to Li. Two of three agree, but the copies concern different customers: two
    messages (the second had been dropped as "already imported")."""
    date = "Tue, 05 Mar 2024 10:00:00 +0800"
    ours = "Sales <sales@ourco.com>"
    to_zhang = message("<merge-1@ourco.com>", date, "Offer", "Dear Zhang", sender=ours, to=ZHANG)
    to_li = message("<merge-1@ourco.com>", date, "Offer", "Dear Li", sender=ours, to=LI)
    mbox = write_mbox(tmp_path / "sent.mbox", to_zhang, to_li)
    summary, _ = import_mail(cli, mbox, "--our-domain", "ourco.com")
    assert summary["communications_created"] == 2 and summary["reused_message_ids"] == 1
    assert sorted(sql_rows("SELECT customer_id, content FROM communications")) == sorted(
        [(customers["zhang"], "Dear Zhang"), (customers["li"], "Dear Li")]
    )
    again, _ = import_mail(cli, mbox, "--our-domain", "ourco.com")
    assert again["communications_created"] == 0 and again["duplicates"] == 2
