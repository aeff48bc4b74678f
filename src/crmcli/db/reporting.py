"""SQL aggregates for the dashboard, customer and data-quality reports.

Every figure is computed by SQLite (count / sum / group by over indexed ranges); no rows
are loaded into Python to be counted. Times are stored-form UTC strings; a period is the
half-open interval (start, end], so that total(end) - total(start) = new in the period and
a record stamped exactly at the as-of time counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from crmcli.db import Database

# (table, time column) pairs a bucketed count may run over: an allow-list, never user text.
BUCKETABLE = {
    ("customers", "created_at"),
    ("communications", "occurred_at"),
    ("tickets", "created_at"),
    ("orders", "ordered_at"),
}
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def table_exists(db: Database, name: str) -> bool:
    return bool(
        db.scalar(
            "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?", (name,)
        )
    )


def column_exists(db: Database, table: str, column: str) -> bool:
    return any(r["name"] == column for r in db.query(f"PRAGMA table_info({table})"))


def created_before(db: Database, moment: str) -> int:
    """Customers created strictly before `moment` (the opening count of a growth table)."""
    return int(db.scalar("SELECT count(*) FROM customers WHERE created_at < ?", (moment,)))


def bucket_counts(
    db: Database, table: str, time_column: str, bounds: Sequence[tuple[str, str, str]]
) -> dict[str, int]:
    """Rows per bucket: bounds are (label, start, end) with each bucket = [start, end).

    One indexed range count per bucket (a correlated sub-query over a VALUES list), so a
    year of weekly buckets over millions of rows reads only the index.
    """
    if (table, time_column) not in BUCKETABLE:
        raise ValueError(f"not a reportable column: {table}.{time_column}")
    if not bounds:
        return {}
    values = ", ".join("(?, ?, ?)" for _ in bounds)
    params = [p for b in bounds for p in b]
    sql = (
        f"WITH b(label, lo, hi) AS (VALUES {values}) "
        f"SELECT label, (SELECT count(*) FROM {table} t "
        f"WHERE t.{time_column} >= b.lo AND t.{time_column} < b.hi) FROM b"
    )
    return {label: int(n) for label, n in db.execute(sql, params)}


# ------------------------------------------------------------------ customers


def customer_lifecycles(
    db: Database, prev_start: str, start: str, end: str
) -> list[dict[str, Any]]:
    """One pass over customers: per lifecycle, the customers alive at `end` and at `start`
    (created by then, not erased by then), and those new in (start, end] and in
    (prev_start, start]. Lifecycle is the current value (no history is kept)."""
    return db.query(
        """
        SELECT lifecycle,
          coalesce(sum(live_end), 0) AS customers,
          coalesce(sum(live_end AND created_at > :start), 0) AS new,
          coalesce(sum(live_start), 0) AS customers_before,
          coalesce(sum(live_start AND created_at > :prev_start), 0) AS new_before
        FROM (SELECT lifecycle, created_at,
                (erased_at IS NULL OR erased_at > :end) AS live_end,
                (created_at <= :start AND (erased_at IS NULL OR erased_at > :start)) AS live_start
              FROM customers WHERE created_at <= :end)
        GROUP BY lifecycle ORDER BY customers DESC, lifecycle
        """,
        {"prev_start": prev_start, "start": start, "end": end},
    )


def customers_by(db: Database, dimension: str, until: str) -> list[dict[str, Any]]:
    """Customers existing at `until` grouped by lifecycle, owner or tag (current values)."""
    live = "c.created_at <= :until AND (c.erased_at IS NULL OR c.erased_at > :until)"
    if dimension == "lifecycle":
        sql = (
            f"SELECT c.lifecycle AS lifecycle, count(*) AS customers FROM customers c"
            f" WHERE {live} GROUP BY c.lifecycle ORDER BY customers DESC, lifecycle"
        )
    elif dimension == "owner":
        sql = (
            f"SELECT coalesce(c.owner, '(none)') AS owner, count(*) AS customers,"
            f" sum(c.lifecycle = 'customer') AS paying, sum(c.lifecycle = 'lead') AS leads"
            f" FROM customers c WHERE {live} GROUP BY c.owner ORDER BY customers DESC, owner"
        )
    elif dimension == "tag":
        sql = (
            f"SELECT t.tag AS tag, count(*) AS customers FROM customer_tags t"
            f" JOIN customers c ON c.id = t.customer_id WHERE {live}"
            f" GROUP BY t.tag ORDER BY customers DESC, tag"
        )
    else:
        raise ValueError(f"unknown dimension {dimension!r}")
    return db.query(sql, {"until": until})


# ------------------------------------------------------------------ communications


def communication_totals(db: Database, prev_start: str, start: str, end: str) -> dict[str, int]:
    """One pass over (prev_start, end]: totals, inbound, outbound and customers contacted for
    the period (start, end] and, suffixed `_before`, for (prev_start, start]."""
    row = db.query_one(
        """
        SELECT coalesce(sum(cur), 0) AS total,
          coalesce(sum(cur AND direction = 'inbound'), 0) AS inbound,
          coalesce(sum(cur AND direction = 'outbound'), 0) AS outbound,
          count(DISTINCT CASE WHEN cur THEN customer_id END) AS customers,
          coalesce(sum(NOT cur), 0) AS total_before,
          coalesce(sum(NOT cur AND direction = 'inbound'), 0) AS inbound_before,
          coalesce(sum(NOT cur AND direction = 'outbound'), 0) AS outbound_before,
          count(DISTINCT CASE WHEN NOT cur THEN customer_id END) AS customers_before
        FROM (SELECT occurred_at > :start AS cur, direction, customer_id FROM communications
              WHERE occurred_at > :prev_start AND occurred_at <= :end)
        """,
        {"prev_start": prev_start, "start": start, "end": end},
    )
    assert row is not None
    return {k: int(v or 0) for k, v in row.items()}


def _hour_ceil(moment: str) -> str:
    """'YYYY-MM-DDTHH' of the first whole hour at or after a stored-form time."""
    from datetime import datetime, timedelta

    if moment[13:] == ":00:00Z":
        return moment[:13]
    start = datetime.strptime(moment[:13], "%Y-%m-%dT%H") + timedelta(hours=1)
    return start.strftime("%Y-%m-%dT%H")


def weekly_communications(db: Database, bounds: Sequence[tuple[str, str, str]]) -> dict[str, int]:
    """Communications per bucket ([lo, hi) bounds).

    With the communications group's comm_hourly aggregate (m010: hour_utc, channel,
    direction, n), whole hours are summed from it and only the partial hours at a bucket's
    edges are counted in communications; without it, one indexed range count per bucket.
    """
    if not bounds:
        return {}
    if not table_exists(db, "comm_hourly"):
        return bucket_counts(db, "communications", "occurred_at", bounds)
    values = ", ".join("(?, ?, ?, ?, ?)" for _ in bounds)
    params = [p for label, lo, hi in bounds for p in (label, lo, hi, _hour_ceil(lo), hi[:13])]
    sql = f"""
        WITH b(label, lo, hi, lo_h, hi_h) AS (VALUES {values})
        SELECT label,
          (SELECT coalesce(sum(n), 0) FROM comm_hourly
             WHERE hour_utc >= b.lo_h AND hour_utc < b.hi_h)
          + (SELECT count(*) FROM communications
             WHERE occurred_at >= b.lo AND occurred_at < min(b.hi, b.lo_h || ':00:00Z'))
          + (SELECT count(*) FROM communications
             WHERE b.hi_h >= b.lo_h AND occurred_at >= max(b.lo, b.hi_h || ':00:00Z')
               AND occurred_at < b.hi)
        FROM b
    """
    return {label: int(n) for label, n in db.execute(sql, params)}


def ticket_figures(db: Database, start: str, end: str) -> dict[str, Any]:
    """Backlog at `end`; created / resolved in (start, end]; response and resolution SLA.

    SLA compliance counts tickets created in the period with a deadline: met = answered
    (resolved) by the deadline; breached = answered late, or still unanswered after a deadline
    that has passed by `end`; tickets not yet due are left out.
    """
    row = db.query_one(
        """
        SELECT
          (SELECT count(*) FROM tickets WHERE created_at <= :end
             AND (resolved_at IS NULL OR resolved_at > :end)
             AND (closed_at IS NULL OR closed_at > :end)) AS backlog,
          count(*) AS created,
          coalesce(sum(first_response_at <= response_due_at AND first_response_at <= :end), 0)
            AS response_met,
          coalesce(sum(response_due_at <= :end AND (first_response_at IS NULL
             OR first_response_at > :end OR first_response_at > response_due_at)), 0)
            AS response_breached,
          coalesce(sum(resolved_at <= due_at AND resolved_at <= :end), 0) AS resolution_met,
          coalesce(sum(due_at <= :end AND (resolved_at IS NULL OR resolved_at > :end
             OR resolved_at > due_at)), 0) AS resolution_breached
        FROM tickets WHERE created_at > :start AND created_at <= :end
        """,
        {"start": start, "end": end},
    )
    assert row is not None
    resolved = db.scalar(
        "SELECT count(*) FROM tickets WHERE resolved_at > ? AND resolved_at <= ?", (start, end)
    )
    return {**{k: int(v or 0) for k, v in row.items()}, "resolved": int(resolved or 0)}


def first_response_hours(db: Database, start: str, end: str) -> list[float]:
    """Hours to first response of tickets created in (start, end] answered by `end`, sorted."""
    return [
        float(h)
        for (h,) in db.execute(
            "SELECT (julianday(first_response_at) - julianday(created_at)) * 24 AS h"
            " FROM tickets WHERE created_at > ? AND created_at <= ?"
            " AND first_response_at IS NOT NULL AND first_response_at <= ? ORDER BY h",
            (start, end, end),
        )
    ]


def ratings(db: Database, start: str, end: str) -> dict[str, Any]:
    """Satisfaction ratings (1..5) given in (start, end] (rated_at, else the resolution time)."""
    when = (
        "coalesce(rated_at, resolved_at, closed_at)"
        if column_exists(db, "tickets", "rated_at")
        else "coalesce(resolved_at, closed_at)"
    )
    row = db.query_one(
        f"SELECT count(*) AS ratings, avg(satisfaction) AS average,"
        f" coalesce(sum(satisfaction >= 4), 0) AS satisfied FROM tickets"
        f" WHERE satisfaction IS NOT NULL AND {when} > ? AND {when} <= ?",
        (start, end),
    )
    assert row is not None
    return row


def nps_scores(db: Database, start: str, end: str) -> dict[str, int] | None:
    """Promoters / passives / detractors from an `nps_responses(score, responded_at)` table
    when one exists (none of the current migrations create it); None otherwise."""
    if not table_exists(db, "nps_responses"):
        return None
    row = db.query_one(
        "SELECT count(*) AS responses, coalesce(sum(score >= 9), 0) AS promoters,"
        " coalesce(sum(score <= 6), 0) AS detractors FROM nps_responses"
        " WHERE responded_at > ? AND responded_at <= ?",
        (start, end),
    )
    return None if row is None else {k: int(v or 0) for k, v in row.items()}


def any_rows(db: Database, table: str, time_column: str, until: str) -> bool:
    if (table, time_column) not in BUCKETABLE:
        raise ValueError(f"not a reportable column: {table}.{time_column}")
    return (
        db.scalar(f"SELECT 1 FROM {table} WHERE {time_column} <= ? LIMIT 1", (until,)) is not None
    )


def any_ratings(db: Database, until: str) -> bool:
    return (
        db.scalar(
            "SELECT 1 FROM tickets WHERE satisfaction IS NOT NULL AND created_at <= ? LIMIT 1",
            (until,),
        )
        is not None
    )


# ------------------------------------------------------------------ orders, value, loyalty


def main_currency(db: Database, until: str) -> str | None:
    """The currency of most orders up to `until` (a full pass: only when the windowed
    figures found no order)."""
    return db.scalar(
        "SELECT currency FROM orders WHERE ordered_at <= ? GROUP BY currency"
        " ORDER BY count(*) DESC, currency LIMIT 1",
        (until,),
    )


_WINDOW_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def order_windows(
    db: Database, windows: dict[str, tuple[str, str]]
) -> dict[str, dict[str, dict[str, int]]]:
    """One indexed pass over orders for several (lo, hi] windows at once.

    Returns {currency: {window: {orders, revenue (cents), buyers}}}, currencies with the most
    orders first. Window names are the caller's identifiers (checked), bounds are bound
    parameters.
    """
    if not windows:
        return {}
    cols: list[str] = []
    params: dict[str, str] = {}
    for name, (lo, hi) in windows.items():
        if not _WINDOW_NAME.match(name):
            raise ValueError(f"bad window name {name!r}")
        params[f"{name}_lo"], params[f"{name}_hi"] = lo, hi
        cond = f"ordered_at > :{name}_lo AND ordered_at <= :{name}_hi"
        cols += [
            f"coalesce(sum({cond}), 0) AS {name}_orders",
            f"coalesce(sum(CASE WHEN {cond} THEN amount END), 0) AS {name}_revenue",
            f"count(DISTINCT CASE WHEN {cond} THEN customer_id END) AS {name}_buyers",
        ]
    params["outer_lo"] = min(lo for lo, _ in windows.values())
    params["outer_hi"] = max(hi for _, hi in windows.values())
    rows = db.query(
        f"SELECT currency, count(*) AS n, {', '.join(cols)} FROM orders"
        " WHERE ordered_at > :outer_lo AND ordered_at <= :outer_hi"
        " GROUP BY currency ORDER BY n DESC, currency",
        params,
    )
    return {
        r["currency"]: {
            name: {k: int(r[f"{name}_{k}"] or 0) for k in ("orders", "revenue", "buyers")}
            for name in windows
        }
        for r in rows
    }


def buyer_flags(db: Database, bounds: dict[str, str]) -> dict[str, int]:
    """One pass over orders grouped by customer (the (customer_id, ordered_at) index), giving
    at the period's end and at its start: buyers, repeat buyers (2+ orders), customers at
    churn risk (last order in (lost, risk]); period retention (buyers of the previous period
    who bought in the period, and the same one period earlier); and yearly retention for CLV
    (buyers of the year before the last 365 days who bought within them), at end and start.

    `bounds` keys: end, start, prev_start, prev2_start, risk_end, lost_end, risk_start,
    lost_start, y1_end, y2_end, y1_start, y2_start (stored-form UTC).
    """
    row = db.query_one(
        """
        SELECT count(*) AS buyers_end,
          coalesce(sum(n_end >= 2), 0) AS repeat_end,
          coalesce(sum(last_end <= :risk_end AND last_end > :lost_end), 0) AS risk_end,
          coalesce(sum(n_start >= 1), 0) AS buyers_start,
          coalesce(sum(n_start >= 2), 0) AS repeat_start,
          coalesce(sum(last_start <= :risk_start AND last_start > :lost_start), 0)
            AS risk_start,
          coalesce(sum(in_prev), 0) AS period_base_end,
          coalesce(sum(in_prev AND in_cur), 0) AS period_kept_end,
          coalesce(sum(in_prev2), 0) AS period_base_start,
          coalesce(sum(in_prev2 AND in_prev), 0) AS period_kept_start,
          coalesce(sum(y2e), 0) AS year_base_end,
          coalesce(sum(y2e AND y1e), 0) AS year_kept_end,
          coalesce(sum(y2s), 0) AS year_base_start,
          coalesce(sum(y2s AND y1s), 0) AS year_kept_start
        FROM (
          SELECT customer_id,
            count(*) AS n_end,
            sum(ordered_at <= :start) AS n_start,
            max(ordered_at) AS last_end,
            max(CASE WHEN ordered_at <= :start THEN ordered_at END) AS last_start,
            max(ordered_at > :start) AS in_cur,
            max(ordered_at > :prev_start AND ordered_at <= :start) AS in_prev,
            max(ordered_at > :prev2_start AND ordered_at <= :prev_start) AS in_prev2,
            max(ordered_at > :y1_end) AS y1e,
            max(ordered_at > :y2_end AND ordered_at <= :y1_end) AS y2e,
            max(ordered_at > :y1_start AND ordered_at <= :start) AS y1s,
            max(ordered_at > :y2_start AND ordered_at <= :y1_start) AS y2s
          FROM orders WHERE ordered_at <= :end GROUP BY customer_id
        )
        """,
        bounds,
    )
    assert row is not None
    return {k: int(v or 0) for k, v in row.items()}


def top_tag_by_revenue(db: Database, start: str, end: str, currency: str) -> dict[str, Any] | None:
    return db.query_one(
        "SELECT t.tag AS tag, sum(o.amount) AS revenue FROM orders o"
        " JOIN customer_tags t ON t.customer_id = o.customer_id"
        " WHERE o.ordered_at > ? AND o.ordered_at <= ? AND o.currency = ?"
        " GROUP BY t.tag ORDER BY revenue DESC, tag LIMIT 1",
        (start, end, currency),
    )


# ------------------------------------------------------------------ data quality

QUALITY_FIELDS = ("name", "phone", "email", "address", "company", "owner")
# child table -> (foreign key column, parent table)
ORPHAN_CHECKS = {
    "customer_tags": ("customer_id", "customers"),
    "communications": ("customer_id", "customers"),
    "tickets": ("customer_id", "customers"),
    "ticket_events": ("ticket_id", "tickets"),
    "campaign_members": ("customer_id", "customers"),
    "orders": ("customer_id", "customers"),
}


def _valid_phone(value: object) -> int:
    return int(isinstance(value, str) and bool(E164.match(value)))


def _valid_email(value: object) -> int:
    return int(isinstance(value, str) and bool(EMAIL.match(value)) and ".." not in value)


def field_quality(db: Database, until: str) -> dict[str, Any]:
    """Live customers at `until`; per field: filled and (phone, email) valid counts."""
    db.conn.create_function("crm_e164", 1, _valid_phone, deterministic=True)
    db.conn.create_function("crm_email", 1, _valid_email, deterministic=True)
    filled = ", ".join(
        f"coalesce(sum(nullif(trim({f}), '') IS NOT NULL), 0) AS {f}_filled" for f in QUALITY_FIELDS
    )
    row = db.query_one(
        f"SELECT count(*) AS customers, {filled},"
        " coalesce(sum(crm_e164(phone)), 0) AS phone_valid,"
        " coalesce(sum(crm_email(email)), 0) AS email_valid"
        " FROM customers WHERE created_at <= :until AND erased_at IS NULL",
        {"until": until},
    )
    assert row is not None
    return {k: int(v or 0) for k, v in row.items()}


def exact_duplicates(db: Database, until: str) -> dict[str, int]:
    """Live customers that repeat an earlier customer's phone, or its name and company."""
    live = "created_at <= :until AND erased_at IS NULL"
    row = db.query_one(
        f"""
        SELECT
          (SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM customers
             WHERE {live} AND phone IS NOT NULL GROUP BY phone HAVING n > 1)) AS same_phone,
          (SELECT count(*) FROM customers c WHERE {live} AND (
             (c.phone IS NOT NULL AND EXISTS (SELECT 1 FROM customers d WHERE d.phone = c.phone
                AND d.id < c.id AND d.created_at <= :until AND d.erased_at IS NULL))
             OR (c.company IS NOT NULL AND EXISTS (SELECT 1 FROM customers d
                WHERE d.name = c.name AND d.company = c.company AND d.id < c.id
                AND d.created_at <= :until AND d.erased_at IS NULL)))) AS duplicates
        """,
        {"until": until},
    )
    assert row is not None
    return {k: int(v or 0) for k, v in row.items()}


def live_customer_rows(db: Database, until: str, limit: int) -> list[dict[str, Any]] | None:
    """Customers for a fuzzy duplicate finder; None when there are more than `limit`."""
    live = "created_at <= ? AND erased_at IS NULL"
    if int(db.scalar(f"SELECT count(*) FROM customers WHERE {live}", (until,))) > limit:
        return None
    return db.query(
        f"SELECT id, name, phone, email, company, address FROM customers WHERE {live} ORDER BY id",
        (until,),
    )


def stale_customers(db: Database, until: str, since: str) -> dict[str, int]:
    """Live, non-churned customers created before `since` with no communication in
    (since, until]; `never` of them were never contacted at all."""
    row = db.query_one(
        "SELECT count(*) AS eligible,"
        " coalesce(sum(NOT EXISTS (SELECT 1 FROM communications m WHERE m.customer_id = c.id"
        "   AND m.occurred_at > :since AND m.occurred_at <= :until)), 0) AS stale,"
        " coalesce(sum(NOT EXISTS (SELECT 1 FROM communications m WHERE m.customer_id = c.id"
        "   AND m.occurred_at <= :until)), 0) AS never"
        " FROM customers c WHERE c.created_at <= :since AND c.erased_at IS NULL"
        " AND c.lifecycle != 'churned'",
        {"since": since, "until": until},
    )
    assert row is not None
    return {k: int(v or 0) for k, v in row.items()}


def orphan_counts(db: Database) -> list[dict[str, Any]]:
    """Per child table: rows, and rows whose parent record does not exist."""
    out = []
    for table, (column, parent) in ORPHAN_CHECKS.items():
        row = db.query_one(
            f"SELECT count(*) AS records, coalesce(sum(NOT EXISTS (SELECT 1 FROM {parent} p"
            f" WHERE p.id = x.{column})), 0) AS orphans FROM {table} x"
        )
        assert row is not None
        out.append({"table": table, "records": int(row["records"]), "orphans": int(row["orphans"])})
    return out
