"""`crm order import` plans its merge outside the write lock (#12) and writes it under the
lock; a commit by another process between the two makes it plan again under the lock, so
the orders are resolved against the data as it is when they are written. Real processes,
real SQLite files, core/faults.py's pause point `import.planned`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from test_import_lock import crm, setup, start, wait_for  # noqa: F401 - the fixture

ORDERS = (
    "order_id,customer_external_id,ordered_at,sku,quantity,unit_price,line_amount\n"
    "O1,ANN,2024-01-02 10:00,A,1,10.00,10.00\n"
    "O1,ANN,2024-01-02 10:00,B,2,2.50,5.00\n"
    "O2,LATE,2024-01-03 10:00,C,1,5.00,5.00\n"  # a customer added after the plan
)


def _import_after(env: dict[str, str], tmp_path: Path, write: list[str]) -> dict[str, object]:
    source = tmp_path / "orders.csv"
    source.write_text(ORDERS, encoding="utf-8")
    marker = tmp_path / "planned"
    proc = start(
        {**env, "CRM_PAUSE": f"import.planned:{marker}"},
        "order", "import", str(source), "--format", "json",
    )  # fmt: skip
    try:
        wait_for(marker, proc)  # planned, no lock held
        writer = crm(env, *write)
        assert writer.returncode == 0, writer.stderr
    finally:
        marker.unlink(missing_ok=True)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode in (0, 1), err
    return json.loads(out)  # type: ignore[no-any-return]


def _orders(db: Path) -> dict[str, tuple[str, int, int]]:
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {
            ext: (cust, amount, lines)
            for ext, cust, amount, lines in con.execute(
                "SELECT o.external_id, c.external_id, o.amount,"
                " (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id)"
                " FROM orders o JOIN customers c ON c.id = o.customer_id"
            )
        }


def test_a_customer_added_after_the_plan_gets_its_order(
    setup: tuple[Path, Path, dict[str, str]],  # noqa: F811
    tmp_path: Path,
) -> None:
    db, _tmp, env = setup
    summary = _import_after(
        env, tmp_path, ["customer", "add", "--name", "Late", "--external-id", "LATE"]
    )
    # planned with LATE unknown (O2 rejected); planned again under the lock: O2 stored
    assert (summary["inserted"], summary["rejected"]) == (2, 0)
    assert _orders(db) == {"O1": ("ANN", 1500, 2), "O2": ("LATE", 500, 1)}


def test_an_unrelated_write_after_the_plan_keeps_its_outcome(
    setup: tuple[Path, Path, dict[str, str]],  # noqa: F811
    tmp_path: Path,
) -> None:
    db, _tmp, env = setup
    summary = _import_after(
        env, tmp_path, ["comm", "log", "--external-id", "ANN", "--channel", "email"]
    )
    assert (summary["inserted"], summary["rejected"]) == (1, 1)  # LATE is unknown
    assert _orders(db) == {"O1": ("ANN", 1500, 2)}
