"""`crm report tickets`: backlog, aging, SLA compliance, response and resolution times,
CSAT with a confidence interval, and the volume trend with a forecast.

Times are wall-clock (created -> first response, created -> resolved), summarised by the
median and the 90th percentile because the slow tail is what customers remember; the mean
is shown beside them. The CSAT interval is Student's t: mean +/- t(0.975, n-1) * s / sqrt(n).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from crmcli.core import clock
from crmcli.core.clock import from_iso, to_iso
from crmcli.core.errors import InvalidInput
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
    from scipy import stats as scipy_stats

    variance = max(0.0, (squares - n * mean * mean) / (n - 1))
    sd = math.sqrt(variance)
    half = float(scipy_stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def _round(value: Any, digits: int = 2) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def volume(
    db: Database, start: datetime, end: datetime, period: str, horizon: int
) -> tuple[list[dict[str, Any]], Any]:
    """Opened/resolved per period in the local calendar, and the forecast of openings."""
    from crmcli.analytics.forecast import forecast_series, zero_filled_series

    zone = clock.local_zone()

    def local(hour: str) -> datetime:
        return from_iso(hour + ":00:00Z").astimezone(zone).replace(tzinfo=None)

    first, last = start.astimezone(zone).replace(tzinfo=None), end.astimezone(zone)
    last = last.replace(tzinfo=None)
    series = {}
    for column in ("created_at", "resolved_at"):
        rows = stats.hourly_counts(db, column, to_iso(start), to_iso(end))
        series[column] = zero_filled_series(
            [(local(h), n) for h, n in rows], period, start=first, end=last
        )
    opened, resolved = series["created_at"], series["resolved_at"]
    trend = [
        {
            "period": stamp.strftime("%Y-%m-%d"),
            "opened": int(opened[stamp]),
            "resolved": int(resolved.get(stamp, 0)),
        }
        for stamp in opened.index
    ]
    try:
        fc = forecast_series(opened, horizon, floor=0.0)
    except InvalidInput as exc:
        return trend, {"note": f"no forecast: {exc.message}"}
    ahead = [{k: _round(v) for k, v in r.items()} for r in fc["forecast"]]
    model = {"model": fc["model"], "periods_used": fc["n_obs"]}
    if fc.get("backtest"):
        model["backtest_mase"] = _round(fc["backtest"].get("mase"), 3)
    return trend, {"rows": ahead, "model": model}


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
    trend, forecast = volume(db, start, end, period, horizon)
    summary: dict[str, Any] = {
        "since_at": s,
        "until_at": e,
        "opened": sum(r["opened"] for r in trend),
        "resolved": sum(r["resolved"] for r in trend),
        "backlog": sum(r["tickets"] for r in back["by_status"]),
        "backlog_breached": sum(int(r["breached"] or 0) for r in back["by_priority"]),
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
