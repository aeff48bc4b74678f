"""RFM: recency, frequency and monetary quintile scores (1..5) and named segments.

Scores are quintiles of each measure over the customers that have orders, ties sharing the
lower score: score = 1 + floor(5 * (rank - 1) / n) where rank is the 1-based minimum rank
(pandas `rank(method="min")`, SQL `RANK()`). Recency scores 5 for the most recent last order.
The database computes the same scores in SQL (crmcli.db.order_stats.rfm_sql) so that segment
expressions (`rfm=champions`) can use them; `score_quintiles` here is the reference.

Segments use the recency score R and FM = round-half-up((F + M) / 2); the first rule that
matches names the customer's segment (the rules: crmcli.core.rfm).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crmcli.core.rfm import SEGMENT_HELP, SEGMENTS, segment_for

__all__ = ["SEGMENTS", "score_quintiles", "segment_for", "summarise_segments"]


def score_quintiles(values: Sequence[float]) -> list[int]:
    """1..5 quintile scores, higher values scoring higher, ties sharing the lower score."""
    ordered = sorted(values)
    n = len(ordered)
    first_rank: dict[float, int] = {}
    for i, v in enumerate(ordered, start=1):
        first_rank.setdefault(v, i)
    return [1 + (5 * (first_rank[v] - 1)) // n for v in values]


def summarise_segments(per_segment: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every segment with its customers, revenue and shares, from rows of `segment`,
    `customers` and `revenue` (decimal) per segment (segments without rows show zeros)."""
    found = {str(r["segment"]): r for r in per_segment}
    total_customers = sum(int(r["customers"]) for r in per_segment)
    total_revenue = sum(float(r["revenue"] or 0) for r in per_segment)
    out = []
    for name in SEGMENTS:
        customers = int(found[name]["customers"]) if name in found else 0
        revenue = float(found[name]["revenue"] or 0) if name in found else 0.0
        out.append(
            {
                "segment": name,
                "customers": customers,
                "share": round(customers / total_customers, 4) if total_customers else 0.0,
                "revenue": round(revenue, 2),
                "revenue_share": round(revenue / total_revenue, 4) if total_revenue else 0.0,
                "average_revenue": round(revenue / customers, 2) if customers else None,
                "meaning": SEGMENT_HELP[name],
            }
        )
    return out
