"""Aggregate queries behind `crm report tickets`: SQL does the counting and sorting.

Every function takes the report's window (start, end] and the as-of time `at` as stored-form
UTC strings, and returns small lists/dicts: at 200k tickets nothing row-per-ticket comes
back to Python. Statuses as of `at` are rebuilt from the timeline (the last status event at
or before `at`) unless nothing happened after `at`, when the status column is used.
"""

from __future__ import annotations

import math
from typing import Any

from crmcli.db.database import Database

AGING_BUCKETS = (
    ("< 1 day", 0, 1),
    ("1-3 days", 1, 3),
    ("3-7 days", 3, 7),
    ("7-30 days", 7, 30),
    ("30+ days", 30, None),
)


def _status_sql(db: Database, at: str) -> str:
    later = db.scalar("SELECT 1 FROM ticket_events WHERE at > ? LIMIT 1", (at,))
    later = later or db.scalar("SELECT 1 FROM tickets WHERE updated_at > ? LIMIT 1", (at,))
    if not later:
        return "t.status"
    return (
        "COALESCE((SELECT e.to_status FROM ticket_events e WHERE e.ticket_id = t.id"
        " AND e.to_status IS NOT NULL AND e.at <= :at ORDER BY e.at DESC, e.id DESC LIMIT 1),"
        " 'open')"
    )


def _backlog_cte(db: Database, at: str) -> str:
    return (
        "WITH b AS (SELECT t.id, t.priority, COALESCE(t.assignee, '(unassigned)') AS assignee,"
        " t.created_at, t.due_at, t.response_due_at, t.first_response_at, t.sla_paused_at,"
        f" {_status_sql(db, at)} AS status FROM tickets t WHERE t.created_at <= :at)"
    )


def backlog(db: Database, at: str) -> dict[str, list[dict[str, Any]]]:
    """Active tickets as of `at` by status, priority (with breaches) and assignee; aging."""
    cte = _backlog_cte(db, at)
    active = "b.status IN ('open', 'in_progress', 'waiting')"
    breached = (
        "((b.response_due_at IS NOT NULL AND b.response_due_at < :at AND"
        " (b.first_response_at IS NULL OR b.first_response_at > b.response_due_at))"
        " OR (b.due_at IS NOT NULL AND b.due_at < min(COALESCE(b.sla_paused_at, :at), :at)))"
    )
    params = {"at": at}
    by_status = db.query(
        f"{cte} SELECT b.status, count(*) AS tickets FROM b WHERE {active}"
        " GROUP BY b.status ORDER BY CASE b.status WHEN 'open' THEN 0"
        " WHEN 'in_progress' THEN 1 ELSE 2 END",
        params,
    )
    by_priority = db.query(
        f"{cte} SELECT b.priority, count(*) AS tickets, sum({breached}) AS breached"
        f" FROM b WHERE {active} GROUP BY b.priority ORDER BY CASE b.priority"
        " WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END",
        params,
    )
    by_assignee = db.query(
        f"{cte} SELECT b.assignee, sum(b.status = 'open') AS open,"
        " sum(b.status = 'in_progress') AS in_progress, sum(b.status = 'waiting') AS waiting,"
        f" count(*) AS total, sum({breached}) AS breached FROM b WHERE {active}"
        " GROUP BY b.assignee ORDER BY total DESC, b.assignee",
        params,
    )
    cases = " ".join(
        f"WHEN age < {hi} THEN '{label}'" for label, _, hi in AGING_BUCKETS if hi is not None
    )
    aging_rows = {
        r["bucket"]: r["tickets"]
        for r in db.query(
            f"{cte} SELECT CASE {cases} ELSE '{AGING_BUCKETS[-1][0]}' END AS bucket,"
            " count(*) AS tickets FROM (SELECT julianday(:at) - julianday(b.created_at) AS age"
            f" FROM b WHERE {active}) GROUP BY bucket",
            params,
        )
    }
    aging = [{"age": label, "tickets": aging_rows.get(label, 0)} for label, _, _ in AGING_BUCKETS]
    return {
        "by_status": by_status,
        "by_priority": by_priority,
        "by_assignee": by_assignee,
        "aging": aging,
    }


def quantiles(
    db: Database, expr: str, where: str, params: dict[str, Any], probs: tuple[float, ...]
) -> dict[str, Any]:
    """n, mean and linear-interpolation quantiles (numpy's default) of `expr` over `where`.

    SQLite sorts once (a window query); only the neighbouring values of each quantile
    come back to Python.
    """
    base = f"SELECT {expr} AS v FROM tickets t WHERE {where}"
    n, mean = db.execute(
        f"SELECT count(v), avg(v) FROM ({base}) WHERE v IS NOT NULL", params
    ).fetchone()
    out: dict[str, Any] = {"n": int(n), "mean": mean}
    keys = ["median" if p == 0.5 else f"p{round(p * 100)}" for p in probs]
    if not n:
        return out | {k: None for k in keys}
    ranks = {p: (n - 1) * p for p in probs}
    wanted = sorted({r for h in ranks.values() for r in (math.floor(h), math.floor(h) + 1)})
    marks = ", ".join(str(int(r)) for r in wanted)  # integers computed here, not user text
    values = dict(
        db.execute(
            f"SELECT rn, v FROM (SELECT v, row_number() OVER (ORDER BY v) - 1 AS rn"
            f" FROM ({base}) WHERE v IS NOT NULL) WHERE rn IN ({marks})",
            params,
        ).fetchall()
    )
    for key, p in zip(keys, probs, strict=True):
        lo = math.floor(ranks[p])
        upper = values.get(lo + 1, values[lo])
        out[key] = values[lo] + (ranks[p] - lo) * (upper - values[lo])
    return out


def durations(db: Database, start: str, end: str, at: str) -> dict[str, dict[str, Any]]:
    """First-response minutes and resolution hours of tickets opened in (start, end]."""
    params = {"start": start, "end": end, "at": at}
    window = "t.created_at > :start AND t.created_at <= :end"
    return {
        "first_response_minutes": quantiles(
            db,
            "(strftime('%s', t.first_response_at) - strftime('%s', t.created_at)) / 60.0",
            f"{window} AND t.first_response_at <= :at",
            params,
            (0.5, 0.9),
        ),
        "resolution_hours": quantiles(
            db,
            "(strftime('%s', t.resolved_at) - strftime('%s', t.created_at)) / 3600.0",
            f"{window} AND t.resolved_at <= :at",
            params,
            (0.5, 0.9),
        ),
    }


# a ticket resolved or closed at a time nobody knows (an import that did not give it)
_UNTIMED = "(t.status IN ('resolved', 'closed') AND t.resolved_at IS NULL)"


def sla_outcomes(db: Database, start: str, end: str, at: str) -> list[dict[str, Any]]:
    """Met / breached / unknown / pending per clock for tickets opened in (start, end], as
    of `at` (unknown: resolved or closed at a time not known, see _UNTIMED)."""
    params = {"start": start, "end": end, "at": at}
    stopped = "min(COALESCE(t.sla_paused_at, :at), :at)"
    row = (
        db.query_one(
            "SELECT"
            " sum(t.first_response_at <= :at AND t.first_response_at <= t.response_due_at) AS rm,"
            " sum((t.first_response_at <= :at AND t.first_response_at > t.response_due_at) OR"
            f"  ((t.first_response_at IS NULL OR t.first_response_at > :at)"
            f"   AND t.response_due_at < {stopped}"
            f"   AND NOT (t.first_response_at IS NULL AND {_UNTIMED}))) AS rb,"
            " sum(t.response_due_at IS NOT NULL AND t.first_response_at IS NULL"
            f"  AND {_UNTIMED}) AS ru,"
            " sum(t.response_due_at IS NOT NULL) AS rn,"
            " sum(t.resolved_at <= :at AND t.resolved_at <= t.due_at) AS sm,"
            " sum((t.resolved_at <= :at AND t.resolved_at > t.due_at) OR"
            f"  ((t.resolved_at IS NULL OR t.resolved_at > :at) AND t.due_at < {stopped}"
            f"   AND NOT {_UNTIMED})) AS sb,"
            f" sum(t.due_at IS NOT NULL AND {_UNTIMED}) AS su,"
            " sum(t.due_at IS NOT NULL) AS sn"
            " FROM tickets t WHERE t.created_at > :start AND t.created_at <= :end",
            params,
        )
        or {}
    )
    out = []
    for clock, met, breached, unknown, total in (
        ("first_response", row.get("rm"), row.get("rb"), row.get("ru"), row.get("rn")),
        ("resolution", row.get("sm"), row.get("sb"), row.get("su"), row.get("sn")),
    ):
        met, breached, total = int(met or 0), int(breached or 0), int(total or 0)
        unknown = int(unknown or 0)
        decided = met + breached
        out.append(
            {
                "clock": clock,
                "met": met,
                "breached": breached,
                # resolved or closed without the time (an import that did not give it):
                # neither met nor breached, and not pending either
                "unknown": unknown,
                "pending": total - decided - unknown,
                "compliance_pct": round(100.0 * met / decided, 2) if decided else None,
            }
        )
    return out


def csat(db: Database, start: str, end: str, at: str) -> dict[str, Any]:
    """n, sum and sum of squares of ratings given in (start, end], plus the distribution."""
    params = {"start": start, "end": min(end, at)}
    where = "t.satisfaction IS NOT NULL AND t.rated_at > :start AND t.rated_at <= :end"
    n, total, squares = db.execute(
        "SELECT count(*), sum(t.satisfaction), sum(t.satisfaction * t.satisfaction)"
        f" FROM tickets t WHERE {where}",
        params,
    ).fetchone()
    spread = dict(
        db.execute(
            f"SELECT t.satisfaction, count(*) FROM tickets t WHERE {where} GROUP BY 1", params
        ).fetchall()
    )
    return {
        "n": int(n or 0),
        "sum": int(total or 0),
        "sum_squares": int(squares or 0),
        "distribution": {score: int(spread.get(score, 0)) for score in range(1, 6)},
    }


def hourly_counts(db: Database, column: str, start: str, end: str) -> list[tuple[str, int]]:
    """(UTC hour 'YYYY-MM-DDTHH', count) of tickets whose `column` falls in (start, end]."""
    if column not in ("created_at", "resolved_at"):
        raise ValueError(column)
    return [
        (hour, int(n))
        for hour, n in db.execute(
            f"SELECT substr(t.{column}, 1, 13) AS hour, count(*) FROM tickets t"
            f" WHERE t.{column} > ? AND t.{column} <= ? GROUP BY hour ORDER BY hour",
            (start, end),
        )
    ]
