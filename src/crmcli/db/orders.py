"""Repository functions for orders (from ERP systems): add, list, show, and the writes of
`crm order import` (its field rules are in importing/orders.py). The per-customer aggregates
of the value and loyalty models are in crmcli.db.order_stats."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from crmcli.core.clock import now_iso, to_iso
from crmcli.core.errors import NotFound
from crmcli.core.validate import MONEY_LIMIT, option_datetime
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

# The per-row change_log triggers (m070) an import replaces with one INSERT per batch.
_CHANGE_LOG_TRIGGERS = ("change_log_orders_insert", "change_log_orders_update")


def suspend_order_change_log(db: Database) -> list[str]:
    return change_log.suspend(db, _CHANGE_LOG_TRIGGERS)


def resume_order_change_log(db: Database, saved: list[str]) -> None:
    change_log.resume(db, saved)


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


# ------------------------------------------------------------------- set-based import merge
# `crm order import` stages its lines in typed columns of the staging table (db/staging.py:
# ext, ckey, cvalue, craw, cname, ordered_at, currency, sku, product, qty, unit, amount, run,
# pos, and cothers: the line's other reference cells, JSON, cross-checked by the importer) and
# merges them here with a handful of statements instead of a Python loop per line:
#   order_refs    (ckey, cvalue) -> customer id, filled by the importer's CustomerResolver
#   order_merge   every line whose customer resolved, with the head of its order (its first
#                 such line): customer, time and currency it must agree with, its line_no
#   order_heads   one row per order: total = sum of its agreeing lines, the stored order
#                 it updates (by external_id), whether its order row and its lines changed
_MERGE_TABLES = (
    "temp.order_refs", "temp.order_merge", "temp.order_heads", "temp.order_odd",
    "temp.order_conflicts",
)  # fmt: skip
DISAGREES = {1: "customer", 2: "ordered_at", 3: "currency"}
MONEY_LIMIT_CENTS = MONEY_LIMIT * 100


def stage_order_refs(db: Database, table: str) -> None:
    """order_refs: the distinct customer references of the staged lines, with the raw cell,
    name and seq of the first line naming each; those whose key is one indexed column
    (customers.IMPORT_ID_SQL) resolved in SQL, the others left for refs_to_resolve()."""
    from crmcli.db.customers import IMPORT_ID_SQL

    drop_merge_tables(db)
    db.execute(
        "CREATE TABLE temp.order_refs(ckey TEXT NOT NULL, cvalue NOT NULL, craw, cname,"
        " first INTEGER, cid INTEGER, PRIMARY KEY (ckey, cvalue)) WITHOUT ROWID"
    )
    db.execute(
        "INSERT INTO temp.order_refs SELECT ckey, cvalue, craw, cname, min(seq), NULL"
        f" FROM {table} GROUP BY ckey, cvalue"
    )
    for key, sql in IMPORT_ID_SQL.items():
        db.execute(
            f"UPDATE temp.order_refs SET cid = {sql.format(value='order_refs.cvalue')}"
            " WHERE ckey = ?",
            (key,),
        )


def refs_to_resolve(db: Database, unresolved_too: bool, size: int) -> Any:
    """[key, value, raw cell, name] of the references left for the importer's resolver
    (keys without SQL, and with `unresolved_too` the unknown ones: --create-customers), in
    the file order of their first line, `size` at a time."""
    from crmcli.db.customers import IMPORT_ID_SQL

    rows = db.execute(
        "SELECT ckey, cvalue, craw, cname FROM temp.order_refs"
        " WHERE ckey NOT IN (SELECT value FROM json_each(?)) OR (? AND cid IS NULL)"
        " ORDER BY first",
        (json.dumps(list(IMPORT_ID_SQL)), int(unresolved_too)),
    ).fetchall()
    for start in range(0, len(rows), size):
        yield [list(row) for row in rows[start : start + size]]


def set_order_refs(db: Database, rows: list[tuple[int | None, str, Any]]) -> None:
    """(customer id or None, key, value) of resolved references."""
    db.executemany("UPDATE temp.order_refs SET cid = ? WHERE ckey = ? AND cvalue = ?", rows)


def unresolved_lines(db: Database, table: str) -> list[tuple[Any, ...]]:
    """(line, cells, run, key, value, raw, name, order id) of the staged lines whose
    customer is unknown (run: the staged order run of a line with an order id, else None)."""
    return db.execute(
        f"SELECT s.line, s.cells, CASE WHEN s.ext IS NOT NULL THEN s.run END, s.ckey, s.cvalue,"
        f" s.craw, s.cname, s.ext FROM {table} s"
        " CROSS JOIN temp.order_refs r ON r.ckey = s.ckey AND r.cvalue = s.cvalue"
        " WHERE r.cid IS NULL ORDER BY s.seq"
    ).fetchall()


def refs_with_others(db: Database, table: str, size: int) -> Any:
    """[key, value, raw cell, other cells as JSON] of each distinct reference with other
    reference cells whose customer is known, for the importer to cross-check, `size` at a
    time."""
    rows = db.execute(
        f"SELECT DISTINCT s.ckey, s.cvalue, s.craw, s.cothers FROM {table} s"
        " CROSS JOIN temp.order_refs r ON r.ckey = s.ckey AND r.cvalue = s.cvalue"
        " WHERE s.cothers IS NOT NULL AND r.cid IS NOT NULL"
    ).fetchall()
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def take_conflicting_lines(
    db: Database, table: str, conflicts: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """(line, cells, order id, reason, field, value) of the lines in order_merge with a
    conflicting reference ((key, value, other cells, reason, field, value) each), taken
    out of order_merge, in line order."""
    db.execute("DROP TABLE IF EXISTS temp.order_conflicts")
    db.execute(
        "CREATE TABLE temp.order_conflicts(ckey, cvalue, cothers, reason, field, value,"
        " PRIMARY KEY (ckey, cvalue, cothers)) WITHOUT ROWID"
    )
    db.executemany(
        "INSERT OR IGNORE INTO temp.order_conflicts VALUES (?, ?, ?, ?, ?, ?)", conflicts
    )
    rows = db.execute(
        f"SELECT s.seq, s.line, s.cells, s.ext, c.reason, c.field, c.value FROM {table} s"
        " JOIN temp.order_conflicts c"
        "  ON c.ckey = s.ckey AND c.cvalue = s.cvalue AND c.cothers = s.cothers"
        " JOIN temp.order_merge m ON m.seq = s.seq ORDER BY s.seq"
    ).fetchall()
    db.executemany("DELETE FROM temp.order_merge WHERE seq = ?", [(row[0],) for row in rows])
    return [row[1:] for row in rows]


_MERGE_TABLE = (
    "CREATE TABLE temp.order_merge(seq INTEGER PRIMARY KEY, h_seq INTEGER NOT NULL,"
    " line_no INTEGER NOT NULL, bad INTEGER NOT NULL, h_line INTEGER, line INTEGER, ext, cid,"
    " ordered_at, currency, sku, product, qty, unit, amount)"
)
_BAD = (
    "CASE WHEN cid != h_cid THEN 1 WHEN ordered_at != h_at THEN 2 WHEN currency != h_cur"
    " THEN 3 ELSE 0 END"
)
_HEADS = (
    "first_value(line) OVER w AS h_line, first_value(cid) OVER w AS h_cid,"
    " first_value(ordered_at) OVER w AS h_at, first_value(currency) OVER w AS h_cur"
)


def build_order_merge(db: Database, table: str, contiguous: bool, odd_runs: Any) -> int:
    """order_merge from the staged lines; returns how many lines have a known customer.

    `contiguous`: the staging saw the lines of each order one after the other (an order id
    never came back after another one) and staged each line's run (its order) and
    position in it. Then only `odd_runs`, the orders with a line naming another customer
    reference, time or currency than their first line, or with a line whose customer is
    unknown, are checked line by line (order_odd); otherwise every order is, by its order
    id (a sort of all lines)."""
    db.execute("DROP TABLE IF EXISTS temp.order_odd")
    db.execute("CREATE TABLE temp.order_odd(h_seq INTEGER PRIMARY KEY)")
    db.execute(_MERGE_TABLE)
    if not contiguous:
        db.execute(
            f"INSERT INTO temp.order_merge SELECT seq, h_seq, line_no, {_BAD}, h_line, line, ext,"
            " cid, ordered_at, currency, sku, product, qty, unit, amount FROM ("
            "  SELECT s.seq, s.line, s.ext, r.cid, s.ordered_at, s.currency, s.sku, s.product,"
            "   s.qty, s.unit, s.amount, row_number() OVER w AS line_no,"
            f"   first_value(s.seq) OVER w AS h_seq, {_HEADS}"
            f"  FROM {table} s CROSS JOIN temp.order_refs r ON r.ckey = s.ckey AND r.cvalue = s.cvalue"
            "  WHERE r.cid IS NOT NULL"
            "  WINDOW w AS (PARTITION BY s.ext, CASE WHEN s.ext IS NULL THEN s.seq END"
            "   ORDER BY s.seq ROWS UNBOUNDED PRECEDING)"
            ") ORDER BY seq"
        )
        db.execute("CREATE INDEX temp.order_merge_run ON order_merge(h_seq, seq)")
        return int(db.scalar("SELECT count(*) FROM temp.order_merge"))
    db.execute(
        "INSERT INTO temp.order_merge SELECT s.seq, s.run, s.pos, 0, NULL, s.line, s.ext, r.cid,"
        " s.ordered_at, s.currency, s.sku, s.product, s.qty, s.unit, s.amount"
        f" FROM {table} s CROSS JOIN temp.order_refs r ON r.ckey = s.ckey AND r.cvalue = s.cvalue"
        " WHERE r.cid IS NOT NULL ORDER BY s.seq"
    )
    db.execute("CREATE INDEX temp.order_merge_run ON order_merge(h_seq, seq)")
    db.executemany("INSERT OR IGNORE INTO temp.order_odd VALUES (?)", [(run,) for run in odd_runs])
    db.execute(
        "UPDATE temp.order_merge SET bad = CASE WHEN x.cid != x.h_cid THEN 1"
        " WHEN x.ordered_at != x.h_at THEN 2 WHEN x.currency != x.h_cur THEN 3 ELSE 0 END,"
        " h_line = x.h_line"
        f" FROM (SELECT seq, cid, ordered_at, currency, {_HEADS} FROM temp.order_merge"
        "  WHERE h_seq IN (SELECT h_seq FROM temp.order_odd)"
        "  WINDOW w AS (PARTITION BY h_seq ORDER BY seq ROWS UNBOUNDED PRECEDING)) x"
        " WHERE order_merge.seq = x.seq"
    )
    return int(db.scalar("SELECT count(*) FROM temp.order_merge"))


def disagreeing_lines(db: Database, table: str) -> list[tuple[Any, ...]]:
    """(line, cells, order id, first line, field) of the lines that disagree with the first
    line of their order on customer, time or currency; they are then left out, and the
    other lines of their orders (and of those in order_odd) numbered again."""
    rows = db.execute(
        f"SELECT s.line, s.cells, m.ext, m.h_line, m.bad FROM temp.order_merge m JOIN {table} s"
        " ON s.seq = m.seq WHERE m.bad != 0 ORDER BY m.seq"
    ).fetchall()
    if rows:
        db.execute(
            "INSERT OR IGNORE INTO temp.order_odd SELECT h_seq FROM temp.order_merge WHERE bad != 0"
        )
        db.execute("DELETE FROM temp.order_merge WHERE bad != 0")
    db.execute(
        "UPDATE temp.order_merge SET line_no = (SELECT count(*) FROM temp.order_merge m"
        " WHERE m.h_seq = order_merge.h_seq AND m.seq <= order_merge.seq)"
        " WHERE h_seq IN (SELECT h_seq FROM temp.order_odd)"
    )
    return [(line, cells, ext, h_line, DISAGREES[bad]) for line, cells, ext, h_line, bad in rows]


def drop_orders(db: Database, table: str, exts: list[str]) -> list[tuple[Any, ...]]:
    """(line, cells, order id) of the lines left of the orders `exts` (one of their lines
    was rejected: an order is stored whole or not at all, never with a partial total),
    taken out of order_merge."""
    if not exts:
        return []
    wanted = json.dumps(exts)
    rows = db.execute(
        f"SELECT s.line, s.cells, m.ext FROM temp.order_merge m JOIN {table} s ON s.seq = m.seq"
        " WHERE m.ext IN (SELECT value FROM json_each(?)) ORDER BY m.seq",
        (wanted,),
    ).fetchall()
    db.execute(
        "DELETE FROM temp.order_merge WHERE ext IN (SELECT value FROM json_each(?))", (wanted,)
    )
    return rows


def refused_orders(db: Database, has_lines: bool) -> list[tuple[str, str]]:
    """(order id, reason) of the orders the merge must not store as the file gives them:
    a total of 10^12 or more (each line passed the limit, their sum does not), and an
    order stored with lines that this file gives as a total only, another amount (storing
    it would leave lines that do not add up to the order)."""
    out = [
        (str(ext), f"order {ext}: its lines add up to {total / 100:.2f}, too large (limit 10^12)")
        for ext, total in db.execute(
            "SELECT coalesce(ext, '#' || h_seq), sum(amount) FROM temp.order_merge"
            " GROUP BY h_seq HAVING abs(sum(amount)) >= ?",
            (MONEY_LIMIT_CENTS,),
        )
    ]
    if not has_lines:
        out += [
            (str(ext), f"order {ext} is stored with {lines} line(s) adding up to "
             f"{stored / 100:.2f}; this file gives a total of {total / 100:.2f} without lines "
             "(import it with its lines: sku, quantity, unit_price or line_amount)")
            for ext, lines, stored, total in db.execute(
                "SELECT h.ext, (SELECT count(*) FROM main.order_lines ol WHERE ol.order_id = o.id),"
                " o.amount, h.total FROM (SELECT ext, sum(amount) AS total FROM temp.order_merge"
                "  WHERE ext IS NOT NULL GROUP BY h_seq HAVING count(*) = 1) h"
                " JOIN main.orders o ON o.external_id = h.ext"
                " WHERE h.total != o.amount"
                " AND EXISTS (SELECT 1 FROM main.order_lines ol WHERE ol.order_id = o.id)"
            )
        ]  # fmt: skip
    return out


def drop_heads(db: Database, table: str, heads: list[str]) -> list[tuple[Any, ...]]:
    """drop_orders() for refused_orders()' ids, where '#N' names the order of staged line
    N without an order id."""
    exts = [h for h in heads if not h.startswith("#")]
    rows = drop_orders(db, table, exts)
    seqs = [int(h[1:]) for h in heads if h.startswith("#")]
    if seqs:
        wanted = json.dumps(seqs)
        rows += db.execute(
            f"SELECT s.line, s.cells, '#' || m.h_seq FROM temp.order_merge m JOIN {table} s"
            " ON s.seq = m.seq WHERE m.h_seq IN (SELECT value FROM json_each(?)) ORDER BY m.seq",
            (wanted,),
        ).fetchall()
        db.execute(
            "DELETE FROM temp.order_merge WHERE h_seq IN (SELECT value FROM json_each(?))",
            (wanted,),
        )
    return rows


def plan_merged_orders(db: Database, has_lines: bool) -> dict[str, int]:
    """order_heads from order_merge: each order's total, the stored order it updates (by
    order id), whether its order row and its lines changed, and the id of a new one (reads
    only: this is planned outside the write lock); returns the counts of inserted,
    updated and unchanged orders."""
    db.execute(
        "CREATE TABLE temp.order_heads(h_seq INTEGER PRIMARY KEY, ext, cid, ordered_at,"
        " currency, total, n, keep, old_id, oid, same_order, lines_differ)"
    )
    db.execute(
        "INSERT INTO temp.order_heads SELECT h_seq, ext, cid, ordered_at, currency, sum(amount),"
        " count(*), ext IS NOT NULL AND (? OR count(*) > 1), NULL, NULL, 0, 0"
        " FROM temp.order_merge GROUP BY h_seq ORDER BY h_seq",
        (int(has_lines),),
    )
    db.execute(
        "UPDATE temp.order_heads SET old_id = o.id, oid = o.id, same_order ="
        " (o.customer_id = order_heads.cid AND o.ordered_at = order_heads.ordered_at"
        " AND o.amount = order_heads.total AND o.currency = order_heads.currency)"
        " FROM main.orders o WHERE order_heads.ext IS NOT NULL AND o.external_id = order_heads.ext"
    )
    db.execute(
        "UPDATE temp.order_heads SET lines_differ = 1 WHERE old_id IS NOT NULL AND keep AND ("
        " (SELECT count(*) FROM main.order_lines ol WHERE ol.order_id = order_heads.old_id) != n"
        " OR EXISTS (SELECT 1 FROM temp.order_merge m WHERE m.h_seq = order_heads.h_seq"
        "  AND NOT EXISTS (SELECT 1 FROM main.order_lines ol WHERE ol.order_id = order_heads.old_id"
        "   AND ol.line_no = m.line_no AND ol.sku IS m.sku AND ol.product IS m.product"
        "   AND ol.quantity IS m.qty AND ol.unit_price IS m.unit AND ol.amount = m.amount)))"
    )
    # An order without an order id is the same order as a stored one without one with the
    # same customer, time, amount and currency: the k-th such order of the file matches the
    # k-th stored one (two equal purchases on one day stay two), so importing the same file
    # again changes nothing.
    db.execute(
        "UPDATE temp.order_heads SET old_id = x.id, oid = x.id, same_order = 1 FROM ("
        " SELECT h.h_seq, o.id FROM (SELECT h_seq, cid, ordered_at, total, currency,"
        "  row_number() OVER (PARTITION BY cid, ordered_at, total, currency ORDER BY h_seq) AS k"
        "  FROM temp.order_heads WHERE ext IS NULL) h"
        " JOIN (SELECT id, customer_id, ordered_at, amount, currency, row_number() OVER"
        "  (PARTITION BY customer_id, ordered_at, amount, currency ORDER BY id) AS k"
        "  FROM main.orders WHERE external_id IS NULL AND customer_id IN"
        "  (SELECT cid FROM temp.order_heads WHERE ext IS NULL)) o"
        " ON o.customer_id = h.cid AND o.ordered_at = h.ordered_at AND o.amount = h.total"
        " AND o.currency = h.currency AND o.k = h.k) x"
        " WHERE order_heads.h_seq = x.h_seq"
    )
    top = int(db.scalar("SELECT coalesce(max(id), 0) FROM main.orders"))
    db.execute(
        "UPDATE temp.order_heads SET oid = ? + n.rank FROM (SELECT h_seq,"
        " row_number() OVER (ORDER BY h_seq) AS rank FROM temp.order_heads"
        " WHERE old_id IS NULL) n WHERE order_heads.h_seq = n.h_seq",
        (top,),
    )
    counts = db.execute(
        "SELECT count(*) FILTER (WHERE old_id IS NULL),"
        " count(*) FILTER (WHERE old_id IS NOT NULL AND NOT (same_order AND NOT lines_differ)),"
        " count(*) FILTER (WHERE old_id IS NOT NULL AND same_order AND NOT lines_differ)"
        " FROM temp.order_heads"
    ).fetchone()
    return dict(zip(("inserted", "updated", "unchanged"), map(int, counts), strict=True))


def write_planned_orders(db: Database, stamp: str, logged: list[str]) -> None:
    """Under the write lock: insert the new orders, update the changed ones, replace the
    lines that changed (order_heads), and write the change_log rows of the suspended
    triggers when `logged`."""
    # one statement in file order: the triggers (when not suspended) log in that order too
    db.execute(
        "INSERT INTO main.orders(id, external_id, customer_id, ordered_at, amount, currency,"
        " created_at, updated_at) SELECT CASE WHEN old_id IS NULL THEN oid END, ext, cid,"
        " ordered_at, total, currency, ?1, ?1 FROM temp.order_heads"
        " WHERE old_id IS NULL OR NOT same_order ORDER BY h_seq"
        " ON CONFLICT(external_id) DO UPDATE SET customer_id = excluded.customer_id,"
        " ordered_at = excluded.ordered_at, amount = excluded.amount,"
        " currency = excluded.currency, updated_at = excluded.updated_at",
        (stamp,),
    )
    if logged:
        db.execute(
            "INSERT INTO change_log(entity, key1, key2) SELECT 'orders', oid, 0"
            " FROM temp.order_heads WHERE old_id IS NULL OR NOT same_order ORDER BY h_seq"
        )
    db.execute(
        "DELETE FROM main.order_lines WHERE order_id IN"
        " (SELECT old_id FROM temp.order_heads WHERE lines_differ)"
    )
    db.execute(
        "INSERT INTO main.order_lines(order_id, line_no, sku, product, quantity, unit_price,"
        " amount) SELECT h.oid, m.line_no, m.sku, m.product, m.qty, m.unit, m.amount"
        " FROM temp.order_heads h JOIN temp.order_merge m ON m.h_seq = h.h_seq"
        " WHERE h.keep AND (h.old_id IS NULL OR h.lines_differ) ORDER BY h.oid, m.line_no"
    )


def data_version(db: Database) -> int:
    """Changes with every commit of another connection (what an order import's plan rests
    on: any of them makes it plan again, under the lock)."""
    return int(db.scalar("PRAGMA data_version"))


def drop_merge_tables(db: Database) -> None:
    for name in _MERGE_TABLES:
        db.execute(f"DROP TABLE IF EXISTS {name}")
