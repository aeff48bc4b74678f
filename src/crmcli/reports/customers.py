"""The customers report: growth per period, and the customer base by lifecycle, tag and owner.

Lifecycle, tags and owner are the current values (the database keeps no history of them);
which customers are counted follows --as-of (created by then, not erased by then).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from crmcli.core.clock import from_iso, to_iso
from crmcli.db import Database
from crmcli.db import reporting as sql
from crmcli.reports.model import ChartSpec, absent
from crmcli.reports.periods import (
    Period,
    buckets,
    change,
    is_partial,
    partial_description,
    same_elapsed_previous,
)

CHARTS: list[ChartSpec] = [
    {
        "section": "growth",
        "x": "period",
        "y": ["new_customers"],
        "kind": "bar",
        "title": "New customers per period",
    },
    {
        "section": "growth",
        "x": "period",
        "y": ["cumulative_customers"],
        "kind": "line",
        "title": "Customers (cumulative)",
    },
    {"section": "by_owner", "x": "owner", "y": ["customers"], "kind": "bar", "title": "By owner"},
]


def _with_share(rows: list[dict[str, Any]], total: int) -> list[dict[str, Any]]:
    return [
        {**r, "share_pct": round(r["customers"] / total * 100, 1) if total else None} for r in rows
    ]


def customers_report(db: Database, period: Period, unit: str = "month") -> dict[str, Any]:
    """Growth per calendar `unit` over the period, then the base at the period's end."""
    if not sql.any_rows(db, "customers", "created_at", period.end_iso):
        reason = "no customers yet"
        return {
            "period": {**period.describe(), "unit": unit},
            "growth": absent(reason),
            "by_lifecycle": absent(reason),
            "by_tag": absent(reason),
            "by_owner": absent(reason),
        }
    bounds = buckets(period.start, period.end, unit)
    counts = sql.bucket_counts(db, "customers", "created_at", bounds)
    running = sql.created_before(db, bounds[0][1])
    growth: list[dict[str, Any]] = []
    for label, lo, hi in bounds:
        new = counts.get(label, 0)
        previous_total = running
        running += new
        growth.append(
            {
                "period": label,
                "new_customers": new,
                "cumulative_customers": running,
                "growth_pct": round(new / previous_total * 100, 1) if previous_total else None,
                "partial": is_partial(date.fromisoformat(label), unit, from_iso(lo), from_iso(hi)),
            }
        )
    partial: dict[str, object] | None = None
    if growth[-1]["partial"]:
        # The period so far, against the same elapsed part of the one before.
        day = date.fromisoformat(growth[-1]["period"])
        _, lo, hi = bounds[-1]
        lo_prev, hi_prev = same_elapsed_previous(day, unit, from_iso(hi))
        before = sql.bucket_counts(
            db, "customers", "created_at", [("before", to_iso(lo_prev), to_iso(hi_prev))]
        ).get("before", 0)
        growth[-1]["previous_same_elapsed"] = before
        growth[-1].update(change(growth[-1]["new_customers"], before))
        partial = partial_description(day, unit, from_iso(lo), period.end)
    by_lifecycle = sql.customers_by(db, "lifecycle", period.end_iso)
    total = sum(r["customers"] for r in by_lifecycle)
    by_tag = sql.customers_by(db, "tag", period.end_iso)
    by_owner = sql.customers_by(db, "owner", period.end_iso)
    return {
        "period": {**period.describe(), "unit": unit, "partial_period": partial},
        "growth": growth,
        "by_lifecycle": _with_share(by_lifecycle, total),
        "by_tag": _with_share(by_tag, total) if by_tag else absent("no customer has a tag"),
        "by_owner": _with_share(by_owner, total),
    }
