"""Report periods: the (since, until] window, its previous twin, calendar buckets, and
which of them are partial.

Buckets follow the calendar of the configured zone (CRM_TZ): a week starts on Monday at
local midnight, a month on the 1st. Bounds are stored-form UTC strings.

A calendar period is partial when the report's window cuts it: the last one when the as-of
time (or --until) falls inside it, the first one when --since does. Every trend marks its
rows `partial`; a partial period is never part of a model, a backtest or a change against
the period before: its change is taken against the same elapsed part of the previous period
(`same_elapsed_previous`), and forecasts start with it (the first period after the last
complete one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from crmcli.core import clock
from crmcli.core.clock import to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import parse_datetime

UNITS = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class Period:
    """The reporting window (start, end] and the previous window of equal length."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def previous(self) -> Period:
        return Period(self.start - self.length, self.start)

    @property
    def start_iso(self) -> str:
        return to_iso(self.start)

    @property
    def end_iso(self) -> str:
        return to_iso(self.end)

    def describe(self) -> dict[str, object]:
        prev = self.previous
        return {
            "since_at": self.start_iso,
            "until_at": self.end_iso,
            "days": round(self.length.total_seconds() / 86400, 2),
            "previous_since_at": prev.start_iso,
            "previous_until_at": prev.end_iso,
        }


def resolve_period(since: str | None, until: str | None, default_days: int = 30) -> Period:
    """--since / --until (any accepted time form), defaulting to the last `default_days` days
    up to now (--as-of / CRM_NOW). `until` never goes past now: later records do not exist yet.
    """
    now = clock.now().astimezone(UTC)
    end = parse_datetime(until, field="--until") if until else now
    if end > now:
        end = now
    start = parse_datetime(since, field="--since") if since else end - timedelta(days=default_days)
    if start >= end:
        raise InvalidInput("--since must be before --until (and before the as-of time)")
    return Period(start.astimezone(UTC), end.astimezone(UTC))


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=clock.local_zone())


def unit_start(moment: datetime, unit: str) -> date:
    """The local calendar date on which the unit containing `moment` starts."""
    day = moment.astimezone(clock.local_zone()).date()
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    raise InvalidInput(f"unknown period {unit!r}; choose one of: {', '.join(UNITS)}")


def unit_floor(moment: datetime, unit: str) -> datetime:
    """Local midnight at the start of the unit containing `moment` (aware datetime)."""
    return _local_midnight(unit_start(moment, unit))


def next_start(day: date, unit: str) -> date:
    if unit == "day":
        return day + timedelta(days=1)
    if unit == "week":
        return day + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def buckets(start: datetime, end: datetime, unit: str) -> list[tuple[str, str, str]]:
    """Calendar buckets covering [start, end] as (label, lo, hi) with [lo, hi) bounds; the
    label is the local start date (YYYY-MM-DD); the last bucket stops just after `end`."""
    out: list[tuple[str, str, str]] = []
    day = unit_start(start, unit)
    stop = end + timedelta(seconds=1)
    while True:
        lo = max(_local_midnight(day), start)
        if lo >= stop:
            break
        nxt = next_start(day, unit)
        hi = min(_local_midnight(nxt), stop)
        out.append((day.isoformat(), to_iso(lo), to_iso(hi)))
        day = nxt
        if len(out) > 5000:
            raise InvalidInput("too many periods; choose a longer --period or a shorter range")
    return out


def change(current: float | int | None, previous: float | int | None) -> dict[str, object]:
    """The change against the previous period: absolute and relative (None when undefined)."""
    if current is None or previous is None:
        return {"change": None, "change_pct": None}
    delta = current - previous
    pct = round(delta / previous * 100, 1) if previous else None
    return {"change": round(delta, 2) if isinstance(delta, float) else delta, "change_pct": pct}


# ---------------------------------------------------------------- partial periods (see above)


def period_bounds(day: date, unit: str) -> tuple[datetime, datetime]:
    """The calendar period starting on local `day`: [start, next start) as aware datetimes."""
    return _local_midnight(day), _local_midnight(next_start(day, unit))


def previous_start(day: date, unit: str) -> date:
    """The local start date of the period before the one starting on `day`."""
    return unit_start(_local_midnight(day) - timedelta(seconds=1), unit)


def is_partial(day: date, unit: str, lo: datetime, hi: datetime) -> bool:
    """Whether the window's part [lo, hi) of the period starting on `day` is less than all of it."""
    start, end = period_bounds(day, unit)
    return lo > start or hi < end


def same_elapsed_previous(day: date, unit: str, hi: datetime) -> tuple[datetime, datetime]:
    """[start, start + elapsed) of the previous period, elapsed = hi - this period's start;
    capped at the previous period's end (31 March 12:00 -> all of February)."""
    start, _ = period_bounds(day, unit)
    prev_start, prev_end = period_bounds(previous_start(day, unit), unit)
    return prev_start, min(prev_end, prev_start + (hi - start))


def partial_description(day: date, unit: str, lo: datetime, hi: datetime) -> dict[str, object]:
    """What a report says about its partial period: label, bounds, how much of it has passed."""
    start, end = period_bounds(day, unit)
    elapsed = (hi - max(lo, start)).total_seconds() / (end - start).total_seconds() * 100
    return {
        "period": day.isoformat(),
        "since_at": to_iso(max(lo, start)),
        "until_at": to_iso(min(hi, end)),
        "elapsed_pct": round(elapsed, 1),
    }


def model_history_start(values: list[float], season_length: int) -> int:
    """Index of the first period a model should learn from: the first one after the last run
    of at least max(season_length, 8) empty periods (a back-dated record or an old import
    before a long silence is another history, not the one to forecast); else 0."""
    gap = max(season_length, 8)
    start, run = 0, 0
    for i, value in enumerate(values):
        if value == 0:
            run += 1
            continue
        if run >= gap:
            start = i
        run = 0
    return start
