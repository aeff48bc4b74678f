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

from crmcli.db.database import Database

# (table, time column) pairs a bucketed count may run over: an allow-list, never user text.
BUCKETABLE = {
    ("customers", "created_at"),
    ("communications", "occurred_at"),
    ("tickets", "created_at"),
    ("orders", "ordered_at"),
}


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


def _next_second(moment: str) -> str:
    from datetime import datetime, timedelta

    parsed = datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=1)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def communication_totals(db: Database, prev_start: str, start: str, end: str) -> dict[str, int]:
    """Communications, inbound and outbound in the period (start, end] and, suffixed
    `_before`, in (prev_start, start].

    With the comm_hourly aggregate (m010) whole hours are summed from it and the partial
    hours at the edges counted in communications, so the cost does not grow with volume;
    without it, one indexed range pass.
    """
    windows = [("cur", start, end), ("prev", prev_start, start)]
    if table_exists(db, "comm_hourly"):
        # (lo, hi] at one-second resolution is [lo + 1 s, hi + 1 s).
        bounds = [(n, _next_second(lo), _next_second(hi)) for n, lo, hi in windows]
        values = ", ".join("(?, ?, ?, ?, ?)" for _ in bounds)
        params = [p for n, lo, hi in bounds for p in (n, lo, hi, _hour_ceil(lo), hi[:13])]
        rows = db.query(
            f"""
            WITH b(name, lo, hi, lo_h, hi_h) AS (VALUES {values}),
            parts(name, direction, n) AS (
              SELECT b.name, h.direction, h.n FROM b JOIN comm_hourly h
                ON h.hour_utc >= b.lo_h AND h.hour_utc < b.hi_h
              UNION ALL
              SELECT b.name, c.direction, 1 FROM b JOIN communications c
                ON c.occurred_at >= b.lo AND c.occurred_at < min(b.hi, b.lo_h || ':00:00Z')
              UNION ALL
              SELECT b.name, c.direction, 1 FROM b JOIN communications c
                ON b.hi_h >= b.lo_h AND c.occurred_at >= max(b.lo, b.hi_h || ':00:00Z')
                AND c.occurred_at < b.hi
            )
            SELECT name, coalesce(sum(n), 0) AS total,
              coalesce(sum(CASE WHEN direction = 'inbound' THEN n END), 0) AS inbound,
              coalesce(sum(CASE WHEN direction = 'outbound' THEN n END), 0) AS outbound
            FROM parts GROUP BY name
            """,
            params,
        )
    else:
        rows = [
            {
                "name": name,
                **(
                    db.query_one(
                        "SELECT count(*) AS total, coalesce(sum(direction = 'inbound'), 0)"
                        " AS inbound, coalesce(sum(direction = 'outbound'), 0) AS outbound"
                        " FROM communications WHERE occurred_at > ? AND occurred_at <= ?",
                        (lo, hi),
                    )
                    or {}
                ),
            }
            for name, lo, hi in windows
        ]
    got = {r["name"]: r for r in rows}
    out: dict[str, int] = {}
    for name, suffix in (("cur", ""), ("prev", "_before")):
        for key in ("total", "inbound", "outbound"):
            out[key + suffix] = int((got.get(name) or {}).get(key) or 0)
    return out


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


def recent_currency(db: Database, start: str, end: str) -> str | None:
    """The currency of most orders in (start, end]; None when there are none."""
    return db.scalar(
        "SELECT currency FROM orders WHERE ordered_at > ? AND ordered_at <= ?"
        " GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1",
        (start, end),
    )


def order_segments(
    db: Database, points: Sequence[str], currency: str
) -> dict[tuple[str, str], dict[str, int]]:
    """Orders and revenue (cents) in one currency for each segment (lo, hi] between
    consecutive sorted `points`: one index-only range scan each (orders_report, m040), so
    overlapping windows are summed from disjoint pieces instead of rescanned."""
    ordered = sorted(set(points))
    out: dict[tuple[str, str], dict[str, int]] = {}
    for lo, hi in zip(ordered, ordered[1:], strict=False):
        row = db.query_one(
            "SELECT count(*) AS orders, coalesce(sum(amount), 0) AS revenue FROM orders"
            " WHERE ordered_at > ? AND ordered_at <= ? AND currency = ?",
            (lo, hi, currency),
        )
        out[(lo, hi)] = {k: int(v or 0) for k, v in (row or {}).items()}
    return out


def buyer_segments(
    db: Database, points: Sequence[str], start: str, tests: dict[str, str]
) -> dict[str, int]:
    """One pass over orders grouped by customer (index-only on (customer_id, ordered_at)).

    The sorted `points` cut time into segments; per customer SQLite keeps the order count up
    to the last point, the count up to `start`, and a bit mask of the segments holding an
    order (sum of distinct powers of two = bitwise or). `tests` maps a result name to an SQL
    expression over n (orders), ns (orders up to start) and m (the mask); the caller builds
    them from `segment_bits` (integers only, never user text). Returns {name: customers}.
    """
    desc = sorted(set(points), reverse=True)
    whens = " ".join(f"WHEN ordered_at > ? THEN {1 << i}" for i in range(len(desc) - 1))
    case = f"CASE {whens} ELSE {1 << (len(desc) - 1)} END" if whens else "1"
    for name in tests:
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            raise ValueError(f"bad figure name {name!r}")
    sums = ", ".join(f"coalesce(sum({expr}), 0) AS {name}" for name, expr in tests.items())
    row = db.query_one(
        f"SELECT {sums} FROM (SELECT count(*) AS n, sum(ordered_at <= ?) AS ns,"
        f" sum(DISTINCT {case}) AS m FROM orders WHERE ordered_at <= ? GROUP BY customer_id)",
        [start, *desc[1:], desc[0]],
    )
    return {k: int(v or 0) for k, v in (row or {}).items()}


def segment_bits(points: Sequence[str], lo: str, hi: str) -> int:
    """The mask bits of the segments of `buyer_segments` that make up (lo, hi]."""
    desc = sorted(set(points), reverse=True)
    bits = 0
    for i, top in enumerate(desc):
        bottom = desc[i + 1] if i + 1 < len(desc) else None
        if top <= hi and (bottom is not None and bottom >= lo):
            bits |= 1 << i
    return bits


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


# Validity in plain SQL (GLOB), so it runs at SQLite speed: E.164 is '+', a non-zero digit,
# 7 to 15 digits in all; an email is text@text.text with one '@', no spaces, no '..'.
VALID_PHONE_SQL = (
    "(phone GLOB '+[1-9]*' AND length(phone) BETWEEN 8 AND 16"
    " AND substr(phone, 2) NOT GLOB '*[^0-9]*')"
)
VALID_EMAIL_SQL = (
    "(email GLOB '?*@?*.?*' AND email NOT GLOB '*@*@*' AND email NOT GLOB '*[ ]*'"
    " AND email NOT GLOB '*..*')"
)


def field_quality(db: Database, until: str) -> dict[str, Any]:
    """Live customers at `until`; per field: filled and (phone, email) valid counts."""
    filled = ", ".join(
        f"coalesce(sum(nullif(trim({f}), '') IS NOT NULL), 0) AS {f}_filled" for f in QUALITY_FIELDS
    )
    row = db.query_one(
        f"SELECT count(*) AS customers, {filled},"
        f" coalesce(sum(({VALID_PHONE_SQL}) AND phone_suspect = 0), 0) AS phone_valid,"
        " coalesce(sum(phone IS NOT NULL AND phone_suspect = 1), 0) AS phone_suspect,"
        f" coalesce(sum({VALID_EMAIL_SQL}), 0) AS email_valid"
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
