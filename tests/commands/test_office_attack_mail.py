"""`crm comm import-mail` on files as real senders and archivers write them, where it stored
a wrong time, lost a message or a customer, or took a calendar for a mailbox.

Fixtures: tests/data/mail/attack/ (written by its make_attack.py with Python's email package,
the mbox files byte for byte). Each test imports through the CLI into a fresh database and
reads the stored rows with sqlite3.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from office_rows import comms

DATA = Path(__file__).resolve().parent.parent / "data"
ATTACK = DATA / "mail" / "attack"
AS_OF = "2026-03-15T12:00:00Z"


@pytest.fixture
def customers(add_customer: Any) -> dict[str, int]:
    return {
        "zhang": add_customer("张伟", email="zhang.wei@client.cn"),
        "li": add_customer("李娜", email="li.na@client.cn"),
        "dorte": add_customer("Dörte Sörensen", email="dorte@client.de"),
    }


def import_mail(cli: Any, path: Path, *args: str) -> tuple[dict[str, Any], str]:
    result = cli(
        "--as-of", AS_OF, "--format", "json", "comm", "import-mail", str(path),
        "--our-domain", "ourco.com", *args,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout), result.stderr


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("01-colon-offset.eml", "2026-03-02T02:00:00Z"),  # was 10:00Z: "+08:00" read as UTC
        ("02-javascript.eml", "2026-03-02T02:00:00Z"),  # was 10:00Z: "GMT+0800" read as UTC
        ("03-hour-offset.eml", "2026-03-02T02:00:00Z"),  # was 09:52Z: "+08" read as 8 minutes
        ("04-pm.eml", "2026-03-02T07:15:00Z"),  # was 2026-03-01T19:15Z: PM dropped
        ("08-est.eml", "2026-03-02T15:00:00Z"),  # RFC 822 names keep their meaning
        ("09-utc-comment.eml", "2026-03-02T10:00:00Z"),
    ],
)
def test_date_zones_written_by_real_senders_are_read_right(
    cli: Any, db_path: Path, customers: dict[str, int], name: str, stored: str
) -> None:
    summary, _ = import_mail(cli, ATTACK / "dates" / name)
    assert summary["skipped"] == [] and summary["imported_items"] == 1
    (row,) = comms(db_path).values()
    assert row["occurred_at"] == stored
    assert row["customer_id"] == customers["zhang"] and row["direction"] == "inbound"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("05-no-zone.eml", "Date 'Mon, 02 Mar 2026 10:00:00' has no time zone"),
        ("06-jst.eml", "Date 'Mon, 02 Mar 2026 10:00:00 JST' has an unknown time zone 'JST'"),
        (
            "07-year-one.eml",
            "Date 'Sat, 01 Jan 0001 00:00:00 +0000' is before 1900: a placeholder, not a date",
        ),
    ],
)
def test_a_date_whose_moment_is_unknown_is_refused_with_its_reason(
    cli: Any, db_path: Path, customers: dict[str, int], name: str, reason: str
) -> None:
    """Before: stored as if the wall clock were UTC (no zone, JST), or 0001 as 2001."""
    summary, stderr = import_mail(cli, ATTACK / "dates" / name)
    assert summary["imported_items"] == 0 and comms(db_path) == {}
    assert [s["reason"] for s in summary["skipped"]] == [reason]
    assert reason in stderr


def test_the_whole_date_directory_in_one_import(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    summary, _ = import_mail(cli, ATTACK / "dates")
    assert summary["items"] == 9 and summary["imported_items"] == 6
    assert len(summary["skipped"]) == 3
    assert {r["occurred_at"] for r in comms(db_path).values()} == {
        "2026-03-02T02:00:00Z", "2026-03-02T07:15:00Z", "2026-03-02T15:00:00Z",
        "2026-03-02T10:00:00Z",
    }  # fmt: skip


def test_unescaped_from_lines_in_an_mboxo_body_are_text(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    """Before: each body line starting "From " began a new message: the first message kept
    only "Hello,", and the rest became a message "without a From address"."""
    summary, _ = import_mail(cli, ATTACK / "mboxo-from-lines.mbox")
    assert summary["items"] == 3 and summary["skipped"] == []
    rows = comms(db_path)
    first = rows["mail:<mboxo-1@client.cn>"]
    assert first["content"] == (
        "Hello,\n\nFrom the desk of Zhang Wei: the contract is signed.\n"
        "From now on please write to li.na@client.cn.\n\nRegards"
    )
    second = rows["mail:<mboxo-2@client.cn>"]
    assert second["customer_id"] == customers["li"]
    assert second["occurred_at"] == "2026-03-03T01:00:00Z"
    third = rows["mail:<mboxo-3@client.de>"]  # its envelope carries no asctime date
    assert third["customer_id"] == customers["dorte"] and third["subject"] == "Termin"


def test_an_mboxo_file_inside_a_directory_is_split_the_same_way(
    cli: Any, db_path: Path, customers: dict[str, int], tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(ATTACK / "mboxo-from-lines.mbox", archive / "2026-March.txt")
    summary, _ = import_mail(cli, archive, "--glob", "*.txt")
    assert summary["items"] == 3 and summary["skipped"] == []
    assert "From now on" in comms(db_path)["mail:<mboxo-1@client.cn>"]["content"]


def test_a_customer_in_bcc_of_our_sent_copy_gets_the_message(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    """Before: only To and Cc were read, so the customer who got it by Bcc got nothing."""
    summary, _ = import_mail(cli, ATTACK / "sent-bcc.eml")
    assert summary["imported_items"] == 1
    row = comms(db_path)["mail:<sent-bcc-1@ourco.com>"]
    assert row["customer_id"] == customers["zhang"] and row["direction"] == "outbound"
    assert row["agent"] == "Alice Wang"
    assert [u["email"] for u in summary["unmatched"]] == ["partner@partner.example"]


def test_one_message_without_message_id_as_crlf_eml_and_in_an_mbox_is_one(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    """Before: its stable id was hashed over the raw bytes, so CRLF and LF copies of the
    same message were two messages (a duplicate communication)."""
    first, _ = import_mail(cli, ATTACK / "no-id")
    second, _ = import_mail(cli, ATTACK / "no-id.mbox")
    assert first["imported_items"] == 1
    assert second["imported_items"] == 0 and second["duplicates"] == 1
    (row,) = comms(db_path).values()
    assert row["customer_id"] == customers["dorte"] and row["subject"] == "Rückruf"
    assert row["external_id"].endswith("@crmcli.generated>")


def test_a_calendar_given_to_import_mail_exits_2(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    """Before: "BEGIN:VCALENDAR" looked like a header line: one message "without a From
    address" skipped, exit 0."""
    ics = DATA / "calendar" / "attack" / "apple-email-param.ics"
    result = cli("comm", "import-mail", str(ics))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {ics} is neither an mbox file nor a mail message"
    ]
    assert comms(db_path) == {}


def test_a_message_imported_under_the_old_generated_id_stays_a_duplicate(
    cli: Any, db_path: Path, customers: dict[str, int]
) -> None:
    """The generated id changed (line ends and the final newline no longer count): a row
    stored under the id of before, a hash of the bytes as read, still makes it a duplicate."""
    import hashlib

    import_mail(cli, ATTACK / "no-id.mbox")
    raw = (ATTACK / "no-id.mbox").read_bytes().split(b"\n", 1)[1]
    old = f"mail:<{hashlib.sha256(raw).hexdigest()[:32]}@crmcli.generated>"
    con = sqlite3.connect(db_path)
    with con:
        con.execute("UPDATE communications SET external_id = ?", (old,))
    con.close()
    again, _ = import_mail(cli, ATTACK / "no-id.mbox")
    assert again["duplicates"] == 1 and again["imported_items"] == 0
    assert list(comms(db_path)) == [old]
