"""STL (seasonal-trend decomposition by LOESS) in numpy, as statsmodels implements it.

Cleveland, Cleveland, McRae & Terpenning (1990), "STL: A Seasonal-Trend Decomposition
Procedure Based on Loess", J. Official Statistics 6, 3-73; the algorithm of the NETLIB
Fortran as ported by statsmodels (`statsmodels.tsa.seasonal.STL`, the tests' reference):

- inner loop (`inner_iter` passes): detrend; smooth every cycle-subseries (the values at
  one position of the season) by LOESS with the seasonal window, extended one period at
  both ends; low-pass filter the result (moving averages of period, period and 3, then a
  LOESS with the low-pass window); seasonal = smoothed cycle-subseries - low-pass;
  deseasonalise; trend = LOESS of that with the trend window;
- outer loop (`outer_iter` passes, robust fits only): robustness weights from the
  residuals (bisquare of |r| / (6 x median |r|)) enter the seasonal and trend LOESS.

LOESS: tricube distance weights over the `len_` nearest points (the window widened by
(len_ - n) // 2 when longer than the series), times the robustness weights, with a local
linear fit (degree 1) or a local mean (degree 0). Defaults are statsmodels': seasonal=7,
trend = the smallest odd integer >= 1.5 period / (1 - 1.5 / seasonal), low_pass = the
smallest odd integer > period, degrees 1, robust: 2 inner and 15 outer passes, else 5 and 0.
Only the jumps of 1 (a LOESS at every point, statsmodels' default) are implemented.

Every window, index and distance weight depends on the series' length and the settings
only, so each smoother is built once per fit as index and weight matrices; a pass is a
few array operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class STLResult:
    seasonal: np.ndarray
    trend: np.ndarray
    resid: np.ndarray
    weights: np.ndarray


class _Smoother:
    """One LOESS applied to many windows at once.

    Row r estimates at local position xs[r] (1-based) from the local points nleft[r] ..
    nright[r] of a (sub)series of n[r] points; `index` maps (row, point) to positions in
    the array the smoother is applied to (so a row can read one cycle-subseries).
    """

    def __init__(
        self,
        xs: np.ndarray,
        nleft: np.ndarray,
        nright: np.ndarray,
        n: np.ndarray,
        len_: int,
        degree: int,
        to_global: Any,
    ) -> None:
        width = int((nright - nleft).max()) + 1
        local = nleft[:, None] + np.arange(width)[None, :]  # 1-based local positions
        inside = local <= nright[:, None]
        local = np.where(inside, local, nleft[:, None])
        h = np.maximum(xs - nleft, nright - xs).astype(float)
        h = h + np.where(len_ > n, (len_ - n) // 2, 0)
        r = np.abs(local - xs[:, None]).astype(float)
        hh = h[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            tricube = (1.0 - (r / hh) ** 3) ** 3
        weight = np.where(r <= 0.001 * hh, 1.0, tricube)
        self.base = np.where(inside & (r <= 0.999 * hh), weight, 0.0)
        self.index = to_global(local)
        self.pos = local.astype(float)
        self.xs = xs.astype(float)
        self.linear = (h > 0) & (degree > 0)
        self.rng = (n - 1).astype(float)

        self._fixed: tuple[np.ndarray, np.ndarray] | None = None

    def weights(self, rw: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The effective weight of every (row, point) and which rows have any weight.

        Without robustness weights they never change, so they are computed once."""
        if rw is None and self._fixed is not None:
            return self._fixed
        w = self.base * rw[self.index] if rw is not None else self.base.copy()
        total = w.sum(axis=1)
        ok = total > 0
        w /= np.where(ok, total, 1.0)[:, None]
        if self.linear.any():
            centre = (w * self.pos).sum(axis=1)
            dev = self.pos - centre[:, None]
            spread = (w * dev**2).sum(axis=1)
            fit = self.linear & (np.sqrt(spread) > 0.001 * self.rng)
            slope = np.where(fit, (self.xs - centre) / np.where(fit, spread, 1.0), 0.0)
            w *= np.where(fit[:, None], slope[:, None] * dev + 1.0, 1.0)
        if rw is None:
            self._fixed = (w, ok)
        return w, ok

    def __call__(self, y: np.ndarray, weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        w, ok = weights
        out = np.einsum("ij,ij->i", w, y[self.index])
        out[~ok] = np.nan
        return out


def _windows(n: int, len_: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """statsmodels' _ess windows (jump 1): estimate positions and their neighbourhoods."""
    xs = np.arange(1, n + 1)
    if len_ >= n:
        return xs, np.ones(n, dtype=int), np.full(n, n)
    nsh = (len_ + 2) // 2
    shift = np.minimum(np.maximum(0, xs - nsh), n - len_)
    return xs, 1 + shift, len_ + shift


def _series_smoother(n: int, len_: int, degree: int) -> _Smoother:
    xs, nleft, nright = _windows(n, len_)
    return _Smoother(xs, nleft, nright, np.full(n, n), len_, degree, lambda p: p - 1)


class _SeasonalSmoother:
    """Every cycle-subseries smoothed at its points and one period beyond both ends."""

    def __init__(self, n: int, period: int, len_: int, degree: int) -> None:
        xs_rows, left_rows, right_rows, n_rows, sub_rows, out_rows = [], [], [], [], [], []
        for j in range(period):
            k = (n - (j + 1)) // period + 1
            xs, nleft, nright = _windows(k, len_)
            xs = np.concatenate(([0], xs, [k + 1]))
            nleft = np.concatenate(([1], nleft, [max(1, k - len_ + 1)]))
            nright = np.concatenate(([min(len_, k)], nright, [k]))
            xs_rows.append(xs)
            left_rows.append(nleft)
            right_rows.append(nright)
            n_rows.append(np.full(k + 2, k))
            sub_rows.append(np.full(k + 2, j))
            out_rows.append(np.arange(k + 2) * period + j)
        self.sub = np.concatenate(sub_rows)
        self.first = np.concatenate([[True] + [False] * (len(x) - 1) for x in xs_rows])
        self.last = np.concatenate([[False] * (len(x) - 1) + [True] for x in xs_rows])
        self.out = np.concatenate(out_rows)
        self.size = n + 2 * period
        sub = self.sub
        self.smooth = _Smoother(
            np.concatenate(xs_rows),
            np.concatenate(left_rows),
            np.concatenate(right_rows),
            np.concatenate(n_rows),
            len_,
            degree,
            lambda p: (p - 1) * period + sub[:, None],
        )
        xs_all = self.smooth.xs.astype(int)
        n_all = self.smooth.rng.astype(int) + 1
        # the point each estimate falls back to when its weights are all zero
        own = np.clip(xs_all, 1, n_all) - 1
        self.fallback_value = own * period + sub  # interior: the value itself

    def __call__(self, y: np.ndarray, weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        est = self.smooth(y, weights)
        missing = np.isnan(est)
        interior = missing & ~self.first & ~self.last
        est[interior] = y[self.fallback_value[interior]]
        # the end estimates fall back to their neighbour's estimate
        ends = missing & self.first
        est[ends] = est[np.flatnonzero(ends) + 1]
        ends = missing & self.last
        est[ends] = est[np.flatnonzero(ends) - 1]
        season = np.empty(self.size)
        season[self.out] = est
        return season


def _moving_average(x: np.ndarray, length: int) -> np.ndarray:
    sums = np.cumsum(np.concatenate(([0.0], x)))
    return (sums[length:] - sums[:-length]) / float(length)


def _odd(value: int) -> int:
    return value + (value % 2 == 0)


def _robust_weights(y: np.ndarray, fit: np.ndarray) -> np.ndarray:
    r = np.abs(y - fit)
    n = len(r)
    mid = sorted({n // 2, n - n // 2 - 1})
    part = np.partition(r, mid)
    cmad = 3.0 * (part[n // 2] + part[n - n // 2 - 1])
    if cmad == 0:
        return np.ones(n)
    out = (1.0 - (r / cmad) ** 2) ** 2
    out = np.where(r <= 0.001 * cmad, 1.0, out)
    return np.where(r <= 0.999 * cmad, out, 0.0)


def stl(
    values: Any,
    period: int,
    seasonal: int = 7,
    trend: int | None = None,
    low_pass: int | None = None,
    robust: bool = False,
    degrees: tuple[int, int, int] = (1, 1, 1),
) -> STLResult:
    """Decompose `values` into seasonal + trend + resid (statsmodels.tsa.seasonal.STL(values,
    period, seasonal, trend, low_pass, robust=robust).fit(), degrees seasonal/trend/low-pass)."""
    y = np.ascontiguousarray(values, dtype=float)
    n = len(y)
    if period < 2:
        raise ValueError("period must be an integer >= 2")
    if seasonal < 3 or seasonal % 2 == 0:
        raise ValueError("seasonal must be an odd integer >= 3")
    if trend is None:
        trend = _odd(int(math.ceil(1.5 * period / (1 - 1.5 / seasonal))))
    if low_pass is None:
        low_pass = _odd(period + 1)
    if trend < 3 or trend % 2 == 0 or trend <= period:
        raise ValueError("trend must be an odd integer >= 3 and > period")
    if low_pass < 3 or low_pass % 2 == 0 or low_pass <= period:
        raise ValueError("low_pass must be an odd integer >= 3 and > period")
    inner, outer = (2, 15) if robust else (5, 0)
    season_smoother = _SeasonalSmoother(n, period, seasonal, degrees[0])
    trend_smoother = _series_smoother(n, trend, degrees[1])
    low_smoother = _series_smoother(n, low_pass, degrees[2])

    season = np.zeros(n)
    trend_part = np.zeros(n)
    rw: np.ndarray | None = None
    weights = np.ones(n)
    low_weights = low_smoother.weights(None)
    for k in range(outer + 1):
        season_weights = season_smoother.smooth.weights(rw)
        trend_weights = trend_smoother.weights(rw)
        for _ in range(inner):
            cycle = season_smoother(y - trend_part, season_weights)
            low = _moving_average(_moving_average(_moving_average(cycle, period), period), 3)
            low = _fill(low_smoother(low, low_weights), low)
            season = cycle[period : period + n] - low
            deseasonal = y - season
            trend_part = _fill(trend_smoother(deseasonal, trend_weights), deseasonal)
        if k < outer:
            weights = _robust_weights(y, trend_part + season)
            rw = weights
    return STLResult(season, trend_part, y - season - trend_part, weights)


def _fill(estimate: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """statsmodels' _ess: a point whose LOESS weights are all zero keeps its value."""
    missing = np.isnan(estimate)
    if missing.any():
        estimate[missing] = raw[missing]
    return estimate
