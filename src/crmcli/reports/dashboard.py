"""The KPI dashboard: operations (customers, contacts, tickets) next to the three outcome
measures of a CRM — satisfaction, value and loyalty — each against the previous period of
equal length.

Every figure is an SQL aggregate (crmcli.db.reporting); nothing is loaded row by row, so the
dashboard stays fast on millions of records. Average CLV uses the closed-form "simple
retention" formula (Gupta & Lehmann 2003): CLV = m * r / (1 + d - r), with m the average
yearly revenue per buyer over the last 365 days, r the share of the buyers of the year before
who bought again in the last 365 days, and d = 10 % a year. It is two aggregate queries; the
BG/NBD + Gamma-Gamma fit (`crm report value`) is the per-customer model, far too slow to
refit on every dashboard at a million customers.
"""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from typing import Any

from crmcli.core.clock import from_iso, to_iso
from crmcli.core.validate import money
from crmcli.db import Database
from crmcli.db import reporting as sql
from crmcli.reports.model import ChartSpec, absent
from crmcli.reports.periods import (
    Period,
    buckets,
    change,
    is_partial,
    same_elapsed_previous,
    unit_floor,
)

DISCOUNT_RATE = 0.10
CHURN_RISK_AFTER_DAYS = 90
LOST_AFTER_DAYS = 365
TREND_WEEKS = 12

CHARTS: list[ChartSpec] = [
    {
        "section": "contacts_trend",
        "x": "week",
        "y": ["communications"],
        "kind": "line",
        "title": "Communications per week",
    },
    {
        "section": "customers_by_lifecycle",
        "x": "lifecycle",
        "y": ["customers"],
        "kind": "bar",
        "title": "Customers by lifecycle",
    },
]


def measure(
    metric: str,
    current: float | int | None,
    previous: float | int | None,
    unit: str = "",
    note: str = "",
) -> dict[str, Any]:
    """One dashboard row: the figure, the previous period's, and the change."""
    row: dict[str, Any] = {"metric": metric, "value": current, "previous": previous}
    row.update(change(current, previous))
    row["unit"] = unit
    if note:
        row["note"] = note
    return row


def pct(part: int | float | None, whole: int | float | None) -> float | None:
    if part is None or not whole:
        return None
    return round(part / whole * 100, 1)


def customers_section(lifecycles: list[dict[str, Any]]) -> list[dict[str, Any]] | dict[str, str]:
    if not lifecycles:
        return absent("no customers yet")

    def total(key: str) -> int:
        return sum(int(r[key]) for r in lifecycles)

    return [
        measure("customers", total("customers"), total("customers_before")),
        measure("new_customers", total("new"), total("new_before")),
    ]


def lifecycle_section(lifecycles: list[dict[str, Any]]) -> list[dict[str, Any]] | dict[str, str]:
    rows = [r for r in lifecycles if r["customers"]]
    if not rows:
        return absent("no customers yet")
    total = sum(r["customers"] for r in rows)
    return [
        {
            "lifecycle": r["lifecycle"],
            "customers": r["customers"],
            "share_pct": pct(r["customers"], total),
            "new": r["new"],
        }
        for r in rows
    ]


def contacts_section(db: Database, period: Period) -> list[dict[str, Any]] | dict[str, str]:
    if not sql.any_rows(db, "communications", "occurred_at", period.end_iso):
        return absent("no communications recorded")
    f = sql.communication_totals(db, period.previous.start_iso, period.start_iso, period.end_iso)
    return [
        measure("communications", f["total"], f["total_before"]),
        measure("inbound", f["inbound"], f["inbound_before"]),
        measure("outbound", f["outbound"], f["outbound_before"]),
    ]


def contacts_trend(db: Database, period: Period) -> list[dict[str, Any]] | dict[str, str]:
    """Communications per calendar week, the last TREND_WEEKS weeks up to the period's end."""
    if not sql.any_rows(db, "communications", "occurred_at", period.end_iso):
        return absent("no communications recorded")
    first = unit_floor(period.end - timedelta(weeks=TREND_WEEKS - 1), "week")
    bounds = buckets(first, period.end, "week")
    counts = sql.weekly_communications(db, bounds)
    rows: list[dict[str, Any]] = []
    for label, lo, hi in bounds:
        day = date.fromisoformat(label)
        cut = is_partial(day, "week", from_iso(lo), from_iso(hi))
        rows.append({"week": label, "communications": counts.get(label, 0), "partial": cut})
    if rows and rows[-1]["partial"]:
        # The current week so far, against the same part of last week (not all of it).
        day = date.fromisoformat(rows[-1]["week"])
        lo_prev, hi_prev = same_elapsed_previous(day, "week", period.end + timedelta(seconds=1))
        before = sql.weekly_communications(db, [("before", to_iso(lo_prev), to_iso(hi_prev))])
        rows[-1]["previous_same_elapsed"] = before.get("before", 0)
    return rows


def _sla_outcomes(db: Database, p: Period) -> dict[str, float | None] | None:
    """SLA compliance from the tickets group's `ticket_stats.sla_outcomes` (it knows the
    paused SLA clock, so `crm report tickets` and the dashboard agree); None without it."""
    try:
        from crmcli.db.ticket_stats import sla_outcomes
    except ImportError:
        return None
    rows = {r["clock"]: r for r in sla_outcomes(db, p.start_iso, p.end_iso, p.end_iso)}
    met_r, br_r = rows["first_response"]["met"], rows["first_response"]["breached"]
    met_s, br_s = rows["resolution"]["met"], rows["resolution"]["breached"]
    return {"response": pct(met_r, met_r + br_r), "resolution": pct(met_s, met_s + br_s)}


def tickets_section(db: Database, period: Period) -> list[dict[str, Any]] | dict[str, str]:
    if not sql.any_rows(db, "tickets", "created_at", period.end_iso):
        return absent("no tickets recorded")
    now = sql.ticket_figures(db, period.start_iso, period.end_iso)
    before = sql.ticket_figures(db, period.previous.start_iso, period.previous.end_iso)

    def compliance(p: Period, fig: dict[str, Any]) -> dict[str, float | None]:
        shared = _sla_outcomes(db, p)
        if shared is not None:
            return shared
        return {
            kind: pct(fig[f"{kind}_met"], fig[f"{kind}_met"] + fig[f"{kind}_breached"])
            for kind in ("response", "resolution")
        }

    sla_now, sla_before = compliance(period, now), compliance(period.previous, before)

    def median(p: Period) -> float | None:
        hours = sql.first_response_hours(db, p.start_iso, p.end_iso)
        return round(statistics.median(hours), 2) if hours else None

    return [
        measure("backlog", now["backlog"], before["backlog"]),
        measure("created", now["created"], before["created"]),
        measure("resolved", now["resolved"], before["resolved"]),
        measure("response_sla_pct", sla_now["response"], sla_before["response"], "%"),
        measure("resolution_sla_pct", sla_now["resolution"], sla_before["resolution"], "%"),
        measure("median_first_response_h", median(period), median(period.previous), "h"),
    ]


def satisfaction_section(db: Database, period: Period) -> list[dict[str, Any]] | dict[str, str]:
    """CSAT = share of ratings of 4 or 5 (of 5); NPS only when survey data exists."""
    nps_now = sql.nps_scores(db, period.start_iso, period.end_iso)
    if not sql.any_ratings(db, period.end_iso) and nps_now is None:
        return absent("no satisfaction ratings recorded")
    now = sql.ratings(db, period.start_iso, period.end_iso)
    before = sql.ratings(db, period.previous.start_iso, period.previous.end_iso)

    def avg(r: dict[str, Any]) -> float | None:
        return round(r["average"], 2) if r["average"] is not None else None

    rows = [
        measure(
            "csat_pct",
            pct(now["satisfied"], now["ratings"]),
            pct(before["satisfied"], before["ratings"]),
            "%",
        ),  # noqa: E501
        measure("average_rating", avg(now), avg(before), "of 5"),
        measure("ratings", now["ratings"], before["ratings"]),
    ]
    if nps_now is None:
        rows.append(measure("nps", None, None, note="no NPS survey data recorded"))
    else:
        nps_before = sql.nps_scores(db, period.previous.start_iso, period.previous.end_iso) or {}

        def nps(r: dict[str, int]) -> float | None:
            n = r.get("responses", 0)
            return round((r["promoters"] - r["detractors"]) / n * 100, 1) if n else None

        rows.append(measure("nps", nps(nps_now), nps(nps_before)))
    return rows


def order_bounds(period: Period) -> dict[str, str]:
    """The time bounds of the two passes over orders (see db.reporting.buyer_flags)."""
    end, start = period.end, period.start
    day = timedelta(days=1)
    return {
        "end": period.end_iso,
        "start": period.start_iso,
        "prev_start": period.previous.start_iso,
        "prev2_start": period.previous.previous.start_iso,
        "risk_end": to_iso(end - CHURN_RISK_AFTER_DAYS * day),
        "lost_end": to_iso(end - LOST_AFTER_DAYS * day),
        "risk_start": to_iso(start - CHURN_RISK_AFTER_DAYS * day),
        "lost_start": to_iso(start - LOST_AFTER_DAYS * day),
        "y1_end": to_iso(end - 365 * day),
        "y2_end": to_iso(end - 730 * day),
        "y1_start": to_iso(start - 365 * day),
        "y2_start": to_iso(start - 730 * day),
    }


def buyer_tests(b: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The cut points and per-customer tests for `db.reporting.buyer_segments`.

    "Bought in (x, y]" is a bit test on the customer's segment mask; "the last order up to p
    is in (lost, risk]" is "bought in (lost, risk] and not in (risk, p]".
    """
    points = [v for k, v in b.items() if k != "end"] + [b["end"]]

    def has(lo: str, hi: str) -> str:
        return f"(m & {sql.segment_bits(points, b[lo], b[hi])}) != 0"

    tests = {
        "buyers_end": "1",
        "repeat_end": "n >= 2",
        "risk_end": f"{has('lost_end', 'risk_end')} AND NOT {has('risk_end', 'end')}",
        "buyers_start": "ns >= 1",
        "repeat_start": "ns >= 2",
        "risk_start": f"{has('lost_start', 'risk_start')} AND NOT {has('risk_start', 'start')}",
        "buyers_cur": has("start", "end"),
        "buyers_prev": has("prev_start", "start"),
        "buyers_year_end": has("y1_end", "end"),
        "buyers_year_start": has("y1_start", "start"),
        "period_kept_end": f"{has('prev_start', 'start')} AND {has('start', 'end')}",
        "period_base_start": has("prev2_start", "prev_start"),
        "period_kept_start": f"{has('prev2_start', 'prev_start')} AND {has('prev_start', 'start')}",  # noqa: E501
        "year_base_end": has("y2_end", "y1_end"),
        "year_kept_end": f"{has('y2_end', 'y1_end')} AND {has('y1_end', 'end')}",
        "year_base_start": has("y2_start", "y1_start"),
        "year_kept_start": f"{has('y2_start', 'y1_start')} AND {has('y1_start', 'start')}",
    }
    return points, tests


def buyer_figures(db: Database, period: Period) -> dict[str, int]:
    b = order_bounds(period)
    points, tests = buyer_tests(b)
    flags = sql.buyer_segments(db, points, b["start"], tests)
    flags["period_base_end"] = flags["buyers_prev"]
    return flags


def simple_clv(revenue_cents: int, buyers: int, base: int, kept: int) -> float | None:
    """m * r / (1 + d - r): see the module docstring."""
    if not buyers or not base:
        return None
    m = revenue_cents / 100 / buyers
    r = kept / base
    return round(m * r / (1 + DISCOUNT_RATE - r), 2)


def value_section(
    db: Database, period: Period, flags: dict[str, int] | None
) -> list[dict[str, Any]] | dict[str, str]:
    if flags is None:
        return absent("no orders recorded")
    b = order_bounds(period)
    currency = (
        sql.recent_currency(db, b["prev_start"], b["end"])
        or sql.main_currency(db, b["end"])
        or "CNY"
    )
    windows = {
        "cur": (b["start"], b["end"]),
        "prev": (b["prev_start"], b["start"]),
        "year_end": (b["y1_end"], b["end"]),
        "year_start": (b["y1_start"], b["start"]),
    }
    pieces = sql.order_segments(db, [t for w in windows.values() for t in w], currency)
    w = {
        name: {
            key: sum(v[key] for (p_lo, p_hi), v in pieces.items() if lo <= p_lo and p_hi <= hi)
            for key in ("orders", "revenue")
        }
        for name, (lo, hi) in windows.items()
    }
    now = {**w["cur"], "buyers": flags["buyers_cur"]}
    before = {**w["prev"], "buyers": flags["buyers_prev"]}

    def aov(f: dict[str, int]) -> float | None:
        return round(f["revenue"] / 100 / f["orders"], 2) if f["orders"] else None

    clv_end = simple_clv(
        w["year_end"]["revenue"],
        flags["buyers_year_end"],
        flags["year_base_end"],
        flags["year_kept_end"],
    )
    clv_start = simple_clv(
        w["year_start"]["revenue"],
        flags["buyers_year_start"],
        flags["year_base_start"],
        flags["year_kept_start"],
    )
    top = sql.top_tag_by_revenue(db, period.start_iso, period.end_iso, currency)
    top_before = sql.top_tag_by_revenue(
        db, period.previous.start_iso, period.previous.end_iso, currency
    )
    return [
        measure("revenue", money(now["revenue"]), money(before["revenue"]), currency),
        measure("orders", now["orders"], before["orders"]),
        measure("buyers", now["buyers"], before["buyers"]),
        measure("average_order_value", aov(now), aov(before), currency),
        measure("average_clv", clv_end, clv_start, currency, note="simple retention formula"),
        {
            "metric": "top_segment",
            "value": f"tag:{top['tag']}" if top else None,
            "previous": f"tag:{top_before['tag']}" if top_before else None,
            "change": None,
            "change_pct": None,
            "unit": "",
            "note": "tag with the most revenue in the period",
        },
    ]


def loyalty_section(flags: dict[str, int] | None) -> list[dict[str, Any]] | dict[str, str]:
    if flags is None:
        return absent("no orders recorded")
    f = flags
    return [
        measure(
            "repeat_purchase_pct",
            pct(f["repeat_end"], f["buyers_end"]),
            pct(f["repeat_start"], f["buyers_start"]),
            "%",
            note="buyers with 2+ orders",
        ),
        measure(
            "retention_pct",
            pct(f["period_kept_end"], f["period_base_end"]),
            pct(f["period_kept_start"], f["period_base_start"]),
            "%",
            note="previous period's buyers who bought again",
        ),
        measure(
            "churn_risk",
            f["risk_end"],
            f["risk_start"],
            note=f"no order for {CHURN_RISK_AFTER_DAYS}-{LOST_AFTER_DAYS} days",
        ),
    ]


def sales_section(db: Database, period: Period) -> list[dict[str, Any]] | dict[str, str]:
    """Open and weighted pipeline (end of the period against its start), won amount and
    deals and the win rate (the period against the previous one)."""
    from crmcli.reports.pipeline import sales_summary

    figures = sales_summary(db, period.start_iso, period.end_iso, period.previous.start_iso)
    if figures is None:
        return absent("no deals recorded")
    notes = {
        "open_pipeline": "open deals at the end of the period (previous: at its start)",
        "weighted_pipeline": "amount x probability",
        "win_rate_pct": "won / (won + lost), deals closed in the period",
    }
    return [
        measure(name, cur, prev, "%" if name.endswith("_pct") else "", note=notes.get(name, ""))
        for name, (cur, prev) in figures.items()
    ]


def dashboard_report(db: Database, period: Period) -> dict[str, Any]:
    """The dashboard as a report (dict of named sections).

    Two passes over customers-sized data feed several sections each: one over customers
    (by lifecycle, at both ends of the period), one over orders grouped by customer (loyalty
    and the CLV retention) plus one windowed pass over orders (revenue figures).
    """
    lifecycles = sql.customer_lifecycles(
        db, period.previous.start_iso, period.start_iso, period.end_iso
    )
    has_orders = sql.any_rows(db, "orders", "ordered_at", period.end_iso)
    flags = buyer_figures(db, period) if has_orders else None
    return {
        "period": period.describe(),
        "customers": customers_section(lifecycles),
        "customers_by_lifecycle": lifecycle_section(lifecycles),
        "contacts": contacts_section(db, period),
        "contacts_trend": contacts_trend(db, period),
        "tickets": tickets_section(db, period),
        "satisfaction": satisfaction_section(db, period),
        "value": value_section(db, period, flags),
        "loyalty": loyalty_section(flags),
        "sales": sales_section(db, period),
    }
