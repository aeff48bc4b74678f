"""The numpy STL behind `report comm --seasonality / --anomalies` (analytics/stl.py), checked
against statsmodels.tsa.seasonal.STL (the reference, a test dependency only): the seasonal,
trend and residual components within 1e-6 of the series' standard deviation (observed: about
1e-13; the two sum in different orders), the same robustness weights, and the same periods
flagged as anomalies with the same expected values.

The series are seeded draws shaped like the CRM's counts: Poisson counts with a weekly,
monthly, daily or yearly cycle, a weekday step with a trend, sparse counts with spikes.

Not compared: a robust fit of a series of two or three seasons whose cycle-subseries the
LOESS reproduces exactly. Its residuals are rounding noise (about 1e-14), so the robustness
weights computed from them are too, in statsmodels as here; the tests check that the fit
still reproduces the data there (trend + seasonal = observed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.seasonal import STL

from crmcli.analytics import forecast as fc
from crmcli.analytics.stl import stl

TOLERANCE = 1e-6  # of the series' standard deviation


def _series(kind: int, n: int, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    if kind == 0:
        return rng.poisson(20 + 8 * np.sin(2 * np.pi * t / m)).astype(float)
    if kind == 1:
        return 100 + 0.2 * t + 15 * (t % m < 2) + rng.normal(0, 4, n)
    values = rng.poisson(3, n).astype(float)
    values[rng.integers(0, n, 3)] += 30
    return values


SHAPES = [(7, 730), (7, 84), (7, 40), (12, 48), (12, 61), (24, 24 * 14), (24, 100), (52, 260)]
CASES = [
    (kind, m, n, seasonal, robust)
    for kind in range(3)
    for m, n in SHAPES
    for seasonal in (7, fc.anomaly_seasonal_window(m))
    for robust in (True, False)
]


def _degenerate(reference: object) -> bool:
    resid = np.abs(np.asarray(reference.resid))  # type: ignore[attr-defined]
    return bool(np.median(resid) < 1e-9)


@pytest.mark.parametrize(("kind", "m", "n", "seasonal", "robust"), CASES)
def test_components_match_statsmodels(
    kind: int, m: int, n: int, seasonal: int, robust: bool
) -> None:
    values = _series(kind, n, m, seed=kind * 100 + n)
    ref = STL(values, period=m, seasonal=seasonal, robust=robust).fit()
    ours = stl(values, m, seasonal=seasonal, robust=robust)
    assert np.allclose(ours.seasonal + ours.trend + ours.resid, values, rtol=0, atol=1e-9)
    if robust and _degenerate(ref):
        pytest.skip("residuals are rounding noise (see the module docstring)")
    scale = float(np.std(values))
    for name in ("seasonal", "trend", "resid"):
        gap = np.abs(getattr(ours, name) - np.asarray(getattr(ref, name))).max()
        assert gap <= TOLERANCE * scale, (name, gap)
    assert np.abs(ours.weights - np.asarray(ref.weights)).max() <= 1e-6


def test_trend_and_low_pass_windows_and_degrees_as_given() -> None:
    values = _series(1, 120, 12, seed=5)
    for kwargs in (
        {"trend": 25},
        {"low_pass": 15},
        {"trend": 13, "low_pass": 13},
    ):
        ref = STL(values, period=12, seasonal=9, robust=True, **kwargs).fit()
        ours = stl(values, 12, seasonal=9, robust=True, **kwargs)
        assert np.abs(ours.trend - ref.trend).max() <= TOLERANCE * np.std(values)
    ref = STL(values, period=12, seasonal_deg=0, trend_deg=0, low_pass_deg=0).fit()
    ours = stl(values, 12, degrees=(0, 0, 0))
    assert np.abs(ours.seasonal - ref.seasonal).max() <= TOLERANCE * np.std(values)


def test_an_exact_fit_still_reproduces_the_data() -> None:
    values = _series(0, 14, 7, seed=1)  # two weeks: each weekday's subseries has 2 points
    ours = stl(values, 7, robust=True)
    assert np.abs(ours.trend + ours.seasonal - values).max() < 1e-9


@pytest.mark.parametrize(("m", "n", "freq"), [(7, 730, "D"), (7, 90, "D"), (52, 260, "W-MON")])
def test_same_anomalies_and_decomposition_as_with_statsmodels(m: int, n: int, freq: str) -> None:
    values = _series(0, n, m, seed=n)
    values[n // 3] += 80
    values[n // 2] = 0
    index = pd.date_range("2024-01-01", periods=n, freq=freq)
    series = pd.Series(values, index=index)
    rows = fc.detect_anomalies(series, m, counts=True)
    ref = STL(series, period=m, seasonal=fc.anomaly_seasonal_window(m), robust=True).fit()
    baseline = (ref.trend + ref.seasonal).to_numpy()
    resid = values - baseline
    sigma = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    z = 2.5758293035489004  # the 99% normal quantile
    scale = np.maximum(sigma, np.sqrt(np.maximum(baseline, 1.0)))
    flagged = np.flatnonzero(np.abs(resid) > z * scale)
    assert [r["period"] for r in rows] == [index[i].date().isoformat() for i in flagged]
    assert index[n // 3].date().isoformat() in {r["period"] for r in rows}
    for row, i in zip(rows, flagged, strict=True):
        assert row["expected"] == pytest.approx(baseline[i], abs=1e-9)
    result = fc.decompose_series(series, m)
    direct = STL(series, period=m, robust=True).fit()
    assert np.allclose(result["trend"], direct.trend, rtol=0, atol=1e-9)
    assert np.allclose(result["seasonal"], direct.seasonal, rtol=0, atol=1e-9)
