"""`crm report tickets`: backlog, aging, SLA compliance, response and resolution times,
CSAT with a confidence interval, and the volume trend with a forecast.

Times are wall-clock (created -> first response, created -> resolved), summarised by the
median and the 90th percentile because the slow tail is what customers remember; the mean
is shown beside them. The CSAT interval is Student's t: mean +/- t(0.975, n-1) * s / sqrt(n).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from crmcli.core import clock
from crmcli.core.clock import from_iso, to_iso
from crmcli.core.errors import InvalidInput, NotEnoughData
from crmcli.core.validate import parse_datetime
from crmcli.db import Database
from crmcli.db import ticket_stats as stats

DEFAULT_DAYS = 90


def resolve_window(since: str | None, until: str | None) -> tuple[datetime, datetime, datetime]:
    """(start, end, as_of): the window (start, end] ends at --until or now, never after now."""
    now = clock.now().astimezone(UTC)
    end = parse_datetime(until, "--until") if until else now
    end = min(end, now)
    start = parse_datetime(since, "--since") if since else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InvalidInput("--since must be before --until (and before the as-of time)")
    return start, end, now


def t_interval(n: int, total: float, squares: float, level: float = 0.95) -> dict[str, Any]:
    """Mean, sample standard deviation and Student-t interval from n, sum, sum of squares."""
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "ci_low": None, "ci_high": None}
    mean = total / n
    if n < 2:
        return {"n": n, "mean": mean, "sd": None, "ci_low": None, "ci_high": None}
    from crmcli.analytics.tdist import t_ppf  # scipy.stats equivalent, without the import

    variance = max(0.0, (squares - n * mean * mean) / (n - 1))
    sd = math.sqrt(variance)
    half = t_ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def _round(value: Any, digits: int = 2) -> Any:
    return round(value, digits) if isinstance(value, float) else value


UNIT_OF_FREQ = {"D": "day", "W-MON": "week", "MS": "month"}


def volume(
    db: Database, start: datetime, end: datetime, period: str, horizon: int
) -> tuple[list[dict[str, Any]], Any, dict[str, Any] | None]:
    """Opened/resolved per period in the local calendar, the forecast of openings, and the
    partial last period (None when the window ends on a period boundary).

    A period cut by the window (the last one at the as-of time, the first one at --since) is
    marked `partial` and left out of the model; a partial last period shows the openings of
    the same elapsed part of the period before; the forecast starts with the first period
    after the last complete one.
    """
    from crmcli.analytics.forecast import (
        default_season_length,
        forecast_series,
        normalize_freq,
        regular_series,
    )
    from crmcli.reports import periods

    code = normalize_freq(period)
    if code not in UNIT_OF_FREQ:
        raise InvalidInput("--period must be day, week or month")
    unit = UNIT_OF_FREQ[code]
    zone = clock.local_zone()

    def local(hour: str) -> datetime:
        return from_iso(hour + ":00:00Z").astimezone(zone).replace(tzinfo=None)

    # The window is (start, end]: when end is a period's first instant, that period has
    # not begun and is not shown.
    first = start.astimezone(zone).replace(tzinfo=None)
    last = (end - timedelta(microseconds=1)).astimezone(zone).replace(tzinfo=None)
    series = {}
    for column in ("created_at", "resolved_at"):
        rows = stats.hourly_counts(db, column, to_iso(start), to_iso(end))
        series[column] = regular_series(
            [(local(h), n) for h, n in rows], period, start=first, end=last
        )
    opened, resolved = series["created_at"], series["resolved_at"]
    trend: list[dict[str, Any]] = []
    for stamp in opened.index:
        day = stamp.date()
        trend.append(
            {
                "period": stamp.strftime("%Y-%m-%d"),
                "opened": int(opened[stamp]),
                "resolved": int(resolved.get(stamp, 0)),
                "partial": periods.is_partial(day, unit, start, end),
            }
        )
    partial_period = None
    if trend and trend[-1]["partial"]:
        day = date.fromisoformat(trend[-1]["period"])
        lo, hi = periods.same_elapsed_previous(day, unit, end)
        before = stats.hourly_counts(db, "created_at", to_iso(lo), to_iso(hi))
        trend[-1]["previous_same_elapsed"] = sum(n for _, n in before)
        partial_period = periods.partial_description(day, unit, start, end)
    complete = [r for r in trend if not r["partial"]]
    m = default_season_length(code)
    skip = periods.model_history_start([r["opened"] for r in complete], m)
    complete = complete[skip:]
    if not complete:
        return trend, {"note": "no forecast: no complete period in the window"}, partial_period
    history = regular_series(
        {r["period"]: r["opened"] for r in complete},
        period,
        start=complete[0]["period"],
        end=complete[-1]["period"],
    )
    try:
        fc = forecast_series(history, horizon, floor=0.0)
    except (InvalidInput, NotEnoughData) as exc:
        return trend, {"note": f"no forecast: {exc.message}"}, partial_period
    so_far = {r["period"]: r["opened"] for r in trend if r["partial"]}
    ahead = []
    for r in fc["forecast"]:
        row = {k: _round(v) for k, v in r.items()}
        if row["period"] in so_far:
            row |= {"partial": True, "actual_so_far": so_far[row["period"]]}
        ahead.append(row)
    model = {
        "model": fc["model"],
        "periods_used": fc["n_obs"],
        "history_start": complete[0]["period"],
        "history_end": complete[-1]["period"],
    }
    if fc.get("backtest"):
        model["backtest_mase"] = _round(fc["backtest"].get("mase"), 3)
    return trend, {"rows": ahead, "model": model}, partial_period


def ticket_report(
    db: Database,
    since: str | None = None,
    until: str | None = None,
    period: str = "week",
    horizon: int = 4,
) -> dict[str, Any]:
    """The whole report as a dict of named sections (see crmcli.output.report.emit_report)."""
    start, end, now = resolve_window(since, until)
    s, e, at = to_iso(start), to_iso(end), to_iso(min(end, now))
    back = stats.backlog(db, at)
    times = stats.durations(db, s, e, at)
    sla = stats.sla_outcomes(db, s, e, at)
    rated = stats.csat(db, s, e, at)
    interval = t_interval(rated["n"], rated["sum"], rated["sum_squares"])
    trend, forecast, partial_period = volume(db, start, end, period, horizon)
    summary: dict[str, Any] = {
        "since_at": s,
        "until_at": e,
        "opened": sum(r["opened"] for r in trend),
        "resolved": sum(r["resolved"] for r in trend),
        "backlog": sum(r["tickets"] for r in back["by_status"]),
        "backlog_breached": sum(int(r["breached"] or 0) for r in back["by_priority"]),
        "partial_period": partial_period,
    }
    for row in sla:
        summary[f"sla_{row['clock']}_pct"] = row["compliance_pct"]
    fr, res = times["first_response_minutes"], times["resolution_hours"]
    summary |= {
        "first_response_median_min": _round(fr["median"]),
        "first_response_p90_min": _round(fr["p90"]),
        "resolution_median_h": _round(res["median"]),
        "resolution_p90_h": _round(res["p90"]),
        "csat_mean": _round(interval["mean"], 3),
        "csat_n": interval["n"],
    }
    report: dict[str, Any] = {
        "summary": summary,
        "backlog_by_status": back["by_status"],
        "backlog_by_priority": back["by_priority"],
        "backlog_by_assignee": back["by_assignee"],
        "aging": back["aging"],
        "sla": sla,
        "times": [
            {"measure": name, **{k: _round(v) for k, v in values.items()}}
            for name, values in times.items()
        ],
        "csat": {
            **{k: _round(v, 3) for k, v in interval.items()},
            "level": 0.95,
            **{f"score_{k}": v for k, v in rated["distribution"].items()},
        },
        "volume": trend,
    }
    if "rows" in forecast:
        report["forecast"] = forecast["rows"]
        report["forecast_model"] = forecast["model"]
    else:
        from crmcli.reports.model import absent

        report["forecast"] = absent(forecast["note"])
    return report
