"""RFM: recency, frequency and monetary quintile scores (1..5) and named segments.

Scores are quintiles of each measure over the customers that have orders, ties sharing the
lower score: score = 1 + floor(5 * (rank - 1) / n) where rank is the 1-based minimum rank
(pandas `rank(method="min")`, SQL `RANK()`). Recency scores 5 for the most recent last order.
The database computes the same scores in SQL (crmcli.db.order_stats.rfm_sql) so that segment
expressions (`rfm=champions`) can use them; `score_quintiles` here is the reference.

Segments use the recency score R and FM = round-half-up((F + M) / 2); the first rule that
matches names the customer's segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# (segment, min R, max R, min FM, max FM, min F, max F), checked in this order.
SEGMENT_RULES: tuple[tuple[str, int, int, int, int, int, int], ...] = (
    ("champions", 4, 5, 4, 5, 1, 5),
    ("loyal", 3, 5, 3, 5, 1, 5),
    ("new", 4, 5, 1, 5, 1, 1),
    ("potential_loyalist", 4, 5, 1, 5, 1, 5),
    ("need_attention", 3, 3, 2, 5, 1, 5),
    ("about_to_sleep", 3, 3, 1, 1, 1, 5),
    ("cant_lose", 1, 1, 4, 5, 1, 5),
    ("at_risk", 1, 2, 3, 5, 1, 5),
    ("hibernating", 2, 2, 1, 2, 1, 5),
    ("lost", 1, 1, 1, 2, 1, 5),
)
SEGMENTS: tuple[str, ...] = tuple(rule[0] for rule in SEGMENT_RULES)
SEGMENT_HELP = {
    "champions": "bought recently, often and for a lot",
    "loyal": "regular buyers, recent enough",
    "new": "first order recently",
    "potential_loyalist": "recent, with a few orders",
    "need_attention": "middling recency, decent value",
    "about_to_sleep": "middling recency, low value",
    "cant_lose": "used to buy a lot, long gone",
    "at_risk": "valuable once, slipping away",
    "hibernating": "low value, not recent",
    "lost": "lowest recency and value",
}


def normalize_segment(name: str) -> str | None:
    """'Can't lose', 'cant-lose', 'at risk' -> canonical key, or None if unknown."""
    key = name.strip().lower().replace("'", "").replace("’", "").replace("-", "_")
    key = "_".join(key.split())
    key = {"potential_loyalists": "potential_loyalist", "cannot_lose": "cant_lose"}.get(key, key)
    return key if key in SEGMENTS else None


def fm_score(f: int, m: int) -> int:
    return (f + m + 1) // 2


def segment_for(r: int, f: int, m: int) -> str:
    """The named segment for scores (r, f, m), each 1..5."""
    fm = fm_score(f, m)
    for name, r_lo, r_hi, fm_lo, fm_hi, f_lo, f_hi in SEGMENT_RULES:
        if r_lo <= r <= r_hi and fm_lo <= fm <= fm_hi and f_lo <= f <= f_hi:
            return name
    return "lost"


def segment_case_sql(r: str, f: str, m: str) -> str:
    """The rules as an SQL CASE expression over score expressions r, f, m (trusted SQL)."""
    fm = f"(({f}) + ({m}) + 1) / 2"
    whens = [
        f"WHEN ({r}) BETWEEN {r_lo} AND {r_hi} AND {fm} BETWEEN {fm_lo} AND {fm_hi}"
        f" AND ({f}) BETWEEN {f_lo} AND {f_hi} THEN '{name}'"
        for name, r_lo, r_hi, fm_lo, fm_hi, f_lo, f_hi in SEGMENT_RULES
    ]
    return "CASE " + " ".join(whens) + " ELSE 'lost' END"


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
