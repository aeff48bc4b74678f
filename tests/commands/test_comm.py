"""`crm comm ...`: the contact log, follow-ups, import, and the hourly aggregate's triggers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crmcli.db import connect

NOW = "2024-03-05T12:00:00+08:00"  # a Tuesday, noon in Shanghai


def rows(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def stored(db_path: Path, comm_id: int, column: str) -> Any:
    return rows(db_path, f"SELECT {column} FROM communications WHERE id = ?", (comm_id,))[0][0]


@pytest.fixture
def customer(add_customer: Callable[..., int]) -> int:
    return add_customer("张伟", external_id="E-1", email="zw@example.cn", phone="13800138000")


def log(cli: Any, *args: str, env: dict[str, str] | None = None) -> int:
    return int(cli.ok("comm", "log", *args, env=env or {"CRM_NOW": NOW}).strip())


# ------------------------------------------------------------------ log


def test_log_prints_the_id_and_stores_aliases_duration_and_follow_up(
    cli: Any, customer: int, db_path: Path
) -> None:
    cid = log(
        cli, str(customer), "--channel", "电话", "--direction", "呼入", "--subject", "报价",
        "--duration", "15m", "--follow-up", "+3d", "--agent", "alice", "--content", "询价 100 件",
    )  # fmt: skip
    record = cli.json("comm", "show", str(cid))
    assert record["channel"] == "phone" and record["direction"] == "inbound"
    assert record["duration_s"] == 900 and record["agent"] == "alice"
    assert record["content"] == "询价 100 件"
    assert stored(db_path, cid, "occurred_at") == "2024-03-05T04:00:00Z"
    assert stored(db_path, cid, "follow_up_at") == "2024-03-08T04:00:00Z"
    assert record["follow_up_at"] == "2024-03-08T12:00:00+08:00"  # shown in CRM_TZ


@pytest.mark.parametrize(
    ("when", "utc"),
    [
        ("2021-01-01 10:00", "2021-01-01T02:00:00Z"),
        ("2021/1/1", "2020-12-31T16:00:00Z"),
        ("tomorrow 9am", "2024-03-06T01:00:00Z"),
        ("+3d", "2024-03-08T04:00:00Z"),
        ("2024-03-05T23:30:00Z", "2024-03-05T23:30:00Z"),
        ("2024年3月1日 14:30", "2024-03-01T06:30:00Z"),
    ],
)
def test_date_forms_are_read_in_the_configured_zone(
    cli: Any, customer: int, db_path: Path, when: str, utc: str
) -> None:
    cid = log(cli, str(customer), "-c", "email", "--at", when)
    assert stored(db_path, cid, "occurred_at") == utc


def test_log_finds_the_customer_by_external_id_email_or_phone(cli: Any, customer: int) -> None:
    a = log(cli, "--external-id", "E-1", "-c", "sms")
    b = log(cli, "--email", "ZW@example.cn", "-c", "chat")
    c = log(cli, "--phone", "138 0013 8000", "-c", "visit")
    found = {r["id"]: r["customer_id"] for r in cli.json("comm", "list")}
    assert found == {a: customer, b: customer, c: customer}


def test_content_from_stdin_and_from_a_file(cli: Any, customer: int, tmp_path: Path) -> None:
    from_stdin = int(
        cli.ok(
            "comm", "log", str(customer), "-c", "email", "--content", "-", input="第一行\n第二行\n"
        ).strip()
    )
    note = tmp_path / "note.txt"
    note.write_text("meeting notes\n", encoding="utf-8")
    from_file = log(cli, str(customer), "-c", "meeting", "--content-file", str(note))
    assert cli.json("comm", "show", str(from_stdin))["content"] == "第一行\n第二行"
    assert cli.json("comm", "show", str(from_file))["content"] == "meeting notes"
    both = cli(
        "comm", "log", str(customer), "-c", "email", "--content", "x", "--content-file", str(note)
    )
    assert both.exit_code == 2 and "not both" in both.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-c", "fax"], 2, "invalid channel 'fax'"),
        (["-c", "phone", "--direction", "sideways"], 2, "invalid direction"),
        (["-c", "phone", "--at", "not a date"], 2, "invalid --at"),
        (["-c", "phone", "--duration", "soon"], 2, "invalid --duration"),
        ([], 2, "give --channel"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    cli: Any, customer: int, db_path: Path, args: list[str], code: int, message: str
) -> None:
    result = cli("comm", "log", str(customer), *args)
    assert result.exit_code == code
    assert message in result.stderr and "Traceback" not in result.stderr
    assert rows(db_path, "SELECT count(*) FROM communications")[0][0] == 0


def test_unknown_customer_is_not_found(cli: Any, customer: int) -> None:
    assert cli("comm", "log", "999", "-c", "phone").exit_code == 3
    assert cli("comm", "log", "--email", "nobody@example.cn", "-c", "phone").exit_code == 3
    both = cli("comm", "log", str(customer), "--email", "zw@example.cn", "-c", "phone")
    assert both.exit_code == 2


# ------------------------------------------------------------------ list / show / update / delete


def test_list_filters(cli: Any, customer: int, add_customer: Callable[..., int]) -> None:
    other = add_customer("李娜")
    a = log(
        cli,
        str(customer),
        "-c",
        "phone",
        "--agent",
        "alice",
        "--at",
        "2024-01-10 09:00",
        "--subject",
        "报价单",
    )
    b = log(
        cli,
        str(customer),
        "-c",
        "email",
        "--agent",
        "bob",
        "--at",
        "2024-02-10 09:00",
        "--content",
        "合同草稿",
    )
    c = log(cli, str(other), "-c", "phone", "--agent", "alice", "--at", "2024-03-01 09:00")
    ids = lambda *args: [r["id"] for r in cli.json("comm", "list", *args)]  # noqa: E731
    assert ids() == [c, b, a]  # newest first
    assert ids("--customer", str(customer)) == [b, a]
    assert ids("--external-id", "E-1", "--channel", "电话") == [a]
    assert ids("--agent", "alice") == [c, a]
    assert ids("--since", "2024-02-01", "--until", "2024-03-01") == [b]
    assert ids("--search", "合同") == [b]
    assert ids("--search", "报价") == [a]
    assert ids("--limit", "1") == [c]
    assert cli("comm", "list", "--since", "2024-03-01", "--until", "2024-01-01").exit_code == 2
    assert cli.json("comm", "list", "--agent", "nobody") == []


def test_update_shows_the_diff_and_audits(cli: Any, customer: int, db_path: Path) -> None:
    cid = log(cli, str(customer), "-c", "phone", "--subject", "old", "--follow-up", "+1d")
    diff = cli.json(
        "comm", "update", str(cid), "--subject", "new", "--channel", "chat", "--follow-up", ""
    )
    changed = {d["field"]: d["new"] for d in diff}
    assert changed == {"subject": "new", "channel": "chat", "follow_up_at": None}
    assert stored(db_path, cid, "follow_up_at") is None
    assert cli("comm", "update", "999", "--subject", "x").exit_code == 3
    assert cli("comm", "update", str(cid)).exit_code == 2
    actions = rows(
        db_path, "SELECT action FROM audit_log WHERE entity = 'communication' ORDER BY id"
    )
    assert [a[0] for a in actions] == ["create", "update"]


def test_delete_needs_yes_off_a_terminal(cli: Any, customer: int, db_path: Path) -> None:
    cid = log(cli, str(customer), "-c", "phone")
    refused = cli("comm", "delete", str(cid))
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert cli.json("comm", "show", str(cid))["id"] == cid
    assert cli.json("comm", "delete", str(cid), "--yes") == {"id": cid, "deleted": True}
    assert cli("comm", "show", str(cid)).exit_code == 3
    audit = rows(db_path, "SELECT action, entity_id FROM audit_log WHERE entity='communication'")
    assert ("delete", str(cid)) in audit


# ------------------------------------------------------------------ follow-ups


def test_due_lists_open_follow_ups_oldest_first(cli: Any, customer: int) -> None:
    late = log(cli, str(customer), "-c", "phone", "--follow-up", "-2d", "--agent", "alice")
    soon = log(cli, str(customer), "-c", "phone", "--follow-up", "+2d", "--agent", "bob")
    far = log(cli, str(customer), "-c", "phone", "--follow-up", "+20d", "--agent", "alice")
    env = {"CRM_NOW": NOW}
    due = cli.json("comm", "due", env=env)
    assert [r["id"] for r in due] == [late, soon]
    assert [r["overdue"] for r in due] == [True, False]
    assert [r["id"] for r in cli.json("comm", "due", "--within", "30d", env=env)] == [
        late,
        soon,
        far,
    ]
    assert [r["id"] for r in cli.json("comm", "due", "--all", env=env)] == [late, soon, far]
    assert [r["id"] for r in cli.json("comm", "due", "--overdue", env=env)] == [late]
    assert [
        r["id"] for r in cli.json("comm", "due", "--agent", "alice", "--within", "30d", env=env)
    ] == [late, far]
    done = cli.json("comm", "done", str(late), env=env)
    assert done["id"] == late and done["done_at"].startswith("2024-03-05T12:00:00")
    assert [r["id"] for r in cli.json("comm", "due", env=env)] == [soon]
    again = cli("comm", "done", str(late))
    assert again.exit_code == 4 and "already done" in again.stderr
    plain = log(cli, str(customer), "-c", "email")
    assert cli("comm", "done", str(plain)).exit_code == 4
    assert cli("comm", "due", "--within", "soon").exit_code == 2


def test_due_ics_writes_vevents(cli: Any, customer: int, tmp_path: Path) -> None:
    from icalendar import Calendar

    first = log(cli, str(customer), "-c", "phone", "--follow-up", "+1d", "--subject", "回访")
    second = log(cli, str(customer), "-c", "email", "--follow-up", "+2d")
    target = tmp_path / "follow.ics"
    summary = cli.json("comm", "due", "--ics", str(target), env={"CRM_NOW": NOW})
    assert summary == {"file": str(target), "events": 2}
    cal = Calendar.from_ical(target.read_bytes())
    events = list(cal.walk("VEVENT"))
    assert [str(e["uid"]) for e in events] == [
        f"crm-comm-{first}-follow-up@crmcli",
        f"crm-comm-{second}-follow-up@crmcli",
    ]
    assert events[0].decoded("dtstart").isoformat() == "2024-03-06T04:00:00+00:00"
    assert "回访" in str(events[0]["summary"]) and "张伟" in str(events[0]["summary"])
    assert not list(tmp_path.glob("*.part"))
    bad = cli("comm", "due", "--ics", str(tmp_path / "missing" / "x.ics"))
    assert bad.exit_code == 2


# ------------------------------------------------------------------ customer show


def test_customer_show_gains_recent_contacts_and_next_follow_up(cli: Any, customer: int) -> None:
    ids = [
        log(cli, str(customer), "-c", "phone", "--at", f"2024-01-{d:02d} 10:00")
        for d in range(1, 8)
    ]
    follow = log(
        cli,
        str(customer),
        "-c",
        "email",
        "--at",
        "2024-01-08 10:00",
        "--follow-up",
        "2024-04-01 09:00",
    )
    shown = cli.json("customer", "show", str(customer))
    assert [c["id"] for c in shown["communications"]] == [follow, *reversed(ids[-4:])]
    assert shown["next_follow_up"]["id"] == follow
    assert shown["next_follow_up"]["follow_up_at"] == "2024-04-01T09:00:00+08:00"


def test_customer_show_in_a_fresh_process_lists_contacts(customer: int, db_path: Path) -> None:
    """End to end: the customer group loads the extension without the comm group."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "CRM_DB": str(db_path), "CRM_TZ": "Asia/Shanghai"}
    crm = [sys.executable, "-m", "crmcli"]
    logged = subprocess.run(
        [*crm, "comm", "log", str(customer), "-c", "visit", "--follow-up", "2030-01-01 09:00"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert logged.returncode == 0, logged.stderr
    shown = subprocess.run(
        [*crm, "customer", "show", str(customer), "--format", "json"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert [c["id"] for c in record["communications"]] == [int(logged.stdout)]
    assert record["next_follow_up"]["follow_up_at"] == "2030-01-01T09:00:00+08:00"


# ------------------------------------------------------------------ import

CSV = """客户编号,时间,渠道,方向,主题,内容,坐席,时长
E-1,2024-01-02 09:30,电话,呼入,报价,询价,alice,5m
E-1,2024/1/3,邮件,呼出,合同,,bob,
E-404,2024-01-04 10:00,phone,inbound,nobody,,alice,
E-1,2024-01-05 10:00,fax,inbound,bad channel,,alice,
E-1,2024-01-02 09:30,电话,呼入,报价,再次,alice,5m
"""


def test_import_with_chinese_headers_rejects_and_one_audit_row(
    cli: Any, customer: int, tmp_path: Path, db_path: Path
) -> None:
    src = tmp_path / "calls.csv"
    src.write_text(CSV, encoding="gb18030")
    result = cli("comm", "import", str(src), "--format", "json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["encoding"] == "gb18030"
    assert (summary["rows"], summary["inserted"], summary["rejected"], summary["duplicates"]) == (
        5,
        2,
        2,
        1,
    )
    rejects = (tmp_path / "calls.rejects.csv").read_text(encoding="utf-8-sig")
    assert "no customer with external_id E-404" in rejects and "invalid channel 'fax'" in rejects
    assert "duplicate of line 2" in rejects
    listed = cli.json("comm", "list")
    assert {(r["channel"], r["direction"], r["agent"]) for r in listed} == {
        ("phone", "inbound", "alice"),
        ("email", "outbound", "bob"),
    }
    phone = next(r for r in listed if r["channel"] == "phone")
    assert cli.json("comm", "show", str(phone["id"]))["duration_s"] == 300
    audits = rows(db_path, "SELECT action, details FROM audit_log WHERE entity='communication'")
    assert len(audits) == 1 and audits[0][0] == "import"
    assert json.loads(audits[0][1])["inserted"] == 2
    # Importing the same file again adds nothing.
    again = json.loads(cli("comm", "import", str(src), "--format", "json").stdout)
    assert (again["inserted"], again["unchanged"]) == (0, 2)
    assert rows(db_path, "SELECT count(*) FROM communications")[0][0] == 2


def test_import_dry_run_and_strict_change_nothing(
    cli: Any, customer: int, tmp_path: Path, db_path: Path
) -> None:
    src = tmp_path / "calls.csv"
    src.write_text(CSV, encoding="utf-8")
    dry = json.loads(cli("comm", "import", str(src), "--dry-run", "--format", "json").stdout)
    assert dry["dry_run"] is True and dry["inserted"] == 2
    strict = cli("comm", "import", str(src), "--strict")
    assert strict.exit_code == 2 and "nothing imported" in strict.stderr
    assert rows(db_path, "SELECT count(*) FROM communications")[0][0] == 0
    assert rows(db_path, "SELECT count(*) FROM audit_log WHERE entity='communication'")[0][0] == 0


def test_import_customer_key_and_external_id_upsert(
    cli: Any, customer: int, tmp_path: Path
) -> None:
    src = tmp_path / "mail.csv"
    src.write_text(
        "external_id,customer_email,customer_id,occurred_at,channel,subject\n"
        "M-1,zw@example.cn,999,2024-02-01 08:00,email,hello\n",
        encoding="utf-8",
    )
    by_id = cli("comm", "import", str(src), "--customer-key", "id", "--format", "json")
    assert json.loads(by_id.stdout)["rejected"] == 1
    first = json.loads(
        cli("comm", "import", str(src), "--customer-key", "email", "--format", "json").stdout
    )
    assert first["inserted"] == 1
    src.write_text(
        "external_id,customer_email,occurred_at,channel,subject\n"
        "M-1,zw@example.cn,2024-02-01 08:00,email,hello again\n",
        encoding="utf-8",
    )
    second = json.loads(cli("comm", "import", str(src), "--format", "json").stdout)
    assert (second["inserted"], second["updated"]) == (0, 1)
    assert [r["subject"] for r in cli.json("comm", "list")] == ["hello again"]
    assert cli("comm", "import", str(src), "--customer-key", "phone").exit_code == 2
    assert cli("comm", "import", str(tmp_path / "missing.csv")).exit_code == 2


# ------------------------------------------------------------------ the hourly aggregate


def aggregate_matches(db_path: Path) -> None:
    direct = rows(
        db_path,
        "SELECT substr(occurred_at, 1, 13), channel, direction, count(*) FROM communications"
        " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    kept = rows(db_path, "SELECT hour_utc, channel, direction, n FROM comm_hourly ORDER BY 1, 2, 3")
    assert kept == direct


def test_comm_hourly_follows_inserts_updates_and_deletes(
    cli: Any, customer: int, db_path: Path
) -> None:
    a = log(cli, str(customer), "-c", "phone", "--at", "2024-01-01 10:15")
    log(cli, str(customer), "-c", "phone", "--at", "2024-01-01 10:45")
    c = log(cli, str(customer), "-c", "email", "--at", "2024-01-01 11:05")
    aggregate_matches(db_path)
    assert rows(db_path, "SELECT n FROM comm_hourly WHERE hour_utc = '2024-01-01T02'") == [(2,)]
    cli.ok("comm", "update", str(a), "--at", "2024-01-02 10:00", "--direction", "inbound")
    aggregate_matches(db_path)
    cli.ok("comm", "delete", str(c), "--yes")
    aggregate_matches(db_path)
    assert rows(db_path, "SELECT count(*) FROM comm_hourly WHERE n <= 0") == [(0,)]
    cli.ok("customer", "delete", str(customer), "--yes", "--cascade")
    assert rows(db_path, "SELECT count(*) FROM comm_hourly") == [(0,)]


def test_migration_backfills_existing_communications(
    cli: Any, customer: int, db_path: Path
) -> None:
    for day in (1, 1, 2, 3):
        log(cli, str(customer), "-c", "visit", "--at", f"2024-01-0{day} 10:00")
    conn = sqlite3.connect(db_path)
    conn.executescript(
        "DROP TRIGGER comm_hourly_ai; DROP TRIGGER comm_hourly_ad; DROP TRIGGER comm_hourly_au;"
        "DROP TABLE comm_hourly; DELETE FROM _migrations WHERE name = 'm010_comm_hourly';"
    )
    # A database made before m010 also had the lower schema version.
    applied = conn.execute("SELECT count(*) FROM _migrations").fetchone()[0]
    conn.execute(f"PRAGMA user_version = {applied}")
    conn.close()
    connect(db_path).close()  # opening the database applies the migration again
    aggregate_matches(db_path)
    assert rows(db_path, "SELECT sum(n) FROM comm_hourly") == [(4,)]


def test_comm_log_imports_no_heavy_library(customer: int, db_path: Path) -> None:
    """`comm log` runs in shell loops: no pandas, numpy, statsmodels, scipy or rich (nor
    typer: tests/commands/test_comm_log_fast.py)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "CRM_DB": str(db_path), "CRM_TZ": "Asia/Shanghai"}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "crmcli", "comm", "log", str(customer),
         "-c", "phone", "--at", "2024-01-01 10:00", "--follow-up", "+3d"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip().isdigit()
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "crmcli.commands.hot" in modules  # the body of comm log (crmcli.launch runs it)
    heavy = ("pandas", "numpy", "statsmodels", "scipy", "sklearn", "matplotlib", "rich")
    assert sorted(m for m in modules if m.split(".")[0] in heavy) == []


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "Asia/Kolkata"])
def test_import_fast_time_path_agrees_with_parse_datetime(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmcli.core.clock import to_iso
    from crmcli.core.validate import parse_datetime, parse_datetime_as

    monkeypatch.setenv("CRM_TZ", zone)

    def parse(text: str, field: str) -> str:
        return to_iso(parse_datetime_as(text, None, field))

    for text in (
        "2024-03-10 01:30",  # New York: the hour before the spring change
        "2024-03-10 03:30",
        "2024-11-03 00:59:59",
        "2024/1/2 9:05",
        "2024-07-01",
        "2024-07-01T10:00:00Z",
        "2024-07-01 10:00+02:00",
        "2024-12-31T23:30:00",
    ):
        assert parse(text, "occurred_at") == to_iso(parse_datetime(text, "occurred_at")), text
    with pytest.raises(Exception, match="invalid occurred_at"):
        parse("2024-02-30 10:00", "occurred_at")


def test_due_masks_phones_on_request(cli: Any, customer: int, tmp_path: Path) -> None:
    log(cli, str(customer), "-c", "phone", "--follow-up", "+1d")
    plain = cli.json("comm", "due", env={"CRM_NOW": NOW})
    assert plain[0]["customer_phone"] == "+8613800138000"
    masked = cli.json("comm", "due", "--mask", env={"CRM_NOW": NOW})
    assert masked[0]["customer_phone"] != "+8613800138000"
    assert "8000" in masked[0]["customer_phone"] or "*" in masked[0]["customer_phone"]
    by_env = cli.json("comm", "due", env={"CRM_NOW": NOW, "CRM_MASK": "1"})
    assert by_env[0]["customer_phone"] == masked[0]["customer_phone"]
