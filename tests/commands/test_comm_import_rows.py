"""`crm comm import`: which rows are one communication, directions as call logs write
them, and a record never moved to another customer (found by a tester: each stored a wrong
value and exited 0)."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any

HEADER = "external_id,customer_external_id,occurred_at,channel,direction,subject,content\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _comms(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT external_id, customer_id, direction, content FROM communications ORDER BY id"
        ).fetchall()


def test_directions_as_call_logs_write_them(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    zhang = add_customer("张伟", external_id="C3")
    src = _write(
        tmp_path / "d.csv",
        HEADER + "CALL-1,C3,2024-03-03 09:00,phone,Incoming,Support,a\n"
        "CALL-2,C3,2024-03-03 09:05,phone,Outgoing,Support,b\n"
        "CALL-3,C3,2024-03-03 09:10,phone,来电,Support,c\n"
        "CALL-4,C3,2024-03-03 09:15,phone,sideways,Support,d\n"
        "CALL-5,C3,2024-03-03 09:20,phone,Missed,Support,e\n"  # a missed call came in
        "CALL-6,C3,2024-03-03 09:25,phone,拨出,Support,f\n",
    )
    summary = cli.json("comm", "import", str(src))
    assert (summary["inserted"], summary["rejected"]) == (5, 1)
    assert [(e, d) for e, _c, d, _t in _comms(db_path)] == [
        ("CALL-1", "inbound"),
        ("CALL-2", "outbound"),
        ("CALL-3", "inbound"),
        ("CALL-5", "inbound"),
        ("CALL-6", "outbound"),
    ]  # CALL-4 rejected: stored with either direction, a guess
    reasons = (tmp_path / "d.rejects.csv").read_text("utf-8-sig")
    assert "invalid direction 'sideways'" in reasons and "not stored with a guessed" in reasons
    assert all(c == zhang for _e, c, _d, _t in _comms(db_path))
    # an update whose direction cell is empty keeps the stored direction
    again = _write(tmp_path / "u.csv", HEADER + "CALL-1,C3,2024-03-03 09:00,phone,,Support,a2\n")
    assert cli.json("comm", "import", str(again))["updated"] == 1
    assert _comms(db_path)[0] == ("CALL-1", zhang, "inbound", "a2")


def test_rows_with_their_own_ids_are_not_duplicates_of_each_other(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    add_customer("张伟", external_id="C3")
    src = _write(
        tmp_path / "two.csv",
        HEADER + "CALL-1,C3,2024-03-03 09:00,phone,in,Support,caller A\n"
        "CALL-2,C3,2024-03-03 09:00,phone,in,Support,caller B\n"
        "CALL-2,C3,2024-03-03 09:00,phone,in,Support,caller B again\n"
        ",C3,2024-03-04 09:00,phone,in,Hotline,x\n"
        ",C3,2024-03-04 09:00,phone,in,Hotline,x\n",
    )
    summary = cli.json("comm", "import", str(src))
    assert (summary["inserted"], summary["duplicates"]) == (3, 2)
    assert [t for _e, _c, _d, t in _comms(db_path)] == ["caller A", "caller B", "x"]
    with open(tmp_path / "two.rejects.csv", encoding="utf-8-sig", newline="") as fh:
        reasons = {row["line"]: row["reason"] for row in csv.DictReader(fh)}
    assert reasons == {"4": "duplicate of line 3", "6": "duplicate of line 5"}


def test_a_record_of_another_customer_is_not_moved(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    zhang = add_customer("张伟", external_id="C3")
    add_customer("Dora", external_id="C4")
    first = _write(tmp_path / "a.csv", HEADER + "CALL-1,C3,2024-03-03 09:00,phone,in,S,a\n")
    assert cli.json("comm", "import", str(first))["inserted"] == 1
    moved = _write(tmp_path / "b.csv", HEADER + "CALL-1,C4,2024-03-03 09:00,phone,in,S,a\n")
    summary = cli.json("comm", "import", str(moved))
    assert (summary["updated"], summary["rejected"]) == (0, 1)
    assert _comms(db_path) == [("CALL-1", zhang, "inbound", "a")]
    text = (tmp_path / "b.rejects.csv").read_text(encoding="utf-8-sig")
    assert f"communication CALL-1 belongs to another customer (id {zhang})" in text
