"""`crm order import` writes change_log in bulk: the same rows its triggers would write."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest


def change_log(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT seq, entity, key1, key2 FROM change_log ORDER BY seq").fetchall()


def test_change_log_rows_equal_what_the_triggers_write(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmcli.db import orders

    add_customer("ann", external_id="C1")
    add_customer("bob", external_id="C2")
    reference_db = tmp_path / "reference.db"
    with sqlite3.connect(db_path) as src, sqlite3.connect(reference_db) as dst:
        src.backup(dst)
    header = "order_id,customer_external_id,ordered_at,amount,currency\n"
    first = tmp_path / "first.csv"
    first.write_text(
        header + "O1,C1,2024-01-02,12.50,\nO2,C1,2024-01-03,1,\n,C2,2024-01-04,3,\n"
        "O3,C2,2024-01-05,4,\nO4,C9,2024-01-06,5,\n",
        encoding="utf-8",
    )
    second = tmp_path / "second.csv"
    second.write_text(
        header + "O5,C2,2024-02-01,9,\n"  # new
        "O1,C1,2024-01-02,12.50,\n"  # unchanged: no log row
        "O2,C2,2024-01-03,1,\n"  # updated (customer)
        ",C1,2024-02-02,2,\n"  # no order id: always a new row
        "O3,C2,2024-01-05,44,\n"  # updated (amount)
        "O6,C1,2024-02-03,6,\n"
        "O6,C1,2024-02-03,7,\n",  # a second line of O6: O6 is 13
        encoding="utf-8",
    )
    monkeypatch.setattr("crmcli.importing.pipeline.BATCH", 2)  # several batches
    monkeypatch.setattr(
        "crmcli.importing.orders.INDEX_REBUILD_MIN_ROWS", 0
    )  # drop and rebuild indexes too
    with sqlite3.connect(db_path) as con:
        indexes = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'").fetchall()

    def run_both() -> list[dict[str, Any]]:
        return [cli.json("order", "import", str(f), "--currency", "CNY") for f in (first, second)]

    fast = run_both()
    logged = change_log(db_path)
    monkeypatch.setenv("CRM_DB", str(reference_db))
    monkeypatch.setattr(orders, "_CHANGE_LOG_TRIGGERS", ("no such trigger",))  # keep them
    slow = run_both()
    strip = [{k: v for k, v in s.items() if k != "rejects_file"} for s in fast]
    assert strip == [{k: v for k, v in s.items() if k != "rejects_file"} for s in slow]
    assert (fast[1]["inserted"], fast[1]["updated"], fast[1]["unchanged"]) == (3, 2, 1)
    assert fast[1]["duplicates"] == 0 and fast[1]["lines"] == 7
    order_rows = [r for r in logged if r[1] == "orders"]
    # first file: 4 orders; second: O5, O2, the unkeyed one, O3 and O6 (its two lines are
    # staged and merged together, so O6 is written once although BATCH is 2)
    assert len(order_rows) == 4 + 5
    assert logged == change_log(reference_db)
    with sqlite3.connect(db_path) as con:
        triggers = {
            r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
    assert {"change_log_orders_insert", "change_log_orders_update"} <= triggers
    with sqlite3.connect(db_path) as con:
        after = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'").fetchall()
        assert sorted(after) == sorted(indexes)  # the dropped indexes are back
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
