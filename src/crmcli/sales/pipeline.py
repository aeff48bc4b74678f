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
    states: list[dict[str, Any]], entered: list[tuple[int, str]], stages: list[dict[str, Any]]
) -> dict[int, int]:
    """{deal id: the highest open-stage position it was in}; a won deal reached them all."""
    position = {s["name"]: s["position"] for s in stages if s["kind"] == "open"}
    top = max(position.values(), default=0)
    kinds = {s["name"]: s["kind"] for s in stages}
    out: dict[int, int] = {}
    for deal_id, stage in entered:
        if stage in position and position[stage] > out.get(deal_id, 0):
            out[deal_id] = position[stage]
    for state in states:
        if kinds.get(state["stage"]) == "won":
            out[state["id"]] = top
    return out


def stage_rates(
    states: list[dict[str, Any]], reached: dict[int, int], stages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per open stage: closed deals that reached it, how many of them were won, and the rate
    the forecast uses (history, or the stage probability when history is thin)."""
    kinds = {s["name"]: s["kind"] for s in stages}
    closed = [s for s in states if kinds.get(s["stage"]) in ("won", "lost")]
    rows = []
    for stage in stages:
        if stage["kind"] != "open":
            continue
        passed = [s for s in closed if reached.get(s["id"], 0) >= stage["position"]]
        won = sum(1 for s in passed if kinds[s["stage"]] == "won")
        history = won / len(passed) if passed else None
        enough = len(passed) >= MIN_CLOSED_FOR_HISTORY
        rows.append(
            {
                "stage": stage["name"],
                "closed_deals": len(passed),
                "won_deals": won,
                "historical_rate": None if history is None else round(history, 4),
                "probability": stage["probability"],
                "basis": "history" if enough else "stage_probability",
                "rate_used": round(history, 4) if enough and history is not None
                else stage["probability"] / 100,
            }
        )  # fmt: skip
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
