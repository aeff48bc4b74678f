"""RFM: the SQL scores (used by `rfm=` segments and reports) equal a pandas reference, and
the named segments follow the documented rules."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from crmcli.analytics import rfm
from crmcli.core.rfm import normalize_segment
from crmcli.db import connect
from crmcli.db.customers import add_customer
from crmcli.db.order_stats import rfm_scores, rfm_segment_revenue
from crmcli.db.orders import add_order


def pandas_scores(values: pd.Series) -> pd.Series:
    """Quintile scores: 1 + floor(5 * (min-rank - 1) / n)."""
    ranks = values.rank(method="min").astype(int)
    return 1 + (5 * (ranks - 1)) // len(values)


def test_score_quintiles_matches_pandas() -> None:
    values = [5, 1, 1, 3, 9, 9, 9, 2, 7, 4, 1]
    assert rfm.score_quintiles(values) == list(pandas_scores(pd.Series(values)))
    assert rfm.score_quintiles([1, 2, 3, 4, 5]) == [1, 2, 3, 4, 5]


def test_sql_scores_and_segments_equal_the_reference(db_path: Path) -> None:
    rng = random.Random(5)
    db = connect(db_path)
    try:
        for i in range(60):
            cid = add_customer(db, {"name": f"c{i}"})
            for _ in range(rng.choice([1, 1, 1, 2, 3, 5, 8])):
                day = 1 + rng.randrange(300)
                add_order(
                    db,
                    cid,
                    rng.choice([1000, 2500, 9900, 50000]),
                    f"2023-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T08:00:00Z",
                )
        rows = rfm_scores(db, "2024-01-01T00:00:00Z")
        per_segment = rfm_segment_revenue(db, "2024-01-01T00:00:00Z")
    finally:
        db.close()
    frame = pd.DataFrame(rows)
    assert len(frame) == 60
    assert list(frame["r_score"]) == list(pandas_scores(frame["last_at"]))
    assert list(frame["f_score"]) == list(pandas_scores(frame["orders"]))
    assert list(frame["m_score"]) == list(pandas_scores(frame["monetary"]))
    expected = [
        rfm.segment_for(r, f, m)
        for r, f, m in zip(frame["r_score"], frame["f_score"], frame["m_score"], strict=True)
    ]
    assert list(frame["segment"]) == expected
    totals = frame.groupby("segment")["monetary"].sum().to_dict()
    assert {r["segment"]: r["revenue"] for r in per_segment} == totals


def test_numpy_scores_and_segment_totals_equal_the_sql(db_path: Path) -> None:
    """The arrays `report value` and the dashboard score with give rfm_sql's answers."""
    import numpy as np

    rng = random.Random(11)
    db = connect(db_path)
    try:
        for i in range(80):
            cid = add_customer(db, {"name": f"c{i}"})
            for _ in range(rng.choice([1, 1, 2, 3, 4, 9])):
                add_order(
                    db,
                    cid,
                    rng.choice([500, 1000, 2500, 9900]),
                    f"2023-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d}T0{rng.randrange(9)}:00:00Z",
                )
        rows = rfm_scores(db, "2024-01-01T00:00:00Z")
        per_segment = rfm_segment_revenue(db, "2024-01-01T00:00:00Z")
    finally:
        db.close()
    frame = pd.DataFrame(rows)
    last = pd.to_datetime(frame["last_at"]).astype("int64").to_numpy()
    assert list(rfm.quintile_array(last)) == list(frame["r_score"])
    assert list(rfm.quintile_array(frame["orders"].to_numpy())) == list(frame["f_score"])
    assert list(rfm.quintile_array(frame["monetary"].to_numpy())) == list(frame["m_score"])
    totals = rfm.segment_totals(last, frame["orders"].to_numpy(), frame["monetary"].to_numpy())
    assert {r["segment"]: (r["customers"], r["revenue"]) for r in totals} == {
        r["segment"]: (r["customers"], r["revenue"]) for r in per_segment
    }
    assert [r["revenue"] for r in totals] == sorted((r["revenue"] for r in totals), reverse=True)
    assert rfm.segment_totals(np.zeros(0), np.zeros(0), np.zeros(0)) == []


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 5, "champions"),
        (4, 4, 3, "champions"),  # FM rounds half up: (4+3+1)//2 = 4
        (3, 3, 3, "loyal"),
        (5, 1, 2, "new"),
        (4, 2, 1, "potential_loyalist"),
        (3, 2, 2, "need_attention"),
        (3, 1, 1, "about_to_sleep"),
        (1, 5, 5, "cant_lose"),
        (2, 4, 4, "at_risk"),
        (2, 1, 2, "hibernating"),
        (1, 1, 1, "lost"),
    ],
)
def test_segment_rules(r: int, f: int, m: int, segment: str) -> None:
    assert rfm.segment_for(r, f, m) == segment


def test_every_score_combination_has_a_segment() -> None:
    seen = {rfm.segment_for(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)}
    assert seen == set(rfm.SEGMENTS)
    assert normalize_segment("Can't Lose") == "cant_lose"
    assert normalize_segment("at risk") == "at_risk"
    assert normalize_segment("sleepy") is None
