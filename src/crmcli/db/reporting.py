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


def row_count(db: Database, table: str, time_column: str, until: str) -> int:
    """Rows of an allow-listed table stamped at or before `until`."""
    if (table, time_column) not in BUCKETABLE:
        raise ValueError(f"not a reportable column: {table}.{time_column}")
    return int(db.scalar(f"SELECT count(*) FROM {table} WHERE {time_column} <= ?", (until,)))


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


def customer_totals(db: Database, start: str, end: str) -> dict[str, int]:
    """Customers existing at `end` (not erased by then), and new ones in (start, end]."""
    row = db.query_one(
        "SELECT count(*) AS total,"
        " coalesce(sum(created_at > :start), 0) AS new"
        " FROM customers WHERE created_at <= :end AND (erased_at IS NULL OR erased_at > :end)",
        {"start": start, "end": end},
    )
    assert row is not None
    return {"total": int(row["total"]), "new": int(row["new"])}


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


def communication_totals(db: Database, start: str, end: str) -> dict[str, int]:
    row = db.query_one(
        "SELECT count(*) AS total, coalesce(sum(direction = 'inbound'), 0) AS inbound,"
        " coalesce(sum(direction = 'outbound'), 0) AS outbound,"
        " count(DISTINCT customer_id) AS customers"
        " FROM communications WHERE occurred_at > ? AND occurred_at <= ?",
        (start, end),
    )
    assert row is not None
    return {k: int(v or 0) for k, v in row.items()}


def weekly_communications(db: Database, bounds: Sequence[tuple[str, str, str]]) -> dict[str, int]:
    """Communications per bucket ([lo, hi) bounds): from the communications group's
    comm_hourly aggregate (crmcli.db.communications.hourly_counts) when it exists and every
    inner bound falls on the hour, else one indexed range count per bucket."""
    on_the_hour = all(lo[13:] == ":00:00Z" for _, lo, _ in bounds[1:])
    if bounds and on_the_hour and table_exists(db, "comm_hourly"):
        try:
            from crmcli.db.communications import hourly_counts
        except ImportError:
            hourly_counts = None  # type: ignore[assignment]
        if hourly_counts is not None:
            out = {label: 0 for label, _, _ in bounds}
            starts = [(lo[:13], label) for label, lo, _ in bounds]
            for hour, _channel, _direction, n in hourly_counts(db, bounds[0][1], bounds[-1][2]):
                label = bounds[0][0]
                for start, name in starts:
                    if hour >= start:
                        label = name
                out[label] += int(n)
            return out
    return bucket_counts(db, "communications", "occurred_at", bounds)


def last_communication_at(db: Database, until: str) -> str | None:
    return db.scalar("SELECT max(occurred_at) FROM communications WHERE occurred_at <= ?", (until,))


# ------------------------------------------------------------------ tickets


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
    return db.scalar(
        "SELECT currency FROM orders WHERE ordered_at <= ? GROUP BY currency"
        " ORDER BY count(*) DESC, currency LIMIT 1",
        (until,),
    )


def order_figures(db: Database, start: str, end: str, currency: str) -> dict[str, int]:
    """Orders, revenue (cents) and buyers in (start, end] in one currency."""
    row = db.query_one(
        "SELECT count(*) AS orders, coalesce(sum(amount), 0) AS revenue,"
        " count(DISTINCT customer_id) AS buyers FROM orders"
        " WHERE ordered_at > ? AND ordered_at <= ? AND currency = ?",
        (start, end, currency),
    )
    assert row is not None
    return {k: int(v or 0) for k, v in row.items()}


def buyer_snapshot(db: Database, at: str, risk_after: str, lost_before: str) -> dict[str, int]:
    """At time `at`: customers who ever ordered, those with 2+ orders (repeat buyers), and
    those at risk of churning: last order in (lost_before, risk_after]."""
    row = db.query_one(
        "SELECT count(*) AS buyers, coalesce(sum(n >= 2), 0) AS repeat_buyers,"
        " coalesce(sum(last_at <= :risk AND last_at > :lost), 0) AS at_risk"
        " FROM (SELECT customer_id, count(*) AS n, max(ordered_at) AS last_at FROM orders"
        "       WHERE ordered_at <= :at GROUP BY customer_id)",
        {"at": at, "risk": risk_after, "lost": lost_before},
    )
    assert row is not None
    return {k: int(v or 0) for k, v in row.items()}


def retained_buyers(db: Database, base_start: str, base_end: str, next_end: str) -> dict[str, int]:
    """Buyers of (base_start, base_end], and how many of them ordered again in
    (base_end, next_end]."""
    row = db.query_one(
        "SELECT count(*) AS base, coalesce(sum(EXISTS (SELECT 1 FROM orders o2"
        "   WHERE o2.customer_id = p.customer_id AND o2.ordered_at > :mid"
        "   AND o2.ordered_at <= :end)), 0) AS retained"
        " FROM (SELECT DISTINCT customer_id FROM orders"
        "       WHERE ordered_at > :start AND ordered_at <= :mid) p",
        {"start": base_start, "mid": base_end, "end": next_end},
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
