"""The auto-reply: an .eml file in the outbox, parsed back with the email package."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path


def read(path: Path):  # type: ignore[no-untyped-def]
    with open(path, "rb") as fh:
        return BytesParser(policy=policy.default).parse(fh)


def test_chinese_auto_reply_file(cli, add_customer, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    box = tmp_path / "box"
    monkeypatch.setenv("CRM_OUTBOX", str(box))
    cid = add_customer("张伟", email="zw@example.cn")
    tid = cli.ok("--as-of", "2024-03-04T09:00:00+08:00", "ticket", "open", str(cid),
                 "--subject", "发票开错了", "--priority", "high").strip()  # fmt: skip
    files = sorted(box.glob("*.eml"))
    assert [f.name for f in files] == [f"ticket-{tid}-autoreply-20240304T010000Z.eml"]
    msg = read(files[0])
    assert msg["To"] == "zw@example.cn"
    assert msg["Subject"] == f"回复：发票开错了【工单 #{tid}】"
    assert msg["X-CRM-Ticket"] == tid
    assert msg["Auto-Submitted"] == "auto-replied"
    body = msg.get_content()
    assert body.startswith("张伟，您好")
    assert "2024-03-04 13:00" in body  # high: first response within 4h (24x7 default)
    event = next(e for e in cli.json("ticket", "show", tid)["events"] if e["kind"] == "auto_reply")
    assert event["body"] == body.rstrip("\n")
    assert event["details"]["file"] == str(files[0])


def test_english_template_override_and_default_outbox(
    cli, add_customer, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CRM_OUTBOX", raising=False)
    cfg = tmp_path / "crm.toml"
    cfg.write_text(
        '[tickets.autoreply]\nfrom = "help@acme.test"\n'
        "[tickets.autoreply.templates.en.billing]\n"
        'subject = "[{ticket_id}] {subject}"\n'
        'body = "Hi {name}, billing will answer by {due}. {unknown} {name.__class__}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CRM_CONFIG", str(cfg))
    cid = add_customer("Ann Lee", email="ann@example.com")
    tid = cli.ok("--as-of", "2024-03-04T09:00:00+08:00", "ticket", "open", str(cid),
                 "--subject", "Wrong invoice", "--category", "billing").strip()  # fmt: skip
    files = list((tmp_path / "outbox").glob("*.eml"))  # beside the database file
    assert len(files) == 1
    msg = read(files[0])
    assert msg["From"] == "help@acme.test" and msg["Subject"] == f"[{tid}] Wrong invoice"
    assert msg.get_content().strip() == (
        "Hi Ann Lee, billing will answer by 2024-03-04 17:00. {unknown} {name.__class__}"
    )
    other = cli.ok("ticket", "open", str(cid), "--subject", "Login fails").strip()
    en = read(next((tmp_path / "outbox").glob(f"ticket-{other}-*.eml")))
    assert en.get_content().startswith("Dear Ann Lee,")  # built-in English default


def test_no_reply_and_disabled(cli, add_customer, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    box = tmp_path / "box"
    monkeypatch.setenv("CRM_OUTBOX", str(box))
    cid = add_customer()
    tid = cli.ok("ticket", "open", str(cid), "--subject", "x", "--no-reply").strip()
    assert not box.exists()
    kinds = [e["kind"] for e in cli.json("ticket", "show", tid)["events"]]
    assert "auto_reply" not in kinds


def test_outbox_path_is_a_file_fails_cleanly(cli, add_customer, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CRM_OUTBOX", str(blocker))
    cid = add_customer()
    result = cli("ticket", "open", str(cid), "--subject", "x")
    assert result.exit_code == 1 and result.stderr.startswith("Error: cannot write the auto-reply")
    assert cli.json("ticket", "list") == []
