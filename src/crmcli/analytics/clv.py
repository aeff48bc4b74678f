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

from crmcli.errors import OperationalError

Array = NDArray[np.float64]


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


def _arrays(*values: ArrayLike) -> list[Array]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def _compress(x: Array, t_x: Array, T: Array) -> tuple[Array, Array, Array, Array]:
    """Unique (x, t_x, T) rows with their counts: the likelihood is a weighted sum."""
    stacked = np.column_stack([x, t_x, T])
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return unique[:, 0], unique[:, 1], unique[:, 2], counts.astype(np.float64)


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
    """Maximum-likelihood BG/NBD fit (Nelder-Mead then L-BFGS polish, in log-parameter space)."""
    from scipy.optimize import minimize

    xs, ts, Ts = _arrays(x, t_x, T)
    if xs.size < 2:
        raise OperationalError("too few customers to fit the BG/NBD model (need at least 2)")
    if not np.any(xs > 0):
        raise OperationalError("no repeat purchases: the BG/NBD model cannot be fitted")
    if np.any(ts > Ts + 1e-9) or np.any(xs < 0) or np.any(Ts < 0):
        raise OperationalError("inconsistent customer summaries (need 0 <= t_x <= T)")
    ux, ut, uT, weight = _compress(xs, ts, Ts)
    scale = max(float(np.max(uT)), 1e-9)  # fit on T scaled to ~1: alpha scales with it
    st, sT = ut / scale, uT / scale
    # The gamma / beta function terms depend on x only: evaluate them once per distinct x.
    xu, inverse = np.unique(ux, return_inverse=True)
    repeat_u = xu > 0

    def negative_ll(logp: Array) -> float:
        from scipy.special import betaln, gammaln

        r, alpha, a, b = np.exp(logp)
        base = betaln(a, b)
        common = (gammaln(r + xu) - gammaln(r) + r * np.log(alpha))[inverse]
        beta1 = (betaln(a, b + xu) - base)[inverse]
        beta2 = np.where(repeat_u, betaln(a + 1.0, b + np.maximum(xu - 1.0, 0.0)) - base, -np.inf)
        term1 = beta1 - (r + ux) * np.log(alpha + sT)
        term2 = beta2[inverse] - (r + ux) * np.log(alpha + st)
        value = -float(np.dot(weight, common + np.logaddexp(term1, term2)))
        return value if np.isfinite(value) else 1e300

    start = np.log([1.0, 1.0, 1.0, 1.0])
    first = minimize(negative_ll, start, method="Nelder-Mead", options={"maxiter": 4000})
    best = minimize(negative_ll, first.x, method="L-BFGS-B")
    result = best if best.fun <= first.fun else first
    r, alpha, a, b = np.exp(result.x)
    alpha *= scale
    ll = float(np.dot(weight, bgnbd_log_likelihood_terms(r, alpha, a, b, ux, ut, uT)))
    return BgNbd(float(r), float(alpha), float(a), float(b), ll, int(xs.size))


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
    from scipy.optimize import minimize

    xs, ms = _arrays(x, m_x)
    keep = (xs > 0) & (ms > 0)
    xs, ms = xs[keep], ms[keep]
    if xs.size < 3:
        raise OperationalError(
            "too few repeat customers with positive spend to fit the Gamma-Gamma model (need 3)"
        )
    scale = float(np.mean(ms))  # fit on spend scaled to ~1: gamma scales with it
    sm = ms / scale
    log_m, log_x = np.log(sm), np.log(xs)
    xu, inverse = np.unique(xs, return_inverse=True)

    def negative_ll(logp: Array) -> float:
        from scipy.special import gammaln

        p, q, g = np.exp(logp)
        px = p * xs
        per_x = (gammaln(p * xu + q) - gammaln(p * xu))[inverse]
        terms = (
            per_x
            - gammaln(q)
            + q * np.log(g)
            + (px - 1.0) * log_m
            + px * log_x
            - (px + q) * np.log(g + sm * xs)
        )
        value = -float(np.sum(terms))
        return value if np.isfinite(value) else 1e300

    first = minimize(
        negative_ll, np.log([1.0, 1.0, 1.0]), method="Nelder-Mead", options={"maxiter": 4000}
    )
    best = minimize(negative_ll, first.x, method="L-BFGS-B")
    result = best if best.fun <= first.fun else first
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
    the middle of the step."""
    if horizon <= 0:
        return np.zeros(np.asarray(x).shape, dtype=np.float64)
    n = steps or int(min(max(np.ceil(horizon), 1), 52))
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
