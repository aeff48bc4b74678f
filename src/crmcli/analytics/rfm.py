"""RFM: recency, frequency and monetary quintile scores (1..5) and named segments.

Scores are quintiles of each measure over the customers that have orders, ties sharing the
lower score: score = 1 + floor(5 * (rank - 1) / n) where rank is the 1-based minimum rank
(pandas `rank(method="min")`, SQL `RANK()`). Recency scores 5 for the most recent last order.
The database computes the same scores in SQL (crmcli.db.order_stats.rfm_sql) so that segment
expressions (`rfm=champions`) can use them; `score_quintiles` here is the reference, and
`quintile_array` / `segment_array` are the same rules in numpy for the reports that score
every customer at once (a million customers: three numpy sorts instead of three SQL window
sorts, about 12 s).

Segments use the recency score R and FM = round-half-up((F + M) / 2); the first rule that
matches names the customer's segment (the rules: crmcli.core.rfm).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crmcli.core.rfm import SEGMENT_HELP, SEGMENT_RULES, SEGMENTS, segment_for

__all__ = [
    "SEGMENTS",
    "quintile_array",
    "score_quintiles",
    "segment_array",
    "segment_for",
    "segment_totals",
    "summarise_segments",
]


def score_quintiles(values: Sequence[float]) -> list[int]:
    """1..5 quintile scores, higher values scoring higher, ties sharing the lower score."""
    ordered = sorted(values)
    n = len(ordered)
    first_rank: dict[float, int] = {}
    for i, v in enumerate(ordered, start=1):
        first_rank.setdefault(v, i)
    return [1 + (5 * (first_rank[v] - 1)) // n for v in values]


def quintile_array(values: Any) -> Any:
    """score_quintiles over a numpy array: 1 + (5 * (min-rank - 1)) // n, as int64."""
    import numpy as np

    values = np.asarray(values)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    # The min-rank of a value is 1 + the number of values below it.
    below = np.searchsorted(np.sort(values, kind="stable"), values, side="left")
    return 1 + (5 * below.astype(np.int64)) // values.size


def segment_array(r: Any, f: Any, m: Any) -> Any:
    """segment_for over score arrays: the index into SEGMENTS of every customer's segment."""
    import numpy as np

    fm = (f + m + 1) // 2
    out = np.full(r.shape, SEGMENTS.index("lost"), dtype=np.int64)
    open_ = np.ones(r.shape, dtype=bool)
    for k, (_, r_lo, r_hi, fm_lo, fm_hi, f_lo, f_hi) in enumerate(SEGMENT_RULES):
        hit = (
            open_
            & (r >= r_lo)
            & (r <= r_hi)
            & (fm >= fm_lo)
            & (fm <= fm_hi)
            & (f >= f_lo)
            & (f <= f_hi)
        )
        out[hit] = k
        open_ &= ~hit
    return out


def segment_totals(last: Any, orders: Any, monetary: Any) -> list[dict[str, Any]]:
    """Customers and revenue (minor units) per segment from per-customer arrays: what
    crmcli.db.order_stats.rfm_segment_revenue computes in SQL, revenue descending."""
    import numpy as np

    if len(last) == 0:
        return []
    seg = segment_array(quintile_array(last), quintile_array(orders), quintile_array(monetary))
    counts = np.bincount(seg, minlength=len(SEGMENTS))
    # Float sums of whole minor units are exact below 2**53 (90 trillion in major units).
    revenue = np.bincount(seg, weights=monetary, minlength=len(SEGMENTS))
    rows = [
        {"segment": SEGMENTS[k], "customers": int(counts[k]), "revenue": int(round(revenue[k]))}
        for k in range(len(SEGMENTS))
        if counts[k]
    ]
    return sorted(rows, key=lambda r: -r["revenue"])


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
