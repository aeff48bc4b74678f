"""Trend, seasonality, forecasts and anomalies for any regular time series of counts or sums.

One module serves communications, tickets and orders: callers build a pandas Series with a
DatetimeIndex of regular frequency (usually with `zero_filled_series`) and call the pure
functions below. Nothing here touches the database or prints; bad input raises
`crmcli.errors.InvalidInput` with a message a user can act on; too short or constant a
history raises `crmcli.errors.NotEnoughData` (exit 1).

Frequencies (`freq`): "day" / "D", "week" / "W" (weeks start on Monday, pandas "W-MON"),
"month" / "M" (month starts, pandas "MS"), "hour" / "h". Default season lengths: day -> 7
(weekday), week -> 52 (week of year), month -> 12, hour -> 24.

Public functions
----------------
normalize_freq(freq: str) -> str
    "day" | "D" -> "D", "week" | "W" -> "W-MON", "month" | "M" | "MS" -> "MS", "hour" -> "h".
default_season_length(freq: str) -> int
period_start(moment: date | datetime, freq: str) -> date | datetime
    The start of the period containing `moment` (dates for D/W/M, hour starts for "h").
zero_filled_series(counts, freq, start=None, end=None) -> pd.Series
    `counts` is a mapping {period_start: n} or an iterable of (period_start, n) pairs or of
    dicts with "period" and "n" (or "count"/"value"). Every period from `start` (default: the
    first key) to `end` (default: the last key), both inclusive, is present; missing ones are 0.
    Keys are floored to their period start and summed. Returns float64 with index.freq set.
decompose_series(series, season_length) -> dict
    STL (analytics/stl.py, numpy; the same numbers as statsmodels.tsa.seasonal.STL(series,
    period=season_length, robust=True), the tests' reference); needs two
    full seasons. Keys: method, season_length, periods, observed, trend, seasonal, resid,
    seasonal_profile [{position, label, effect}], strength_seasonality, strength_trend
    (Wang, Smith & Hyndman 2006: max(0, 1 - var(resid) / var(seasonal + resid)), and the
    same with trend).
forecast_series(series, horizon, season_length=None, levels=(0.8, 0.95), floor=None) -> dict
    Exponential smoothing (statsmodels ETSModel, additive errors, heuristic initial states)
    over the candidates trend in {none, additive, damped additive} x seasonal in {none,
    additive when the series holds >= 2 full seasons}; the lowest AIC wins. Needs >= 10
    periods. Keys: model, aic, season_length, seasonal, n_obs, candidates [{model, aic}],
    forecast [{period, forecast, lo80, hi80, lo95, hi95}] (one lo/hi pair per level, named
    by the level in percent), backtest {holdout, model, mae, seasonal_naive_mae, mase,
    relative_mae, baseline} or None when the history is too short to hold a season out.
backtest(series, season_length, spec=None) -> dict | None
    The backtest alone (see below); `spec` is one of candidate_specs(n_obs, season_length).
    `floor` (e.g. 0.0 for counts) clips the forecast and its bounds from below.
detect_anomalies(series, season_length, level=0.99, counts=False) -> list[dict]
    Periods outside the baseline's interval. Baseline: trend + seasonal of an STL with a slow
    seasonal smoother (as STL(series, period=m, seasonal=4m+1 made odd, robust=True)) when the
    series holds two full seasons, else a centred rolling median of 5 periods; interval:
    baseline +/- z(level) * robust sigma of the residuals (1.4826 x MAD); with counts=True
    the sigma is at least sqrt(max(baseline, 1)) (Poisson noise of a count).
    Rows: {period, value, expected, lo, hi, score (residual / sigma)}.
sparkline(values) -> str
    Unicode blocks (▁▂▃▄▅▆▇█) scaled from 0 to the maximum.

Backtest: the last season (`season_length` periods) is held out when more than a season
(and >= 10 periods) remains to train on; otherwise the last third of the history (the last
fifth for non-seasonal data, season_length 1), the training part keeping >= 10 periods. The
model form forecast_series chose is refitted on the rest (the whole AIC selection is rerun
when the rest is too short for it) and forecasts the holdout. MASE = MAE / in-sample MAE of the seasonal naive one-step forecast on the
training part (Hyndman & Koehler 2006); relative_mae = MAE / MAE of the seasonal naive
forecast of the holdout (repeat the last season of the training part). Below 1, the model
beat the seasonal naive method. When the training part is not longer than one season, the
baseline is the naive (last value) forecast and `baseline` says so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from crmcli.core.errors import InvalidInput, NotEnoughData

if TYPE_CHECKING:
    import pandas as pd

# Series of a few hundred points gain nothing from multi-threaded BLAS, and its spinning
# threads cost CPU (most on a busy host). Only effective when numpy is not imported yet;
# an explicit setting in the environment wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

MIN_FORECAST_HISTORY = 10
BLOCKS = "▁▂▃▄▅▆▇█"

_FREQ_ALIASES = {
    "d": "D",
    "day": "D",
    "daily": "D",
    "w": "W-MON",
    "w-mon": "W-MON",
    "week": "W-MON",
    "weekly": "W-MON",
    "m": "MS",
    "ms": "MS",
    "month": "MS",
    "monthly": "MS",
    "h": "h",
    "hour": "h",
    "hourly": "h",
}
_SEASON = {"D": 7, "W-MON": 52, "MS": 12, "h": 24}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def normalize_freq(freq: str) -> str:
    """A user or pandas frequency name -> one of "D", "W-MON", "MS", "h"."""
    key = str(freq).strip().lower()
    if key not in _FREQ_ALIASES:
        raise InvalidInput(f"unknown period {freq!r}; choose day, week or month")
    return _FREQ_ALIASES[key]


def default_season_length(freq: str) -> int:
    """7 for days (weekday), 52 for weeks, 12 for months, 24 for hours."""
    return _SEASON[normalize_freq(freq)]


def period_start(moment: date | datetime, freq: str) -> date | datetime:
    """The first day (or hour, for "h") of the period that contains `moment`."""
    code = normalize_freq(freq)
    if code == "h":
        if not isinstance(moment, datetime):
            return datetime(moment.year, moment.month, moment.day)
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.date() if isinstance(moment, datetime) else moment
    if code == "D":
        return day
    if code == "W-MON":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _as_timestamp(key: Any, code: str) -> pd.Timestamp:
    import pandas as pd

    stamp = pd.Timestamp(key)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    start = period_start(stamp.to_pydatetime(), code)
    return pd.Timestamp(start)


def _pairs(counts: Any) -> Iterable[tuple[Any, float]]:
    if isinstance(counts, Mapping):
        yield from counts.items()
        return
    for row in counts:
        if isinstance(row, Mapping):
            value = next((row[k] for k in ("n", "count", "value") if k in row), None)
            if value is None:
                raise InvalidInput("rows need a 'period' and an 'n' (or 'count') key")
            yield row["period"], value
        else:
            key, value = row
            yield key, value


def zero_filled_series(counts: Any, freq: str, start: Any = None, end: Any = None) -> pd.Series:
    """A regular series from sparse counts: every period from start to end, gaps as 0."""
    import pandas as pd

    code = normalize_freq(freq)
    totals: dict[pd.Timestamp, float] = {}
    for key, value in _pairs(counts):
        stamp = _as_timestamp(key, code)
        totals[stamp] = totals.get(stamp, 0.0) + float(value or 0)
    first = _as_timestamp(start, code) if start is not None else min(totals, default=None)
    last = _as_timestamp(end, code) if end is not None else max(totals, default=None)
    if first is None or last is None:
        return pd.Series([], index=pd.DatetimeIndex([], freq=code), dtype="float64")
    if last < first:
        raise InvalidInput("the series ends before it starts")
    index = pd.date_range(first, last, freq=code)
    series = pd.Series([totals.get(t, 0.0) for t in index], index=index, dtype="float64")
    return series


def _check_series(series: pd.Series) -> pd.Series:
    import pandas as pd

    if not isinstance(series.index, pd.DatetimeIndex):
        raise InvalidInput("a time series needs a DatetimeIndex")
    if series.index.freq is None:
        inferred = pd.infer_freq(series.index) if len(series) >= 3 else None
        if inferred is None:
            raise InvalidInput(
                "the series has no regular frequency; build it with zero_filled_series"
            )
        series = series.asfreq(inferred)
    if series.isna().any():
        raise InvalidInput("the series has missing values; fill gaps (zero_filled_series) first")
    return series.astype("float64")


@dataclass
class TimeSeries:
    """A regular series without pandas: `index` holds period starts (datetimes at local
    midnight for D/W-MON/MS, hour starts for "h"), `values` floats, `freq` the code."""

    index: list[datetime]
    values: list[float]
    freq: str

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, stamp: datetime) -> float:
        return self.values[self._position()[stamp]]

    def get(self, stamp: datetime, default: float = 0.0) -> float:
        at = self._position().get(stamp)
        return default if at is None else self.values[at]

    def _position(self) -> dict[datetime, int]:
        return {stamp: i for i, stamp in enumerate(self.index)}

    def head(self, n: int) -> TimeSeries:
        return TimeSeries(self.index[:n], self.values[:n], self.freq)

    def to_pandas(self) -> pd.Series:
        import pandas as pd

        index = pd.DatetimeIndex(self.index, freq=self.freq)
        return pd.Series(self.values, index=index, dtype="float64")


def _stamp(key: Any, code: str) -> datetime:
    """A key (date, datetime, ISO text) floored to the start of its period, naive."""
    if isinstance(key, str):
        text = key.strip().replace("Z", "+00:00")
        key = (
            datetime.fromisoformat(text)
            if ("T" in text or " " in text)
            else date.fromisoformat(text)
        )
    if isinstance(key, datetime):
        if key.tzinfo is not None:
            key = key.replace(tzinfo=None)
    elif isinstance(key, date):
        key = datetime(key.year, key.month, key.day)
    else:  # a pandas Timestamp or numpy datetime64
        key = _stamp(str(key), code)
    start = period_start(key, code)
    if isinstance(start, datetime):
        return start
    return datetime(start.year, start.month, start.day)


def next_period(stamp: datetime, freq: str) -> datetime:
    """The start of the period after the one starting at `stamp`."""
    code = normalize_freq(freq) if freq.lower() in _FREQ_ALIASES else freq
    if code not in _SEASON:
        import pandas as pd

        return (pd.Timestamp(stamp) + pd.tseries.frequencies.to_offset(code)).to_pydatetime()
    if code == "h":
        return stamp + timedelta(hours=1)
    if code == "D":
        return stamp + timedelta(days=1)
    if code == "W-MON":
        return stamp + timedelta(days=7)
    return (stamp.replace(day=28) + timedelta(days=4)).replace(day=1)


def regular_series(counts: Any, freq: str, start: Any = None, end: Any = None) -> TimeSeries:
    """zero_filled_series without pandas: every period from start to end, gaps as 0."""
    code = normalize_freq(freq)
    totals: dict[datetime, float] = {}
    for key, value in _pairs(counts):
        stamp = _stamp(key, code)
        totals[stamp] = totals.get(stamp, 0.0) + float(value or 0)
    first = _stamp(start, code) if start is not None else min(totals, default=None)
    last = _stamp(end, code) if end is not None else max(totals, default=None)
    if first is None or last is None:
        return TimeSeries([], [], code)
    if last < first:
        raise InvalidInput("the series ends before it starts")
    index = []
    cursor = first
    while cursor <= last:
        index.append(cursor)
        cursor = next_period(cursor, code)
    return TimeSeries(index, [totals.get(t, 0.0) for t in index], code)


def _plain(series: Any) -> TimeSeries:
    """A TimeSeries from a TimeSeries or a pandas Series with a regular DatetimeIndex."""
    if isinstance(series, TimeSeries):
        values = series.values
        if any(not math.isfinite(v) for v in values):
            raise InvalidInput(
                "the series has missing values; fill gaps (zero_filled_series) first"
            )
        return series
    checked = _check_series(series)
    freq = _freq_of(checked) or "D"
    code = {"H": "h", "W": "W-MON"}.get(freq, freq)
    index = [stamp.to_pydatetime() for stamp in checked.index]
    return TimeSeries(index, [float(v) for v in checked], code)


def _freq_of(series: pd.Series) -> str | None:
    """The pandas frequency string of a series' DatetimeIndex (None when irregular)."""
    return getattr(series.index, "freqstr", None)


def _period_text(stamp: datetime, freq: str | None) -> str:
    """Period starts as ISO dates (ISO date-times for hourly series)."""
    if freq == "h" or (stamp.hour, stamp.minute, stamp.second, stamp.microsecond) != (0, 0, 0, 0):
        return stamp.isoformat()
    return stamp.date().isoformat()


def _label(stamp: datetime, position: int, freq: str | None, season_length: int) -> str:
    if freq == "D" and season_length == 7:
        return _WEEKDAYS[stamp.weekday()]
    if freq == "MS" and season_length == 12:
        return _MONTHS[stamp.month - 1]
    if freq == "h" and season_length == 24:
        return f"{stamp.hour:02d}:00"
    if freq == "W-MON" and season_length == 52:
        return f"week {int(stamp.isocalendar()[1])}"
    return f"position {position}"


def _strength(component: Any, resid: Any) -> float:
    import numpy as np

    denominator = float(np.var(component + resid))
    if denominator <= 0:
        return 0.0
    return max(0.0, 1.0 - float(np.var(resid)) / denominator)


def decompose_series(series: Any, season_length: int) -> dict[str, Any]:
    """STL decomposition, seasonal profile and the strengths of trend and seasonality."""
    from crmcli.analytics.stl import stl

    plain = _plain(series)
    m = int(season_length)
    if m < 2:
        raise InvalidInput("a seasonal decomposition needs a season of at least 2 periods")
    if len(plain) < 2 * m:
        raise NotEnoughData(
            f"too little history for seasonality: {len(plain)} periods, "
            f"need two full seasons ({2 * m})"
        )
    fit = stl(plain.values, m, robust=True)
    freq = plain.freq
    profile: dict[int, list[float]] = {}
    labels: dict[int, str] = {}
    for i, (stamp, value) in enumerate(zip(plain.index, fit.seasonal, strict=True)):
        pos = i % m
        profile.setdefault(pos, []).append(float(value))
        labels.setdefault(pos, _label(stamp, pos, freq, m))
    rows = [
        {"position": pos, "label": labels[pos], "effect": sum(v) / len(v)}
        for pos, v in sorted(profile.items())
    ]
    if freq == "D" and m == 7:
        order = {name: i for i, name in enumerate(_WEEKDAYS)}
        rows.sort(key=lambda r: order[str(r["label"])])
    elif freq == "MS" and m == 12:
        order = {name: i for i, name in enumerate(_MONTHS)}
        rows.sort(key=lambda r: order[str(r["label"])])
    return {
        "method": "STL",
        "season_length": m,
        "periods": [_period_text(t, freq) for t in plain.index],
        "observed": [float(v) for v in plain.values],
        "trend": fit.trend.tolist(),
        "seasonal": fit.seasonal.tolist(),
        "resid": fit.resid.tolist(),
        "seasonal_profile": rows,
        "strength_seasonality": _strength(fit.seasonal, fit.resid),
        "strength_trend": _strength(fit.trend, fit.resid),
    }


def _model_name(trend: str | None, damped: bool, seasonal: bool) -> str:
    t = "N" if trend is None else ("Ad" if damped else "A")
    return f"ETS(A,{t},{'A' if seasonal else 'N'})"


def candidate_specs(n_obs: int, season_length: int) -> list[dict[str, Any]]:
    """The candidate forms for a series of n_obs periods, as statsmodels ETSModel keyword
    sets (the tests fit them with statsmodels as the reference)."""
    seasonal_options: list[bool] = [False]
    if season_length > 1 and n_obs >= 2 * season_length:
        seasonal_options.append(True)
    specs = []
    for seasonal in seasonal_options:
        for trend, damped in ((None, False), ("add", False), ("add", True)):
            specs.append(
                {
                    "error": "add",
                    "trend": trend,
                    "damped_trend": damped,
                    "seasonal": "add" if seasonal else None,
                    "seasonal_periods": season_length if seasonal else None,
                    "initialization_method": "heuristic",
                }
            )
    return specs


def _ets_spec(spec: dict[str, Any]) -> Any:
    from crmcli.analytics.ets import Spec

    seasonal = spec["seasonal"] is not None
    return Spec(
        trend=spec["trend"] is not None,
        damped=bool(spec["damped_trend"]),
        seasonal=seasonal,
        m=int(spec["seasonal_periods"]) if seasonal else 1,
    )


def _fit_specs(values: list[float], specs: list[dict[str, Any]]) -> list[Any]:
    """One fit per spec (None when it cannot be fitted), all in one numpy pass."""
    from crmcli.analytics.ets import fit_many

    fits = fit_many(values, [_ets_spec(s) for s in specs])
    return [f if f is not None and math.isfinite(f.aic) else None for f in fits]


def _fit_best(values: list[float], season_length: int) -> tuple[Any, dict[str, Any], list[dict]]:
    specs = candidate_specs(len(values), season_length)
    tried: list[dict[str, Any]] = []
    best: tuple[float, Any, dict[str, Any]] | None = None
    for spec, fit in zip(specs, _fit_specs(values, specs), strict=True):
        if fit is None:
            continue
        name = _model_name(spec["trend"], spec["damped_trend"], spec["seasonal"] is not None)
        tried.append({"model": name, "aic": fit.aic})
        if best is None or fit.aic < best[0]:
            best = (fit.aic, fit, spec)
    if best is None:
        raise InvalidInput("no exponential smoothing model could be fitted to this series")
    return best[1], best[2], tried


def _clip(value: float, floor: float | None) -> float:
    return value if floor is None else max(floor, value)


def _intervals(fit: Any, horizon: int, levels: Sequence[float]) -> dict[float, list[tuple]]:
    """(lo, hi) per level and step: mean +/- z sqrt(mse x relative variance(h))."""
    from statistics import NormalDist

    mean = fit.forecast(horizon)
    out: dict[float, list[tuple]] = {}
    for level in levels:
        z = NormalDist().inv_cdf(1 - (1 - level) / 2)
        rows = []
        for h in range(1, horizon + 1):
            half = z * math.sqrt(max(fit.mse * fit.relative_variance(h), 0.0))
            rows.append((mean[h - 1] - half, mean[h - 1] + half))
        out[level] = rows
    return out


def _seasonal_naive(train: Sequence[float], horizon: int, lag: int) -> list[float]:
    return [float(train[len(train) - lag + (h % lag)]) for h in range(horizon)]


def backtest(
    series: Any, season_length: int, spec: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Hold out the last season, refit on the rest, compare with the (seasonal) naive forecast.

    With `spec` (an entry of candidate_specs, e.g. the model forecast_series chose) that model
    form is refitted on the training part; without it, or when the training part is too
    short for it, the whole AIC selection is rerun on the training part.
    """
    plain = _plain(series)
    m = max(1, int(season_length))
    n = len(plain)
    if m > 1 and n - m > max(MIN_FORECAST_HISTORY, m):
        holdout = m
    else:
        holdout = min(m, max(1, n // 3)) if m > 1 else max(1, n // 5)
    holdout = min(holdout, n - MIN_FORECAST_HISTORY)
    if holdout < 1:
        return None
    values = plain.values[:-holdout]
    actual = plain.values[-holdout:]
    feasible = [c for c in candidate_specs(len(values), m) if c == spec]
    fit = _fit_specs(values, feasible)[0] if feasible else None
    if fit is not None:
        chosen = feasible[0]
    else:
        fit, chosen, _ = _fit_best(values, m)
    fc = fit.forecast(holdout)
    lag = m if len(values) > m else 1
    naive = _seasonal_naive(values, holdout, lag)
    mae = sum(abs(a - f) for a, f in zip(actual, fc, strict=True)) / holdout
    naive_mae = sum(abs(a - f) for a, f in zip(actual, naive, strict=True)) / holdout
    scale_terms = [abs(values[t] - values[t - lag]) for t in range(lag, len(values))]
    scale = sum(scale_terms) / len(scale_terms) if scale_terms else 0.0
    return {
        "holdout": holdout,
        "model": _model_name(
            chosen["trend"], chosen["damped_trend"], chosen["seasonal"] is not None
        ),
        "mae": mae,
        "seasonal_naive_mae": naive_mae,
        "mase": mae / scale if scale > 0 else None,
        "relative_mae": mae / naive_mae if naive_mae > 0 else None,
        "baseline": f"seasonal naive (lag {lag})" if lag > 1 else "naive (last value)",
    }


def forecast_series(
    series: Any,
    horizon: int,
    season_length: int | None = None,
    levels: Sequence[float] = (0.8, 0.95),
    floor: float | None = None,
) -> dict[str, Any]:
    """Pick an ETS model by AIC, forecast `horizon` periods with intervals, and backtest it.

    `series` is a TimeSeries (regular_series) or a pandas Series with a regular index.
    """
    plain = _plain(series)
    if horizon < 1:
        raise InvalidInput("the forecast horizon must be at least 1 period")
    m = int(season_length or _SEASON.get(plain.freq, 1))
    n = len(plain)
    if n < MIN_FORECAST_HISTORY:
        raise NotEnoughData(
            f"too little history to forecast: {n} periods, need at least {MIN_FORECAST_HISTORY}"
        )
    for level in levels:
        if not 0 < level < 1:
            raise InvalidInput(f"prediction level {level} must lie between 0 and 1")
    if len(set(plain.values)) == 1:
        raise NotEnoughData(
            f"nothing to forecast: all {n} periods have the same value ({plain.values[0]:g})"
        )
    fit, spec, tried = _fit_best(plain.values, m)
    mean = fit.forecast(horizon)
    bounds = _intervals(fit, horizon, levels)
    rows = []
    stamp = plain.index[-1]
    for i in range(horizon):
        stamp = next_period(stamp, plain.freq)
        row: dict[str, Any] = {
            "period": _period_text(stamp, plain.freq),
            "forecast": _clip(float(mean[i]), floor),
        }
        for level in levels:
            pct = round(level * 100)
            lo, hi = bounds[level][i]
            row[f"lo{pct}"] = _clip(float(lo), floor)
            row[f"hi{pct}"] = _clip(float(hi), floor)
        rows.append(row)
    seasonal = spec["seasonal"] is not None
    return {
        "model": _model_name(spec["trend"], spec["damped_trend"], seasonal),
        "aic": float(fit.aic),
        "params": fit.params(),
        "season_length": m,
        "seasonal": seasonal,
        "n_obs": n,
        "candidates": tried,
        "forecast": rows,
        "backtest": backtest(plain, m, spec),
    }


def detect_anomalies(
    series: Any, season_length: int, level: float = 0.99, counts: bool = False
) -> list[dict[str, Any]]:
    """Periods whose value lies outside the seasonal baseline's `level` interval."""
    from statistics import NormalDist

    import numpy as np

    plain = _plain(series)
    m = int(season_length)
    if len(plain) < 8:
        raise NotEnoughData(f"too little history for anomalies: {len(plain)} periods, need 8")
    if not 0 < level < 1:
        raise InvalidInput(f"anomaly level {level} must lie between 0 and 1")
    values = np.asarray(plain.values, dtype=float)
    if m >= 2 and len(values) >= 2 * m:
        from crmcli.analytics.stl import stl

        # A slowly changing seasonal pattern (smoother over ~4 seasons): the baseline is what
        # the season and trend lead one to expect, not a curve that bends to every spike.
        fit = stl(values, m, seasonal=anomaly_seasonal_window(m), robust=True)
        baseline = fit.trend + fit.seasonal
    else:
        baseline = _rolling_median(values, 5)
    resid = values - baseline
    sigma = 1.4826 * _median(np.abs(resid - _median(resid)))
    if sigma <= 0:
        sigma = float(np.std(resid)) or 1e-9
    z = NormalDist().inv_cdf(0.5 + level / 2)
    rows = []
    for stamp, value, expected, r in zip(plain.index, values, baseline, resid, strict=True):
        # Counts are at least Poisson-noisy: a near-deterministic history must not turn
        # every +1 into an anomaly.
        scale = max(sigma, math.sqrt(max(float(expected), 1.0))) if counts else sigma
        lo, hi = expected - z * scale, expected + z * scale
        if value < lo or value > hi:
            rows.append(
                {
                    "period": _period_text(stamp, plain.freq),
                    "value": float(value),
                    "expected": float(expected),
                    "lo": float(lo),
                    "hi": float(hi),
                    "score": float(r / scale),
                }
            )
    return rows


def _rolling_median(values: Any, window: int) -> Any:
    """pandas' rolling(window, center=True, min_periods=1).median() (odd window)."""
    import numpy as np

    half = window // 2
    n = len(values)
    return np.array([_median(values[max(0, i - half) : i + half + 1]) for i in range(n)])


def _median(values: Any) -> float:
    """numpy.median's value (the mean of the two middle values of an even count) without
    numpy.median, whose first call imports numpy.ma."""
    import numpy as np

    ordered = np.sort(np.asarray(values, dtype=float))
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return float((ordered[mid - 1] + ordered[mid]) / 2.0)


def anomaly_seasonal_window(season_length: int) -> int:
    """STL's seasonal smoother length used by detect_anomalies: 4 seasons + 1, made odd."""
    window = 4 * season_length + 1
    return window if window % 2 else window + 1


def sparkline(values: Sequence[float]) -> str:
    """One block character per value, scaled between 0 and the largest value."""
    top = max((v for v in values if v is not None), default=0)
    if not values:
        return ""
    if top <= 0:
        return BLOCKS[0] * len(values)
    out = []
    for v in values:
        level = 0 if v is None or v <= 0 else min(7, int(round(v / top * 7)))
        out.append(BLOCKS[level])
    return "".join(out)
