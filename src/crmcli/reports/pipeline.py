"""`crm report pipeline`: the sales pipeline as of a time, as a dict of named sections.

Deals are taken as they were at the as-of time T (their last history event up to T), so a
report as of an earlier date is the report that would have been printed then. Won and lost
figures, win rates, cycle times and the funnel cover the period (since, until]; the open
pipeline, the forecast and stalled deals are as of T. Money in the deals' units (decimal).
Deals in several currencies are added as they are: the report says which currencies it saw.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crmcli.core import clock
from crmcli.core.clock import from_iso, to_iso
from crmcli.db import Database
from crmcli.db import deals as repo
from crmcli.reports.periods import resolve_period
from crmcli.sales import pipeline as rules


def _money(cents: float | int | None) -> float | None:
    return None if cents is None else round(cents / 100, 2)


def _julian(moment: datetime) -> float:
    """The julian day number of a time (SQLite's julianday())."""
    return moment.timestamp() / 86400 + 2440587.5


def _month_start(moment: datetime) -> datetime:
    local = moment.astimezone(clock.local_zone())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _add_months(start: datetime, n: int) -> datetime:
    month = start.month - 1 + n
    return start.replace(year=start.year + month // 12, month=month % 12 + 1)


def _months_from(first: datetime, n: int) -> list[datetime]:
    return [_add_months(first, i) for i in range(n)]


def pipeline_report(
    db: Database,
    since: str | None = None,
    until: str | None = None,
    owner: str | None = None,
    months: int = 3,
    stalled_days: int = 30,
) -> dict[str, Any]:
    """The whole report (see the README "Pipeline report" for every figure's definition)."""
    period = resolve_period(since, until, default_days=90)
    now = clock.now().astimezone(UTC)
    t = to_iso(now)
    stages = repo.list_stages(db)
    kinds = {s["name"]: s["kind"] for s in stages}
    states = repo.deal_states(db, t, owner)
    reached = rules.reached_positions(states, repo.reached_positions(db, t), stages)
    t_jd = _julian(now)
    start, end = period.start_iso, period.end_iso

    open_states: list[dict[str, Any]] = []
    won: list[dict[str, Any]] = []
    lost: list[dict[str, Any]] = []
    created: list[dict[str, Any]] = []
    for s in states:  # one pass: what is open at T, what closed and what was created in the period
        kind = kinds.get(s["stage"])
        if kind == "open":
            open_states.append(s)
        elif kind in ("won", "lost"):
            at = s["changed_at"]
            if at is not None and start < at <= end:
                (won if kind == "won" else lost).append(s)
        if s["created_at"] is not None and start < s["created_at"] <= end:
            created.append(s)
    by_stage, open_amount, weighted = _by_stage(open_states, stages, t_jd)
    totals = {
        "open_deals": len(open_states),
        "open_amount": open_amount,
        "weighted_amount": weighted,
        "won_deals": len(won),
        "won_amount": _money(sum(int(s["amount"] or 0) for s in won)),
        "lost_deals": len(lost),
        "lost_amount": _money(sum(int(s["amount"] or 0) for s in lost)),
    }

    win_rate = _rate_row(len(won), len(lost))
    tally: dict[str, list[int]] = {}
    for group, state_list in ((0, won), (1, lost)):
        for s in state_list:
            tally.setdefault(s["owner"] or "", [0, 0])[group] += 1
    by_owner = [{"owner": o or None} | _rate_row(*tally[o]) for o in sorted(tally)]
    cycles = [s["changed_jd"] - s["created_jd"] for s in won]
    median = rules.percentile(cycles, 0.5)
    cycle = {
        "median": None if median is None else round(median, 1),
        "p90": None if not cycles else round(rules.percentile(cycles, 0.9) or 0, 1),
        "deals": len(cycles),
    }
    average_won = (totals["won_amount"] or 0.0) / len(won) if won else None
    per_day = None
    if win_rate["rate"] is not None and average_won is not None and median:
        per_day = round(len(open_states) * (len(won) / len(won + lost)) * average_won / median, 2)
    velocity = {
        "open_deals": len(open_states),
        "win_rate": win_rate["rate"],
        "average_won_amount": None if average_won is None else round(average_won, 2),
        "median_cycle_days": cycle["median"],
        "per_day": per_day,
    }
    funnel = _funnel(created, reached, stages, kinds)
    forecast, rates, notes = _forecast(now, open_states, states, reached, stages, months)
    backtest, summary = _backtest(db, now, states, stages, owner, months)
    stalled = _stalled(open_states, t_jd, stalled_days)
    return {
        "period": period.describe()
        | {
            "as_of_at": t,
            "complete": bool(until) and period.end < now,
            "owner": owner,
            "currencies": sorted({s.get("currency") or "" for s in states} - {""}) or None,
        },
        "totals": totals,
        "by_stage": by_stage,
        "win_rate": win_rate,
        "win_rate_by_owner": by_owner,
        "sales_cycle_days": cycle,
        "velocity": velocity,
        "funnel": funnel,
        "forecast": forecast,
        "forecast_stage_rates": rates,
        "forecast_notes": notes,
        "forecast_backtest": backtest,
        "forecast_backtest_summary": summary,
        "stalled": stalled,
    }


def _rate_row(n_won: int, n_lost: int) -> dict[str, Any]:
    from crmcli.analytics.stats import wilson_interval

    n = n_won + n_lost
    low, high = wilson_interval(n_won, n) if n else (None, None)
    return {
        "won": n_won,
        "lost": n_lost,
        "rate": round(n_won / n, 4) if n else None,
        "low": None if low is None else round(low, 4),
        "high": None if high is None else round(high, 4),
    }


def _by_stage(
    open_states: list[dict[str, Any]], stages: list[dict[str, Any]], t_jd: float
) -> tuple[list[dict[str, Any]], float | None, float | None]:
    """Per open stage: deals, amount, weighted amount (amount x the deal's probability, else
    its stage's), average age; and the open and weighted totals. Sums run in deal order."""
    probability = {s["name"]: s["probability"] for s in stages}
    # stage -> its deals' amounts, weighted amounts and ages, in deal order
    groups: dict[str, tuple[list[int], list[float], list[float]]] = {
        s["name"]: ([], [], []) for s in stages if s["kind"] == "open"
    }
    amounts, weights = [], []
    for s in open_states:
        amount = int(s["amount"] or 0)
        p = s["probability"] if s["probability"] is not None else probability[s["stage"]]
        weight = amount * p / 100
        amounts.append(amount)
        weights.append(weight)
        group = groups.setdefault(s["stage"], ([], [], []))
        group[0].append(amount)
        group[1].append(weight)
        group[2].append(t_jd - s["created_jd"])
    rows = []
    for stage in stages:
        if stage["kind"] != "open":
            continue
        stage_amounts, stage_weights, ages = groups[stage["name"]]
        rows.append(
            {
                "stage": stage["name"],
                "deals": len(stage_amounts),
                "amount": _money(sum(stage_amounts)),
                "weighted_amount": _money(sum(stage_weights)),
                "average_age_days": round(sum(ages) / len(ages), 1) if ages else None,
            }
        )
    return rows, _money(sum(amounts)), _money(sum(weights))


def _funnel(
    created: list[dict[str, Any]],
    reached: dict[int, int],
    stages: list[dict[str, Any]],
    kinds: dict[str, str],
) -> list[dict[str, Any]]:
    """Deals created in the period that got to each open stage (or beyond), and that are won
    or lost now, with their share of all created."""
    at_position: dict[int, int] = {}
    by_kind: dict[str | None, int] = {}
    for s in created:
        p = reached.get(s["id"], 0)
        at_position[p] = at_position.get(p, 0) + 1
        kind = kinds.get(s["stage"])
        by_kind[kind] = by_kind.get(kind, 0) + 1
    out = []
    for stage in stages:
        if stage["kind"] == "open":
            n = sum(c for p, c in at_position.items() if p >= stage["position"])
        else:
            n = by_kind.get(stage["kind"], 0)
        out.append(
            {
                "stage": stage["name"],
                "deals": n,
                "share": round(n / len(created), 4) if created else None,
            }
        )
    return out


def _stalled(
    open_states: list[dict[str, Any]], t_jd: float, stalled_days: int
) -> list[dict[str, Any]]:
    """Open deals whose last stage change, linked contact or creation is `stalled_days` or
    more before T, longest idle first."""
    out = []
    for s in open_states:
        last_jd, last = max(
            (jd, at)
            for jd, at in (
                (s["changed_jd"], s["changed_at"]),
                (s["last_comm_jd"], s["last_comm_at"]),
                (s["created_jd"], s["created_at"]),
            )
            if jd is not None
        )
        if t_jd - last_jd >= stalled_days:
            out.append(
                {
                    "id": s["id"],
                    "title": s["title"],
                    "stage": s["stage"],
                    "owner": s["owner"],
                    "amount": _money(s["amount"]),
                    "last_activity_at": last,
                    "idle_days": round(t_jd - last_jd, 1),
                }
            )
    out.sort(key=lambda r: (-r["idle_days"], r["id"]))
    return out


def _forecast(
    now: datetime,
    open_states: list[dict[str, Any]],
    states: list[dict[str, Any]],
    reached: dict[int, int],
    stages: list[dict[str, Any]],
    months: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """The next `months` calendar months, starting with the first that begins at or after now."""
    first = _month_start(now)
    if first < now.astimezone(first.tzinfo):
        first = _add_months(first, 1)
    keys = [m.strftime("%Y-%m") for m in _months_from(first, months)]
    rates = rules.stage_rates(states, reached, stages)
    used = {r["stage"]: r["rate_used"] for r in rates}
    rows = rules.expected_by_month(open_states, used, keys)
    for row in rows:
        row["amount"] = _money(row["amount"])
        row["expected_bookings"] = _money(row["expected_bookings"])
    first_key = keys[0] if keys else ""
    notes = {
        "first_month": first_key,
        "min_closed_deals_for_history": rules.MIN_CLOSED_FOR_HISTORY,
        "open_deals_closing_earlier": sum(
            1 for s in open_states if s["close_date"] and s["close_date"][:7] < first_key
        ),
        "open_deals_without_close_date": sum(1 for s in open_states if not s["close_date"]),
    }
    return rows, rates, notes


def _backtest(
    db: Database,
    now: datetime,
    states_now: list[dict[str, Any]],
    stages: list[dict[str, Any]],
    owner: str | None,
    months: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The same forecast made at the start of the `months` complete months before now, against
    what the deals open then actually won in each month."""
    kinds = {s["name"]: s["kind"] for s in stages}
    last_end = _month_start(now)  # the end of the last complete month
    origin = _add_months(last_end, -months)
    origin_iso = to_iso(origin)
    keys = [m.strftime("%Y-%m") for m in _months_from(origin, months)]
    states = repo.deal_states(db, origin_iso, owner, brief=True)
    reached = rules.reached_positions(states, repo.reached_positions(db, origin_iso), stages)
    rates = {r["stage"]: r["rate_used"] for r in rules.stage_rates(states, reached, stages)}
    open_then = [s for s in states if kinds.get(s["stage"]) == "open"]
    rows = rules.expected_by_month(open_then, rates, keys)
    ids = {s["id"] for s in open_then}
    zone = clock.local_zone()
    actual = dict.fromkeys(keys, 0)
    for s in states_now:
        if s["id"] in ids and kinds.get(s["stage"]) == "won" and s["changed_at"]:
            month = from_iso(s["changed_at"]).astimezone(zone).strftime("%Y-%m")
            if month in actual:
                actual[month] += int(s["amount"] or 0)
    out = []
    for row in rows:
        expected = _money(row["expected_bookings"]) or 0.0
        won = _money(actual[row["month"]]) or 0.0
        out.append(
            {
                "month": row["month"],
                "deals": row["deals"],
                "expected_bookings": expected,
                "actual_won": won,
                "error": round(expected - won, 2),
            }
        )
    expected_total = round(sum(r["expected_bookings"] for r in out), 2)
    actual_total = round(sum(r["actual_won"] for r in out), 2)
    summary = {
        "origin_at": origin_iso,
        "months": months,
        "open_deals_then": len(open_then),
        "expected_total": expected_total,
        "actual_total": actual_total,
        "error_total": round(expected_total - actual_total, 2),
        "mean_absolute_error": round(sum(abs(r["error"]) for r in out) / len(out), 2)
        if out
        else None,
        "absolute_pct_error": round(abs(expected_total - actual_total) / actual_total, 4)
        if actual_total
        else None,
    }
    return out, summary


def sales_summary(db: Database, start: str, end: str, previous_start: str) -> dict[str, Any] | None:
    """The dashboard's sales figures: open and weighted pipeline at `end` and at `start`,
    won amount / deals and win rate in (start, end] and in the previous window. None
    without deals."""
    if not repo.any_deal(db, end):
        return None
    stages = repo.list_stages(db)
    kinds = {s["name"]: s["kind"] for s in stages}
    probability = {s["name"]: s["probability"] for s in stages}

    def pipeline_at(at: str) -> tuple[float | None, float | None]:
        states = [s for s in repo.deal_states(db, at) if kinds.get(s["stage"]) == "open"]
        amount = sum(int(s["amount"] or 0) for s in states)
        weighted = sum(
            int(s["amount"] or 0)
            * (s["probability"] if s["probability"] is not None else probability[s["stage"]])
            / 100
            for s in states
        )
        return _money(amount), _money(weighted)

    now_states = repo.deal_states(db, end)

    def closed(a: str, b: str) -> tuple[int, float | None, int]:
        won = [
            s
            for s in now_states
            if kinds.get(s["stage"]) == "won" and s["changed_at"] and a < s["changed_at"] <= b
        ]
        lost = sum(1 for s in now_states
                   if kinds.get(s["stage"]) == "lost" and s["changed_at"]
                   and a < s["changed_at"] <= b)  # fmt: skip
        return len(won), _money(sum(int(s["amount"] or 0) for s in won)), lost

    open_end, weighted_end = pipeline_at(end)
    open_start, weighted_start = pipeline_at(start)
    won_cur, amount_cur, lost_cur = closed(start, end)
    won_prev, amount_prev, lost_prev = closed(previous_start, start)
    return {
        "open_pipeline": (open_end, open_start),
        "weighted_pipeline": (weighted_end, weighted_start),
        "won_amount": (amount_cur, amount_prev),
        "won_deals": (won_cur, won_prev),
        "win_rate_pct": (
            round(won_cur / (won_cur + lost_cur) * 100, 1) if won_cur + lost_cur else None,
            round(won_prev / (won_prev + lost_prev) * 100, 1) if won_prev + lost_prev else None,
        ),
    }
