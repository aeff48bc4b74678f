"""--mask / --no-mask / CRM_MASK=1 on every listing with personal data; 0600 files with it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from crmcli.core.masking import mask_address, mask_email, mask_phone

PHONE, EMAIL, ADDRESS = "+8613800138000", "zhang.wei@example.cn", "上海市浦东新区世纪大道100号"
MASKED = {
    "phone": mask_phone(PHONE),
    "email": mask_email(EMAIL),
    "address": mask_address(ADDRESS),
}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def people(cli: Any, add_customer: Any) -> tuple[int, int]:
    a = add_customer("张伟", phone=PHONE, email=EMAIL, address=ADDRESS, company="Acme")
    # The same person entered again with another email: `duplicates` finds them by phone.
    b = add_customer("张伟", phone=PHONE, email="zw2@example.cn", company="Acme")
    return a, b


def plain_and_masked(cli: Any, *args: str) -> list[tuple[str, Any]]:
    """(how, parsed JSON) for: default, --mask, --no-mask, CRM_MASK=1, CRM_MASK=1 --no-mask."""
    return [
        ("default", cli.json(*args)),
        ("--mask", cli.json(*args, "--mask")),
        ("--no-mask", cli.json(*args, "--no-mask")),
        ("CRM_MASK=1", cli.json(*args, env={"CRM_MASK": "1"})),
        ("CRM_MASK=1 --no-mask", cli.json(*args, "--no-mask", env={"CRM_MASK": "1"})),
    ]


MASKED_WAYS = {"--mask", "CRM_MASK=1"}


def test_masked_is_not_the_plain_value() -> None:
    assert MASKED["phone"] == "+86138****8000"
    assert MASKED["email"] == "z*******i@example.cn"
    assert MASKED["address"] != ADDRESS and MASKED["address"].startswith(ADDRESS[:4])


def test_customer_list(cli: Any, people: tuple[int, int]) -> None:
    for how, rows in plain_and_masked(cli, "customer", "list"):
        row = next(r for r in rows if r["id"] == people[0])
        expected = MASKED if how in MASKED_WAYS else {"phone": PHONE, "email": EMAIL}
        assert row["phone"] == expected["phone"], how
        assert row["email"] == expected["email"], how
        assert row["name"] == "张伟", how  # names stay


def test_customer_show(cli: Any, people: tuple[int, int]) -> None:
    for how, record in plain_and_masked(cli, "customer", "show", str(people[0])):
        if how in MASKED_WAYS:
            assert {k: record[k] for k in MASKED} == MASKED, how
        else:
            assert (record["phone"], record["email"], record["address"]) == (
                PHONE,
                EMAIL,
                ADDRESS,
            ), how
        assert record["name"] == "张伟" and record["company"] == "Acme", how


def test_customer_show_table_hides_the_number(cli: Any, people: tuple[int, int]) -> None:
    shown = cli.ok("customer", "show", str(people[0]), "--format", "table", "--mask")
    assert PHONE not in shown and EMAIL not in shown and "张伟" in shown


def test_customer_duplicates(cli: Any, people: tuple[int, int]) -> None:
    for how, groups in plain_and_masked(cli, "customer", "duplicates"):
        assert len(groups) == 1, how
        members = {c["id"]: c for c in groups[0]["customers"]}
        assert set(members) == set(people), how
        first = members[people[0]]
        if how in MASKED_WAYS:
            assert (first["phone"], first["email"]) == (MASKED["phone"], MASKED["email"]), how
        else:
            assert (first["phone"], first["email"]) == (PHONE, EMAIL), how
        assert first["name"] == "张伟", how
    text = cli.ok("customer", "duplicates", "--format", "csv", "--mask")
    assert PHONE not in text and MASKED["phone"] in text


def test_customer_export_mask(cli: Any, people: tuple[int, int], tmp_path: Path) -> None:
    out = tmp_path / "people.jsonl"
    cli.ok("customer", "export", "--out", str(out), "--format", "jsonl", env={"CRM_MASK": "1"})
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["phone"] for r in rows} == {MASKED["phone"]}
    assert mode(out) == 0o600


def test_ticket_agent_list(cli: Any) -> None:
    cli.ok("ticket", "agent", "add", "alice", "--email", "alice.chen@example.com")
    for how, rows in plain_and_masked(cli, "ticket", "agent", "list"):
        (agent,) = rows
        expected = (
            mask_email("alice.chen@example.com") if how in MASKED_WAYS else "alice.chen@example.com"
        )
        assert agent["email"] == expected, how
        assert agent["name"] == "alice", how
    assert mask_email("alice.chen@example.com") == "a********n@example.com"


# ---------------------------------------------------------------- one masker, every path

OTHER_PHONE, OTHER_EMAIL = "+8613900139000", "wei.zhang@example.com"


def test_one_record_masks_identically_through_every_path(cli: Any, tmp_path: Path) -> None:
    """The same customer, masked by show, list, duplicates, export, export-data, audit list
    and comm due: every path shows the same masked values, and no path shows a plain one
    (the contact points a merge kept included)."""
    keep = cli.json(
        "customer", "add", "--name", "张伟", "--phone", PHONE, "--email", EMAIL,
        "--address", ADDRESS,
    )["id"]  # fmt: skip
    drop = cli.json(
        "customer", "add", "--name", "张伟", "--phone", OTHER_PHONE, "--email", OTHER_EMAIL
    )["id"]
    twin = cli.json("customer", "add", "--name", "张伟", "--phone", PHONE)["id"]
    cli.ok("customer", "merge", str(keep), str(drop), "--yes")
    cli.ok("comm", "log", str(keep), "-c", "phone", "--follow-up", "+1d")
    expected = {"phone": MASKED["phone"], "email": MASKED["email"], "address": MASKED["address"]}
    others = {"phone": mask_phone(OTHER_PHONE), "email": mask_email(OTHER_EMAIL)}

    def fields(row: dict[str, Any]) -> dict[str, Any]:
        return {k: row[k] for k in expected}

    shown = cli.json("customer", "show", str(keep), "--mask")
    assert fields(shown) == expected
    assert {(c["kind"], c["value"]) for c in shown["contact_points"]} == set(others.items())
    listed = cli.json("customer", "list", "--mask")
    assert fields(next(r for r in listed if r["id"] == keep)) == expected
    (group,) = cli.json("customer", "duplicates", "--mask")
    assert {c["id"] for c in group["customers"]} == {keep, twin}
    assert fields(next(c for c in group["customers"] if c["id"] == keep)) == expected
    out = tmp_path / "all.jsonl"
    cli.ok("customer", "export", "--format", "jsonl", "--out", str(out), "--mask")
    exported = next(r for r in map(json.loads, out.read_text().splitlines()) if r["id"] == keep)
    assert fields(exported) == expected
    assert (exported["other_phones"], exported["other_emails"]) == (
        [others["phone"]],
        [others["email"]],
    )
    subject = cli.json("customer", "export-data", str(keep), "--mask")
    assert fields(subject["customer"]) == expected
    audit = cli.json("audit", "list", "--entity", "customer", "--mask")
    created = next(r for r in audit if r["action"] == "create" and r["entity_id"] == str(keep))
    assert (created["details"]["phone"], created["details"]["email"]) == (
        expected["phone"],
        expected["email"],
    )
    merged = next(r for r in audit if r["action"] == "merge")
    assert {(c["kind"], c["value"]) for c in merged["details"]["contacts_added"]} == set(
        others.items()
    )
    (due,) = cli.json("comm", "due", "--within", "7d", "--mask")
    assert due["customer_phone"] == expected["phone"]
    everything = json.dumps([shown, listed, group, exported, subject, audit, due])
    everything += out.read_text()
    for plain in (PHONE, EMAIL, ADDRESS, OTHER_PHONE, OTHER_EMAIL):
        assert plain not in everything, plain


def test_bad_mask_option_is_a_usage_error(cli: Any, people: tuple[int, int]) -> None:
    result = cli("customer", "list", "--mask=maybe")
    assert result.exit_code == 2


# ---------------------------------------------------------------- files are 0600


def test_import_rejects_file_is_private(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "people.csv"
    src.write_text("name,phone,email\nGood,13800138000,g@example.com\nBad,12345,x@\n")
    old = os.umask(0o022)
    try:
        cli.ok("customer", "import", str(src))
    finally:
        os.umask(old)
    rejects = tmp_path / "people.rejects.csv"
    assert "12345" in rejects.read_text(encoding="utf-8-sig")
    assert mode(rejects) == 0o600


def test_comm_due_ics_is_private(cli: Any, people: tuple[int, int], tmp_path: Path) -> None:
    cli.ok("comm", "log", str(people[0]), "-c", "phone", "--follow-up", "+1d")
    target = tmp_path / "follow.ics"
    target.write_text("old")
    os.chmod(target, 0o644)  # replaced by a private file, not rewritten in place
    cli.ok("comm", "due", "--within", "7d", "--ics", str(target))
    assert b"BEGIN:VEVENT" in target.read_bytes()
    assert mode(target) == 0o600


def test_ticket_outbox_eml_is_private(
    cli: Any, people: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = tmp_path / "box"
    monkeypatch.setenv("CRM_OUTBOX", str(box))
    cli.ok("ticket", "open", str(people[0]), "--subject", "发票开错了")
    (eml,) = box.glob("*.eml")
    assert EMAIL in eml.read_text()
    assert mode(eml) == 0o600
    assert [p.name for p in box.iterdir()] == [eml.name]  # no temporary file left


@pytest.mark.parametrize("ext", ["html", "json", "csv", "xlsx"])
def test_report_out_is_private(cli: Any, people: tuple[int, int], tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"quality.{ext}"
    cli.ok("--quiet", "report", "quality", "--out", str(out))
    assert out.stat().st_size > 0 and mode(out) == 0o600


def test_warehouse_export_files_are_private(
    cli: Any, people: tuple[int, int], tmp_path: Path
) -> None:
    target = tmp_path / "wh"
    cli.ok("--quiet", "export", "warehouse", str(target), "--file-format", "csv", "--include-pii")
    files = list(target.iterdir())
    assert any(p.name == "dim_customer.csv" for p in files)
    assert PHONE in (target / "dim_customer.csv").read_text()
    assert files and all(mode(p) == 0o600 for p in files), {p.name: oct(mode(p)) for p in files}


def test_backups_are_private(cli: Any, people: tuple[int, int], tmp_path: Path) -> None:
    dest = tmp_path / "b.db"
    cli.ok("--quiet", "db", "backup", str(dest))
    assert mode(dest) == 0o600
