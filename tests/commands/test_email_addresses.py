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
