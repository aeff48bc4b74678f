"""Repository functions for orders (from ERP systems): add, list, show, and the writes of
`crm order import` (its field rules are in importing/orders.py). The per-customer aggregates
of the value and loyalty models are in crmcli.db.order_stats."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from crmcli.core.clock import now_iso, to_iso
from crmcli.core.errors import NotFound
from crmcli.core.validate import option_datetime
from crmcli.db import audit, change_log
from crmcli.db.database import Database, integrity_error_to_conflict

LIST_COLUMNS = "o.id, o.external_id, o.customer_id, c.name AS customer_name, o.ordered_at, o.amount, o.currency"  # noqa: E501

# ------------------------------------------------------------------- add, list


def add_order(
    db: Database,
    customer_id: int,
    amount: int,
    ordered_at: str,
    currency: str = "CNY",
    external_id: str | None = None,
) -> int:
    stamp = now_iso()
    with db.transaction():
        if db.scalar("SELECT 1 FROM customers WHERE id = ?", (customer_id,)) is None:
            raise NotFound(f"no customer with id {customer_id}")
        try:
            cur = db.execute(
                "INSERT INTO orders(external_id, customer_id, ordered_at, amount, currency,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (external_id, customer_id, ordered_at, amount, currency, stamp, stamp),
            )
        except sqlite3.IntegrityError as exc:
            raise integrity_error_to_conflict(exc, "cannot add order") from None
        oid = int(cur.lastrowid or 0)
        audit.record(
            db,
            "create",
            "order",
            oid,
            {
                "customer_id": customer_id,
                "amount": amount,
                "currency": currency,
                "ordered_at": ordered_at,
                "external_id": external_id,
            },
        )
    return oid


def list_orders(
    db: Database,
    customer_id: int | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = 100,
) -> list[dict[str, Any]]:
    clauses, params = _window(customer_id, since, until)
    sql = (
        f"SELECT {LIST_COLUMNS} FROM orders o JOIN customers c ON c.id = o.customer_id"
        f" WHERE {clauses} ORDER BY o.ordered_at DESC, o.id DESC"
    )
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return db.query(sql, params)


def count_orders(
    db: Database, customer_id: int | None = None, since: str | None = None, until: str | None = None
) -> int:
    """How many orders list_orders() would list without a limit."""
    clauses, params = _window(customer_id, since, until)
    return int(db.scalar(f"SELECT count(*) FROM orders o WHERE {clauses}", params))


def _window(customer_id: int | None, since: str | None, until: str | None) -> tuple[str, list[Any]]:
    clauses = ["1"]
    params: list[Any] = []
    if customer_id is not None:
        clauses.append("o.customer_id = ?")
        params.append(customer_id)
    if since:
        clauses.append("o.ordered_at >= ?")
        params.append(since)
    if until:
        clauses.append("o.ordered_at < ?")
        params.append(until)
    return " AND ".join(clauses), params


def currencies(db: Database, until: str | None = None) -> list[dict[str, Any]]:
    """Currencies in use with their order counts, most used first."""
    return db.query(
        "SELECT currency, count(*) AS orders FROM orders WHERE (? IS NULL OR ordered_at <= ?)"
        " GROUP BY currency ORDER BY orders DESC, currency",
        (until, until),
    )


def to_stored(value: str, field: str) -> str:
    return to_iso(option_datetime(value, field))


# ------------------------------------------------------------------- import SQL
# The field rules of `crm order import` are in importing/orders.py; these are its writes.

_UPSERT = (
    "INSERT INTO orders(external_id, customer_id, ordered_at, amount, currency,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(external_id) DO UPDATE SET customer_id = excluded.customer_id,"
    " ordered_at = excluded.ordered_at, amount = excluded.amount,"
    " currency = excluded.currency, updated_at = excluded.updated_at"
)
# The per-row change_log triggers (m070) an import replaces with one INSERT per batch.
_CHANGE_LOG_TRIGGERS = ("change_log_orders_insert", "change_log_orders_update")


def suspend_order_change_log(db: Database) -> list[str]:
    return change_log.suspend(db, _CHANGE_LOG_TRIGGERS)


def resume_order_change_log(db: Database, saved: list[str]) -> None:
    change_log.resume(db, saved)


def order_states(db: Database, external_ids: list[str]) -> dict[str, tuple[Any, ...]]:
    """{external_id: (id, customer_id, ordered_at, amount, currency)} of stored orders."""
    out: dict[str, tuple[Any, ...]] = {}
    for start in range(0, len(external_ids), 900):
        chunk = external_ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        for ext, *values in db.execute(
            "SELECT external_id, id, customer_id, ordered_at, amount, currency FROM orders"
            f" WHERE external_id IN ({marks})",
            chunk,
        ):
            out[ext] = tuple(values)
    return out


def ids_by_external_id(db: Database, external_ids: list[str]) -> dict[str, int]:
    return {ext: state[0] for ext, state in order_states(db, external_ids).items()}


def lines_of(db: Database, order_ids: list[int]) -> dict[int, list[tuple[Any, ...]]]:
    """{order id: [(sku, product, quantity, unit_price, amount), ...]} in line order."""
    out: dict[int, list[tuple[Any, ...]]] = {}
    if not order_ids:
        return out
    for oid, *line in db.execute(
        "SELECT order_id, sku, product, quantity, unit_price, amount FROM order_lines"
        " WHERE order_id IN (SELECT value FROM json_each(?)) ORDER BY order_id, line_no",
        (json.dumps(order_ids),),
    ):
        out.setdefault(oid, []).append(tuple(line))
    return out


def upsert_orders(
    db: Database, rows: list[tuple[Any, ...]], outcomes: list[int | None], logged: list[str]
) -> None:
    """Write (external_id, customer_id, ordered_at, amount, currency, created, updated) rows;
    `outcomes` says per row whether it inserts (None) or updates that order id, for the
    change_log rows the suspended triggers would have written."""
    if not rows:
        return
    top = int(db.scalar("SELECT coalesce(max(id), 0) FROM orders")) if logged else 0
    db.executemany(_UPSERT, rows)
    if logged:
        new_ids = iter(
            [r[0] for r in db.execute("SELECT id FROM orders WHERE id > ? ORDER BY id", (top,))]
        )
        keys = [next(new_ids) if oid is None else oid for oid in outcomes]
        change_log.log_inserts(db, "orders", keys)


def replace_lines(db: Database, lines: dict[int, list[tuple[Any, ...]]]) -> None:
    """Replace the lines of these orders with the given (sku, product, quantity,
    unit_price, amount) lines."""
    if not lines:
        return
    db.execute(
        "DELETE FROM order_lines WHERE order_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(lines)),),
    )
    db.executemany(
        "INSERT INTO order_lines(order_id, line_no, sku, product, quantity, unit_price, amount)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(oid, n, *line) for oid, items in lines.items() for n, line in enumerate(items, 1)],
    )


def get_order(db: Database, order_id: int) -> dict[str, Any]:
    """One order with its lines (under "lines")."""
    row = db.query_one(
        f"SELECT {LIST_COLUMNS} FROM orders o JOIN customers c"
        " ON c.id = o.customer_id WHERE o.id = ?",
        (order_id,),
    )
    if row is None:
        raise NotFound(f"no order with id {order_id}")
    row["lines"] = db.query(
        "SELECT line_no, sku, product, quantity, unit_price, amount FROM order_lines"
        " WHERE order_id = ? ORDER BY line_no",
        (order_id,),
    )
    return row
