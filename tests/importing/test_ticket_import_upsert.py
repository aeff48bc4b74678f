"""`crm ticket import` upserts: an update sets only what the file says, never invents a
history time, a bad optional cell is a field warning, and a re-import changes nothing."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

FULL = (
    "external_id,customer_external_id,subject,description,priority,status,assignee,category,"
    "created_at,first_response_at,resolved_at,satisfaction\n"
    "T1,C1,Invoice wrong,desc one,urgent,resolved,alice,billing,"
    "2024-03-01 09:00,2024-03-01 09:30,2024-03-01 12:00,5\n"
)


@pytest.fixture
def customers(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_TZ", "Europe/Berlin")
    path = tmp_path / "customers.csv"
    path.write_text(
        "external_id,name,email\nC1,Alice Adams,alice@example.com\nC3,张伟,zw@example.cn\n",
        encoding="utf-8",
    )
    cli.ok("customer", "import", str(path))


def write(tmp_path: Path, text: str, name: str = "tickets.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one(cli: Any, subject: str) -> dict[str, Any]:
    rows = [t for t in cli.json("ticket", "list", "--limit", "0") if t["subject"] == subject]
    assert len(rows) == 1
    return cli.json("ticket", "show", str(rows[0]["id"]))  # type: ignore[no-any-return]


def rejects(summary: dict[str, Any]) -> list[dict[str, str]]:
    with open(summary["rejects_file"], encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


KEPT = (
    "description",
    "assignee",
    "category",
    "priority",
    "first_response_at",
    "resolved_at",
    "satisfaction",
    "rated_at",
    "response_due_at",
    "due_at",
    "created_at",
)


def test_update_sets_only_given_cells_and_records_the_status_change(
    cli: Any, customers: None, tmp_path: Path
) -> None:
    cli.ok("ticket", "import", str(write(tmp_path, FULL)))
    before = one(cli, "Invoice wrong")
    assert before["resolved_at"] == "2024-03-01T12:00:00+01:00"
    later = write(
        tmp_path,
        "external_id,customer_external_id,subject,status\nT1,C1,Invoice wrong,closed\n",
        "b.csv",
    )
    summary = cli.json("ticket", "import", str(later), env={"CRM_NOW": "2024-04-02T10:00"})
    assert (summary["updated"], summary["inserted"], summary["rejected"]) == (1, 0, 0)
    after = one(cli, "Invoice wrong")
    assert {k: after[k] for k in KEPT} == {k: before[k] for k in KEPT}
    assert after["status"] == "closed"
    assert after["closed_at"] is None  # the file does not say when: not invented
    assert summary["closed_without_time"] == 1 and summary["resolved_without_time"] == 0
    status = [e for e in after["events"] if e["kind"] == "status"]
    assert [(e["from_status"], e["to_status"]) for e in status][-1] == ("resolved", "closed")
    assert status[-1]["details"]["action"] == "close"
    # Once more: nothing left to change.
    again = cli.json("ticket", "import", str(later), env={"CRM_NOW": "2024-04-03T10:00"})
    assert (again["updated"], again["unchanged"]) == (0, 1)


def test_empty_cells_never_erase_and_a_reopen_is_a_status_event(
    cli: Any, customers: None, tmp_path: Path
) -> None:
    cli.ok("ticket", "import", str(write(tmp_path, FULL)))
    blank = write(
        tmp_path,
        "external_id,customer_external_id,subject,description,priority,assignee,category,"
        "first_response_at,resolved_at,satisfaction\nT1,C1,Invoice wrong,,,,,,,\n",
        "blank.csv",
    )
    summary = cli.json("ticket", "import", str(blank))
    assert (summary["updated"], summary["unchanged"]) == (0, 1)
    reopen = write(
        tmp_path,
        "external_id,customer_external_id,subject,status,assignee\nT1,C1,Invoice wrong,open,bob\n",
        "reopen.csv",
    )
    assert cli.json("ticket", "import", str(reopen))["updated"] == 1
    after = one(cli, "Invoice wrong")
    assert (after["status"], after["assignee"], after["description"]) == ("open", "bob", "desc one")
    assert after["resolved_at"] is None and after["sla_paused_at"] is None
    last = [e for e in after["events"] if e["kind"] == "status"][-1]
    assert (last["from_status"], last["to_status"], last["details"]["action"]) == (
        "resolved",
        "open",
        "reopen",
    )


def test_resolution_times_are_never_invented(cli: Any, customers: None, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "工单号,客户编号,主题,状态,创建时间\n"
        "Z1,C3,发票开错了,已处理,2024-03-01 09:00\n"
        "Z2,C3,退款,已关闭,2024-03-02 09:00\n",
    )
    dry = cli("ticket", "import", str(path), "--dry-run", env={"CRM_NOW": "2024-04-01T10:00"})
    # the one-line summary says so too, not only the JSON
    assert "; 2 resolved without a time; 1 closed without a time" in dry.stdout + dry.stderr
    summary = cli.json("ticket", "import", str(path), env={"CRM_NOW": "2024-04-01T10:00"})
    assert summary["inserted"] == 2
    assert summary["resolved_without_time"] == 2 and summary["closed_without_time"] == 1
    z1, z2 = one(cli, "发票开错了"), one(cli, "退款")
    assert (z1["status"], z1["resolved_at"], z1["closed_at"]) == ("resolved", None, None)
    assert (z2["status"], z2["resolved_at"], z2["closed_at"]) == ("closed", None, None)
    # The SLA code does not pretend to know: no resolution minutes, no met/breached verdict.
    assert z1["sla"]["resolution_minutes_used"] is None
    assert z1["sla"]["resolution"]["state"] == "unknown"
    assert z1["sla"]["response"]["state"] == "unknown"  # no first response, no stop time
    assert cli.json("ticket", "list", "--breached") == []
    rep = cli.json("report", "tickets", "--since", "2024-02-01", "--as-of", "2024-04-30")
    times = {r["measure"]: r for r in rep["times"]}
    assert times["resolution_hours"]["n"] == 0  # not counted as 0.0 h
    assert rep["summary"]["resolution_median_h"] is None
    resolution = next(r for r in rep["sla"] if r["clock"] == "resolution")
    # neither met nor breached: the time is not known (db/ticket_stats.sla_outcomes)
    assert (resolution["met"], resolution["breached"], resolution["unknown"]) == (0, 0, 2)
    assert resolution["pending"] == 0 and resolution["compliance_pct"] is None
    response = next(r for r in rep["sla"] if r["clock"] == "first_response")
    assert (response["breached"], response["unknown"]) == (0, 2)
    assert rep["summary"]["resolved"] == 0  # no resolution time to put in a period
    # Resolved when the import learnt it (the timeline says time unknown): not backlog.
    assert rep["summary"]["backlog"] == 0
    status = [e for e in z1["events"] if e["kind"] == "status"]
    assert [(e["to_status"], e["details"]["time_unknown"]) for e in status] == [("resolved", True)]


def test_bad_optional_cells_are_field_warnings(cli: Any, customers: None, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "external_id,customer_external_id,subject,status,priority,created_at,first_response_at\n"
        "B1,C1,bad time,open,high,2024-03-01 09:00,not a date\n"
        "B2,C1,solved,Solved,P1,2024-03-01 09:00,2024-03-01 10:00\n"
        "B3,C1,waiting,Waiting on Customer,Highest,2024-03-01 09:00,2024-03-01 10:00\n"
        "B4,C1,todo,To Do,Medium,2024-03-01 09:00,\n"
        "B5,C1,progress,In Progress,Critical,2024-03-01 09:00,2024-03-01 10:00\n"
        "B6,C1,done,Done,Lowest,2024-03-01 09:00,\n"
        "B7,C1,zendesk new,New,P4,2024-03-01 09:00,\n"
        "B8,C1,on hold,On-hold,Whatever,2024-03-01 09:00,\n"
        "B9,C1,pending,Pending,P2,2024-03-01 09:00,2024-03-01 10:00\n",
    )
    summary = cli.json("ticket", "import", str(path))
    assert (summary["inserted"], summary["rejected"], summary["warnings"]) == (9, 0, 3)
    assert summary["unknown_status"] == 1 and summary["unknown_priority"] == 1
    got = {
        t["subject"]: (t["status"], t["priority"])
        for t in cli.json("ticket", "list", "--limit", "0")
    }
    assert got == {
        "bad time": ("open", "high"),
        "solved": ("resolved", "urgent"),
        "waiting": ("waiting", "urgent"),
        "todo": ("open", "normal"),
        "progress": ("in_progress", "urgent"),
        "done": ("resolved", "low"),
        "zendesk new": ("open", "low"),
        "on hold": ("open", "normal"),  # ambiguous here: the default, with a warning
        "pending": ("waiting", "high"),
    }
    assert one(cli, "bad time")["first_response_at"] is None
    warned = {(r["external_id"], r["field"]) for r in rejects(summary)}
    assert warned == {("B1", "first_response_at"), ("B8", "status"), ("B8", "priority")}
    reasons = {r["field"]: r["reason"] for r in rejects(summary) if r["external_id"] == "B8"}
    assert "invalid status 'On-hold'" in reasons["status"] and "as if" in reasons["status"]
    # --strict-fields still rejects such a row.
    strict = cli.json("ticket", "import", str(path), "--strict-fields", "--dry-run")
    assert strict["rejected"] == 2


def test_bad_optional_time_on_update_keeps_the_stored_one(
    cli: Any, customers: None, tmp_path: Path
) -> None:
    cli.ok("ticket", "import", str(write(tmp_path, FULL)))
    bad = write(
        tmp_path,
        "external_id,customer_external_id,subject,first_response_at,status\n"
        "T1,C1,Invoice wrong,not a date,Bogus\n",
        "bad.csv",
    )
    summary = cli.json("ticket", "import", str(bad))
    assert (summary["unchanged"], summary["warnings"], summary["rejected"]) == (1, 2, 0)
    after = one(cli, "Invoice wrong")
    assert after["first_response_at"] == "2024-03-01T09:30:00+01:00"
    assert after["status"] == "resolved"


def test_reimport_without_created_at_changes_nothing(
    cli: Any, customers: None, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "external_id,customer_external_id,subject,priority\nN1,C1,No date,high\n",
    )
    first = cli.json("ticket", "import", str(path), env={"CRM_NOW": "2024-04-01T10:00"})
    assert first["inserted"] == 1
    before = one(cli, "No date")
    again = cli.json("ticket", "import", str(path), env={"CRM_NOW": "2024-04-02T10:00"})
    assert (again["updated"], again["unchanged"]) == (0, 1)
    after = one(cli, "No date")
    assert (after["response_due_at"], after["due_at"]) == (
        before["response_due_at"],
        before["due_at"],
    )
