"""The RFM segment vocabulary: the segment names and the rules that assign them.

Shared by the SQL in crmcli.db (segment expressions such as `rfm=champions`) and the models
in crmcli.analytics.rfm, so both name a customer's segment the same way.
"""

from __future__ import annotations

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
