"""log-gamma, log-beta and digamma for numpy arrays, without SciPy (importing scipy.special
costs about 0.3 s of CPU: most of `report value` on a small database).

- gammaln(x): math.lgamma per distinct value (x > 0).
- betaln(a, b): lgamma(a) + lgamma(b) - lgamma(a + b); when the larger argument is >= 20,
  lgamma(y) - lgamma(x + y) comes from Stirling's series written as differences (log1p),
  which keeps full precision where the direct difference of two huge log-gammas cancels
  (scipy.special.betaln loses about 1e-10 relative there; tested against exact arithmetic).
- digamma(x): the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic
  series to x^-14 (x > 0).
- trigamma(x): psi'(x) likewise, psi1(x) = psi1(x + 1) + 1/x^2 up to x >= 10, then the
  asymptotic series to x^-15 (x > 0); the CLV fits' analytic Hessians use it.

tests/analytics/test_special.py checks them against scipy.special (~1e-15; trigamma ~1e-14).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

STIRLING_FROM = 20.0


def gammaln(x: Any) -> Any:
    """log Gamma(x) elementwise (x > 0); a float for a scalar."""
    values = np.asarray(x, dtype=np.float64)
    if values.ndim == 0:
        return math.lgamma(float(values))
    if values.size <= 256:
        return np.array([math.lgamma(v) for v in values.ravel().tolist()]).reshape(values.shape)
    distinct, inverse = np.unique(values, return_inverse=True)
    logs = np.array([math.lgamma(v) for v in distinct.tolist()], dtype=np.float64)
    return logs[inverse].reshape(values.shape)


def _stirling_tail(z: Any) -> Any:
    """lgamma(z) - ((z - 1/2) log z - z + log(2 pi) / 2), to 1e-17 for z >= 20."""
    w = 1.0 / (z * z)
    return (1 / 12 - w * (1 / 360 - w * (1 / 1260 - w * (1 / 1680 - w / 1188)))) / z


def betaln(a: Any, b: Any) -> Any:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b) elementwise (a, b > 0)."""
    if np.ndim(a) == 0 and np.ndim(b) == 0 and max(a, b) < STIRLING_FROM:
        x, y = float(a), float(b)
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)
    lo, hi = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    scalar = lo.ndim == 0
    lo, hi = np.atleast_1d(lo), np.atleast_1d(hi)
    out = np.empty(lo.shape)
    small = hi < STIRLING_FROM
    if small.any():
        xs, ys = lo[small], hi[small]
        out[small] = gammaln(xs) + gammaln(ys) - gammaln(xs + ys)
    big = ~small
    if big.any():
        xb, yb = lo[big], hi[big]
        # lgamma(y) - lgamma(x + y), both arguments >= 20
        diff = -(yb - 0.5) * np.log1p(xb / yb) - xb * np.log(xb + yb) + xb
        out[big] = gammaln(xb) + diff + _stirling_tail(yb) - _stirling_tail(xb + yb)
    return float(out[0]) if scalar else out


def _shifted(x: Any, term: Callable[[Any], Any]) -> tuple[bool, Any, Any]:
    """The recurrence of digamma and trigamma: every value below 10 moved up by whole steps
    (as many as the smallest needs) until the asymptotic series is accurate, with the sum of
    `term(value)` over the steps it took. Returns (x was a scalar, values >= 10, sums)."""
    values = np.array(x, dtype=np.float64, copy=True)
    scalar = values.ndim == 0
    values = np.atleast_1d(values)
    shift = np.zeros(values.shape)
    steps = int(math.ceil(10.0 - float(values.min()))) if values.size else 0
    if steps > 0:
        below = values < 10.0
        low = values[below]
        acc = np.zeros(low.shape)
        for _ in range(steps):
            acc += term(low)
            low = low + 1.0
        shift[below] = acc
        values[below] = low
    return scalar, values, shift


def digamma(x: Any) -> Any:
    """psi(x) = d/dx log Gamma(x) elementwise (x > 0); a float for a scalar."""
    if np.ndim(x) == 0:
        return _digamma_scalar(float(x))
    scalar, values, shift = _shifted(x, lambda low: -1.0 / low)
    w = 1.0 / (values * values)
    series = w * (
        1 / 12
        - w * (1 / 120 - w * (1 / 252 - w * (1 / 240 - w * (1 / 132 - w * (691 / 32760 - w / 12)))))
    )
    out = shift + np.log(values) - 0.5 / values - series
    return float(out[0]) if scalar else out


def _digamma_scalar(x: float) -> float:
    shift = 0.0
    while x < 10.0:
        shift -= 1.0 / x
        x += 1.0
    w = 1.0 / (x * x)
    series = w * (
        1 / 12
        - w * (1 / 120 - w * (1 / 252 - w * (1 / 240 - w * (1 / 132 - w * (691 / 32760 - w / 12)))))
    )
    return shift + math.log(x) - 0.5 / x - series


def trigamma(x: Any) -> Any:
    """psi1(x) = d^2/dx^2 log Gamma(x) elementwise (x > 0); a float for a scalar."""
    scalar, values, shift = _shifted(x, lambda low: 1.0 / (low * low))
    v = 1.0 / values
    w = v * v
    # 1/x + 1/(2x^2) + sum B_2k / x^(2k+1): B_2..B_14 = 1/6, -1/30, 1/42, -1/30, 5/66,
    # -691/2730, 7/6
    series = (
        v
        + w / 2
        + v
        * w
        * (
            1 / 6
            - w
            * (1 / 30 - w * (1 / 42 - w * (1 / 30 - w * (5 / 66 - w * (691 / 2730 - w * 7 / 6)))))
        )
    )
    out = shift + series
    return float(out[0]) if scalar else out
