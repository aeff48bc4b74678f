"""Terminal injection: escape sequences in names and subjects never reach a terminal.

Tables and markdown strip control characters (C0 except newline and tab, C1, ESC/CSI/OSC
sequences); JSON keeps the data intact (escaped as JSON does).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "security"
CLEAR = "\x1b[2J"
EVIL_NAME = f"{CLEAR}\x1b[31mMallory\x1b]8;;http://evil.test\x07link\x1b]8;;\x07\x9b0m\x07\x08"
EVIL_SUBJECT = "\x1b]0;owned\x07Quote\x1b[0m\r\x85"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def assert_clean(text: str) -> None:
    bad = CONTROL.findall(text)
    assert not bad, f"control characters reached the terminal: {bad!r} in {text!r}"


@pytest.fixture
def evil(cli: Any) -> str:
    cid = cli.ok(
        "customer", "add", "--name", EVIL_NAME, "--company", "\x1b[5mACME", "--create-company"
    ).strip()
    cli.ok("comm", "log", cid, "--channel", "phone", "--subject", EVIL_SUBJECT)
    return cid


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_customer_list_and_show(cli: Any, evil: str, fmt: str) -> None:
    listing = cli.ok("customer", "list", "--format", fmt)
    assert_clean(listing)
    assert "Mallory" in listing
    shown = cli.ok("customer", "show", evil, "--format", fmt)
    assert_clean(shown)
    assert "Mallory" in shown


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_comm_list(cli: Any, evil: str, fmt: str) -> None:
    out = cli.ok("comm", "list", "--format", fmt)
    assert_clean(out)
    assert "Quote" in out


def test_json_keeps_the_data(cli: Any, evil: str) -> None:
    shown = cli.json("customer", "show", evil)
    assert shown["name"] == EVIL_NAME  # JSON escapes it; nothing is lost
    raw = cli.ok("customer", "show", evil, "--format", "json")
    assert "\x1b" not in raw  # escaped as \u001b


def test_lead_created_from_a_mail_display_name(cli: Any) -> None:
    cli.ok(
        "comm", "import-mail", str(DATA / "escape-from.eml"),
        "--our-domain", "ourco.com", "--create-leads",
    )  # fmt: skip
    rows = cli.json("customer", "list")
    assert any("Evil" in (r.get("name") or "") for r in rows), rows
    assert_clean(cli.ok("customer", "list"))
    assert_clean(cli.ok("customer", "list", "--format", "markdown"))
    assert_clean(cli.ok("comm", "list"))
    lead = next(r for r in rows if "Evil" in (r.get("name") or ""))
    assert_clean(cli.ok("customer", "show", str(lead["id"])))
    json.dumps(lead)
