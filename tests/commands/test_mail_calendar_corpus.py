"""Corpus: every mail and calendar file under tests/data/mail and tests/data/calendar goes
through the real CLI. Per item (message, occurrence) and per file it counts ok / refused /
crashed; any crash fails, and every refusal carries a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data"
MAIL_SUFFIXES = {".eml", ".mbox", ".txt", ".raw"}


def mail_sources() -> list[Path]:
    root = DATA / "mail"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MAIL_SUFFIXES)


def run(cli: Any, args: list[str]) -> tuple[str, dict[str, Any] | None, str]:
    """('ok' | 'refused' | 'crashed', summary, stderr)."""
    try:
        result = cli("--format", "json", *args)
    except Exception as exc:  # noqa: BLE001 - a crash is what this test counts
        return "crashed", None, f"{type(exc).__name__}: {exc}"
    stderr = result.stderr
    if "unexpected" in stderr or "Traceback" in stderr or result.exit_code not in (0, 1, 2, 3):
        return "crashed", None, stderr
    if result.exit_code != 0:
        assert stderr.strip(), f"refused without a reason: {args}"
        return "refused", None, stderr
    return "ok", json.loads(result.stdout), stderr


def test_mail_corpus(cli: Any, add_customer: Any, capsys: Any) -> None:
    add_customer("张伟", email="zhang.wei@client.cn")
    counts = {"ok": 0, "refused": 0, "crashed": 0}
    items = {"ok": 0, "refused": 0}
    crashes = []
    for path in mail_sources():
        verdict, summary, stderr = run(
            cli, ["comm", "import-mail", str(path), "--our-domain", "ourco.com", "--create-leads"]
        )
        counts[verdict] += 1
        if verdict == "crashed":
            crashes.append(f"{path.name}: {stderr.strip()[-300:]}")
        if summary is not None:
            items["refused"] += len(summary["skipped"])
            items["ok"] += summary["items"] - len(summary["skipped"])
            assert all(s["reason"].strip() for s in summary["skipped"])
    with capsys.disabled():
        print(f"\nmail corpus: files {counts}, messages {items}")
    assert not crashes, crashes
    assert counts["ok"] == len(mail_sources())


def test_calendar_corpus(cli: Any, add_customer: Any, capsys: Any) -> None:
    add_customer("张伟", email="zhang.wei@client.cn")
    counts = {"ok": 0, "refused": 0, "crashed": 0}
    items = {"ok": 0, "refused": 0}
    crashes = []
    files = sorted((DATA / "calendar").glob("*.ics"))
    for path in files:
        verdict, summary, stderr = run(
            cli,
            ["comm", "import-calendar", str(path), "--our-domain", "ourco.com",
             "--since", "2025-01-01", "--until", "2027-01-01", "--dry-run"],
        )  # fmt: skip
        counts[verdict] += 1
        if verdict == "crashed":
            crashes.append(f"{path.name}: {stderr.strip()[-300:]}")
        if summary is not None:
            items["refused"] += len(summary["skipped"])
            items["ok"] += summary["items"] - len(summary["skipped"])
            assert all(s["reason"].strip() for s in summary["skipped"])
    with capsys.disabled():
        print(f"\ncalendar corpus: files {counts}, occurrences {items}")
    assert not crashes, crashes
    assert counts["ok"] == len(files)
