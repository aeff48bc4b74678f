"""log-gamma, log-beta and digamma without SciPy, against scipy.special (the reference) and,
where scipy.special.betaln itself loses digits (one huge argument), exact arithmetic."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext

import numpy as np
import pytest
import scipy.special as sc

from crmcli.analytics import special


def _grid() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate(
        [rng.uniform(1e-3, 1, 200), rng.uniform(1, 30, 300), np.exp(rng.uniform(3, 16, 200)),
         [1e-3, 0.5, 1.0, 2.0, 9.999, 10.0, 10.001, 19.99, 20.0]]
    )  # fmt: skip


def test_gammaln_and_digamma_match_scipy() -> None:
    x = _grid()
    for ours, ref in ((special.gammaln, sc.gammaln), (special.digamma, sc.digamma)):
        got, want = ours(x), ref(x)
        assert np.all(np.abs(got - want) <= 2e-15 * np.maximum(1.0, np.abs(want)))
        for v in (0.3, 7.5, 12.0, 1e6):  # scalars give floats
            assert isinstance(ours(v), float)
            assert ours(v) == pytest.approx(float(ref(v)), rel=1e-15, abs=1e-15)


def test_betaln_matches_scipy_for_moderate_arguments() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.01, 30, 2000), rng.uniform(0.01, 500, 2000)
    got, want = special.betaln(a, b), sc.betaln(a, b)
    # scipy's own error reaches ~1e-12 here (e.g. at (0.185, 483.2), checked exactly below)
    assert np.all(np.abs(got - want) <= 2e-12 * np.maximum(1.0, np.abs(want)))
    assert special.betaln(0.3, 2.5) == pytest.approx(float(sc.betaln(0.3, 2.5)), rel=1e-15)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (8.12227129607591, 6798073.734807002),
        (0.5, 3e6),
        (25.0, 40.0),
        (0.18467960728834856, 483.20458614852834),
    ],
)
def test_betaln_with_a_huge_argument_is_exact(a: float, b: float) -> None:
    """lgamma(b) - lgamma(a + b) by Stirling in 50-digit decimals as the reference."""
    getcontext().prec = 50
    x, y = Decimal(a), Decimal(b)

    def tail(z: Decimal) -> Decimal:
        return (
            1 / (12 * z)
            - 1 / (360 * z**3)
            + 1 / (1260 * z**5)
            - 1 / (1680 * z**7)
            + 1 / (1188 * z**9)
        )

    half = Decimal("0.5")
    diff = (y - half) * y.ln() - (x + y - half) * (x + y).ln() + x + tail(y) - tail(x + y)
    exact = float(Decimal(math.lgamma(a)) + diff)
    assert special.betaln(a, b) == pytest.approx(exact, rel=2e-15)


def test_trigamma_matches_scipy() -> None:
    x = _grid()
    got, want = special.trigamma(x), sc.polygamma(1, x)
    assert np.all(np.abs(got - want) <= 1e-14 * np.abs(want))
    assert isinstance(special.trigamma(0.5), float)
    assert special.trigamma(0.5) == pytest.approx(math.pi**2 / 2, rel=1e-15)
