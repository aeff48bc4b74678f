"""Proportion statistics for campaign evaluation, written out from their formulas (standard
library only) and tested to equal statsmodels / scipy on the same counts:

- wilson_interval          == statsmodels proportion_confint(method="wilson")
- two_proportion_ztest     == statsmodels proportions_ztest (pooled variance, two-sided)
- chi_square_2x2           == scipy.stats.chi2_contingency (Yates' correction, scipy's default)
- difference_interval      == statsmodels confint_proportions_2indep(compare="diff",
                              method="newcomb")
- ratio_interval           == statsmodels confint_proportions_2indep(compare="ratio",
                              method="log")
- cohens_h                 == statsmodels proportion_effectsize
- sample_size_per_arm      == statsmodels NormalIndPower().solve_power(ratio=1, two-sided)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_N = NormalDist()


def z_quantile(p: float) -> float:
    return _N.inv_cdf(p)


def two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def _check(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"impossible counts: {successes} successes out of {n}")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion."""
    _check(successes, n)
    if n == 0:
        return (float("nan"), float("nan"))
    z = z_quantile(1 - (1 - confidence) / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (centre - half, centre + half)


def two_proportion_ztest(s1: int, n1: int, s2: int, n2: int) -> tuple[float, float]:
    """z statistic (group 1 minus group 2) and two-sided p-value with the pooled variance."""
    _check(s1, n1)
    _check(s2, n2)
    if n1 == 0 or n2 == 0:
        return (float("nan"), float("nan"))
    pooled = (s1 + s2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var == 0:
        return (float("nan"), float("nan"))
    z = (s1 / n1 - s2 / n2) / math.sqrt(var)
    return (z, two_sided_p(z))


def chi_square_2x2(
    s1: int, n1: int, s2: int, n2: int, correction: bool = True
) -> tuple[float, float]:
    """Pearson chi-square test of independence on [[s1, n1-s1], [s2, n2-s2]] (1 degree of
    freedom), with Yates' continuity correction as scipy applies it."""
    _check(s1, n1)
    _check(s2, n2)
    table = [[s1, n1 - s1], [s2, n2 - s2]]
    total = n1 + n2
    cols = [s1 + s2, total - s1 - s2]
    if total == 0 or 0 in cols or n1 == 0 or n2 == 0:
        return (float("nan"), float("nan"))
    rows = [n1, n2]
    expected = [[rows[i] * cols[j] / total for j in range(2)] for i in range(2)]
    diff = table[0][0] - expected[0][0]
    shift = min(0.5, abs(diff)) if correction else 0.0
    stat = sum(
        (abs(table[i][j] - expected[i][j]) - shift) ** 2 / expected[i][j]
        for i in range(2)
        for j in range(2)
    )
    return (stat, math.erfc(math.sqrt(stat / 2.0)))  # chi2(1) survival function


def difference_interval(
    s1: int, n1: int, s2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2 (from the two Wilson intervals)."""
    if n1 == 0 or n2 == 0:
        return (float("nan"), float("nan"))
    p1, p2 = s1 / n1, s2 / n2
    l1, u1 = wilson_interval(s1, n1, confidence)
    l2, u2 = wilson_interval(s2, n2, confidence)
    d = p1 - p2
    return (
        d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


def ratio_interval(
    s1: int, n1: int, s2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Katz log interval for p1 / p2; None when a group has no successes."""
    if s1 == 0 or s2 == 0 or n1 == 0 or n2 == 0:
        return None
    z = z_quantile(1 - (1 - confidence) / 2)
    ratio = (s1 / n1) / (s2 / n2)
    se = math.sqrt(1 / s1 - 1 / n1 + 1 / s2 - 1 / n2)
    return (ratio * math.exp(-z * se), ratio * math.exp(z * se))


def cohens_h(p1: float, p2: float) -> float:
    """Effect size for two proportions: 2 asin(sqrt(p1)) - 2 asin(sqrt(p2))."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


def power_two_sided(effect: float, n_per_arm: float, alpha: float) -> float:
    """Power of the two-sided z-test for standardised effect `effect` with equal arms."""
    crit = z_quantile(1 - alpha / 2)
    shift = abs(effect) * math.sqrt(n_per_arm / 2)
    return (1 - _N.cdf(crit - shift)) + _N.cdf(-crit - shift)


def sample_size_per_arm(effect: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Members per arm for `power` at two-sided level `alpha` (solved by bisection)."""
    if effect == 0:
        return float("inf")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be between 0 and 1")
    lo, hi = 1e-9, 1.0
    while power_two_sided(effect, hi, alpha) < power:
        hi *= 2
        if hi > 1e15:
            return float("inf")
    for _ in range(200):
        mid = (lo + hi) / 2
        if power_two_sided(effect, mid, alpha) < power:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class Comparison:
    """Arm 1 against arm 2 (e.g. B against A, or A against the control)."""

    name: str
    s1: int
    n1: int
    s2: int
    n2: int
    confidence: float = 0.95
    power: float = 0.8

    def as_dict(self) -> dict[str, object]:
        alpha = 1 - self.confidence
        p1 = self.s1 / self.n1 if self.n1 else float("nan")
        p2 = self.s2 / self.n2 if self.n2 else float("nan")
        z, p_z = two_proportion_ztest(self.s1, self.n1, self.s2, self.n2)
        chi2, p_chi2 = chi_square_2x2(self.s1, self.n1, self.s2, self.n2)
        lo, hi = difference_interval(self.s1, self.n1, self.s2, self.n2, self.confidence)
        ratio = ratio_interval(self.s1, self.n1, self.s2, self.n2, self.confidence)
        significant = not math.isnan(p_z) and p_z < alpha
        needed = (
            sample_size_per_arm(cohens_h(p1, p2), alpha, self.power)
            if self.n1 and self.n2 and p1 != p2
            else float("inf")
        )
        return {
            "comparison": self.name,
            "rate_1": _num(p1),
            "rate_2": _num(p2),
            "lift": _num(p1 - p2),
            "lift_low": _num(lo),
            "lift_high": _num(hi),
            "relative_lift": _num(p1 / p2 - 1) if p2 else None,
            "relative_lift_low": _num(ratio[0] - 1) if ratio else None,
            "relative_lift_high": _num(ratio[1] - 1) if ratio else None,
            "z": _num(z),
            "p_value": _num(p_z),
            "chi2": _num(chi2),
            "chi2_p_value": _num(p_chi2),
            "significant": significant,
            "needed_per_arm": None if math.isinf(needed) else math.ceil(needed),
            "more_per_arm": None
            if math.isinf(needed)
            else max(0, math.ceil(needed) - min(self.n1, self.n2)),
        }


def _num(value: float) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value


def verdict(row: dict[str, object], arm_1: str, arm_2: str, confidence: float, power: float) -> str:
    """A sentence for a comparison row from Comparison.as_dict()."""
    level = f"{confidence * 100:g}%"
    if row["p_value"] is None:
        return "not enough data to compare yet"
    if row["significant"]:
        lift = row["lift"]
        winner, loser = (arm_1, arm_2) if isinstance(lift, float) and lift > 0 else (arm_2, arm_1)
        return f"{winner} beats {loser} at {level}"
    if row["lift"] == 0 or row["more_per_arm"] is None:
        return "not significant: no observed difference"
    return (
        f"not significant yet: about {row['more_per_arm']} more members per arm needed for "
        f"the observed effect at {power * 100:g}% power"
    )


@dataclass(frozen=True)
class Arm:
    """Counts of one campaign arm: members, responses (successes), failures, pending,
    revenue (decimal currency units)."""

    variant: str
    members: int
    responses: int
    failures: int = 0
    pending: int = 0
    revenue: float = 0.0


def evaluate_arms(
    arms: list[Arm],
    cost: float,
    confidence: float = 0.95,
    power: float = 0.8,
    control: str = "control",
) -> dict[str, object]:
    """A campaign evaluation from per-arm counts: arms with Wilson intervals and lift over
    control, pairwise comparisons (each variant against the control, and against the first
    variant), a verdict, revenue, cost and ROI."""
    by_name = {a.variant: a for a in arms}
    variants = [v for v in by_name if v != control]
    ctl = by_name.get(control)

    rows = []
    for arm in by_name.values():
        s, n = arm.responses, arm.members
        low, high = wilson_interval(s, n, confidence)
        row: dict[str, object] = {
            "variant": arm.variant,
            "members": n,
            "responses": s,
            "failures": arm.failures,
            "pending": arm.pending,
            "conversion": _num(s / n) if n else None,
            "conversion_low": _num(low),
            "conversion_high": _num(high),
            "revenue": round(arm.revenue, 2),
            "revenue_per_member": round(arm.revenue / n, 4) if n else None,
        }
        if ctl is not None and arm.variant != control:
            cmp = Comparison(arm.variant, s, n, ctl.responses, ctl.members, confidence, power)
            d = cmp.as_dict()
            row |= {
                "lift": d["lift"],
                "lift_low": d["lift_low"],
                "lift_high": d["lift_high"],
                "relative_lift": d["relative_lift"],
                "p_value": d["p_value"],
                "chi2_p_value": d["chi2_p_value"],
            }
        rows.append(row)

    pairs: list[tuple[str, str]] = []
    if ctl is not None:
        pairs += [(v, control) for v in variants]
    if len(variants) >= 2:
        pairs += [(v, variants[0]) for v in variants[1:]]
    comparisons = []
    for first, second in pairs:
        a1, a2 = by_name[first], by_name[second]
        d = Comparison(
            f"{first} vs {second}",
            a1.responses,
            a1.members,
            a2.responses,
            a2.members,
            confidence,
            power,
        ).as_dict()
        d["verdict"] = verdict(d, first, second, confidence, power)
        comparisons.append(d)
    primary = None
    if comparisons:
        wanted = f"{variants[1]} vs {variants[0]}" if len(variants) >= 2 else None
        primary = next((c for c in comparisons if c["comparison"] == wanted), comparisons[0])

    revenue = sum(by_name[v].revenue for v in variants)
    contacted = sum(by_name[v].members for v in variants)
    incremental = None
    if ctl is not None and ctl.members:
        incremental = revenue - ctl.revenue / ctl.members * contacted
    summary: dict[str, object] = {
        "confidence": confidence,
        "power": power,
        "members": sum(a.members for a in arms),
        "contacted": contacted,
        "responses": sum(by_name[v].responses for v in variants),
        "verdict": primary["verdict"] if primary else "no variants to compare",
        "revenue": round(revenue, 2),
        "cost": round(cost, 2),
        "profit": round(revenue - cost, 2),
        "roi": round((revenue - cost) / cost, 4) if cost > 0 else None,
        "incremental_revenue": None if incremental is None else round(incremental, 2),
        "incremental_roi": round((incremental - cost) / cost, 4)
        if incremental is not None and cost > 0
        else None,
    }
    return {"summary": summary, "arms": rows, "comparisons": comparisons}
