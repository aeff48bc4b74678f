"""`crm customer import`: encodings, headers, normalization, rejects, keys, atomicity."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

HEADER = "姓名,手机,邮箱,公司,标签\n"
ROWS = "张伟,138 0013 8000,ZW@Example.CN,甲公司,vip;new\n李娜,+86 139-0013-9000,ln@example.cn,乙公司,\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def customers(cli) -> list[dict]:  # type: ignore[no-untyped-def]
    return cli.json("customer", "list", "--limit", "0")


def summary(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    return cli.json("customer", "import", *args)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16"])
def test_each_encoding_is_detected(cli, tmp_path: Path, encoding: str) -> None:  # type: ignore[no-untyped-def]
    src = write(tmp_path / "in.csv", HEADER + ROWS, encoding)
    result = summary(cli, str(src), "--create-company")
    assert result["inserted"] == 2 and result["rejected"] == 0
    rows = customers(cli)
    assert [r["name"] for r in rows] == ["张伟", "李娜"]
    assert rows[0]["phone"] == "+8613800138000"
    assert rows[0]["email"] == "zw@example.cn"
    assert rows[0]["company"] == "甲公司"
    assert rows[0]["tags"] == ["new", "vip"]
    assert rows[1]["phone"] == "+8613900139000"


def test_encoding_option_forces_and_accepts_common_names(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(tmp_path / "in.csv", HEADER + ROWS, "gbk")
    assert summary(cli, str(src), "--encoding", "GBK")["encoding"] == "gb18030"
    bom = write(tmp_path / "bom.csv", "name,email\nAnn,ann@example.com\n", "utf-8-sig")
    assert summary(cli, str(bom), "--encoding", "UTF-8-BOM")["inserted"] == 1
    bad = cli("customer", "import", str(src), "--encoding", "klingon")
    assert bad.exit_code == 2 and "unknown" in bad.stderr and "klingon" in bad.stderr


def test_wrong_forced_encoding_fails_cleanly_and_changes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(tmp_path / "in.csv", HEADER + ROWS, "gb18030")
    result = cli("customer", "import", str(src), "--encoding", "utf-8")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error:") and "--encoding" in result.stderr
    assert customers(cli) == []


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_delimiter_is_sniffed(cli, tmp_path: Path, delimiter: str) -> None:  # type: ignore[no-untyped-def]
    text = (
        f"name{delimiter}phone{delimiter}company\nAnn{delimiter}13800138000{delimiter}Acme, Inc\n"
    )
    if delimiter == ",":
        text = 'name,phone,company\nAnn,13800138000,"Acme, Inc"\n'
    src = write(tmp_path / "in.csv", text)
    assert summary(cli, str(src), "--create-company")["inserted"] == 1
    assert customers(cli)[0]["company"] == "Acme, Inc"


def test_english_headers_any_case_and_chinese_tag_header(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(
        tmp_path / "in.csv",
        "Full Name,E-Mail,Mobile,Company Name,标签,Stage,External ID\n"
        "  Ann   Lee ,ANN@EXAMPLE.COM,13800138000,Acme,a，b; c,客户,X1\n",
    )
    assert summary(cli, str(src))["inserted"] == 1
    row = customers(cli)[0]
    assert row["name"] == "Ann Lee"
    assert row["email"] == "ann@example.com"
    assert row["tags"] == ["a", "b", "c"]
    assert row["lifecycle"] == "customer"
    assert row["external_id"] == "X1"


def test_map_option_and_unknown_columns_reported(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(tmp_path / "in.csv", "客户代码,姓名,微信,QQ\nK7,张伟,wx123,555\n")
    result = cli(
        "customer", "import", str(src), "--map", "客户代码=external_id", "--format", "json"
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["unknown_columns"] == ["微信", "QQ"]
    assert "微信" in result.stderr and "--map" in result.stderr
    assert customers(cli)[0]["external_id"] == "K7"
    bad = cli("customer", "import", str(src), "--map", "微信=wechat")
    assert bad.exit_code == 2 and "unknown field" in bad.stderr
    bad = cli("customer", "import", str(src), "--map", "nonsense")
    assert bad.exit_code == 2


def test_phone_never_becomes_a_number(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(
        tmp_path / "in.csv",
        "name,phone,external_id\nA,+44 20 7946 0958,007\nB,0086 13800138000,0010\nC,010-6552-9988,1e5\n",
    )
    assert summary(cli, str(src))["inserted"] == 3
    rows = customers(cli)
    assert [r["phone"] for r in rows] == ["+442079460958", "+8613800138000", "+861065529988"]
    assert [r["external_id"] for r in rows] == ["007", "0010", "1e5"]


def test_region_option_reads_national_numbers(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(tmp_path / "in.csv", "name,phone\nBob,(415) 555-2671\n")
    assert summary(cli, str(src), "--region", "US")["inserted"] == 1
    assert customers(cli)[0]["phone"] == "+14155552671"


def test_invalid_rows_go_to_rejects_file_with_line_and_reason(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(
        tmp_path / "people.csv",
        "name,phone,email,lifecycle\n"
        "Good,13800138000,good@example.com,lead\n"
        ",13900139000,noname@example.com,\n"
        "Bad Mail,,bad@,\n"
        "Bad Phone,12345,,\n"
        "Ragged,13700137000\n"
        "Bad Stage,,,vip\n"
        "Also Good,,also@example.com,prospect\n",
    )
    result = summary(cli, str(src))
    # Only a missing name or a ragged row costs the row; bad optional fields are warnings.
    assert (result["inserted"], result["rejected"], result["warnings"]) == (5, 2, 3)
    assert result["rejects_file"] == str(tmp_path / "people.rejects.csv")
    with open(tmp_path / "people.rejects.csv", encoding="utf-8-sig", newline="") as fh:
        rejects = list(csv.reader(fh))
    assert rejects[0] == [
        "line", "field", "value", "reason", "name", "phone", "email", "lifecycle"
    ]  # fmt: skip
    by_line = {int(r[0]): r for r in rejects[1:]}
    assert [int(r[0]) for r in rejects[1:]] == [3, 4, 5, 6, 7]  # in line order
    assert by_line[3][1:4] == ["name", "", "no name"]
    assert by_line[4][1:3] == ["email", "bad@"] and "malformed email" in by_line[4][3]
    assert by_line[4][4:] == ["Bad Mail", "", "bad@", ""]
    assert by_line[5][1] == "phone" and "impossible phone" in by_line[5][3]
    assert by_line[6][3].startswith("ragged row")
    assert by_line[7][1] == "lifecycle" and "lifecycle" in by_line[7][3]
    assert result["reject_reasons"]["ragged row"] == 1
    stored = {r["name"]: r for r in customers(cli)}
    assert sorted(stored) == ["Also Good", "Bad Mail", "Bad Phone", "Bad Stage", "Good"]
    assert stored["Bad Mail"]["email"] is None and stored["Bad Phone"]["phone"] is None
    assert stored["Bad Stage"]["lifecycle"] == "lead"


def test_rejects_option_names_the_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(tmp_path / "in.csv", "name,email\nA,bad@\n")
    target = tmp_path / "out" / "r.csv"
    assert summary(cli, str(src), "--rejects", str(target))["rejects_file"] == str(target)
    assert target.exists() and not (tmp_path / "in.rejects.csv").exists()


def test_duplicates_of_existing_and_earlier_rows_are_not_inserted(
    cli, tmp_path: Path, add_customer
) -> None:  # type: ignore[no-untyped-def]
    existing = add_customer("Old", email="old@example.com", phone="13800138000")
    src = write(
        tmp_path / "d.csv",
        "name,email,phone\n"
        "Same Mail,OLD@example.com,\n"
        "Same Phone,,138-0013-8000\n"
        "New,new@example.com,13900139000\n"
        "New Again,new@example.com,\n"
        "New Phone Again,,+8613900139000\n",
    )
    result = summary(cli, str(src))
    assert (result["inserted"], result["duplicates"], result["rejected"]) == (1, 4, 0)
    names = {r["name"]: r["id"] for r in customers(cli)}
    assert set(names) == {"Old", "New"}
    with open(tmp_path / "d.rejects.csv", encoding="utf-8-sig", newline="") as fh:
        reasons = {r["name"]: r["reason"] for r in csv.DictReader(fh)}
    assert reasons["Same Mail"].startswith(f"duplicate of customer {existing}")
    assert reasons["Same Phone"].startswith(f"duplicate of customer {existing}")
    assert reasons["New Again"].startswith(f"duplicate of customer {names['New']}")
    assert reasons["New Phone Again"].startswith(f"duplicate of customer {names['New']}")


def test_duplicates_across_batches(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]

    monkeypatch.setattr("crmcli.importing.pipeline.BATCH", 2)
    lines = ["name,email"] + [f"P{i},p{i % 3}@example.com" for i in range(7)]
    src = write(tmp_path / "b.csv", "\n".join(lines) + "\n")
    result = summary(cli, str(src))
    assert (result["inserted"], result["duplicates"]) == (3, 4)


def test_upsert_by_key_updates_only_file_columns_and_is_idempotent(
    cli, tmp_path: Path, add_customer
) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer("Ann", external_id="A1", email="ann@example.com", owner="alice")
    src = write(
        tmp_path / "u.csv",
        "external_id,name,phone,tags\nA1,Ann Lee,13800138000,vip\nB2,Bob,13900139000,\n",
    )
    first = summary(cli, str(src), "--key", "external_id")
    assert (first["inserted"], first["updated"], first["unchanged"]) == (1, 1, 0)
    ann = cli.json("customer", "show", str(cid))
    assert ann["name"] == "Ann Lee" and ann["phone"] == "+8613800138000"
    assert ann["email"] == "ann@example.com" and ann["owner"] == "alice"  # not in the file
    assert ann["tags"] == ["vip"]
    again = summary(cli, str(src), "--key", "external_id")
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert len(customers(cli)) == 2


def test_upsert_by_email_and_by_phone(cli, tmp_path: Path, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer("Ann", email="ann@example.com")
    src = write(tmp_path / "e.csv", "email,company\nANN@example.com,Acme\n")
    result = summary(cli, str(src), "--key", "email", "--create-company")
    assert result["updated"] == 1 and result["inserted"] == 0
    assert cli.json("customer", "show", str(cid))["company"] == "Acme"
    src = write(tmp_path / "p.csv", "phone,name\n13800138000,New Person\n")
    assert summary(cli, str(src), "--key", "phone")["inserted"] == 1
    src = write(tmp_path / "p2.csv", "phone,owner\n+86 138 0013 8000,bob\n")
    assert summary(cli, str(src), "--key", "phone")["updated"] == 1
    assert [r["owner"] for r in customers(cli)] == [None, "bob"]


def test_upsert_rejects_email_of_another_customer(cli, tmp_path: Path, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann", external_id="A1", email="ann@example.com")
    other = add_customer("Bob", external_id="B1", email="bob@example.com")
    src = write(tmp_path / "c.csv", "external_id,email\nA1,bob@example.com\nC1,bob@example.com\n")
    result = summary(cli, str(src), "--key", "external_id")
    assert result["duplicates"] == 2 and result["updated"] == 0 and result["inserted"] == 0
    assert {r["email"] for r in customers(cli)} == {"ann@example.com", "bob@example.com"}
    assert str(other) in (tmp_path / "c.rejects.csv").read_text(encoding="utf-8-sig")


def test_key_must_be_a_column_of_the_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(tmp_path / "k.csv", "name\nAnn\n")
    result = cli("customer", "import", str(src), "--key", "email")
    assert result.exit_code == 2 and "no email column" in result.stderr
    result = cli("customer", "import", str(src), "--key", "name")
    assert result.exit_code == 2


def test_strict_aborts_everything_on_any_reject(cli, tmp_path: Path, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("Before")
    src = write(tmp_path / "s.csv", "name,email\nGood,good@example.com\n,nameless@example.com\n")
    result = cli("customer", "import", str(src), "--strict")
    assert result.exit_code == 2
    assert "nothing imported" in result.stderr
    assert [r["name"] for r in customers(cli)] == ["Before"]
    assert (tmp_path / "s.rejects.csv").exists()
    audit = sqlite3.connect(os.environ["CRM_DB"]).execute(
        "SELECT count(*) FROM audit_log WHERE action = 'import'"
    )
    assert audit.fetchone()[0] == 0


def test_dry_run_reports_and_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(
        tmp_path / "dry.csv", "name,email\nA,a@example.com\n,b@example.com\nC,a@example.com\n"
    )
    result = cli("customer", "import", str(src), "--dry-run", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["dry_run"] is True
    assert (data["inserted"], data["rejected"], data["duplicates"]) == (1, 1, 1)
    assert "Dry run" in result.stderr
    assert customers(cli) == []
    assert not (tmp_path / "dry.rejects.csv").exists()


def test_summary_on_stderr_and_one_audit_entry(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(tmp_path / "a.csv", "name\n" + "".join(f"P{i}\n" for i in range(25)))
    result = cli("customer", "import", str(src))
    assert result.exit_code == 0 and result.stdout == ""
    assert "25 inserted" in result.stderr
    con = sqlite3.connect(os.environ["CRM_DB"])
    rows = con.execute("SELECT entity, details FROM audit_log WHERE action = 'import'").fetchall()
    assert len(rows) == 1
    assert rows[0][0] == "customer" and json.loads(rows[0][1])["inserted"] == 25
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1


def test_imported_customers_are_searchable(cli, tmp_path: Path, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("已有客户")
    src = write(tmp_path / "f.csv", "name,company\n欧阳娜娜,北京星辰科技\nJohn Smith,Acme\n")
    summary(cli, str(src), "--create-company")
    found = cli.json("customer", "list", "--search", "星辰科技")
    assert [r["name"] for r in found] == ["欧阳娜娜"]
    assert [r["name"] for r in cli.json("customer", "list", "--search", "Smith")] == ["John Smith"]
    # the search trigger is back for later inserts
    add_customer("Later Person", company="Zeta Widgets")
    assert [r["name"] for r in cli.json("customer", "list", "--search", "Widgets")] == [
        "Later Person"
    ]
    con = sqlite3.connect(os.environ["CRM_DB"])
    assert con.execute("INSERT INTO customers_fts(customers_fts) VALUES ('integrity-check')")


def test_bad_files_fail_with_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("customer", "import", str(tmp_path / "missing.csv")).exit_code == 2
    empty = write(tmp_path / "empty.csv", "")
    assert cli("customer", "import", str(empty)).exit_code == 2
    nofields = write(tmp_path / "x.csv", "foo,bar\n1,2\n")
    result = cli("customer", "import", str(nofields))
    assert result.exit_code == 2 and "--map" in result.stderr
    assert customers(cli) == []


def test_killed_import_leaves_nothing_behind(
    cli, tmp_path: Path, add_customer, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    add_customer("Before", email="before@example.com")
    big = tmp_path / "big.csv"
    with open(big, "w", encoding="utf-8") as fh:
        fh.write("name,email,phone\n")
        for i in range(400_000):
            fh.write(f"Person {i},p{i}@example.com,1390{i:07d}\n")
    before = schema(sqlite3.connect(db_path))
    env = {**os.environ, "CRM_DB": str(db_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crmcli", "customer", "import", str(big)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wal = Path(str(db_path) + "-wal")
    deadline = time.monotonic() + 60
    # Kill it once it has written rows into its (uncommitted) transaction.
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 4_000_000:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the import finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'import'").fetchone()[0] == 0
    triggers = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert "customers_fts_ai" in triggers
    assert schema(con) == before
    con.close()
    assert [r["name"] for r in customers(cli)] == ["Before"]


def test_clean_rerun_removes_the_stale_default_rejects_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(tmp_path / "r.csv", "name,email\nA,bad@\n")
    summary(cli, str(src))
    stale = tmp_path / "r.rejects.csv"
    assert stale.exists()
    write(src, "name,email\nA,a@example.com\n")
    assert summary(cli, str(src))["rejects_file"] is None
    assert not stale.exists()
    mine = write(tmp_path / "q.rejects.csv", "my own notes\n")
    summary(cli, str(write(tmp_path / "q.csv", "name\nB\n")))
    assert mine.exists()  # not a file we wrote: left alone


def schema(con: sqlite3.Connection) -> list[tuple]:
    return con.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'customers' ORDER BY name"
    ).fetchall()


def test_big_import_rebuilds_indexes_and_search_index(
    cli, tmp_path: Path, monkeypatch, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from crmcli.importing import customers as customer_import

    monkeypatch.setattr(customer_import, "INDEX_REBUILD_MIN_ROWS", 0)
    cli.ok("customer", "list")
    before = schema(sqlite3.connect(db_path))
    src = write(
        tmp_path / "big.csv",
        "name,company,owner\n" + "".join(f"Name{i},Co{i % 7},o{i % 3}\n" for i in range(300)),
    )
    assert summary(cli, str(src))["inserted"] == 300
    con = sqlite3.connect(db_path)
    assert schema(con) == before
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    plan = con.execute("EXPLAIN QUERY PLAN SELECT id FROM customers WHERE owner = 'o1'").fetchall()
    assert "customers_owner" in str(plan)
    assert len(cli.json("customer", "list", "--owner", "o1", "--limit", "0")) == 100
    assert [r["name"] for r in cli.json("customer", "list", "--search", "Name299")] == ["Name299"]


def test_change_log_rows_equal_what_the_triggers_write(
    cli, tmp_path: Path, add_customer, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The import suspends m070's per-row insert triggers and logs in bulk: same rows, same
    seq order as the triggers themselves write (compared with an import that keeps them)."""
    from crmcli.db import customers as repo

    add_customer("Old One", email="old1@example.com", external_id="E1", tag="a")
    add_customer("Old Two", email="old2@example.com", external_id="E2")
    reference_db = tmp_path / "reference.db"
    with sqlite3.connect(db_path) as src, sqlite3.connect(reference_db) as dst:
        src.backup(dst)
    rows = [
        "E1,Old One,old1@example.com,b;c",  # update: tags replaced
        "E2,Old Two Renamed,,",  # update: name
        "E3,New A,a@example.com,vip;vip;new",  # repeated tag
        "E4,New B,old1@example.com,",  # duplicate email: not inserted
        "E5,New C,bad@,x",  # stored without the bad email (a field warning)
        "E6,New D,,",
        "E7,New E,e@example.com,t1",
        "E3,New A,,z",  # the same new customer again: update within the file
    ]
    src = write(tmp_path / "in.csv", "external_id,name,email,tags\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr("crmcli.importing.pipeline.BATCH", 3)  # several batches

    def change_log(path: Path) -> list[tuple]:
        with sqlite3.connect(path) as con:
            return con.execute(
                "SELECT seq, entity, key1, key2 FROM change_log ORDER BY seq"
            ).fetchall()

    before = change_log(db_path)
    fast = summary(cli, str(src), "--key", "external_id")
    logged = change_log(db_path)
    monkeypatch.setenv("CRM_DB", str(reference_db))
    monkeypatch.setattr(repo, "suspend_change_log", lambda db: [])  # keep the triggers
    slow = summary(cli, str(src), "--key", "external_id")
    assert {k: v for k, v in fast.items() if k != "rejects_file"} == {
        k: v for k, v in slow.items() if k != "rejects_file"
    }
    assert fast["inserted"] == 4 and fast["updated"] == 3 and fast["duplicates"] == 1
    assert logged == change_log(reference_db)
    assert len(logged) > len(before)
    with sqlite3.connect(db_path) as con:
        triggers = {
            r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
    assert set(repo.CHANGE_LOG_INSERT_TRIGGERS) <= triggers


def test_shared_phone_is_a_duplicate_only_without_a_key(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "erp.csv"
    src.write_text(
        "external_id,name,phone\nE1,Acme front desk,13800138000\nE2,Acme billing,13800138000\n",
        encoding="utf-8",
    )
    keyed = cli.json("customer", "import", str(src), "--key", "external_id")
    assert keyed["inserted"] == 2 and keyed["duplicates"] == 0

    other = tmp_path / "other.db"
    plain = cli.json("--db", str(other), "customer", "import", str(src))
    assert plain["inserted"] == 1 and plain["duplicates"] == 1
