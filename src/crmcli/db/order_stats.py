"""Order aggregates computed in SQL for the value and loyalty models: per-customer BG/NBD
summaries (x, first and last transaction day, amounts), holdout counts, RFM scores and
segments, acquisition cohorts, repeat and retention counts, ticket satisfaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from crmcli.core.rfm import SEGMENT_RULES
from crmcli.db.database import Database

# ------------------------------------------------------------------- aggregates for models


def local_day_modifier(moment: datetime | None = None) -> str:
    """An SQLite date modifier ('+480 minutes') turning stored UTC times into local dates.

    One offset for the whole history (the zone's offset at `moment`): exact for zones without
    daylight saving time (Asia/Shanghai); elsewhere, orders within an hour of midnight around
    a DST change may be given the neighbouring day.
    """
    from crmcli.core.clock import local_zone, now

    at = (moment or now()).astimezone(local_zone())
    offset = at.utcoffset() or timedelta(0)
    return f"{int(offset.total_seconds() // 60):+d} minutes"


def day_shift(modifier: str) -> float:
    """What to add to julianday(stored UTC time) so that its integer part is the local day
    number (JDN) of the time: +0.5 (JDN days start at noon), the zone offset, and 1e-6 days
    (0.09 s) against rounding just below a local midnight."""
    minutes = int(modifier.split()[0])
    return 0.5 + minutes / 1440.0 + 1e-6


def most_used_currency(db: Database, until: str) -> str | None:
    """The currency of most orders at or before `until` (ties: the first in code order);
    None without orders. One pass over orders_report for the distinct currencies (a small
    ephemeral index, not a sort of every order), and one count per currency when there are
    a few: about 0.2 s per pass at 2M orders, where one GROUP BY sorts them all (1 s)."""
    used = [str(r[0]) for r in db.execute(
        "SELECT DISTINCT currency FROM orders WHERE ordered_at <= ?", (until,)
    )]  # fmt: skip
    if len(used) <= 1:
        return used[0] if used else None
    if len(used) > 4:
        return db.scalar(
            "SELECT currency FROM orders WHERE ordered_at <= ? GROUP BY currency"
            " ORDER BY count(*) DESC, currency LIMIT 1",
            (until,),
        )
    counts = {
        c: int(db.scalar(
            "SELECT count(*) FROM orders WHERE ordered_at <= ? AND currency = ?", (until, c)
        ) or 0)
        for c in used
    }  # fmt: skip
    return min(used, key=lambda c: (-counts[c], c))


def customer_orders(db: Database, until: str, currency: str) -> Iterator[tuple[int, float, int]]:
    """Every order at or before `until` (stored UTC form) as (customer_id, julianday of
    ordered_at, amount in minor units), in customer and then time order, for the value
    model and RFM (crmcli.reports.value.load_summaries aggregates them in numpy).

    The julianday is negated for an order outside the value model, which takes orders in
    `currency` strictly before `until` (RFM counts every order up to `until`): a julianday
    is always positive, so its sign carries the flag. One pass over the covering index
    orders_customer_value (customer_id, ordered_at, amount, currency; m270) in its own
    order: no sort, no table lookup, three values per order and nothing grouped in SQL
    (per-customer GROUP BYs with count(DISTINCT day) cost 8 s at 2M orders, this 3 s).
    """
    sql = """
        SELECT customer_id,
               CASE WHEN currency = :currency AND ordered_at < :until
                    THEN julianday(ordered_at) ELSE -julianday(ordered_at) END,
               amount
        FROM orders
        WHERE ordered_at <= :until
        ORDER BY customer_id, ordered_at
    """
    return db.execute(sql, {"until": until, "currency": currency})


def unknown_customers(db: Database, until: str) -> list[int]:
    """Customer ids of orders at or before `until` without a customer row (normally none:
    orders are deleted with their customer)."""
    rows = db.execute(
        "SELECT DISTINCT customer_id FROM orders WHERE ordered_at <= ?"
        " AND customer_id NOT IN (SELECT id FROM customers)",
        (until,),
    )
    return [int(r[0]) for r in rows]


def customer_labels_in_order(
    db: Database, ids: list[int]
) -> Iterator[tuple[int, str | None, str | None]]:
    """(id, name, external_id) of the given customers that exist, in the order of `ids`
    when they are sorted ascending: the lookups then walk the customers table in rowid
    order (half the time of the same lookups in random order)."""
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        yield from db.execute(
            f"SELECT id, name, external_id FROM customers WHERE id IN ({marks}) ORDER BY id",
            chunk,
        )


def holdout_transactions(
    db: Database, since: str, until: str, currency: str, modifier: str
) -> dict[int, int]:
    """Transaction days per customer in [since, until) (for holdout validation)."""
    rows = db.execute(
        "SELECT customer_id, count(DISTINCT CAST(julianday(ordered_at) + ? AS INTEGER))"
        " FROM orders WHERE ordered_at >= ? AND ordered_at < ? AND currency = ?"
        " GROUP BY customer_id",
        (day_shift(modifier), since, until, currency),
    )
    return {int(cid): int(n) for cid, n in rows}


def order_totals(db: Database, since: str | None, until: str) -> dict[str, Any]:
    """Revenue (cents, per currency), order and customer counts in [since, until)."""
    # A plain range (no "? IS NULL OR ...") so that the orders_ordered index is used.
    lower = since or ""
    rows = db.query(
        "SELECT currency, count(*) AS orders, sum(amount) AS amount,"
        " count(DISTINCT customer_id) AS customers FROM orders"
        " WHERE ordered_at >= ? AND ordered_at < ? GROUP BY currency ORDER BY amount DESC",
        (lower, until),
    )
    customers = db.scalar(
        "SELECT count(DISTINCT customer_id) FROM orders WHERE ordered_at >= ? AND ordered_at < ?",
        (lower, until),
    )
    return {"by_currency": rows, "customers": int(customers or 0)}


def _segment_case_sql(r: str, f: str, m: str) -> str:
    """The rules as an SQL CASE expression over score expressions r, f, m (trusted SQL)."""
    fm = f"(({f}) + ({m}) + 1) / 2"
    whens = [
        f"WHEN ({r}) BETWEEN {r_lo} AND {r_hi} AND {fm} BETWEEN {fm_lo} AND {fm_hi}"
        f" AND ({f}) BETWEEN {f_lo} AND {f_hi} THEN '{name}'"
        for name, r_lo, r_hi, fm_lo, fm_hi, f_lo, f_hi in SEGMENT_RULES
    ]
    return "CASE " + " ".join(whens) + " ELSE 'lost' END"


def rfm_sql(until_param: str = ":rfm_until") -> str:
    """SQL yielding (customer_id, recency_days... ) RFM scores and segment per customer with
    orders up to the bound parameter `until_param`. See crmcli.analytics.rfm for the rules."""
    case = _segment_case_sql("r_score", "f_score", "m_score")
    return f"""
        SELECT customer_id, last_at, orders, monetary, r_score, f_score, m_score,
               {case} AS segment
        FROM (
            SELECT customer_id, last_at, orders, monetary,
                1 + (5 * (RANK() OVER (ORDER BY last_at) - 1)) / n AS r_score,
                1 + (5 * (RANK() OVER (ORDER BY orders) - 1)) / n AS f_score,
                1 + (5 * (RANK() OVER (ORDER BY monetary) - 1)) / n AS m_score
            FROM (
                SELECT customer_id, max(ordered_at) AS last_at, count(*) AS orders,
                       sum(amount) AS monetary, count(*) OVER () AS n
                FROM orders NOT INDEXED WHERE ordered_at <= {until_param}
                GROUP BY customer_id
            )
        )
    """


def rfm_scores(db: Database, until: str) -> list[dict[str, Any]]:
    """RFM scores and segment of every customer with orders up to `until`."""
    sql = (
        "SELECT r.*, c.external_id, c.name FROM (" + rfm_sql() + ") r"
        " JOIN customers c ON c.id = r.customer_id ORDER BY r.customer_id"
    )
    return db.query(sql, {"rfm_until": until})


def rfm_segment_revenue(db: Database, until: str) -> list[dict[str, Any]]:
    """Customers and revenue (cents) per RFM segment, for orders up to `until`."""
    return db.query(
        "SELECT segment, count(*) AS customers, sum(monetary) AS revenue FROM ("
        + rfm_sql()
        + ") GROUP BY segment ORDER BY revenue DESC",
        {"rfm_until": until},
    )


# ------------------------------------------------------------------- loyalty


def cohort_activity(db: Database, until: str, modifier: str) -> list[dict[str, Any]]:
    """(cohort month, months since the first order, active customers) for orders before
    `until`; months are local calendar months."""
    return db.query(
        """
        WITH om AS (
            SELECT DISTINCT customer_id, strftime('%Y-%m', ordered_at, :mod) AS month
            FROM orders WHERE ordered_at < :until
        ), firsts AS (
            SELECT customer_id, min(month) AS cohort FROM om GROUP BY customer_id
        )
        SELECT f.cohort,
               (CAST(substr(om.month, 1, 4) AS INTEGER) * 12 + CAST(substr(om.month, 6, 2) AS INTEGER))
             - (CAST(substr(f.cohort, 1, 4) AS INTEGER) * 12 + CAST(substr(f.cohort, 6, 2) AS INTEGER))
               AS months_since, count(*) AS customers
        FROM om JOIN firsts f ON f.customer_id = om.customer_id
        GROUP BY f.cohort, months_since ORDER BY f.cohort, months_since
        """,
        {"mod": modifier, "until": until},
    )


def repeat_counts(db: Database, until: str, modifier: str) -> dict[str, int]:
    """Customers with orders, and those with orders on two or more local days."""
    # Two or more days <=> the first and the last order fall on different local days.
    row = db.query_one(
        "SELECT count(*) AS customers, coalesce(sum("
        " CAST(julianday(first_at) + :shift AS INTEGER)"
        " < CAST(julianday(last_at) + :shift AS INTEGER)), 0) AS repeaters FROM ("
        " SELECT customer_id, min(ordered_at) AS first_at, max(ordered_at) AS last_at"
        " FROM orders WHERE ordered_at < :until GROUP BY customer_id)",
        {"shift": day_shift(modifier), "until": until},
    )
    return {k: int(v or 0) for k, v in (row or {}).items()}


def retained(db: Database, start: str, middle: str, end: str) -> dict[str, int]:
    """Customers who ordered in [start, middle), and how many of them ordered in [middle, end)."""
    row = db.query_one(
        "SELECT count(*) AS base, coalesce(sum(EXISTS (SELECT 1 FROM orders o2"
        " WHERE o2.customer_id = b.customer_id AND o2.ordered_at >= ? AND o2.ordered_at < ?)), 0)"
        " AS retained FROM (SELECT DISTINCT customer_id FROM orders"
        " WHERE ordered_at >= ? AND ordered_at < ?) b",
        (middle, end, start, middle),
    )
    return {k: int(v or 0) for k, v in (row or {}).items()}


def customer_labels(db: Database, ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """id -> (name, external_id) for the given customers."""
    out: dict[int, tuple[str | None, str | None]] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        for cid, name, external_id in db.execute(
            f"SELECT id, name, external_id FROM customers WHERE id IN ({marks})", chunk
        ):
            out[int(cid)] = (name, external_id)
    return out


def customer_names(db: Database, ids: list[int]) -> dict[int, dict[str, Any]]:
    """id -> {name, external_id, last_order_at} for the given customers."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        for row in db.query(
            "SELECT c.id, c.name, c.external_id, (SELECT max(o.ordered_at) FROM orders o"
            f" WHERE o.customer_id = c.id) AS last_order_at FROM customers c WHERE c.id IN ({marks})",
            chunk,
        ):
            out[int(row.pop("id"))] = row
    return out


def satisfaction_figures(db: Database, since: str | None, until: str) -> dict[str, Any]:
    """Ticket satisfaction (1..5) ratings: count, average, CSAT (share of 4 and 5)."""
    row = db.query_one(
        "SELECT count(satisfaction) AS responses, avg(satisfaction) AS average,"
        " avg(CASE WHEN satisfaction >= 4 THEN 1.0 ELSE 0.0 END) AS csat"
        " FROM tickets WHERE satisfaction IS NOT NULL AND created_at < ?"
        " AND (? IS NULL OR created_at >= ?)",
        (until, since, since),
    )
    return dict(row or {})
