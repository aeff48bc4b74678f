"""Customer lifetime value: the BG/NBD purchase model and the Gamma-Gamma spend model.

References: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative
to the Pareto/NBD Model", Marketing Science 24(2); Fader & Hardie (2013), "The Gamma-Gamma
Model of Monetary Value" (note). Both models are fitted by maximum likelihood, optimising
over the logarithm of the (positive) parameters by a projected Newton method (analytic
gradient and Hessian: one pass over the customers per iteration, where a Hessian from
differences of the gradient took nine), with the analytic log-likelihood written with
gammaln / betaln / digamma / trigamma (crmcli.analytics.special), vectorised over customers.

Where the data show no sign of dropout (large synthetic histories), the BG/NBD likelihood
is flat along a ridge (a -> 0, b -> infinity); the fit then follows it to the bound (b =
e^15) and the exact position along it changes predictions only in the fifth digit. Nothing here
imports SciPy (0.6 s of CPU at start-up); the tests compare the fits with SciPy's L-BFGS-B
and the expectations with scipy.special.hyp2f1 (tests/analytics/test_clv_reference.py).

Inputs are per-customer summaries, one value per customer:
  x   = frequency, the number of repeat transactions (transaction days after the first)
  t_x = recency, the time of the last transaction, measured from the first
  T   = the age of the customer at the end of the calibration period
  m_x = the average value of the repeat transactions (Gamma-Gamma; customers with x > 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from crmcli.core.errors import NotEnoughData, OperationalError

Array = NDArray[np.float64]
# Log-parameters stay within +-LOG_BOUND (on scaled data): a boundary value means the data
# cannot tell the parameter apart from "infinite" (e.g. no sign of dropout at all).
LOG_BOUND = 15.0
MAX_STEP = 2.0  # the longest Newton step in log-parameters (a factor of e^2 per iteration)


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD parameters: purchase rate ~ Gamma(r, alpha), dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "r": self.r,
            "alpha": self.alpha,
            "a": self.a,
            "b": self.b,
            "log_likelihood": self.log_likelihood,
            "customers": self.customers,
        }


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma spend parameters (p, q, gamma)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "p": self.p,
            "q": self.q,
            "gamma": self.gamma,
            "log_likelihood": self.log_likelihood,
            "customers": self.customers,
        }

    def population_mean(self) -> float:
        """E[M] for a customer we know nothing about: p * gamma / (q - 1)."""
        if self.q <= 1:
            return float("nan")
        return self.p * self.gamma / (self.q - 1)


def _dot(u: Array, v: Array) -> float:
    """Inner product without BLAS: np.dot's threads stall on a busy machine, and this is
    memory-bound anyway."""
    return float(np.sum(u * v))


def _arrays(*values: ArrayLike) -> list[Array]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def _compress(x: Array, t_x: Array, T: Array) -> tuple[Array, Array, Array, Array]:
    """Unique (x, t_x, T) rows with their counts: the likelihood is a weighted sum.

    Sorted lexicographically like np.unique(..., axis=0), which is 2x slower (it sorts rows
    as structured records)."""
    order = np.lexsort((T, t_x, x))
    sx, st, sT = x[order], t_x[order], T[order]
    new = np.empty(sx.size, dtype=bool)
    new[:1] = True
    new[1:] = (sx[1:] != sx[:-1]) | (st[1:] != st[:-1]) | (sT[1:] != sT[:-1])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, sx.size)).astype(np.float64)
    return sx[starts], st[starts], sT[starts], counts


def bgnbd_log_likelihood_terms(
    r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, T: Array
) -> Array:
    """Per-customer log-likelihood of the BG/NBD model (FHL 2005, equation 6)."""
    from crmcli.analytics.special import betaln, gammaln

    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    term1 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    term2 = np.full_like(x, -np.inf)
    xr = x[repeat]
    term2[repeat] = (
        betaln(a + 1.0, b + xr - 1.0) - betaln(a, b) - (r + xr) * np.log(alpha + t_x[repeat])
    )
    return np.asarray(common + np.logaddexp(term1, term2), dtype=np.float64)


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> BgNbd:
    """Maximum-likelihood BG/NBD fit: projected Newton with the analytic gradient and
    Hessian in log-parameter space, on T scaled to about 1."""

    xs, ts, Ts = _arrays(x, t_x, T)
    if xs.size < 2:
        raise NotEnoughData("too few customers to fit the BG/NBD model (need at least 2)")
    if not np.any(xs > 0):
        raise NotEnoughData("no repeat purchases: the BG/NBD model cannot be fitted")
    if np.any(ts > Ts + 1e-9) or np.any(xs < 0) or np.any(Ts < 0):
        raise OperationalError("inconsistent customer summaries (need 0 <= t_x <= T)")
    ux, ut, uT, weight = _compress(xs, ts, Ts)
    scale = max(float(np.max(uT)), 1e-9)  # fit on T scaled to ~1: alpha scales with it
    objective = _BgNbdObjective(ux, ut / scale, uT / scale, weight)
    result = _minimise(objective, 4)
    r, alpha, a, b = np.exp(result.x)
    alpha *= scale
    ll = float(_dot(weight, bgnbd_log_likelihood_terms(r, alpha, a, b, ux, ut, uT)))
    return BgNbd(float(r), float(alpha), float(a), float(b), ll, int(xs.size))


class _BgNbdObjective:
    """-LL of the BG/NBD model, its gradient and Hessian in log-parameters (r, alpha, a, b),
    over compressed rows sorted by x (weights: customers per row).

    Per row, LL = [gammaln(r + x) - gammaln(r) + betaln(a, b + x) - betaln(a, b)] + r log
    alpha - (r + x) log(alpha + T) + softplus(D) for x > 0 (without the softplus for x = 0),
    where D = log a - log(b + x - 1) + (r + x) (log(alpha + T) - log(alpha + t_x)) is the
    log ratio of the paper's two terms (betaln(a + 1, b + x - 1) - betaln(a, b + x) = log(a /
    (b + x - 1))). sigma(D) is the posterior weight of the second term; D is linear in log a
    and in r, so the Hessian needs sigma (1 - sigma) and trigamma only. Terms that depend on
    x alone are computed once per distinct x, and the row sums of those on repeat rows are
    taken per x group (np.add.reduceat over the sorted rows)."""

    def __init__(self, x: Array, t: Array, T: Array, weight: Array) -> None:
        self.xu, starts = np.unique(x, return_index=True)
        self.w_x = np.add.reduceat(weight, starts)  # customers per distinct x
        self.w = weight.sum()
        self.T, self.weight, self.wx = T, weight, weight * x
        first = int(np.searchsorted(x, 0.0, side="right"))  # rows with x > 0 from here
        self.first = first
        self.rep_x = x[first:]
        self.rep_t, self.rep_w = t[first:], weight[first:]
        self.rep_starts = starts[self.xu > 0] - first
        self.rep_xu = self.xu[self.xu > 0]

    def __call__(self, logp: Array) -> tuple[float, Array, Array]:
        from crmcli.analytics.special import betaln, digamma, gammaln, trigamma

        r, alpha, a, b = np.exp(logp)
        xu, w_x = self.xu, self.w_x
        # per distinct x
        lg = gammaln(r + xu) - gammaln(r)
        beta1 = betaln(a, b + xu) - betaln(a, b)
        psi_ab, psi_abx, tri_ab, tri_abx = (
            digamma(a + b),
            digamma(a + b + xu),
            trigamma(a + b),
            trigamma(a + b + xu),
        )
        b1a = psi_ab - psi_abx
        b1b = digamma(b + xu) - psi_abx - digamma(b) + psi_ab
        b1aa = tri_ab - tri_abx
        b1bb = trigamma(b + xu) - tri_abx - trigamma(b) + tri_ab
        # every row: the terms without the repeat-purchase mixture
        inv_T = 1.0 / (alpha + self.T)
        log_T = np.log(alpha + self.T)
        sum_log_T, sum_wx_log_T = _dot(self.weight, log_T), _dot(self.wx, log_T)
        inv_T2 = inv_T * inv_T
        # repeat rows: D and its derivatives
        xr = self.rep_x
        rx = r + xr
        lt_r, lT_r = np.log(alpha + self.rep_t), log_T[self.first :]
        it_r, iT_r = 1.0 / (alpha + self.rep_t), inv_T[self.first :]
        c_x = np.log(a) - np.log(b + self.rep_xu - 1.0)
        c_rows = np.repeat(c_x, np.diff(np.append(self.rep_starts, xr.size)))
        d_r = lT_r - lt_r  # dD/dr
        D = c_rows + rx * d_r
        d_alpha = rx * (iT_r - it_r)  # dD/dalpha
        softplus = np.logaddexp(0.0, D)
        sigma = np.exp(D - softplus)
        s2 = sigma * np.exp(-softplus)  # sigma (1 - sigma)
        w = self.rep_w
        ws, ws2 = w * sigma, w * s2
        value = (
            _dot(w_x, lg + beta1) + self.w * r * np.log(alpha) - r * sum_log_T - sum_wx_log_T
        ) + _dot(w, softplus)
        if not np.isfinite(value):
            return 1e300, np.zeros(4), np.eye(4)
        starts = self.rep_starts
        # per repeat x (fit_bgnbd refuses data without repeat rows)
        ws2_dr = ws2 * d_r
        S_x, Q_x = np.add.reduceat(ws, starts), np.add.reduceat(ws2, starts)
        R_x, A_x = np.add.reduceat(ws2_dr, starts), np.add.reduceat(ws2 * d_alpha, starts)
        inv_b = 1.0 / (b + self.rep_xu - 1.0)  # -dD/db per repeat x
        grad = np.array(
            [
                _dot(w_x, digamma(r + xu) - digamma(r)) + self.w * np.log(alpha) - sum_log_T
                + _dot(ws, d_r),
                self.w * r / alpha - r * _dot(self.weight, inv_T) - _dot(self.wx, inv_T)
                + _dot(ws, d_alpha),
                _dot(w_x, b1a) + ws.sum() / a,
                _dot(w_x, b1b) - _dot(S_x, inv_b),
            ]
        )  # fmt: skip
        h = np.empty((4, 4))
        h[0, 0] = _dot(w_x, trigamma(r + xu) - trigamma(r)) + _dot(ws2_dr, d_r)
        h[0, 1] = (
            self.w / alpha - _dot(self.weight, inv_T) + _dot(ws, iT_r - it_r)
            + _dot(ws2_dr, d_alpha)
        )  # fmt: skip
        h[1, 1] = (
            -self.w * r / alpha**2 + r * _dot(self.weight, inv_T2) + _dot(self.wx, inv_T2)
            + _dot(ws * rx, it_r * it_r - iT_r * iT_r) + _dot(ws2 * d_alpha, d_alpha)
        )  # fmt: skip
        h[0, 2] = R_x.sum() / a
        h[0, 3] = -_dot(R_x, inv_b)
        h[1, 2] = A_x.sum() / a
        h[1, 3] = -_dot(A_x, inv_b)
        h[2, 2] = _dot(w_x, b1aa) + (Q_x.sum() - S_x.sum()) / a**2
        h[2, 3] = _dot(w_x, -tri_abx + tri_ab) - _dot(Q_x, inv_b) / a
        h[3, 3] = _dot(w_x, b1bb) + _dot(S_x + Q_x, inv_b * inv_b)
        for i in range(4):
            for j in range(i):
                h[i, j] = h[j, i]
        p = np.array([r, alpha, a, b])
        # chain rule to log-parameters; the objective is -LL
        hess = -(h * np.outer(p, p) + np.diag(grad * p))
        return -float(value), -grad * p, hess


@dataclass
class _Optimum:
    x: Array
    fun: float
    jac: Array
    iterations: int


def _minimise(objective: Any, size: int) -> _Optimum:
    """Minimise objective(logp) -> (value, gradient, Hessian) from log-parameters 0 (all
    ones).

    Trial points far out may overflow; the objective reports them as +huge, so numpy's
    floating-point warnings are silenced here."""
    with np.errstate(all="ignore"):
        return _newton(objective, size)


def _newton(objective: Any, size: int, max_iter: int = 200) -> _Optimum:
    """Projected Newton in the box [-LOG_BOUND, LOG_BOUND]^size, with the objective's
    analytic Hessian.

    A coordinate on a bound whose gradient points out of the box is held there; the others
    take a Newton step with the Hessian's eigenvalues made positive (|lambda|, at least
    1e-10 of the largest), halved until the value decreases enough (Armijo). Stops when
    the projected gradient is at most 1e-10 x max(1, |value|), or a step lowers the value
    by less than 1e-11 of it."""
    low, high = -LOG_BOUND, LOG_BOUND
    x = np.zeros(size)
    f, g, h = objective(x)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported as the count
        free = ~(((x <= low) & (g > 0)) | ((x >= high) & (g < 0)))
        gf = np.where(free, g, 0.0)
        if not free.any() or np.max(np.abs(gf)) <= 1e-10 * max(1.0, abs(f)):
            break
        index = np.flatnonzero(free)
        eigen, vectors = np.linalg.eigh(h[np.ix_(index, index)])
        scale = max(float(np.max(np.abs(eigen))), 1e-300)
        eigen = np.maximum(np.abs(eigen), 1e-10 * scale)
        direction = np.zeros(size)
        direction[free] = -(vectors @ ((vectors.T @ g[free]) / eigen))
        longest = float(np.max(np.abs(direction)))
        if longest > MAX_STEP:  # a near-flat direction: move at most MAX_STEP per iteration
            direction *= MAX_STEP / longest
        moved = False
        t = 1.0
        while t > 1e-12:
            trial = np.clip(x + t * direction, low, high)
            ft, gt, ht = objective(trial)
            if np.isfinite(ft) and ft <= f + 1e-4 * float(g @ (trial - x)):
                # a decrease in the 11th digit is a flat ridge (e.g. no sign of dropout:
                # a and b grow together), not progress
                moved = ft < f - 1e-11 * max(1.0, abs(f))
                x, f, g, h = trial, ft, gt, ht
                break
            t /= 2
        if not moved:
            break
    return _Optimum(x, float(f), g, iterations)


def p_alive(model: BgNbd, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """P(alive | x, t_x, T) (FHL 2005, equation 11); 1 for customers without repeats."""
    xs, ts, Ts = _arrays(x, t_x, T)
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    out = np.ones_like(xs)
    repeat = xs > 0
    xr = xs[repeat]
    log_ratio = (r + xr) * (np.log(alpha + Ts[repeat]) - np.log(alpha + ts[repeat]))
    odds = np.exp(np.log(a) - np.log(b + xr - 1.0) + log_ratio)
    out[repeat] = 1.0 / (1.0 + odds)
    return out


def expected_purchases(
    model: BgNbd, horizon: float | Array, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """E[Y(horizon) | x, t_x, T]: expected transactions in (T, T + horizon] (FHL 2005, eq. 10).

    The numerator (a + b + x - 1) / (a - 1) [1 - ((alpha + T) / (alpha + T + t))^(r + x)
    2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))] is computed as what it is, the
    posterior mean of (1 - (1 + p k)^-(r + x)) / p over p ~ Beta(a, b + x), k = t / (alpha
    + T) (`conditional_expectation`): no hypergeometric function, and no cancellation in
    1 - (...) for short horizons. It depends on x and T only: for a scalar horizon over
    customers it is computed once per distinct (x, T) (`_numerators`)."""
    xs, ts, Ts = _arrays(x, t_x, T)
    t = np.asarray(horizon, dtype=np.float64)
    if t.ndim == 0 and xs.ndim == 1:
        table, inverse = _numerators(model, t.reshape(1), xs, Ts)
        numerator = table[0][inverse]
    else:
        r, alpha, a, b = model.r, model.alpha, model.a, model.b
        numerator = conditional_expectation(r + xs, b + xs, t / (alpha + Ts), a)
    return np.asarray(numerator / (1.0 + _dropout_odds(model, xs, ts, Ts)), dtype=np.float64)


def _dropout_odds(model: BgNbd, xs: Array, ts: Array, Ts: Array) -> Array:
    """P(dropped out) / P(alive) per customer: 0 without repeat purchases (FHL 2005, eq. 11)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    repeat = xs > 0
    odds = np.zeros_like(xs)
    xr = xs[repeat]
    odds[repeat] = np.exp(
        np.log(a)
        - np.log(b + xr - 1.0)
        + (r + xr) * (np.log(alpha + Ts[repeat]) - np.log(alpha + ts[repeat]))
    )
    return odds


def _numerators(model: BgNbd, horizons: Array, xs: Array, Ts: Array) -> tuple[Array, Any]:
    """expected_purchases' numerator for each horizon (rows) and distinct (x, T) (columns),
    and per customer the column of its (x, T): a million customers have some ten thousand
    distinct pairs (whole days of age, repeat counts)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    order = np.lexsort((Ts, xs))
    sx, sT = xs[order], Ts[order]
    new = np.empty(sx.size, dtype=bool)
    new[:1] = True
    new[1:] = (sx[1:] != sx[:-1]) | (sT[1:] != sT[:-1])
    inverse = np.empty(sx.size, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    ux, uT = sx[new], sT[new]
    table = conditional_expectation(r + ux, b + ux, horizons[:, None] / (alpha + uT), a)
    return np.asarray(table, dtype=np.float64), inverse


def expected_purchases_new(model: BgNbd, t: float | Array) -> Array:
    """E[X(t)] for a customer just acquired (FHL 2005, equation 9): (a + b - 1) / (a - 1)
    [1 - (alpha / (alpha + t))^r 2F1(r, b; a + b - 1; t / (alpha + t))], computed as the
    mean of (1 - (1 + p t / alpha)^-r) / p over p ~ Beta(a, b)."""
    tt = np.asarray(t, dtype=np.float64)
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    return np.asarray(
        conditional_expectation(np.full(tt.shape, r), np.full(tt.shape, b), tt / alpha, a),
        dtype=np.float64,
    )


# Tanh-sinh (double exponential) nodes on (0, 1) for conditional_expectation: p(u) =
# 1 / (1 + exp(-pi sinh(u))), u = -7.5 .. 7.5 in steps of 1/32 (481 nodes). log p and
# log(1 - p) are kept separately, so the ends (p down to 1e-300 and below) stay exact.
_STEP = 1.0 / 32.0
_U = np.arange(-240, 241) * _STEP
_S = np.pi * np.sinh(_U)
_LOG_P = -np.logaddexp(0.0, -_S)
_LOG_Q = -np.logaddexp(0.0, _S)
_P = np.exp(_LOG_P)
_WEIGHT = np.pi * np.cosh(_U) * _STEP
_PFAFF_UP_TO = 0.5  # k (times max(1, (A + 1) / (C + 1))) up to which the w-series is used
_QUADRATURE_FROM = 50.0  # k from which a wide Beta(a, B) is integrated instead
_WIDE = 1000.0  # a + B below this: the Beta is wide enough for the tanh-sinh nodes
_HYP2F1_FROM = 200_000  # values (~17k customers x 12 steps): from this many, compiled hyp2f1


def conditional_expectation(A: Any, B: Any, k: Any, a: float) -> Array:
    """E[(1 - (1 + p k)^-A) / p] for p ~ Beta(a, B), elementwise over A, B, k (> 0).

    This is the BG/NBD's (a + B - 1) / (a - 1) [1 - Q], Q = (1 + k)^-A 2F1(A, B; C; z),
    C = a + B - 1, z = k / (1 + k) (FHL 2005, eq. 10 with k = t / (alpha + T)):
    - k <= 1/2: 2F1's Pfaff transformation gives the alternating series sum_n>=1 v_n,
      v_1 = A k, v_n+1 = -v_n k (A + n)(a + n - 1) / ((C + n)(n + 1)), with no 1 - Q
      cancellation for short horizons;
    - otherwise Q as the series of 2F1 in z (positive terms, summed with a running scale so
      that neither (1 + k)^-A nor 2F1 over- or underflows);
    - k >= 50 with a wide Beta(a, B) (a + B < 1000): the integral over p by tanh-sinh
      quadrature (the z-series would need ~40 (1 + k) terms).
    Exact to ~1e-13 (tests/analytics/test_clv_reference.py: against scipy.special.hyp2f1
    and adaptive quadrature). Distinct (A, B, k) triples are computed once; from
    _HYP2F1_FROM values (a large database) the closed form with scipy.special.hyp2f1 is
    used where it is finite and a + B < _WIDE, as before this module computed it (its import
    then costs less than the series; the series remain where hyp2f1 overflows, and for a
    narrow Beta: with b in the millions, data without dropout, hyp2f1 is off by 5e-4)."""
    A_, B_, k_ = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (A, B, k)))
    if A_.size >= _HYP2F1_FROM:  # many values: compiled hyp2f1 where it is exact
        out = np.full(A_.shape, np.nan)
        wide = a + B_ < _WIDE  # hyp2f1 loses digits as B grows: 3e-11 at 1000, 5e-4 at 3e6
        if wide.any():
            out[wide] = _closed_form(A_[wide], B_[wide], a + B_[wide] - 1.0, k_[wide], a)
        bad = ~np.isfinite(out)  # narrow Betas, and where hyp2f1 overflows (x in the hundreds)
        if bad.any():
            out[bad] = _by_series(A_[bad], B_[bad], k_[bad], a)
        return out
    return _by_series(A_.ravel(), B_.ravel(), k_.ravel(), a).reshape(A_.shape)


def _by_series(A: Array, B: Array, k: Array, a: float) -> Array:
    """conditional_expectation for flat arrays, once per distinct (A, B, k)."""
    A1, B1, k1, inverse = _distinct(A, B, k)
    out = np.zeros(len(A1))
    C1 = a + B1 - 1.0
    pfaff = (k1 * np.maximum(1.0, (A1 + 1.0) / (C1 + 1.0)) <= _PFAFF_UP_TO) & (k1 > 0)
    if pfaff.any():
        out[pfaff] = _pfaff_series(A1[pfaff], C1[pfaff], k1[pfaff], a)
    quad = ~pfaff & (k1 >= _QUADRATURE_FROM) & (a + B1 < _WIDE)
    for chunk in np.array_split(np.flatnonzero(quad), int(quad.sum()) // 2000 + 1):
        if len(chunk):
            out[chunk] = _quadrature(A1[chunk], B1[chunk], k1[chunk], a)
    rest = ~pfaff & ~quad & (k1 > 0)
    if rest.any():
        q = _z_series(A1[rest], B1[rest], C1[rest], k1[rest])
        out[rest] = C1[rest] / (a - 1.0) * (1.0 - q)
    return np.asarray(out[inverse], dtype=np.float64)


def _closed_form(A: Array, B: Array, C: Array, k: Array, a: float) -> Array:
    """C / (a - 1) (1 - (1 + k)^-A 2F1(A, B; C; k / (1 + k))) with scipy.special.hyp2f1:
    for many distinct triples (a large database) its import is cheap next to the series."""
    from scipy.special import hyp2f1

    with np.errstate(all="ignore"):
        q = np.exp(-A * np.log1p(k)) * hyp2f1(A, B, C, k / (1.0 + k))
        return np.asarray(C / (a - 1.0) * (1.0 - q), dtype=np.float64)


def _distinct(A: Array, B: Array, k: Array) -> tuple[Array, Array, Array, Any]:
    """The distinct (A, B, k) triples and, per input, the index of its triple (as
    np.unique(axis=0), several times faster: one lexsort)."""
    order = np.lexsort((k, B, A))
    sa, sb, sk = A[order], B[order], k[order]
    new = np.empty(len(order), dtype=bool)
    new[:1] = True
    new[1:] = (sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1]) | (sk[1:] != sk[:-1])
    group = np.cumsum(new) - 1
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = group
    return sa[new], sb[new], sk[new], inverse


def _pfaff_series(A: Array, C: Array, k: Array, a: float) -> Array:
    term = A * k
    total = term.copy()
    for n in range(1, 400):
        term = term * (-k) * (A + n) * (a + n - 1.0) / ((C + n) * (n + 1.0))
        total += term
        if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
            break
    return total


def _z_series(A: Array, B: Array, C: Array, k: Array) -> Array:
    """(1 + k)^-A 2F1(A, B; C; k / (1 + k)), term by term; rows stop when converged."""
    z = k / (1.0 + k)
    log_scale = -A * np.log1p(k)  # the value is (total) * exp(log_scale)
    term = np.ones(len(A))
    total = np.ones(len(A))
    out = np.empty(len(A))
    active = np.arange(len(A))
    n = 0
    while len(active):
        term = term * (A[active] + n) * (B[active] + n) / ((C[active] + n) * (n + 1.0))
        term *= z[active]
        total += term
        n += 1
        if n % 8:
            continue
        big = total > 1e250
        if big.any():
            term[big] *= 1e-250
            total[big] *= 1e-250
            log_scale[active[big]] += 250 * np.log(10.0)
        done = (term <= 1e-17 * total) | (n > 200_000)
        if done.any():
            out[active[done]] = total[done] * np.exp(log_scale[active[done]])
            keep = ~done
            active, term, total = active[keep], term[keep], total[keep]
    return out


def _quadrature(A: Array, B: Array, k: Array, a: float) -> Array:
    from crmcli.analytics.special import betaln

    log_density = a * _LOG_P[None, :] + B[:, None] * _LOG_Q[None, :]
    weight = np.exp(log_density - np.atleast_1d(betaln(a, B))[:, None]) * _WEIGHT[None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h = -np.expm1(-A[:, None] * np.log1p(_P[None, :] * k[:, None])) / _P[None, :]
    h = np.where(_P[None, :] > 0, h, (A * k)[:, None])  # the limit A k as p -> 0
    return np.asarray(np.sum(weight * h, axis=1), dtype=np.float64)


def gamma_gamma_log_likelihood_terms(
    p: float, q: float, gamma: float, x: Array, m_x: Array
) -> Array:
    """Per-customer log-likelihood of the Gamma-Gamma model for the mean spend m_x over x."""
    from crmcli.analytics.special import gammaln

    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(m_x)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m_x * x),
        dtype=np.float64,
    )


def fit_gamma_gamma(x: ArrayLike, m_x: ArrayLike) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma fit on customers with x > 0 repeat transactions."""

    xs, ms = _arrays(x, m_x)
    keep = (xs > 0) & (ms > 0)
    xs, ms = xs[keep], ms[keep]
    if xs.size < 3:
        raise NotEnoughData(
            "too few repeat customers with positive spend to fit the Gamma-Gamma model (need 3)"
        )
    scale = float(np.mean(ms))  # fit on spend scaled to ~1: gamma scales with it
    order = np.argsort(xs, kind="stable")  # rows grouped by x
    result = _minimise(_GammaGammaObjective(xs[order], ms[order] / scale), 3)
    p, q, g = np.exp(result.x)
    g *= scale
    ll = float(np.sum(gamma_gamma_log_likelihood_terms(p, q, g, xs, ms)))
    return GammaGamma(float(p), float(q), float(g), ll, int(xs.size))


class _GammaGammaObjective:
    """-LL of the Gamma-Gamma model, its gradient and Hessian in log-parameters (p, q,
    gamma), for rows (x, mean spend m) sorted by x. Per row, LL = gammaln(p x + q) -
    gammaln(p x) - gammaln(q) + q log gamma + (p x - 1) log m + p x log x - (p x + q)
    log(gamma + m x): the gamma-function terms are taken once per distinct x, and the rest
    needs log(gamma + m x) and 1 / (gamma + m x) per row."""

    def __init__(self, x: Array, m: Array) -> None:
        self.xu, starts = np.unique(x, return_index=True)
        self.n_x = np.diff(np.append(starts, x.size)).astype(np.float64)
        self.x, self.mx, self.n = x, m * x, float(x.size)
        log_m, log_x = np.log(m), np.log(x)
        self.sum_log_m = float(np.sum(log_m))
        self.sum_x_log = _dot(x, log_m + log_x)  # sum of x (log m + log x)

    def __call__(self, logp: Array) -> tuple[float, Array, Array]:
        from crmcli.analytics.special import digamma, gammaln, trigamma

        p, q, g = np.exp(logp)
        xu, n_x, x = self.xu, self.n_x, self.x
        pxq, px = p * xu + q, p * xu
        lg = gammaln(pxq) - gammaln(px)
        psi_pxq, psi_px = digamma(pxq), digamma(px)
        tri_pxq, tri_px = trigamma(pxq), trigamma(px)
        shifted = g + self.mx
        log_g = np.log(shifted)
        inv = 1.0 / shifted
        sum_log, sum_x_log = float(np.sum(log_g)), _dot(x, log_g)
        sum_inv, sum_x_inv = float(np.sum(inv)), _dot(x, inv)
        inv2 = inv * inv
        sum_inv2, sum_x_inv2 = float(np.sum(inv2)), _dot(x, inv2)
        n = self.n
        value = (
            _dot(n_x, lg) - n * gammaln(q) + n * q * np.log(g)
            + p * self.sum_x_log - self.sum_log_m - p * sum_x_log - q * sum_log
        )  # fmt: skip
        if not np.isfinite(value):
            return 1e300, np.zeros(3), np.eye(3)
        xn = n_x * xu
        grad = np.array(
            [
                _dot(xn, psi_pxq - psi_px) + self.sum_x_log - sum_x_log,
                _dot(n_x, psi_pxq) - n * digamma(q) + n * np.log(g) - sum_log,
                n * q / g - p * sum_x_inv - q * sum_inv,
            ]
        )
        h = np.empty((3, 3))
        h[0, 0] = _dot(xn * xu, tri_pxq - tri_px)
        h[0, 1] = _dot(xn, tri_pxq)
        h[0, 2] = -sum_x_inv
        h[1, 1] = _dot(n_x, tri_pxq) - n * trigamma(q)
        h[1, 2] = n / g - sum_inv
        h[2, 2] = -n * q / g**2 + p * sum_x_inv2 + q * sum_inv2
        h[1, 0], h[2, 0], h[2, 1] = h[0, 1], h[0, 2], h[1, 2]
        v = np.array([p, q, g])
        hess = -(h * np.outer(v, v) + np.diag(grad * v))
        return -float(value), -grad * v, hess


def expected_average_spend(model: GammaGamma, x: ArrayLike, m_x: ArrayLike) -> Array:
    """E[M | x, m_x] = (p (gamma + x m_x)) / (p x + q - 1); the population mean when x = 0."""
    xs, ms = _arrays(x, m_x)
    ms = np.where(xs > 0, ms, 0.0)
    return np.asarray(
        model.p * (model.gamma + xs * ms) / (model.p * xs + model.q - 1.0), dtype=np.float64
    )


def lifetime_value(
    purchases: BgNbd,
    spend: Array,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    horizon: float,
    periods_per_year: float,
    annual_discount: float,
    steps: int | None = None,
) -> Array:
    """Discounted CLV over `horizon` time units: sum over steps of the expected purchases in
    each step times the expected average spend, discounted at `annual_discount` per year to
    the middle of the step (default: one step per time unit, at most 12 steps; the discount
    factor is smooth, so the midpoint rule is accurate to well under 0.1% for a year)."""
    if horizon <= 0:
        return np.zeros(np.asarray(x).shape, dtype=np.float64)
    n = steps or int(min(max(np.ceil(horizon), 1), 12))
    edges = np.linspace(0.0, horizon, n + 1)
    xs, ts, Ts = _arrays(x, t_x, T)
    if xs.ndim != 1:
        raise ValueError("lifetime_value takes one value per customer")
    # every step's horizon at once, per distinct (x, T); then one pass per step over the
    # customers (no steps x customers array)
    table, inverse = _numerators(purchases, edges[1:], xs, Ts)
    alive = 1.0 + _dropout_odds(purchases, xs, ts, Ts)
    value = np.zeros(xs.shape, dtype=np.float64)
    previous = np.zeros(xs.shape)
    for k in range(n):
        middle_years = (edges[k] + edges[k + 1]) / 2.0 / periods_per_year
        discount = (1.0 + annual_discount) ** (-middle_years)
        cumulative = table[k][inverse] / alive
        value += (cumulative - previous) * discount
        previous = cumulative
    return np.asarray(value * spend, dtype=np.float64)
