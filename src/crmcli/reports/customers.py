"""The customers report: growth per period, and the customer base by lifecycle, tag and owner.

Lifecycle, tags and owner are the current values (the database keeps no history of them);
which customers are counted follows --as-of (created by then, not erased by then).
"""

from __future__ import annotations

from typing import Any

from crmcli.db import Database
from crmcli.db import reporting as sql
from crmcli.reports.model import ChartSpec, absent
from crmcli.reports.periods import Period, buckets

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
    growth = []
    for label, _, _ in bounds:
        new = counts.get(label, 0)
        previous_total = running
        running += new
        growth.append(
            {
                "period": label,
                "new_customers": new,
                "cumulative_customers": running,
                "growth_pct": round(new / previous_total * 100, 1) if previous_total else None,
            }
        )
    by_lifecycle = sql.customers_by(db, "lifecycle", period.end_iso)
    total = sum(r["customers"] for r in by_lifecycle)
    by_tag = sql.customers_by(db, "tag", period.end_iso)
    by_owner = sql.customers_by(db, "owner", period.end_iso)
    return {
        "period": {**period.describe(), "unit": unit},
        "growth": growth,
        "by_lifecycle": _with_share(by_lifecycle, total),
        "by_tag": _with_share(by_tag, total) if by_tag else absent("no customer has a tag"),
        "by_owner": _with_share(by_owner, total),
    }
