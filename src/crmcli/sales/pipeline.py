"""Pipeline rules: how far a deal got, stage win rates from history, the bookings forecast.

Pure functions over plain deal states (as `db.deals.deal_states` returns them) and the
stage list; amounts stay in minor units here.
"""

from __future__ import annotations

from typing import Any

# A stage's own history is used for the forecast only when at least this many closed deals
# reached it; below that, the stage's configured probability is used (and the report says so).
MIN_CLOSED_FOR_HISTORY = 5


def reached_positions(
    states: list[dict[str, Any]], entered: dict[int, int], stages: list[dict[str, Any]]
) -> dict[int, int]:
    """{deal id: the highest open-stage position it got to}: the highest it was moved into
    (`entered`), and every open stage for a won deal."""
    top = max((s["position"] for s in stages if s["kind"] == "open"), default=0)
    won = {s["name"] for s in stages if s["kind"] == "won"}
    out = dict(entered)
    for state in states:
        if state["stage"] in won:
            out[state["id"]] = top
    return out


def stage_rates(
    states: list[dict[str, Any]], reached: dict[int, int], stages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per open stage: closed deals that reached it, how many of them were won, and the rate
    the forecast uses (history, or the stage probability when history is thin)."""
    kinds = {s["name"]: s["kind"] for s in stages}
    closed_at: dict[int, int] = {}  # reached position -> closed deals
    won_at: dict[int, int] = {}
    for state in states:
        kind = kinds.get(state["stage"])
        if kind in ("won", "lost"):
            position = reached.get(state["id"], 0)
            closed_at[position] = closed_at.get(position, 0) + 1
            if kind == "won":
                won_at[position] = won_at.get(position, 0) + 1
    rows = []
    for stage in stages:
        if stage["kind"] != "open":
            continue
        n = sum(c for p, c in closed_at.items() if p >= stage["position"])
        won = sum(c for p, c in won_at.items() if p >= stage["position"])
        history = won / n if n else None
        enough = n >= MIN_CLOSED_FOR_HISTORY
        rows.append(
            {
                "stage": stage["name"],
                "closed_deals": n,
                "won_deals": won,
                "historical_rate": None if history is None else round(history, 4),
                "probability": stage["probability"],
                "basis": "history" if enough else "stage_probability",
                "rate_used": round(history, 4)
                if enough and history is not None
                else stage["probability"] / 100,
            }
        )
    return rows


def expected_by_month(
    open_states: list[dict[str, Any]], rates: dict[str, float], months: list[str]
) -> list[dict[str, Any]]:
    """Per month (YYYY-MM): open deals closing in it, their amount, expected bookings =
    Σ amount × the stage's rate (minor units)."""
    rows: dict[str, dict[str, Any]] = {
        m: {"month": m, "deals": 0, "amount": 0, "expected_bookings": 0.0} for m in months
    }
    for state in open_states:
        month = (state["close_date"] or "")[:7]
        if month in rows and state["stage"] in rates:
            row = rows[month]
            row["deals"] += 1
            row["amount"] += int(state["amount"] or 0)
            row["expected_bookings"] += int(state["amount"] or 0) * rates[state["stage"]]
    return list(rows.values())


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
