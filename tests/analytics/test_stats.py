"""Campaign statistics equal statsmodels / scipy on the same counts."""

from __future__ import annotations

import math

import pytest
from scipy.stats import chi2_contingency
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

from crmcli.analytics import stats

COUNTS = [(30, 500, 20, 480), (5, 100, 1, 90), (120, 1000, 98, 1010), (7, 40, 15, 41)]


@pytest.mark.parametrize(("s1", "n1", "s2", "n2"), COUNTS)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_intervals_equal_statsmodels(s1: int, n1: int, s2: int, n2: int, confidence: float) -> None:
    alpha = 1 - confidence
    ours = stats.wilson_interval(s1, n1, confidence)
    ref = proportion_confint(s1, n1, alpha=alpha, method="wilson")
    assert ours == pytest.approx(ref, rel=1e-9)
    ours_d = stats.difference_interval(s1, n1, s2, n2, confidence)
    ref_d = confint_proportions_2indep(
        s1, n1, s2, n2, method="newcomb", compare="diff", alpha=alpha
    )
    assert ours_d == pytest.approx(ref_d, rel=1e-9)
    ours_r = stats.ratio_interval(s1, n1, s2, n2, confidence)
    ref_r = confint_proportions_2indep(s1, n1, s2, n2, method="log", compare="ratio", alpha=alpha)
    assert ours_r == pytest.approx(ref_r, rel=1e-9)


@pytest.mark.parametrize(("s1", "n1", "s2", "n2"), COUNTS)
def test_tests_equal_statsmodels_and_scipy(s1: int, n1: int, s2: int, n2: int) -> None:
    z, p = stats.two_proportion_ztest(s1, n1, s2, n2)
    ref_z, ref_p = proportions_ztest([s1, s2], [n1, n2])
    assert z == pytest.approx(ref_z, rel=1e-9)
    assert p == pytest.approx(ref_p, rel=1e-9)
    chi2, p_chi2 = stats.chi_square_2x2(s1, n1, s2, n2)
    ref = chi2_contingency([[s1, n1 - s1], [s2, n2 - s2]])
    assert chi2 == pytest.approx(ref[0], rel=1e-9)
    assert p_chi2 == pytest.approx(ref[1], rel=1e-9)
    uncorrected = chi2_contingency([[s1, n1 - s1], [s2, n2 - s2]], correction=False)
    # Without the correction the chi-square test is the squared z-test.
    assert stats.chi_square_2x2(s1, n1, s2, n2, correction=False)[0] == pytest.approx(
        uncorrected[0], rel=1e-9
    )
    assert uncorrected[0] == pytest.approx(z * z, rel=1e-9)


@pytest.mark.parametrize(("p1", "p2"), [(0.06, 0.05), (0.2, 0.1), (0.5, 0.45), (0.01, 0.02)])
@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.8), (0.01, 0.9)])
def test_sample_size_equals_statsmodels(p1: float, p2: float, alpha: float, power: float) -> None:
    h = stats.cohens_h(p1, p2)
    assert h == pytest.approx(proportion_effectsize(p1, p2), rel=1e-12)
    ref = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=1.0)
    assert stats.sample_size_per_arm(h, alpha, power) == pytest.approx(ref, rel=1e-6)


def test_evaluation_verdicts() -> None:
    arms = [
        stats.Arm("A", 2000, 100, revenue=1000.0),
        stats.Arm("B", 2000, 150, revenue=1500.0),
        stats.Arm("control", 500, 20, revenue=100.0),
    ]
    result = stats.evaluate_arms(arms, cost=500.0)
    summary = result["summary"]
    assert summary["verdict"] == "B beats A at 95%"
    assert summary["roi"] == pytest.approx((2500 - 500) / 500)
    # incremental revenue: variants' revenue minus the control's per-member revenue x contacted
    assert summary["incremental_revenue"] == pytest.approx(2500 - 100 / 500 * 4000)
    close = stats.evaluate_arms([stats.Arm("A", 100, 10), stats.Arm("B", 100, 12)], cost=0)
    text = close["summary"]["verdict"]
    assert text.startswith("not significant yet: about ")
    needed = NormalIndPower().solve_power(
        effect_size=proportion_effectsize(0.12, 0.10), alpha=0.05, power=0.8
    )
    assert f"about {math.ceil(needed) - 100} more members per arm" in text
    assert close["summary"]["roi"] is None
