"""Student-t quantiles without scipy, checked against scipy.stats.t.ppf."""

from __future__ import annotations

import pytest
from scipy import stats

from crmcli.analytics.tdist import t_cdf, t_ppf


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 7, 10, 19, 29, 30, 50, 99, 250, 1000, 10_000])
@pytest.mark.parametrize("p", [0.5, 0.6, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 0.025, 0.1])
def test_quantiles_equal_scipy(df: int, p: float) -> None:
    expected = float(stats.t.ppf(p, df))
    assert t_ppf(p, df) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert t_cdf(expected, df) == pytest.approx(p, abs=1e-10)


def test_bad_arguments() -> None:
    for p, df in ((0.0, 3), (1.0, 3), (0.5, 0)):
        with pytest.raises(ValueError):
            t_ppf(p, df)
