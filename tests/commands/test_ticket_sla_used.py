"""`sla.response_minutes_used` / `sla.resolution_minutes_used`: business time, net of pauses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    box = tmp_path / "outbox"
    monkeypatch.setenv("CRM_OUTBOX", str(box))
    return box


@pytest.fixture
def business_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = tmp_path / "crm.toml"
    cfg.write_text(
        '[tickets.sla]\nbusiness_hours = "09:00-18:00"\ntimezone = "Asia/Shanghai"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CRM_CONFIG", str(cfg))
    return cfg


def _open(cli: Any, customer: int, at: str) -> int:
    return int(cli.ok("--as-of", at, "ticket", "open", str(customer), "--subject", "help").strip())


def test_opened_0900_waiting_1000_to_1400_resolved_1500_used_120_minutes(
    cli: Any, add_customer: Any
) -> None:
    tid = _open(cli, add_customer(), "2024-03-04T09:00:00+08:00")  # a Monday
    cli.ok("--as-of", "2024-03-04T10:00:00+08:00", "ticket", "wait", str(tid))
    cli.ok("--as-of", "2024-03-04T14:00:00+08:00", "ticket", "start", str(tid))
    cli.ok("--as-of", "2024-03-04T15:00:00+08:00", "ticket", "resolve", str(tid))
    shown = cli.json("--as-of", "2024-03-05T12:00:00+08:00", "ticket", "show", str(tid))
    # 09:00 -> 15:00 is 360 minutes, 240 of them waiting on the customer.
    assert shown["sla"]["resolution_minutes_used"] == 120
    # The first response was the move to waiting at 10:00.
    assert shown["sla"]["response_minutes_used"] == 60
    listed = cli.json("--as-of", "2024-03-05T12:00:00+08:00", "ticket", "list")
    row = next(r for r in listed if r["id"] == tid)
    assert row["sla"]["resolution_minutes_used"] == 120
    assert row["sla"]["response_minutes_used"] == 60
    assert "remaining_minutes" in row["sla"]["resolution"]


def test_used_minutes_count_business_hours_only(
    cli: Any, add_customer: Any, business_hours: Path
) -> None:
    # Friday 17:00, business hours 09-18 Monday to Friday: still open on Monday 10:00 ->
    # 60 (Fri 17-18) + 60 (Mon 09-10) = 120 minutes; the weekend does not count.
    tid = _open(cli, add_customer(), "2024-03-08T17:00:00+08:00")
    shown = cli.json("--as-of", "2024-03-11T10:00:00+08:00", "ticket", "show", str(tid))
    assert shown["sla"]["response_minutes_used"] == 120
    assert shown["sla"]["resolution_minutes_used"] == 120
    # A reply that waits on the customer at Monday 10:00 stops both clocks there.
    cli.ok("--as-of", "2024-03-11T10:00:00+08:00", "ticket", "wait", str(tid))
    later = cli.json("--as-of", "2024-03-12T15:00:00+08:00", "ticket", "show", str(tid))
    assert later["sla"]["resolution_minutes_used"] == 120
    assert later["sla"]["response_minutes_used"] == 120
