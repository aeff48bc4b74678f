"""`crm ticket import`: history keeps timestamps and statuses; rejects; one transaction."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

HEADER = "工单号,客户编号,主题,描述,类别,优先级,状态,处理人,创建时间,首次响应时间,解决时间,关闭时间,满意度\n"


@pytest.fixture
def customers(add_customer) -> list[int]:  # type: ignore[no-untyped-def]
    return [add_customer("Ann", external_id="C1"), add_customer("Bob", external_id="C2")]


def write(tmp_path: Path, text: str, name: str = "tickets.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_history_import_keeps_times_and_statuses(cli, customers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(
        tmp_path,
        HEADER
        + "T1,C1,发票开错了,金额不对,billing,high,已处理,ann,2024-01-02 09:00,2024-01-02 09:30,2024-01-03 10:00,,4\n"
        + "T2,C2,快递没到,,shipping,,处理中,bob,2024-01-05 10:00,2024-01-05 11:00,,,\n"
        + "T3,C1,登录失败,,technical,紧急,未处理,,2024-01-06 08:00,,,,\n"
        + "T4,C2,退款,,billing,low,closed,ann,2024-01-07 08:00,,2024-01-08 08:00,2024-01-09 08:00,5\n",
        encoding="gb18030",
    )
    summary = cli.json("ticket", "import", str(path))
    assert (summary["inserted"], summary["rejected"], summary["encoding"]) == (4, 0, "gb18030")
    rows = {r["subject"]: r for r in cli.json("ticket", "list")}
    assert {k: r["status"] for k, r in rows.items()} == {
        "发票开错了": "resolved", "快递没到": "in_progress", "登录失败": "open", "退款": "closed",
    }  # fmt: skip
    first = cli.json("ticket", "show", str(rows["发票开错了"]["id"]))
    assert first["created_at"] == "2024-01-02T09:00:00+08:00"
    assert first["first_response_at"] == "2024-01-02T09:30:00+08:00"
    assert first["resolved_at"] == "2024-01-03T10:00:00+08:00"
    assert (first["priority"], first["assignee"], first["satisfaction"]) == ("high", "ann", 4)
    assert first["response_due_at"] == "2024-01-02T13:00:00+08:00"  # high: 4h from creation
    assert first["sla"]["response"]["state"] == "met"
    assert first["sla"]["resolution"]["state"] == "breached"  # 25h > 1d
    assert [(e["kind"], e["to_status"], e["at"]) for e in first["events"]] == [
        ("imported", "open", "2024-01-02T09:00:00+08:00"),
        ("status", "resolved", "2024-01-03T10:00:00+08:00"),
        ("rated", None, "2024-01-03T10:00:00+08:00"),
    ]
    assert cli.json("ticket", "show", str(rows["登录失败"]["id"]))["priority"] == "urgent"
    # Imports do not auto-reply or auto-assign.
    assert not (tmp_path / "outbox").exists()
    # Re-importing the same file changes nothing.
    again = cli.json("ticket", "import", str(path))
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 4)


def test_rejects_and_duplicates(cli, customers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(
        tmp_path,
        "external_id,customer_external_id,subject,status,created_at,resolved_at,satisfaction\n"
        "A1,C1,ok,open,2024-01-01,,\n"
        "A2,C9,unknown customer,open,2024-01-01,,\n"
        "A3,C1,,open,2024-01-01,,\n"
        "A4,C1,bad status,finished,2024-01-01,,\n"
        "A5,C1,resolved before created,resolved,2024-01-05,2024-01-01,\n"
        "A6,C1,rating while open,open,2024-01-01,,5\n"
        "A1,C1,dup,open,2024-01-01,,\n"
        "A7,C1,bad rating,resolved,2024-01-01,2024-01-02,9\n"
        "A8,C1,bad date,open,someday,,\n",
    )
    summary = cli.json("ticket", "import", str(path))
    # A bad rating or status is a field-level warning: A4, A6 and A7 are stored without it.
    assert (summary["inserted"], summary["rejected"], summary["duplicates"]) == (4, 4, 1)
    assert summary["warnings"] == 3 and summary["unknown_status"] == 1
    with open(summary["rejects_file"], encoding="utf-8-sig") as fh:
        reasons = {row["external_id"]: row["reason"] for row in csv.DictReader(fh)}
    assert reasons["A2"] == "no customer with external_id C9"
    assert reasons["A3"] == "no subject"
    assert "invalid status 'finished'" in reasons["A4"]
    assert reasons["A5"] == "resolved_at before created_at"
    assert reasons["A6"] == "satisfaction given but status is open"  # warning lines
    stored = {t["subject"]: t for t in cli.json("ticket", "list", "--limit", "0")}
    assert {"rating while open", "bad rating"} <= set(stored)
    assert stored["bad status"]["status"] == "open"  # as if the cell were empty
    assert "1..5" in reasons["A7"]
    assert "invalid created_at" in reasons["A8"]


def test_strict_dry_run_and_bad_files_change_nothing(cli, customers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "customer_external_id,subject\nC1,a\nC9,b\n")
    strict = cli("ticket", "import", str(path), "--strict")
    assert strict.exit_code == 2 and "nothing imported" in strict.stderr
    assert cli.json("ticket", "list") == []
    dry = cli.json("ticket", "import", str(path), "--dry-run")
    assert dry["inserted"] == 1 and dry["dry_run"] is True
    assert cli.json("ticket", "list") == []
    assert cli("ticket", "import", str(tmp_path / "missing.csv")).exit_code == 2
    no_customer = write(tmp_path, "subject\nx\n", "n.csv")
    assert cli("ticket", "import", str(no_customer)).exit_code == 2
    mapped = write(tmp_path, "who,what\nC2,hello\n", "m.csv")
    out = cli.json(
        "ticket",
        "import",
        str(mapped),
        "--map",
        "who=customer_external_id",
        "--map",
        "what=subject",
    )
    assert out["inserted"] == 1
    assert cli.json("ticket", "list")[0]["customer_id"] == customers[1]
