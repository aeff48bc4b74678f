"""Ticket classification: keyword rules first, then a linear model on character n-grams.

The model is TF-IDF over character 1-3-grams within word boundaries (`char_wb`), which
works for Chinese without a word segmenter, followed by a multinomial logistic regression
(its probabilities decide whether a prediction is confident enough to use). Pure
functions on lists of strings; persistence (base64 pickle in the settings table) is the
caller's business, via `dumps` / `loads`.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from crmcli.core.errors import NotEnoughData

MIN_PER_CLASS = 2


def match_rules(text: str, rules: list[tuple[str, list[str]]]) -> tuple[str, str] | None:
    """(category, keyword) of the first rule with a keyword in `text` (case-insensitive)."""
    low = text.lower()
    for category, keywords in rules:
        for word in keywords:
            if word.lower() in low:
                return category, word
    return None


def build_pipeline() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
            ),
            ("clf", LogisticRegression(C=10.0, max_iter=2000)),
        ]
    )


def usable_examples(texts: list[str], labels: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Drop classes with fewer than MIN_PER_CLASS examples; returns texts, labels, dropped."""
    from collections import Counter

    counts = Counter(labels)
    dropped = sorted(c for c, n in counts.items() if n < MIN_PER_CLASS)
    keep = [(t, y) for t, y in zip(texts, labels, strict=True) if counts[y] >= MIN_PER_CLASS]
    if len({y for _, y in keep}) < 2:
        raise NotEnoughData(
            f"need resolved tickets of at least 2 categories with {MIN_PER_CLASS}+ examples "
            f"each to train; have {dict(counts) or 'none'}"
        )
    return [t for t, _ in keep], [y for _, y in keep], dropped


def train(texts: list[str], labels: list[str]) -> Any:
    """Fit the pipeline on all the examples."""
    model = build_pipeline()
    model.fit(texts, labels)
    return model


def evaluate(texts: list[str], labels: list[str], folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Stratified k-fold cross-validation: accuracy (mean, per fold) and confusion matrix."""
    import numpy as np
    from sklearn.metrics import accuracy_score, confusion_matrix
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    classes = sorted(set(labels))
    smallest = min(int((y == c).sum()) for c in classes)
    k = max(2, min(folds, smallest))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    predicted = np.empty(len(labels), dtype=object)
    fold_scores: list[float] = []
    data = np.asarray(texts, dtype=object)
    for train_idx, test_idx in splitter.split(data, y):
        model = train(list(data[train_idx]), list(y[train_idx]))
        guess = model.predict(list(data[test_idx]))
        predicted[test_idx] = guess
        fold_scores.append(float(accuracy_score(y[test_idx], guess)))
    matrix = confusion_matrix(y, predicted.astype(str), labels=classes)
    majority = max(int((y == c).sum()) for c in classes) / len(labels)
    return {
        "examples": len(labels),
        "classes": classes,
        "folds": k,
        "accuracy": float(accuracy_score(y, predicted.astype(str))),
        "fold_accuracy": fold_scores,
        "baseline_accuracy": majority,
        "confusion": [
            {"actual": c, **{f"predicted_{p}": int(n) for p, n in zip(classes, row, strict=True)}}
            for c, row in zip(classes, matrix, strict=True)
        ],
    }


def predict(model: Any, text: str, top: int = 8) -> dict[str, Any]:
    """The most likely category, its probability, all probabilities and the top terms.

    A term's weight is its TF-IDF value in this text times the model's coefficient for the
    predicted class: the terms that pushed the prediction most.
    """
    import numpy as np

    proba = model.predict_proba([text])[0]
    classes = [str(c) for c in model.classes_]
    best = int(np.argmax(proba))
    vec = model.named_steps["tfidf"]
    clf = model.named_steps["clf"]
    x = vec.transform([text])
    coef = clf.coef_
    row = coef[best] if coef.shape[0] > 1 else (coef[0] if best == 1 else -coef[0])
    names = vec.get_feature_names_out()
    contrib = [(float(v * row[j]), str(names[j])) for j, v in zip(x.indices, x.data, strict=True)]
    contrib.sort(reverse=True)
    order = np.argsort(-proba)
    return {
        "category": classes[best],
        "confidence": float(proba[best]),
        "probabilities": [
            {"category": classes[i], "probability": round(float(proba[i]), 4)} for i in order
        ],
        "top_terms": [{"term": term, "weight": round(w, 4)} for w, term in contrib[:top] if w > 0],
    }


def dumps(model: Any) -> str:
    """The fitted model as text for the settings table."""
    return base64.b64encode(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")


def loads(text: str) -> Any:
    """The model back from `dumps` (written by this program into the private database)."""
    return pickle.loads(base64.b64decode(text.encode("ascii")))  # noqa: S301
