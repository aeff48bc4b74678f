"""`crm report loyalty`: acquisition cohorts and their retention, repeat purchase rate,
churn risk among formerly valuable customers, and satisfaction (CSAT) from tickets.

Definitions
- Cohort: the local calendar month of a customer's first order. Retention in month k is the
  share of the cohort that ordered in the k-th calendar month after the first one (k = 0 is
  the first month: always 100%).
- Repeat purchase rate: the share of customers with orders who ordered on two or more days.
- Retention rate: of the customers who ordered in the 90 days before the last 90 days, the
  share who ordered again in the last 90 days (up to the as-of time).
- Churn risk: customers whose historic spend is in the top fifth and whose BG/NBD P(alive)
  is below the threshold (default 0.5).
- CSAT: the share of ticket satisfaction ratings (1..5) that are 4 or 5.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crmcli.core import clock
from crmcli.core.clock import to_iso
from crmcli.db import Database, order_stats
from crmcli.reports.model import absent

RETENTION_WINDOW_DAYS = 90
CHURN_THRESHOLD = 0.5


def cohort_table(db: Database, until: str, months: int) -> list[dict[str, Any]]:
    """One row per cohort month: customers, then the retained share for month_0..month_N."""
    rows = order_stats.cohort_activity(db, until, order_stats.local_day_modifier())
    now_month = clock.now().astimezone(clock.local_zone())
    last = now_month.year * 12 + now_month.month
    table: dict[str, dict[str, Any]] = {}
    for r in rows:
        cohort = r["cohort"]
        entry = table.setdefault(cohort, {"cohort": cohort, "customers": 0, "active": {}})
        if r["months_since"] == 0:
            entry["customers"] = int(r["customers"])
        entry["active"][int(r["months_since"])] = int(r["customers"])
    out = []
    for cohort, entry in sorted(table.items()):
        year, month = (int(p) for p in cohort.split("-"))
        observed = last - (year * 12 + month)  # months that have (begun to) happen(ed)
        row: dict[str, Any] = {"cohort": cohort, "customers": entry["customers"]}
        for k in range(months + 1):
            if k > observed or not entry["customers"]:
                row[f"month_{k}"] = None
            else:
                row[f"month_{k}"] = round(entry["active"].get(k, 0) / entry["customers"], 4)
        # The current month has only begun: its share is the share so far, not comparable
        # with the complete months before it.
        row["partial_month"] = f"month_{observed}" if observed <= months else None
        out.append(row)
    return out


def current_month(now: datetime) -> dict[str, object]:
    """The calendar month holding `now` (partial: it has begun and not ended)."""
    from crmcli.reports.periods import partial_description, unit_floor, unit_start

    first = unit_start(now, "month")
    out = partial_description(first, "month", unit_floor(now, "month"), now)
    out["period"] = first.isoformat()[:7]
    return out


def _quantile(values: Any, q: float) -> float:
    """numpy.quantile(values, q) (the default "linear" method, numpy's own interpolation),
    without numpy.quantile: its first call costs ~0.1 s of imports."""
    import numpy as np

    ordered = np.sort(np.asarray(values, dtype=np.float64))
    position = q * (len(ordered) - 1)
    below = int(np.floor(position))
    above = min(below + 1, len(ordered) - 1)
    t = position - below
    a, b = float(ordered[below]), float(ordered[above])
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def churn_risk(
    db: Database, now: datetime, threshold: float, top: int | None
) -> tuple[list[dict[str, Any]], int, str | None]:
    """Formerly valuable customers (top fifth by historic spend) with P(alive) < threshold."""
    import numpy as np

    from crmcli.reports.value import model_figures

    figures = model_figures(db, now)
    if "p_alive" not in figures:
        return [], 0, figures.get("model_error") or "no orders"
    historic = figures["historic_value"]
    cutoff = _quantile(historic, 0.8)
    mask = (historic >= cutoff) & (figures["p_alive"] < threshold)
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(-historic[idx], kind="stable")]
    count = int(idx.size)
    if top:
        idx = idx[:top]
    ids = [int(figures["customer_id"][i]) for i in idx]
    names = order_stats.customer_names(db, ids)
    rows = [
        {
            "customer_id": cid,
            "external_id": names.get(cid, {}).get("external_id"),
            "name": names.get(cid, {}).get("name"),
            "spend": round(float(historic[i]), 2),
            "repeat_purchases": int(figures["x"][i]),
            "p_alive": round(float(figures["p_alive"][i]), 4),
            "clv": round(float(figures["clv"][i]), 2),
            "last_order_at": names.get(cid, {}).get("last_order_at"),
        }
        for cid, i in zip(ids, idx, strict=True)
    ]
    return rows, count, None


def _retention(db: Database, now: datetime) -> dict[str, Any]:
    window = timedelta(days=RETENTION_WINDOW_DAYS)
    counts = order_stats.retained(
        db, to_iso(now - 2 * window), to_iso(now - window), to_iso(now + timedelta(seconds=1))
    )
    rate = round(counts["retained"] / counts["base"], 4) if counts["base"] else None
    return {"base": counts["base"], "retained": counts["retained"], "rate": rate}


def _repeat_rate(db: Database, until: str) -> dict[str, Any]:
    counts = order_stats.repeat_counts(db, until, order_stats.local_day_modifier())
    rate = round(counts["repeaters"] / counts["customers"], 4) if counts["customers"] else None
    return {"customers": counts["customers"], "repeaters": counts["repeaters"], "rate": rate}


def loyalty_report(
    db: Database, months: int = 12, threshold: float = CHURN_THRESHOLD, top: int | None = 50
) -> dict[str, Any]:
    now = clock.now().astimezone(UTC)
    until = to_iso(now + timedelta(seconds=1))
    repeat = _repeat_rate(db, until)
    retention = _retention(db, now)
    at_risk, at_risk_count, why = churn_risk(db, now, threshold, top)
    csat = order_stats.satisfaction_figures(db, None, until)
    report: dict[str, Any] = {
        "summary": {
            "customers_with_orders": repeat["customers"],
            "repeat_customers": repeat["repeaters"],
            "repeat_purchase_rate": repeat["rate"],
            "retention_base": retention["base"],
            "retained": retention["retained"],
            "retention_rate": retention["rate"],
            "retention_window_days": RETENTION_WINDOW_DAYS,
            "churn_risk_count": at_risk_count,
            "churn_threshold": threshold,
            "partial_period": current_month(now),
        },
        "cohorts": cohort_table(db, until, months),
        "churn_risk": at_risk if why is None else absent(f"no value model: {why}"),
    }
    if csat.get("responses"):
        report["satisfaction"] = {
            "responses": int(csat["responses"]),
            "average": round(float(csat["average"]), 3),
            "csat": round(float(csat["csat"]), 4),
        }
    else:
        report["satisfaction"] = absent("no ticket has a satisfaction rating")
    return report


def loyalty_summary(db: Database, as_of: datetime | None = None) -> dict[str, Any]:
    """Key loyalty figures for the dashboard at `as_of` (default now):
    repeat_purchase_rate (share of customers with orders who ordered on 2+ days),
    retention_rate (of customers who ordered 90-180 days ago, the share who ordered in the
    last 90 days), churn_risk_count (top-fifth spenders with P(alive) < 0.5), csat."""
    now = (as_of or clock.now()).astimezone(UTC)
    until = to_iso(now + timedelta(seconds=1))
    repeat = _repeat_rate(db, until)
    retention = _retention(db, now)
    _, at_risk_count, why = churn_risk(db, now, CHURN_THRESHOLD, 1)
    csat = order_stats.satisfaction_figures(db, to_iso(now - timedelta(days=30)), until)
    return {
        "repeat_purchase_rate": repeat["rate"],
        "retention_rate": retention["rate"],
        "retention_window_days": RETENTION_WINDOW_DAYS,
        "churn_risk_count": at_risk_count if why is None else None,
        "csat": round(float(csat["csat"]), 4) if csat.get("responses") else None,
    }
