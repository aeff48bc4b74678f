"""Customer emails are checked by email-validator (syntax only, no DNS): internationalised
addresses are accepted, malformed ones refused, in add, update and import."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

ACCEPTED = {
    "用户@例子.广告": "用户@例子.广告",
    "jeff@臺網中心.tw": "jeff@臺網中心.tw",
    "Dörte@Sörensen.example.com": "dörte@sörensen.example.com",
    "Zhang.Wei@Client.CN": "zhang.wei@client.cn",
    "jeff@XN--FIQQ24B10VI0D.tw": "jeff@臺網中心.tw",
}
REFUSED = [".@iana.org", "test.@iana.org", "me@xn--0.tld", "a..b@x.com", "no-at-sign", "a@b"]


def stored_emails(db_path: Path) -> list[str]:
    con = sqlite3.connect(db_path)
    try:
        return [r[0] for r in con.execute("SELECT email FROM customers ORDER BY id")]
    finally:
        con.close()


@pytest.mark.parametrize("given,stored", list(ACCEPTED.items()))
def test_add_accepts_internationalised(cli: Any, db_path: Path, given: str, stored: str) -> None:
    cli.ok("customer", "add", "--name", "X", "--email", given)
    assert stored_emails(db_path) == [stored]


@pytest.mark.parametrize("given", REFUSED)
def test_add_refuses_malformed(cli: Any, db_path: Path, given: str) -> None:
    result = cli("customer", "add", "--name", "X", "--email", given)
    assert result.exit_code == 2
    assert "email" in result.stderr and "Traceback" not in result.stderr


def test_update_checks_the_same_way(cli: Any, db_path: Path, add_customer: Any) -> None:
    cid = add_customer("X", email="x@example.com")
    assert cli("customer", "update", str(cid), "--email", "test.@iana.org").exit_code == 2
    cli.ok("customer", "update", str(cid), "--email", "用户@例子.广告")
    assert stored_emails(db_path) == ["用户@例子.广告"]


def test_import_accepts_and_rejects_per_row(cli: Any, db_path: Path, tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("name,email\nA,jeff@臺網中心.tw\nB,.@iana.org\nC,Dörte@Sörensen.example.com\n")
    out = cli("--format", "json", "customer", "import", str(src))
    assert out.exit_code in (0, 1), out.stderr
    # B is stored without its malformed email (a field warning, import #12)
    assert sorted(e for e in stored_emails(db_path) if e) == sorted(
        ["jeff@臺網中心.tw", "dörte@sörensen.example.com"]
    )


def test_address_book_forms_give_their_one_address(cli: Any, tmp_path: Path, db_path: Path) -> None:
    """Outlook and Google contact exports write `Name <address>`; links write `mailto:`.
    Each names exactly one address, which is stored; two in one cell are refused (the row
    is kept without an email), never one of them picked."""
    src = tmp_path / "contacts.csv"
    src.write_text(
        "name,email\n"
        "Ann,Ann Lee <Ann@Example.com>\n"
        'Bob,"""Bob, Jr."" <bob@example.com>"\n'
        "Cy,mailto:cy@example.com?subject=hi\n"
        'Di,"di@example.com; di2@example.com"\n'
        'Ed,"Ed <ed@example.com>, Al <al@example.com>"\n',
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.csv"
    cli.ok("customer", "import", str(src), "--rejects", str(rejects))
    assert stored_emails(db_path) == [
        "ann@example.com",
        "bob@example.com",
        "cy@example.com",
        None,
        None,
    ]
    text = rejects.read_text(encoding="utf-8-sig")
    assert "two email addresses in one cell" in text and "one 'Name <address>'" in text
    result = cli("customer", "add", "--name", "Fay", "--email", "a@example.com, b@example.com")
    assert result.exit_code == 2 and "two email addresses" in result.stderr
