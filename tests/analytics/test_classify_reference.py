"""The stored ticket classifier is plain data applied with numpy; scikit-learn is the
reference: the same probabilities (to 1e-9) and the same predicted category as the fitted
scikit-learn pipeline, on a fixed corpus of Chinese and English helpdesk texts."""

from __future__ import annotations

import json
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from crmcli.analytics import classify

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tickets"))
from ticket_corpus import labelled_texts  # noqa: E402

UNSEEN = [
    "我的快递包裹丢失了",
    "invoice charged twice, please refund",
    "cannot log in after password reset",
    "注销账号 please",
    "   spaces   and\ttabs\n newline  ",
    "ÉCLAIR naïve café",  # accents are kept, as scikit-learn's default does
    "x",
    "",
    "完全无关的内容 zzz qqq",
]


def _reference(texts: list[str], labels: list[str]):  # type: ignore[no-untyped-def]
    """An independent scikit-learn pipeline with the documented settings."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    model = Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)),
            ("clf", LogisticRegression(C=10.0, max_iter=2000)),
        ]
    )
    return model.fit(texts, labels)


@pytest.mark.parametrize("per_class", [6, 25])
def test_same_predictions_as_scikit_learn(per_class: int) -> None:
    data = labelled_texts(per_class, seed=11)
    texts, labels = [t for t, _ in data], [c for _, c in data]
    reference = _reference(texts, labels)
    stored = classify.dumps(classify.train(texts, labels))
    model = classify.loads(stored)
    probe = UNSEEN + [t for t, _ in labelled_texts(5, seed=99)]
    expected = reference.predict_proba(probe)
    assert model.classes == [str(c) for c in reference.classes_]
    for text, row in zip(probe, expected, strict=True):
        got = model.predict_proba(text)
        assert np.allclose(got, row, rtol=0, atol=1e-9), text
        assert model.predict(text) == reference.predict([text])[0]


def test_two_classes_use_the_logistic_of_one_decision() -> None:
    data = [(t, c) for t, c in labelled_texts(10, seed=3) if c in ("billing", "shipping")]
    texts, labels = [t for t, _ in data], [c for _, c in data]
    reference = _reference(texts, labels)
    model = classify.loads(classify.dumps(classify.train(texts, labels)))
    for text in UNSEEN:
        assert np.allclose(model.predict_proba(text), reference.predict_proba([text])[0], atol=1e-9)


def test_explanation_terms_come_from_the_text() -> None:
    data = labelled_texts(20)
    model = classify.loads(
        classify.dumps(classify.train([t for t, _ in data], [c for _, c in data]))
    )
    explained = classify.predict(model, "我的快递包裹丢失了")
    assert explained["category"] == "shipping"
    assert explained["confidence"] == pytest.approx(
        float(max(model.predict_proba("我的快递包裹丢失了")))
    )
    terms = [t["term"] for t in explained["top_terms"]]
    assert terms and all(t.strip() in " 我的快递包裹丢失了 " for t in terms)


def test_stored_form_is_plain_json() -> None:
    data = labelled_texts(6)
    doc = json.loads(classify.dumps(classify.train([t for t, _ in data], [c for _, c in data])))
    assert doc["format"] == "crmcli.ticket-classifier" and doc["version"] == 1
    assert doc["coef"]["dtype"] == "<f8" and len(doc["coef"]["shape"]) == 2
    assert all(isinstance(t, str) for t in doc["terms"])


class _Payload:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path("/tmp/crmcli-pwned").write_text, ("pwned",))


def _valid() -> dict:
    data = labelled_texts(6)
    return json.loads(classify.dumps(classify.train([t for t, _ in data], [c for _, c in data])))


@pytest.mark.parametrize(
    "text",
    [
        __import__("base64").b64encode(pickle.dumps(_Payload())).decode("ascii"),
        "not json",
        json.dumps({"format": "crmcli.ticket-classifier"}),
        json.dumps(["a", "b"]),
        json.dumps({**_valid(), "version": 2}),
        json.dumps({**_valid(), "extra": 1}),
        json.dumps({**_valid(), "idf": {**_valid()["idf"], "dtype": "|O"}}),
        json.dumps({**_valid(), "coef": {**_valid()["coef"], "shape": [1, 1]}}),
        json.dumps({**_valid(), "intercept": {**_valid()["intercept"], "data": "!!"}}),
        json.dumps({**_valid(), "terms": [1, 2]}),
        json.dumps({**_valid(), "analyzer": "word"}),
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(classify.ModelRefused):
        classify.loads(text)
    assert not Path("/tmp/crmcli-pwned").exists()


def test_no_code_from_data_anywhere_in_src() -> None:
    src = Path(classify.__file__).resolve().parents[1]
    banned = re.compile(
        r"^\s*(import|from)\s+(pickle|_pickle|cPickle|marshal|joblib|cloudpickle|dill|shelve)\b"
        r"|\b(pickle|marshal|joblib|shelve)\.|(?<![\w.])(eval|exec)\("
        r"|yaml\.(unsafe_)?load\(|allow_pickle\s*=\s*True"
    )
    hits = [
        f"{path.relative_to(src)}:{n}: {line.strip()}"
        for path in src.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if banned.search(line)
    ]
    assert hits == []


def test_cross_validation_equals_a_pipeline_refitted_per_fold() -> None:
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    data = labelled_texts(12, seed=5)
    texts, labels = [t for t, _ in data], [c for _, c in data]
    ours = classify.evaluate(texts, labels, folds=4, seed=0)
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
    pipeline = classify.build_pipeline()
    predicted = cross_val_predict(pipeline, np.asarray(texts, dtype=object), labels, cv=folds)
    accuracy = float(np.mean(predicted == np.asarray(labels)))
    assert ours["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    by_class = {row["actual"]: row for row in ours["confusion"]}
    for actual, guess in zip(labels, predicted, strict=True):
        by_class[actual][f"predicted_{guess}"] -= 1
    assert all(v == 0 for row in by_class.values() for k, v in row.items() if k != "actual")


EDGE_TEXTS = ["   ", "ÉCLAIR naïve café", "x", "İstanbul straße ǅ", "发票 发票 发票", ""]


def test_counts_are_count_vectorizers_matrix() -> None:
    """The n-gram counts equal scikit-learn's CountVectorizer with our analyzer, array for
    array (the fits downstream then see the same numbers in the same order)."""
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [t for t, _ in labelled_texts(25, seed=11)] + EDGE_TEXTS
    ours, vocabulary = classify._counts(texts)

    def analyze(text: str) -> list[str]:
        return classify.char_wb_ngrams(text)

    vectorizer = CountVectorizer(analyzer=analyze)
    reference = vectorizer.fit_transform(texts).tocsr()
    assert vocabulary == {str(t): int(j) for t, j in vectorizer.vocabulary_.items()}
    for name in ("data", "indices", "indptr"):
        got, want = getattr(ours, name), getattr(reference, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name


@pytest.mark.parametrize(("folds", "seed"), [(5, 0), (3, 7), (4, 1)])
def test_folds_are_stratified_kfolds(folds: int, seed: int) -> None:
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray([c for _, c in labelled_texts(9, seed=seed)] + ["billing"] * 4)
    ours = classify.stratified_folds(labels, folds, seed)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        assert np.array_equal(np.flatnonzero(ours == fold), test)


def test_tfidf_rows_as_scikit_learn_with_empty_rows_last() -> None:
    from sklearn.feature_extraction.text import TfidfTransformer

    texts = ["发票 invoice", "refund refund", *EDGE_TEXTS]
    counts, _ = classify._counts(texts)
    reference = TfidfTransformer(sublinear_tf=True).fit(counts)
    fitted = classify._fit_rows(counts, np.arange(len(texts)), ["a", "b"] * 4)
    assert np.allclose(fitted.idf, reference.idf_, rtol=0, atol=1e-15)
    got = fitted.transform(counts).toarray()
    assert np.allclose(got, reference.transform(counts).toarray(), rtol=0, atol=1e-15)
