"""Campaign response model for `crm campaign suggest`: logistic regression on RFM-style order
features, tags and campaign history, learned from past campaign results, with a
cross-validated AUC so the user can judge whether to trust the ranking.

Features (all as of the campaign's start, so the model never sees the future):
log(1 + orders), log(1 + spend), log(1 + days since the last order) with a no-orders flag,
earlier campaigns contacted, earlier responses and their rate, one flag per campaign channel,
and one flag for each of the most common tags.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crmcli.core.errors import NotEnoughData

MIN_ROWS = 30
MIN_PER_CLASS = 5
MAX_TAGS = 20
CHANNELS = ("email", "sms", "phone", "event", "social", "ads")


@dataclass
class ResponseModel:
    pipeline: Any
    feature_names: list[str]
    tag_vocab: list[str]
    cv_auc: float
    cv_auc_std: float
    folds: int
    rows: int
    responses: int
    coefficients: list[dict[str, Any]] = field(default_factory=list)


def feature_row(
    row: dict[str, Any], tags: Sequence[str], channel: str, vocab: Sequence[str]
) -> list[float]:
    orders = float(row.get("orders") or 0)
    spend = float(row.get("spend") or 0) / 100.0
    recency = row.get("recency_days")
    past = float(row.get("past_campaigns") or 0)
    wins = float(row.get("past_successes") or 0)
    values = [
        math.log1p(orders),
        math.log1p(max(spend, 0.0)),
        math.log1p(max(float(recency), 0.0)) if recency is not None else 0.0,
        0.0 if recency is not None else 1.0,
        past,
        wins,
        wins / past if past else 0.0,
    ]
    values += [1.0 if channel == c else 0.0 for c in CHANNELS]
    tag_set = set(tags)
    values += [1.0 if t in tag_set else 0.0 for t in vocab]
    return values


def feature_names(vocab: Sequence[str]) -> list[str]:
    return [
        "log_orders",
        "log_spend",
        "log_recency_days",
        "no_orders",
        "past_campaigns",
        "past_responses",
        "past_response_rate",
        *[f"channel_{c}" for c in CHANNELS],
        *[f"tag_{t}" for t in vocab],
    ]


def fit_response_model(
    history: list[dict[str, Any]], tags: dict[int, list[str]], seed: int = 0
) -> ResponseModel:
    """Fit on past decided contacts; raises NotEnoughData when there is too little
    (checked before numpy and scikit-learn are imported: an empty database answers at once)."""
    responded = [int(r["responded"]) for r in history]
    positives = sum(responded)
    negatives = len(responded) - positives
    if len(responded) < MIN_ROWS or positives < MIN_PER_CLASS or negatives < MIN_PER_CLASS:
        raise NotEnoughData(
            f"too little campaign history to learn from: {len(responded)} recorded results "
            f"({positives} responses, {negatives} non-responses); need at least {MIN_ROWS} "
            f"with {MIN_PER_CLASS} of each",
            hint="record results with `crm campaign result` / `import-results`, or close "
            "finished campaigns so their pending members count as non-responses",
        )
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.array(responded, dtype=int)
    counts = Counter(t for r in history for t in tags.get(int(r["customer_id"]), []))
    vocab = sorted(t for t, _ in counts.most_common(MAX_TAGS))
    X = np.array(
        [
            feature_row(r, tags.get(int(r["customer_id"]), []), str(r["channel"]), vocab)
            for r in history
        ],
        dtype=float,
    )
    folds = min(5, positives, negatives)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_score(pipeline, X, y, cv=cv, scoring="roc_auc")
    pipeline.fit(X, y)
    names = feature_names(vocab)
    coefs = pipeline[-1].coef_[0]
    ranked = sorted(zip(names, coefs, strict=True), key=lambda p: -abs(p[1]))
    return ResponseModel(
        pipeline=pipeline,
        feature_names=names,
        tag_vocab=vocab,
        cv_auc=float(np.mean(scores)),
        cv_auc_std=float(np.std(scores)),
        folds=folds,
        rows=int(y.size),
        responses=positives,
        coefficients=[
            {"feature": n, "coefficient": round(float(c), 4)} for n, c in ranked if c != 0
        ],
    )


def score_candidates(
    model: ResponseModel,
    candidates: list[dict[str, Any]],
    tags: dict[int, list[str]],
    channel: str,
) -> list[float]:
    """Predicted response probability of each candidate for a campaign on `channel`."""
    import numpy as np

    if not candidates:
        return []
    X = np.array(
        [
            feature_row(c, tags.get(int(c["customer_id"]), []), channel, model.tag_vocab)
            for c in candidates
        ],
        dtype=float,
    )
    return [float(p) for p in model.pipeline.predict_proba(X)[:, 1]]
