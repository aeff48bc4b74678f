"""The communications report behind `crm report comm`, and the follow-up calendar file.

Counting never loads communications into pandas: the database hands over counts per UTC
hour, channel and direction (the comm_hourly aggregate, or a GROUP BY for filters it cannot
serve), and `bucket_counts` folds those into days, weeks (from Monday) or months of the
configured zone. Only the optional models (seasonality, forecast, anomalies) build a pandas
series, through `crmcli.analytics.forecast`.

Window: from --since (else the first contact) to the earliest of --until, --as-of and now.
Records at or after the end are ignored; the period holding the end is partial unless the
end falls on a period boundary, and the first period is partial when --since cuts it. A
partial period is marked `partial: true`; its change is against the same elapsed part of the
previous period (`previous_same_elapsed`). The models use complete periods only, from the
end of the last long silence on (`reports.periods.model_history_start`), and the forecast
starts with the first period after the last complete one (the partial one, when there is
one: its row carries `actual_so_far`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from crmcli.core import clock
from crmcli.core.clock import from_iso, to_iso
from crmcli.core.errors import InvalidInput, NotEnoughData
from crmcli.core.validate import CHANNELS, parse_datetime

PERIODS = ("day", "week", "month")
SEASON = {"day": 7, "week": 52, "month": 12}
SPARK_PERIODS = 30


@dataclass
class CommWindow:
    """The report's time window: [start, end) in UTC, bucketed by `by` in `zone`."""

    by: str
    start: datetime | None  # None: from the first contact
    end: datetime
    zone: tzinfo
    channels: list[str] = field(default_factory=list)
    agent: str | None = None
    customer_id: int | None = None
    since_given: bool = False  # --since may cut the first period; the first contact cannot


def resolve_window(
    by: str,
    since: str | None,
    until: str | None,
    channels: list[str] | None = None,
    agent: str | None = None,
    customer_id: int | None = None,
) -> CommWindow:
    """Validate the options; the end is min(--until, now) where now honours --as-of."""
    if by not in PERIODS:
        raise InvalidInput(f"--by must be one of: {', '.join(PERIODS)}")
    now = clock.now().astimezone(UTC)
    end = parse_datetime(until, "--until") if until else now
    end = min(end, now)
    start = parse_datetime(since, "--since") if since else None
    if start is not None and start >= end:
        raise InvalidInput("--since must be before --until (and before the as-of time)")
    return CommWindow(
        by, start, end, clock.local_zone(), channels or [], agent, customer_id, start is not None
    )


def comm_report(
    database: Any,
    window: CommWindow,
    seasonality: bool = False,
    forecast: int | None = None,
    anomalies: bool = False,
) -> dict[str, Any]:
    """The whole report: counts, the same elapsed part of the period before a partial last
    one, and the optional model sections."""
    rows = collect_counts(database, window)
    part = collect_same_elapsed(database, window)
    return build_report(rows, window, seasonality, forecast, anomalies, previous_part=part)


def collect_same_elapsed(database: Any, window: CommWindow) -> dict[tuple[str, str], int] | None:
    """Counts per (channel, direction) in the same elapsed part of the period before the
    last one, when the last one is partial; None otherwise."""
    from crmcli.db import communications as repo
    from crmcli.reports.periods import same_elapsed_previous

    if window.start is None or window.start >= window.end:
        return None
    periods, partial = period_list(window)
    if not partial or not periods:
        return None
    lo, hi = same_elapsed_previous(periods[-1], window.by, window.end)
    segments = offset_segments(window.zone, lo.astimezone(UTC), hi.astimezone(UTC))
    rows = repo.local_day_counts(
        database,
        segments,
        use_aggregate=all(offset % 60 == 0 for _, _, offset in segments),
        channels=window.channels,
        agent=window.agent,
        customer_id=window.customer_id,
    )
    out: dict[tuple[str, str], int] = {}
    for _, channel, direction, n in rows:
        out[(channel, direction)] = out.get((channel, direction), 0) + int(n)
    return out


def collect_counts(database: Any, window: CommWindow) -> list[tuple[str, str, str, int]]:
    """(local day 'YYYY-MM-DD', channel, direction, n) rows for the window."""
    from crmcli.db import communications as repo

    start = window.start
    if start is None:
        first = repo.first_occurred(database, window.agent, window.customer_id)
        if first is None:
            return []
        start = from_iso(first)
        window.start = start
    if start >= window.end:
        return []
    segments = offset_segments(window.zone, start, window.end)
    whole_hours = all(offset % 60 == 0 for _, _, offset in segments)
    return repo.local_day_counts(
        database,
        segments,
        use_aggregate=whole_hours,
        channels=window.channels,
        agent=window.agent,
        customer_id=window.customer_id,
    )


def _offset_minutes(zone: tzinfo, moment: datetime) -> int:
    offset = moment.astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def offset_segments(zone: tzinfo, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
    """[start, end) cut where the zone's UTC offset changes: (start, end, offset minutes).

    Offsets are probed daily; a change is located to the minute by bisection.
    """
    segments: list[tuple[str, str, int]] = []
    seg_start = start
    offset = _offset_minutes(zone, start)
    probe = start
    while probe < end:
        step = min(end, probe + timedelta(days=1))
        later = _offset_minutes(zone, step) if step < end else offset
        if later != offset:
            lo, hi = probe, step  # offset(lo) == offset, offset(hi) != offset
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if _offset_minutes(zone, mid) == offset:
                    lo = mid
                else:
                    hi = mid
            cut = hi.replace(second=0, microsecond=0)
            segments.append((to_iso(seg_start), to_iso(cut), offset))
            seg_start, offset = cut, _offset_minutes(zone, cut)
        probe = step
    segments.append((to_iso(seg_start), to_iso(end), offset))
    return segments


def _period_of(day: date, by: str) -> date:
    if by == "day":
        return day
    if by == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_period(start: date, by: str) -> date:
    if by == "day":
        return start + timedelta(days=1)
    if by == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _local_start(period: date, zone: tzinfo) -> datetime:
    return datetime(period.year, period.month, period.day, tzinfo=zone)


def bucket_counts(
    rows: list[tuple[str, str, str, int]], by: str
) -> dict[date, dict[tuple[str, str], int]]:
    """Fold (local day, channel, direction, n) rows into days, weeks or months."""
    out: dict[date, dict[tuple[str, str], int]] = {}
    cache: dict[str, date] = {}
    for day, channel, direction, n in rows:
        period = cache.get(day)
        if period is None:
            period = _period_of(date.fromisoformat(day), by)
            cache[day] = period
        cell = out.setdefault(period, {})
        cell[(channel, direction)] = cell.get((channel, direction), 0) + int(n)
    return out


def period_list(window: CommWindow) -> tuple[list[date], bool]:
    """Every period from the start's to the end's, and whether the last one is partial."""
    assert window.start is not None
    zone, by = window.zone, window.by
    first = _period_of(window.start.astimezone(zone).date(), by)
    last_moment = window.end.astimezone(zone)
    last = _period_of(last_moment.date(), by)
    partial = _local_start(last, zone).astimezone(UTC) < window.end
    if not partial:  # the end is exactly a period start: that period has not begun
        last = _period_of(last - timedelta(days=1), by)
    periods = []
    cursor = first
    while cursor <= last:
        periods.append(cursor)
        cursor = _next_period(cursor, by)
    return periods, partial and bool(periods)


def _pct(new: float, old: float) -> float | None:
    return round((new - old) / old * 100, 1) if old else None


def build_report(
    rows: list[tuple[str, str, str, int]],
    window: CommWindow,
    seasonality: bool = False,
    forecast: int | None = None,
    anomalies: bool = False,
    previous_part: dict[tuple[str, str], int] | None = None,
) -> dict[str, Any]:
    """Counts per period and channel, and the optional model sections.

    `previous_part`: counts per (channel, direction) in the same elapsed part of the period
    before a partial last one (see collect_same_elapsed); the partial period's change is
    taken against it.
    """
    from crmcli.analytics.forecast import sparkline

    if window.start is None or not rows and window.start >= window.end:
        periods: list[date] = []
        partial = False
    else:
        periods, partial = period_list(window)
    buckets = bucket_counts(rows, window.by)
    seen = {ch for cell in buckets.values() for ch, _ in cell}
    channels = [c for c in CHANNELS if c in seen or c in window.channels]
    first_cut = bool(
        periods
        and window.since_given
        and window.start is not None
        and _local_start(periods[0], window.zone).astimezone(UTC) < window.start
    )
    table: list[dict[str, Any]] = []
    for i, period in enumerate(periods):
        cell = buckets.get(period, {})
        inbound = sum(n for (_, d), n in cell.items() if d == "inbound")
        outbound = sum(n for (_, d), n in cell.items() if d == "outbound")
        total = inbound + outbound
        row: dict[str, Any] = {"period": period.isoformat(), "total": total}
        for ch in channels:
            row[ch] = sum(n for (c, _), n in cell.items() if c == ch)
        row["inbound"] = inbound
        row["outbound"] = outbound
        last_cut = partial and i == len(periods) - 1
        row["partial"] = last_cut or (first_cut and i == 0)
        if last_cut and previous_part is not None:
            before: int | None = sum(previous_part.values())
            row["previous_same_elapsed"] = before
        elif i == 0 or table[-1]["partial"] or row["partial"]:
            before = None
        else:
            before = table[-1]["total"]
        row["change"] = None if before is None else total - before
        row["change_pct"] = None if before is None else _pct(total, before)
        table.append(row)
    report: dict[str, Any] = {
        "summary": _summary(window, table, partial),
        "periods": table,
        "channels": _channel_rows(table, channels, sparkline, previous_part),
    }
    if seasonality or forecast or anomalies:
        series, history_note = _series(table, window.by, SEASON[window.by])
        m = SEASON[window.by]
        if seasonality:
            report.update(_seasonality(series, window.by, m))
        if forecast:
            report.update(_forecast(series, forecast, window.by, m, table, history_note))
        if anomalies:
            report["anomalies"] = _anomalies(series, window.by, m)
    return report


def _summary(window: CommWindow, table: list[dict[str, Any]], partial: bool) -> dict[str, Any]:
    zone_name = os.environ.get("CRM_TZ") or str(datetime.now(window.zone).tzname())
    return {
        "by": window.by,
        "zone": zone_name,
        "start_at": to_iso(window.start) if window.start else None,
        "end_at": to_iso(window.end),
        "first_period": table[0]["period"] if table else None,
        "last_period": table[-1]["period"] if table else None,
        "last_period_complete": not partial,
        "partial_period": _partial_period(window, table) if partial and table else None,
        "periods": len(table),
        "total": sum(r["total"] for r in table),
        "inbound": sum(r["inbound"] for r in table),
        "outbound": sum(r["outbound"] for r in table),
        "channel_filter": ", ".join(window.channels) or None,
        "agent": window.agent,
        "customer_id": window.customer_id,
    }


def _partial_period(window: CommWindow, table: list[dict[str, Any]]) -> dict[str, object]:
    from crmcli.reports.periods import partial_description

    assert window.start is not None
    last = date.fromisoformat(table[-1]["period"])
    return partial_description(last, window.by, window.start, window.end)


def _channel_rows(
    table: list[dict[str, Any]],
    channels: list[str],
    sparkline: Any,
    previous_part: dict[tuple[str, str], int] | None = None,
) -> list[dict]:
    """Per channel: total, share, the last period and its change (a partial last period
    against the same elapsed part of the one before)."""
    grand = sum(r["total"] for r in table) or 0
    out = []
    recent = table[-SPARK_PERIODS:]
    last_partial = bool(table) and table[-1]["partial"]
    for ch in channels:
        values = [r[ch] for r in table]
        total = sum(values)
        last = values[-1] if values else 0
        prev: int | None = None
        if last_partial and len(table) > 0 and previous_part is not None:
            prev = sum(n for (c, _), n in previous_part.items() if c == ch)
        elif len(values) > 1 and not last_partial and not table[-2]["partial"]:
            prev = values[-2]
        out.append(
            {
                "channel": ch,
                "total": total,
                "share_pct": round(total / grand * 100, 1) if grand else None,
                "last_period": last,
                "last_period_partial": last_partial,
                "change": None if prev is None else last - prev,
                "change_pct": None if prev is None else _pct(last, prev),
                "trend": sparkline([r[ch] for r in recent]),
            }
        )
    return out


def _series(table: list[dict[str, Any]], by: str, m: int) -> tuple[Any, str | None]:
    """The complete periods the models learn from (after the last long silence), and a note
    saying what was left out (None when nothing was)."""
    from crmcli.analytics.forecast import regular_series
    from crmcli.reports.periods import model_history_start

    complete = [r for r in table if not r["partial"]]
    if not complete:
        raise NotEnoughData("no complete period in the window: nothing to model")
    first = model_history_start([r["total"] for r in complete], m)
    note = None
    if first:
        left = complete[:first]
        note = (
            f"{len(left)} period(s) from {left[0]['period']} ({sum(r['total'] for r in left)} "
            f"contact(s)) left out: a run of {max(m, 8)}+ empty periods separates them "
            "from the history modelled"
        )
        complete = complete[first:]
    counts = {r["period"]: r["total"] for r in complete}
    series = regular_series(counts, by, start=complete[0]["period"], end=complete[-1]["period"])
    return series, note


def _seasonality(series: Any, by: str, m: int) -> dict[str, Any]:
    from crmcli.analytics.forecast import decompose_series

    if len(series) < 2 * m:
        hint = {
            "day": "two weeks of days",
            "week": "two years of weeks (week of year); try --by day for the weekday "
            "pattern or --by month",
            "month": "two years of months",
        }[by]
        raise NotEnoughData(
            f"too little history for --seasonality by {by}: {len(series)} complete periods, "
            f"need {2 * m} ({hint})"
        )
    result = decompose_series(series, m)
    section: dict[str, Any] = {
        "seasonality": {
            "method": "STL (robust), periods without contacts counted as 0",
            "season_length": m,
            "profile": {"day": "weekday", "week": "week of year", "month": "month"}[by],
            "strength_seasonality": round(result["strength_seasonality"], 4),
            "strength_trend": round(result["strength_trend"], 4),
            "trend_start": round(result["trend"][0], 3),
            "trend_end": round(result["trend"][-1], 3),
        },
        "decomposition": [
            {
                "period": p,
                "observed": o,
                "trend": round(t, 4),
                "seasonal": round(s, 4),
                "resid": round(r, 4),
            }
            for p, o, t, s, r in zip(
                result["periods"],
                result["observed"],
                result["trend"],
                result["seasonal"],
                result["resid"],
                strict=True,
            )
        ],
    }
    if by == "week":
        section["seasonality"]["note"] = (
            "a week-of-year profile has 52 values, too long to show; the strength above "
            "covers it (use --by month for a monthly profile, --by day for weekdays)"
        )
    else:
        section["seasonal_profile"] = [
            {"season": row["label"], "effect": round(row["effect"], 4)}
            for row in result["seasonal_profile"]
        ]
    return section


def _forecast(
    series: Any,
    horizon: int,
    by: str,
    m: int,
    table: list[dict[str, Any]],
    history_note: str | None = None,
) -> dict[str, Any]:
    """The forecast from the first period after the last complete one; a partial period
    among the forecast rows shows its `actual_so_far` next to the forecast."""
    from crmcli.analytics.forecast import MIN_FORECAST_HISTORY, forecast_series

    if horizon < 1:
        raise InvalidInput("--forecast takes a number of periods, at least 1")
    if len(series) < MIN_FORECAST_HISTORY:
        raise NotEnoughData(
            f"too little history to forecast by {by}: {len(series)} complete period(s), "
            f"need at least {MIN_FORECAST_HISTORY}"
        )
    result = forecast_series(series, horizon, season_length=m, floor=0.0)
    partial = {r["period"]: r["total"] for r in table if r["partial"]}
    rows = []
    for row in result["forecast"]:
        if row["period"] in partial:
            row = {**row, "partial": True, "actual_so_far": partial[row["period"]]}
        rows.append(row)
    bt = result["backtest"] or {}
    model = {
        "model": result["model"],
        "aic": round(result["aic"], 3),
        "season_length": m,
        "seasonal": result["seasonal"],
        "history_start": _period_label(series.index[0]),
        "history_end": _period_label(series.index[-1]),
        "history_periods": result["n_obs"],
        "levels": "80%, 95% prediction intervals",
        "backtest_holdout_periods": bt.get("holdout"),
        "backtest_mase": None if bt.get("mase") is None else round(bt["mase"], 4),
        "backtest_mae": None if bt.get("mae") is None else round(bt["mae"], 4),
        "baseline": bt.get("baseline"),
        "baseline_mae": None
        if bt.get("seasonal_naive_mae") is None
        else round(bt["seasonal_naive_mae"], 4),
        "relative_mae": None if bt.get("relative_mae") is None else round(bt["relative_mae"], 4),
    }
    notes = [history_note] if history_note else []
    if not result["seasonal"] and len(series) < 2 * m:
        notes.append(f"not seasonal: {len(series)} periods, a seasonal model needs {2 * m}")
    if notes:
        model["note"] = "; ".join(notes)
    return {"forecast_model": model, "forecast": rows}


def _period_label(stamp: Any) -> str:
    return str(stamp.date().isoformat())


def _anomalies(series: Any, by: str, m: int) -> list[dict[str, Any]]:
    from crmcli.analytics.forecast import detect_anomalies

    return [
        {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
        for row in detect_anomalies(series, m, counts=True)
    ]


# ---------------------------------------------------------------- follow-ups calendar


def write_follow_ups_ics(
    rows: list[dict[str, Any]], path: Path, follow_symlinks: bool = False
) -> Path:
    """Write follow-ups as VEVENTs (15 minutes each) to an .ics file, safely (core/files)."""

    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//crmcli//follow-ups//EN")
    cal.add("version", "2.0")
    stamp = clock.now().astimezone(UTC)
    for row in rows:
        start = from_iso(row["follow_up_at"])
        event = Event()
        event.add("uid", f"crm-comm-{row['id']}-follow-up@crmcli")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(minutes=15))
        subject = row.get("subject") or row.get("channel") or "contact"
        event.add("summary", f"Follow up: {row.get('customer_name')} — {subject}")
        details = [f"Communication {row['id']} ({row.get('channel')})"]
        if row.get("customer_phone"):
            details.append(f"Phone: {row['customer_phone']}")
        if row.get("agent"):
            details.append(f"Agent: {row['agent']}")
        event.add("description", "\n".join(details))
        cal.add_component(event)
    from crmcli.core.files import follow_default, write_file

    folder = path.expanduser().parent
    if str(folder) and not folder.exists():
        raise InvalidInput(f"no such directory: {folder}")
    write_file(path, cal.to_ical(), follow_symlinks=follow_default(follow_symlinks))
    return path
