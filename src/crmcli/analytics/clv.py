"""Customer lifetime value: the BG/NBD purchase model and the Gamma-Gamma spend model.

References: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative
to the Pareto/NBD Model", Marketing Science 24(2); Fader & Hardie (2013), "The Gamma-Gamma
Model of Monetary Value" (note). Both models are fitted by maximum likelihood with scipy,
optimising over the logarithm of the (positive) parameters, with the analytic log-likelihood
written with gammaln / betaln and vectorised over customers.

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
    from scipy.special import betaln, gammaln

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
    """Maximum-likelihood BG/NBD fit: L-BFGS with the analytic gradient in log-parameter
    space (Nelder-Mead as a fallback), on T scaled to about 1."""

    xs, ts, Ts = _arrays(x, t_x, T)
    if xs.size < 2:
        raise NotEnoughData("too few customers to fit the BG/NBD model (need at least 2)")
    if not np.any(xs > 0):
        raise NotEnoughData("no repeat purchases: the BG/NBD model cannot be fitted")
    if np.any(ts > Ts + 1e-9) or np.any(xs < 0) or np.any(Ts < 0):
        raise OperationalError("inconsistent customer summaries (need 0 <= t_x <= T)")
    ux, ut, uT, weight = _compress(xs, ts, Ts)
    scale = max(float(np.max(uT)), 1e-9)  # fit on T scaled to ~1: alpha scales with it
    st, sT = ut / scale, uT / scale
    # The gamma / beta function terms depend on x only: evaluate them once per distinct x.
    xu, inverse = np.unique(ux, return_inverse=True)
    repeat_u = xu > 0

    def negative_ll(logp: Array) -> tuple[float, Array]:
        """-LL and its gradient in log-parameter space (analytic: digamma terms)."""
        from scipy.special import betaln, digamma, gammaln

        r, alpha, a, b = np.exp(logp)
        base = betaln(a, b)
        xm1 = np.maximum(xu - 1.0, 0.0)
        common = (gammaln(r + xu) - gammaln(r) + r * np.log(alpha))[inverse]
        beta1 = (betaln(a, b + xu) - base)[inverse]
        beta2 = np.where(repeat_u, betaln(a + 1.0, b + xm1) - base, -np.inf)[inverse]
        log_T, log_t = np.log(alpha + sT), np.log(alpha + st)
        term1 = beta1 - (r + ux) * log_T
        term2 = beta2 - (r + ux) * log_t
        total = np.logaddexp(term1, term2)
        value = -float(_dot(weight, common + total))
        if not np.isfinite(value):
            return 1e300, np.zeros(4)
        w1 = np.exp(term1 - total) * weight  # posterior weights of the two likelihood terms
        w2 = np.exp(term2 - total) * weight
        rx = r + ux
        d_r = (
            np.sum(weight * (digamma(r + xu) - digamma(r) + np.log(alpha))[inverse])
            - _dot(w1, log_T)
            - _dot(w2, log_t)
        )
        d_alpha = (
            r / alpha * weight.sum() - _dot(w1, rx / (alpha + sT)) - _dot(w2, rx / (alpha + st))
        )
        psi_ab, psi_abx = digamma(a + b), digamma(a + b + xu)
        da1 = (digamma(a) - psi_abx - digamma(a) + psi_ab)[inverse]
        da2 = (digamma(a + 1.0) - psi_abx - digamma(a) + psi_ab)[inverse]
        db1 = (digamma(b + xu) - psi_abx - digamma(b) + psi_ab)[inverse]
        db2 = np.where(repeat_u, digamma(b + xm1) - psi_abx - digamma(b) + psi_ab, 0.0)[inverse]
        d_a = _dot(w1, da1) + _dot(w2, da2)
        d_b = _dot(w1, db1) + _dot(w2, db2)
        grad = -np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        return value, grad

    result = _minimise(negative_ll, 4)
    r, alpha, a, b = np.exp(result.x)
    alpha *= scale
    ll = float(_dot(weight, bgnbd_log_likelihood_terms(r, alpha, a, b, ux, ut, uT)))
    return BgNbd(float(r), float(alpha), float(a), float(b), ll, int(xs.size))


def _minimise(objective: Any, size: int) -> Any:
    """Minimise objective(logp) -> (value, gradient) from log-parameters 0 (all ones).

    Trial points far out may overflow; the objective reports them as +huge, so numpy's
    floating-point warnings are silenced here."""
    with np.errstate(all="ignore"):
        return _minimise_quietly(objective, size)


def _minimise_quietly(objective: Any, size: int) -> Any:
    from scipy.optimize import minimize

    start = np.zeros(size)
    bounds = [(-LOG_BOUND, LOG_BOUND)] * size
    result = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-8},
    )
    if not (result.success and np.isfinite(result.fun)) and not _stationary(result, bounds):
        # Usually a line search stalling on a flat ridge; a bounded Nelder-Mead run from
        # there (then one more gradient polish) settles it. The best of the three wins.
        fallback = minimize(
            lambda p: objective(p)[0],
            result.x if np.all(np.isfinite(result.x)) else start,
            method="Nelder-Mead",
            options={"maxfev": 2000, "xatol": 1e-8, "fatol": 1e-10},
        )
        polished = minimize(
            objective,
            np.clip(fallback.x, -LOG_BOUND, LOG_BOUND),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
        )
        candidates = [r for r in (result, fallback, polished) if np.isfinite(r.fun)]
        result = min(candidates, key=lambda r: r.fun) if candidates else result
    return result


def _stationary(result: Any, bounds: list[tuple[float, float]]) -> bool:
    """True when L-BFGS-B stopped (e.g. its line search failed on a flat ridge, such as a
    dropout parameter drifting to 0) at a point where the projected gradient is negligible
    next to the objective: Nelder-Mead would only move along the ridge (at a cost of
    thousands of evaluations on a million customers) for a change in the log-likelihood in
    the 11th digit."""
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        return False
    grad = np.asarray(result.jac, dtype=np.float64)
    low = np.array([b[0] for b in bounds])
    high = np.array([b[1] for b in bounds])
    # Components pushing against an active bound do not count (projected gradient).
    grad = np.where((result.x <= low) & (grad > 0), 0.0, grad)
    grad = np.where((result.x >= high) & (grad < 0), 0.0, grad)
    return bool(np.max(np.abs(grad)) <= 1e-8 * max(1.0, abs(float(result.fun))))


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
    """E[Y(horizon) | x, t_x, T]: expected transactions in (T, T + horizon] (FHL 2005, eq. 10)."""
    from scipy.special import hyp2f1

    xs, ts, Ts = _arrays(x, t_x, T)
    t = np.asarray(horizon, dtype=np.float64)
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    z = t / (alpha + Ts + t)
    hyp = hyp2f1(r + xs, b + xs, a + b + xs - 1.0, z)
    factor = np.exp((r + xs) * (np.log(alpha + Ts) - np.log(alpha + Ts + t)))
    numerator = (a + b + xs - 1.0) / (a - 1.0) * (1.0 - factor * hyp)
    repeat = xs > 0
    odds = np.zeros_like(xs)
    xr = xs[repeat]
    odds[repeat] = np.exp(
        np.log(a)
        - np.log(b + xr - 1.0)
        + (r + xr) * (np.log(alpha + Ts[repeat]) - np.log(alpha + ts[repeat]))
    )
    return np.asarray(numerator / (1.0 + odds), dtype=np.float64)


def expected_purchases_new(model: BgNbd, t: float | Array) -> Array:
    """E[X(t)] for a customer just acquired (FHL 2005, equation 9)."""
    from scipy.special import hyp2f1

    tt = np.asarray(t, dtype=np.float64)
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    hyp = hyp2f1(r, b, a + b - 1.0, tt / (alpha + tt))
    return np.asarray(
        (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + tt)) ** r * hyp), dtype=np.float64
    )


def gamma_gamma_log_likelihood_terms(
    p: float, q: float, gamma: float, x: Array, m_x: Array
) -> Array:
    """Per-customer log-likelihood of the Gamma-Gamma model for the mean spend m_x over x."""
    from scipy.special import gammaln

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
    sm = ms / scale
    log_m, log_x = np.log(sm), np.log(xs)
    xu, inverse = np.unique(xs, return_inverse=True)

    def negative_ll(logp: Array) -> tuple[float, Array]:
        """-LL and its gradient in log-parameter space."""
        from scipy.special import digamma, gammaln

        p, q, g = np.exp(logp)
        px = p * xs
        per_x = (gammaln(p * xu + q) - gammaln(p * xu))[inverse]
        log_gm = np.log(g + sm * xs)
        terms = (
            per_x - gammaln(q) + q * np.log(g) + (px - 1.0) * log_m + px * log_x - (px + q) * log_gm
        )
        value = -float(np.sum(terms))
        if not np.isfinite(value):
            return 1e300, np.zeros(3)
        psi_pxq = digamma(p * xu + q)[inverse]
        d_p = np.sum(xs * (psi_pxq - digamma(p * xu)[inverse] + log_m + log_x - log_gm))
        d_q = np.sum(psi_pxq - digamma(q) + np.log(g) - log_gm)
        d_g = np.sum(q / g - (px + q) / (g + sm * xs))
        return value, -np.array([d_p * p, d_q * q, d_g * g])

    result = _minimise(negative_ll, 3)
    p, q, g = np.exp(result.x)
    g *= scale
    ll = float(np.sum(gamma_gamma_log_likelihood_terms(p, q, g, xs, ms)))
    return GammaGamma(float(p), float(q), float(g), ll, int(xs.size))


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
    cumulative = [np.zeros(np.asarray(x).shape)] + [
        expected_purchases(purchases, float(e), x, t_x, T) for e in edges[1:]
    ]
    value = np.zeros(np.asarray(x).shape, dtype=np.float64)
    for k in range(n):
        middle_years = (edges[k] + edges[k + 1]) / 2.0 / periods_per_year
        discount = (1.0 + annual_discount) ** (-middle_years)
        value += (cumulative[k + 1] - cumulative[k]) * discount
    return np.asarray(value * spend, dtype=np.float64)
