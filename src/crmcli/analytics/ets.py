"""Additive-error exponential smoothing, ETS(A,{N,A,Ad},{N,A}), in numpy.

The default forecasting path of `crmcli.analytics.forecast`: statsmodels' ETSModel with
`initialization_method="heuristic"` is the reference (tests/analytics/
test_forecast_reference.py), and this module follows it - the same state equations and
parametrisation (alpha, beta* = beta/alpha, gamma* = gamma/(1-alpha), phi), the same
heuristic initial states (Hyndman & Athanasopoulos, FPP3 section 2.6), the same bounds,
start values, log-likelihood, AIC (smoothing parameters + 1) and closed-form forecast
variances - but fits all candidate forms at once in numpy instead of importing
statsmodels and scipy (about 1 s). Maximum likelihood is found by a projected Newton
method rather than scipy's L-BFGS-B, so the optima agree to the optimiser's tolerance:
the tests hold the chosen model, its AIC (0.05) and the forecasts and intervals (1% of the
series' standard deviation) to statsmodels'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LOWER, UPPER = 1e-4, 1 - 1e-4
PHI_LOWER, PHI_UPPER = 0.8, 0.98


@dataclass(frozen=True)
class Spec:
    trend: bool
    damped: bool
    seasonal: bool
    m: int  # season length (1 when not seasonal)

    @property
    def name(self) -> str:
        t = "Ad" if self.damped else ("A" if self.trend else "N")
        return f"ETS(A,{t},{'A' if self.seasonal else 'N'})"

    @property
    def free(self) -> list[int]:
        """Indices into (alpha, beta*, gamma*, phi) that are estimated."""
        out = [0]
        if self.trend:
            out.append(1)
        if self.seasonal:
            out.append(2)
        if self.damped:
            out.append(3)
        return out


def heuristic_init(y: Any, spec: Spec) -> tuple[float, float, Any]:
    """Initial level, trend and seasonal states (Hyndman & Athanasopoulos, FPP3 2.6;
    statsmodels' `_initialization_heuristic`)."""
    import numpy as np

    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    seasonal = np.zeros(max(spec.m, 1))
    data = y
    if spec.seasonal:
        m = spec.m
        min_obs = 10 + 2 * (m // 2)
        k = min(5, n // m)
        k = max(k, int(math.ceil(min_obs / m)))
        part = y[: m * k]
        # centred moving average of length m (2 x m for even m), as pandas rolling(center=True)
        csum = np.concatenate(([0.0], np.cumsum(part)))
        trailing = (csum[m:] - csum[:-m]) / m  # trailing[j] = mean(part[j:j+m])
        ma = np.full(len(part), np.nan)
        off = m // 2  # pandas centre: the window of label i is [i - m//2, i - m//2 + m)
        ma[off : off + len(trailing)] = trailing
        if m % 2 == 0:
            shifted = np.full(len(part), np.nan)
            shifted[:-1] = ma[1:]
            two = np.full(len(part), np.nan)
            two[1:] = (shifted[1:] + shifted[:-1]) / 2
            ma = two
        detrended = part - ma
        tmp = np.full(k * m, np.nan)
        tmp[: len(detrended)] = detrended
        seasonal = np.nanmean(tmp.reshape(k, m).T, axis=1)
        seasonal = seasonal - seasonal.mean()
        data = ma[~np.isnan(ma)]
    exog = np.c_[np.ones(10), np.arange(10) + 1]
    beta = np.linalg.pinv(exog).dot(data[:10])
    level = float(beta[0])
    trend = float(beta[1]) if spec.trend else 0.0
    return level, trend, seasonal


START = (0.1, 0.1, 0.01 / 0.9, 0.98)  # statsmodels' start: alpha .1, beta .01, gamma .01
SECOND_START = (0.5, 0.2, 0.1, 0.9)  # a second start against poor local optima
TRUST = 0.1
BOUNDS = ((LOWER, UPPER), (LOWER, UPPER), (LOWER, UPPER), (PHI_LOWER, PHI_UPPER))


def _smooth(y: Any, theta: Any, level: Any, trend: Any, season: Any) -> tuple[Any, Any, Any, Any]:
    """Run the ETS(A,Ad,A) recursions for P parameter rows at once.

    theta: (P, 4) of alpha, beta*, gamma*, phi (statsmodels' parametrisation: beta* =
    beta / alpha, gamma* = gamma / (1 - alpha)); level, trend: (P,); season: (P, m), column
    j the seasonal state used at observations t = j (mod m). Models without a trend have
    beta* = 0, phi = 1 and trend 0; without a season gamma* = 0 and season 0.
    Returns (sse, level, trend, season) after the last observation.
    """
    import numpy as np

    alpha, bstar, gstar, phi = (np.ascontiguousarray(theta[:, i]) for i in range(4))
    l_ = level.astype(np.float64).copy()
    b = trend.astype(np.float64).copy()
    s_all = np.ascontiguousarray(season.T, dtype=np.float64)  # (m, P): one row per position
    m = s_all.shape[0]
    one_a, one_b, one_g = 1 - alpha, 1 - bstar, 1 - gstar
    sse = np.zeros(len(l_))
    e = np.empty_like(sse)
    lb = np.empty_like(sse)
    for t, yt in enumerate(y.tolist()):
        s = s_all[t % m]
        np.multiply(phi, b, out=b)  # phi * b_{t-1}
        np.add(l_, b, out=lb)  # l_{t-1} + phi b_{t-1}
        np.subtract(yt - s, lb, out=e)
        sse += e * e
        new_l = alpha * (yt - s) + one_a * lb
        b = bstar * (new_l - l_) + one_b * b
        s_all[t % m] = gstar * (yt - new_l) + one_g * s
        l_ = new_l
    return sse, l_, b, np.ascontiguousarray(s_all.T)


@dataclass
class Fit:
    spec: Spec
    alpha: float
    beta: float  # beta = beta* x alpha (0 without a trend)
    gamma: float  # gamma = gamma* x (1 - alpha) (0 without a season)
    phi: float
    sse: float
    n: int
    level: float
    trend: float
    season: list[float]  # by position t mod m after the history

    def params(self) -> dict[str, float]:
        """The estimated smoothing parameters, named as statsmodels names them."""
        out = {"smoothing_level": self.alpha}
        if self.spec.trend:
            out["smoothing_trend"] = self.beta
        if self.spec.seasonal:
            out["smoothing_seasonal"] = self.gamma
        if self.spec.damped:
            out["damping_trend"] = self.phi
        return out

    @property
    def mse(self) -> float:
        return self.sse / self.n

    @property
    def llf(self) -> float:
        return -self.n / 2 * (math.log(2 * math.pi * self.mse) + 1)

    @property
    def k(self) -> int:
        return len(self.spec.free) + 1  # smoothing parameters + the error variance

    @property
    def aic(self) -> float:
        return -2 * self.llf + 2 * self.k

    def forecast(self, horizon: int) -> list[float]:
        out = []
        damp = 0.0
        m = len(self.season)
        for h in range(1, horizon + 1):
            damp += self.phi**h if self.spec.trend else 0.0
            out.append(self.level + damp * self.trend + self.season[(self.n - 1 + h) % m])
        return out

    def relative_variance(self, h: int) -> float:
        """statsmodels' closed forms (Hyndman & Athanasopoulos, FPP3 table 8.8)."""
        a, b, g, phi = self.alpha, self.beta, self.gamma, self.phi
        m = self.spec.m
        k = int((h - 1) / m) if self.spec.seasonal else 0
        if not self.spec.trend:
            base = 1 + a**2 * (h - 1)
            return base + (g * k * (2 * a + g) if self.spec.seasonal else 0.0)
        if not self.spec.damped:
            out = 1 + (h - 1) * (a**2 + a * b * h + b**2 / 6 * h * (2 * h - 1))
            if self.spec.seasonal:
                out += g * k * (2 * a + g + b * m * (k + 1))
            return out
        out = (
            1
            + a**2 * (h - 1)
            + (b * phi * h) / ((1 - phi) ** 2) * (2 * a * (1 - phi) + b * phi)
            - (b * phi * (1 - phi**h))
            / ((1 - phi) ** 2 * (1 - phi**2))
            * (2 * a * (1 - phi**2) + b * phi * (1 + 2 * phi - phi**h))
        )
        if self.spec.seasonal:
            out += g * k * (2 * a + g) + (2 * b * g * phi) / ((1 - phi) * (1 - phi**m)) * (
                k * (1 - phi**m) - phi**m * (1 - phi ** (m * k))
            )
        return out


def _quadratic_terms(offsets: Any) -> Any:
    """Design matrix of a full quadratic in d variables: 1, x_i, x_i * x_j (i <= j)."""
    import numpy as np

    d = offsets.shape[1]
    cols = [np.ones(len(offsets))] + [offsets[:, i] for i in range(d)]
    cols += [offsets[:, i] * offsets[:, j] for i in range(d) for j in range(i, d)]
    return np.column_stack(cols)


def _newton_step(offsets: Any, values: Any, centre: Any, low: Any, high: Any) -> Any:
    """A projected Newton step from a least-squares quadratic through the stencil values."""
    import numpy as np

    d = offsets.shape[1]
    coef = np.linalg.lstsq(_quadratic_terms(offsets), values, rcond=None)[0]
    g = coef[1 : 1 + d].copy()
    h = np.zeros((d, d))
    k = 1 + d
    for i in range(d):
        for j in range(i, d):
            if i == j:
                h[i, i] = 2 * coef[k]
            else:
                h[i, j] = h[j, i] = coef[k]
            k += 1
    # coordinates held at a bound by the gradient are left out of the step
    at_low = (centre <= low + 1e-12) & (g > 0)
    at_high = (centre >= high - 1e-12) & (g < 0)
    free = ~(at_low | at_high)
    step = np.zeros(d)
    if not free.any():
        return step, step
    hf = h[np.ix_(free, free)]
    gf = g[free]
    eig = np.linalg.eigvalsh(hf)
    shift = max(0.0, -float(eig.min())) + 1e-12 * max(1.0, float(np.abs(eig).max()))
    if eig.min() <= 0:
        shift += 1e-3 * max(1.0, float(np.abs(eig).max()))
    step[free] = np.linalg.solve(hf + shift * np.eye(len(gf)), -gf)
    longest = float(np.abs(step).max())
    if longest > TRUST:  # a local search: never jump across the box in one step
        step *= TRUST / longest
    down = np.zeros(d)
    norm = float(np.linalg.norm(gf))
    if norm > 0:
        down[free] = -gf / norm
    return step, down


def _fit_from(
    y: Any, specs: list[Spec], starts: list[tuple[float, float, float, float]], max_iter: int = 40
) -> list[Fit | None]:
    """Maximum-likelihood fits of several ETS forms at once.

    The likelihood of additive errors with fixed (heuristic) initial states depends on the
    parameters only through the sum of squared one-step errors (llf = -n/2 (log(2 pi
    SSE/n) + 1)), minimised over statsmodels' box (alpha, beta*, gamma* in [1e-4, 1-1e-4],
    phi in [0.8, 0.98]) from statsmodels' start values by a projected Newton method: per
    iteration one batch evaluates, for every model at once, a 3^d stencil around the
    centre (a least-squares quadratic gives gradient and Hessian), and a second batch a
    line search along the Newton step. Every recursion runs for all rows of a batch in one
    numpy pass over time.
    """
    import itertools

    import numpy as np

    y = np.asarray(y, dtype=np.float64)
    m = max([s.m for s in specs if s.seasonal] or [1])
    lows = np.array([b[0] for b in BOUNDS])
    highs = np.array([b[1] for b in BOUNDS])
    inits = [heuristic_init(y, s) for s in specs]
    centres = [_start_centre(s, start) for s, start in zip(specs, starts, strict=True)]
    grids = [np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=len(s.free)))) for s in specs]

    def evaluate(rows: list[Any], owners: list[int]) -> Any:
        return _batch_sse(y, specs, inits, m, rows, owners)

    best = evaluate([c[None, :] for c in centres], list(range(len(specs))))
    best = [float(v) for v in best]
    h = [1e-3] * len(specs)
    active = list(range(len(specs)))
    for _ in range(max_iter):
        if not active:
            break
        stencils, offsets = [], []
        gains = {}
        for i in active:
            free = specs[i].free
            c = centres[i][free]
            lo, hi = lows[free], highs[free]
            base = np.clip(c, lo + h[i], hi - h[i])  # shift the stencil inside the box
            pts = base + grids[i] * h[i]
            th = np.repeat(centres[i][None, :], len(pts), axis=0)
            th[:, free] = pts
            stencils.append(th)
            offsets.append((pts - c) / h[i])
        values = evaluate(stencils, active)
        lines: list[Any] = []
        at = 0
        for k, i in enumerate(active):
            block = values[at : at + len(stencils[k])]
            at += len(stencils[k])
            free = specs[i].free
            j = int(np.argmin(block))
            before = best[i]
            if block[j] < best[i]:
                best[i], centres[i] = float(block[j]), stencils[k][j].copy()
            gains[i] = before - best[i]
            lines.append(_line_points(centres[i], free, block, offsets[k] * h[i], lows, highs))
        values = evaluate(lines, active)
        at = 0
        still = []
        for k, i in enumerate(active):
            block = values[at : at + len(lines[k])]
            at += len(lines[k])
            j = int(np.argmin(block))
            moved = 0.0
            if block[j] < best[i]:
                moved = float(np.abs(lines[k][j] - centres[i]).max())
                gains[i] += best[i] - float(block[j])
                best[i], centres[i] = float(block[j]), lines[k][j].copy()
            if gains[i] > 1e-10 * max(abs(best[i]), 1e-300):
                still.append(i)
            h[i] = min(1e-3, max(1e-6, moved / 4)) if moved else h[i]
        active = still
    return [_final_fit(y, s, centres[i], inits[i], m) for i, s in enumerate(specs)]


def _start_centre(s: Spec, start: tuple[float, float, float, float]) -> Any:
    """The start parameters with those a form does not use pinned (no trend, season, damping)."""
    import numpy as np

    c = np.array(start, dtype=np.float64)
    if not s.trend:
        c[1] = 0.0
    if not s.seasonal:
        c[2] = 0.0
    if not s.damped:
        c[3] = 1.0
    return c


def _batch_sse(
    y: Any, specs: list[Spec], inits: list[Any], m: int, rows: list[Any], owners: list[int]
) -> Any:
    """SSE of every parameter row (rows[k] belongs to model owners[k]) in one numpy pass.

    Each row starts from its model's heuristic initial states; a non-finite SSE is inf so
    that it never wins a comparison.
    """
    import numpy as np

    theta = np.concatenate(rows)
    lvl = np.concatenate([np.full(len(r), inits[i][0]) for r, i in zip(rows, owners, strict=True)])
    trd = np.concatenate([np.full(len(r), inits[i][1]) for r, i in zip(rows, owners, strict=True)])
    sea = np.zeros((len(theta), m))
    at = 0
    for r, i in zip(rows, owners, strict=True):
        if specs[i].seasonal:
            sea[at : at + len(r), : specs[i].m] = inits[i][2]
        at += len(r)
    with np.errstate(all="ignore"):
        sse = _smooth(y, theta, lvl, trd, sea)[0]
    return np.where(np.isfinite(sse), sse, np.inf)


def _line_points(centre: Any, free: Any, block: Any, offsets: Any, lows: Any, highs: Any) -> Any:
    """The parameter rows of one model's line search: fractions of the Newton step and
    short moves down the gradient, kept in the box; just the centre when the stencil
    hit a non-finite value (no quadratic to trust)."""
    import numpy as np

    if not np.isfinite(block).all():
        return centre[None, :]
    fracs = np.array([1.0, 0.5, 0.25, 0.1, 0.03])
    lengths = np.array([0.1, 0.03, 0.01, 0.003, 0.001])
    c = centre[free]
    scale = float(np.abs(block).max()) or 1.0
    step, down = _newton_step(offsets, block / scale, c, lows[free], highs[free])
    moves = np.concatenate([fracs[:, None] * step, lengths[:, None] * down])
    th = np.repeat(centre[None, :], len(moves), axis=0)
    th[:, free] = np.clip(c + moves, lows[free], highs[free])
    return th


def _final_fit(y: Any, s: Spec, c: Any, init: Any, m: int) -> Fit | None:
    """The fit at the optimum `c`: final states from one more pass, None when the SSE is
    not a positive finite number (nothing to take a log of)."""
    import numpy as np

    sea0 = np.zeros((1, m))
    if s.seasonal:
        sea0[0, : s.m] = init[2]
    with np.errstate(all="ignore"):
        sse, lvl, trd, sea = _smooth(y, c[None, :], np.array([init[0]]), np.array([init[1]]), sea0)
    if not math.isfinite(float(sse[0])) or float(sse[0]) <= 0:
        return None
    alpha = float(c[0])
    return Fit(
        spec=s,
        alpha=alpha,
        beta=float(c[1]) * alpha,
        gamma=float(c[2]) * (1 - alpha),
        phi=float(c[3]),
        sse=float(sse[0]),
        n=len(y),
        level=float(lvl[0]),
        trend=float(trd[0]),
        season=[float(v) for v in sea[0, : s.m]] if s.seasonal else [0.0],
    )


def fit_many(y: Any, specs: list[Spec]) -> list[Fit | None]:
    """Maximum-likelihood fits of several ETS forms at once, each from statsmodels' start
    values and from a second start (the better optimum wins), in one batch."""
    both = _fit_from(y, specs + specs, [START] * len(specs) + [SECOND_START] * len(specs))
    out: list[Fit | None] = []
    for first, second in zip(both[: len(specs)], both[len(specs) :], strict=True):
        if first is None or (second is not None and second.sse < first.sse):
            out.append(second)
        else:
            out.append(first)
    return out
