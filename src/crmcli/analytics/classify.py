"""Ticket classification: keyword rules first, then a linear model on character n-grams.

The model is TF-IDF over character 1-3-grams within word boundaries (scikit-learn's
`char_wb` analyzer, which works for Chinese without a word segmenter), followed by a
multinomial logistic regression whose probabilities decide whether a prediction is
confident enough to use.

Training computes what scikit-learn's TfidfVectorizer + LogisticRegression(lbfgs) compute,
with NumPy and SciPy (its sparse matrices and L-BFGS-B) but without importing scikit-learn
(about 1 s at start-up); scikit-learn is the reference in the tests: the same count matrix,
folds, idf and probabilities (to 1e-9). What is stored is plain data only - the n-gram vocabulary, the
idf weights, the coefficients and intercepts - as JSON text whose arrays are little-endian
float64 bytes in base64 with an explicit shape (`dumps`). `loads` rebuilds a `TextModel`
from exactly that and refuses anything else (`ModelRefused`): nothing is ever unpickled.
Prediction needs neither scikit-learn nor numpy (`TextModel.predict_proba`), so `crm
ticket open` stays light; tests/analytics/test_classify_reference.py checks that it gives
scikit-learn's probabilities (to 1e-9) and predictions.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from crmcli.core.errors import NotEnoughData, OperationalError

MIN_PER_CLASS = 2
FORMAT = "crmcli.ticket-classifier"
VERSION = 1
NGRAM_RANGE = (1, 3)
C = 10.0
MAX_ITER = 2000


class ModelRefused(OperationalError):
    """The stored classifier is not one this program wrote (or is damaged): retrain it."""


def match_rules(text: str, rules: list[tuple[str, list[str]]]) -> tuple[str, str] | None:
    """(category, keyword) of the first rule with a keyword in `text` (case-insensitive)."""
    low = text.lower()
    for category, keywords in rules:
        for word in keywords:
            if word.lower() in low:
                return category, word
    return None


def char_wb_ngrams(text: str, ngram_range: tuple[int, int] = NGRAM_RANGE) -> list[str]:
    """scikit-learn's `char_wb` analyzer (lowercase, no accent stripping): the character
    n-grams inside each whitespace-separated word padded with one space on each side; a
    padded word shorter than n gives itself once, and longer n are then skipped."""
    min_n, max_n = ngram_range
    out: list[str] = []
    extend = out.extend
    for word in text.lower().split():
        w = " " + word + " "
        length = len(w)
        for n in range(min_n, max_n + 1):
            if length <= n:
                out.append(w)
                break
            extend([w[i : i + n] for i in range(length - n + 1)])
    return out


@dataclass
class TextModel:
    """TF-IDF (sublinear tf, l2 norm) + linear model, as plain float64 arrays.

    Prediction needs no numpy: a text has a few hundred n-grams, so the scores are short
    sums over the stored rows (`array('d')`, read straight from the stored bytes).
    """

    classes: list[str]
    vocabulary: dict[str, int]
    idf: array  # (n_features,)
    coef: array  # row-major (rows, n_features); one row for two classes
    intercept: array  # (rows,)
    ngram_range: tuple[int, int] = NGRAM_RANGE
    _terms: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def rows(self) -> int:
        return len(self.intercept)

    def terms(self) -> list[str]:
        """The n-grams by column index."""
        if self._terms is None:
            terms = [""] * len(self.vocabulary)
            for term, j in self.vocabulary.items():
                terms[j] = term
            self._terms = terms
        return self._terms

    def features(self, text: str) -> tuple[list[int], list[float]]:
        """(column indices, tf-idf values) of one text, l2-normalized."""
        get = self.vocabulary.get
        counts = Counter(
            j for j in map(get, char_wb_ngrams(text, self.ngram_range)) if j is not None
        )
        cols = sorted(counts)
        idf = self.idf
        values = [(math.log(counts[j]) + 1.0) * idf[j] for j in cols]
        norm = math.sqrt(math.fsum(v * v for v in values))
        if norm > 0:
            values = [v / norm for v in values]
        return cols, values

    def row(self, r: int) -> memoryview:
        n = len(self.idf)
        return memoryview(self.coef)[r * n : (r + 1) * n]

    def decision(self, text: str) -> list[float]:
        cols, values = self.features(text)
        out = []
        for r in range(self.rows):
            row = self.row(r)
            out.append(
                math.fsum(row[j] * v for j, v in zip(cols, values, strict=True)) + self.intercept[r]
            )
        return out

    def predict_proba(self, text: str) -> list[float]:
        """Class probabilities of one text, in the order of `classes` (as scikit-learn's
        LogisticRegression: softmax of the decisions; the logistic for two classes)."""
        scores = self.decision(text)
        if self.rows == 1:
            p = 1.0 / (1.0 + math.exp(-scores[0]))
            return [1.0 - p, p]
        top = max(scores)
        e = [math.exp(v - top) for v in scores]
        total = math.fsum(e)
        return [v / total for v in e]

    def predict(self, text: str) -> str:
        proba = self.predict_proba(text)
        return self.classes[proba.index(max(proba))]


def build_pipeline() -> Any:
    """The scikit-learn pipeline this model is (training only; the tests' reference)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, sublinear_tf=True),
            ),
            ("clf", LogisticRegression(C=C, max_iter=MAX_ITER)),
        ]
    )


def usable_examples(texts: list[str], labels: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Drop classes with fewer than MIN_PER_CLASS examples; returns texts, labels, dropped."""
    counts = Counter(labels)
    dropped = sorted(c for c, n in counts.items() if n < MIN_PER_CLASS)
    keep = [(t, y) for t, y in zip(texts, labels, strict=True) if counts[y] >= MIN_PER_CLASS]
    if len({y for _, y in keep}) < 2:
        raise NotEnoughData(
            f"need resolved tickets of at least 2 categories with {MIN_PER_CLASS}+ examples "
            f"each to train; have {dict(counts) or 'none'}"
        )
    return [t for t, _ in keep], [y for _, y in keep], dropped


def _counts(texts: list[str]) -> tuple[Any, dict[str, int]]:
    """The n-gram count matrix of every text and its vocabulary: exactly the matrix
    scikit-learn's CountVectorizer(analyzer=char_wb_ngrams) builds (the same data, indices
    and indptr arrays; tested), without its per-n-gram Python loop.

    The n-grams never cross a word, so each distinct word is analysed once: its n-gram ids
    are cached (ids in order of first appearance, as CountVectorizer assigns them). The
    (text, id) pairs are then counted by numpy: sorted pairs are exactly CountVectorizer's
    rows with sorted indices; the ids are finally renumbered in the sorted order of the
    n-grams, as CountVectorizer does."""
    import numpy as np
    from scipy.sparse import csr_matrix

    vocabulary: dict[str, int] = {}
    add = vocabulary.setdefault
    words: dict[str, array] = {}
    sequence = array("q")
    lengths = array("q")
    for text in texts:
        start = len(sequence)
        for word in text.lower().split():
            cached = words.get(word)
            if cached is None:
                grams = char_wb_ngrams(word, NGRAM_RANGE)
                cached = words[word] = array("q", [add(g, len(vocabulary)) for g in grams])
            sequence += cached
        lengths.append(len(sequence) - start)
    if not vocabulary:
        raise NotEnoughData("the training texts hold no characters to learn from")
    size = len(vocabulary)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), np.frombuffer(lengths, dtype=np.int64))
    keys, counts = np.unique(
        doc * size + np.frombuffer(sequence, dtype=np.int64), return_counts=True
    )
    rows, provisional = np.divmod(keys, size)
    index_type = np.int32 if len(keys) <= np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(len(texts) + 1, dtype=index_type)
    np.cumsum(np.bincount(rows, minlength=len(texts)), out=indptr[1:])
    terms = sorted(vocabulary)
    order = np.empty(size, dtype=index_type)
    order[[vocabulary[t] for t in terms]] = np.arange(size, dtype=index_type)
    matrix = csr_matrix(
        (counts.astype(np.int64), order.take(provisional), indptr), shape=(len(texts), size)
    )
    return matrix, {term: j for j, term in enumerate(terms)}


@dataclass
class _Fitted:
    """One TF-IDF + logistic-regression fit: the idf of the columns it kept, and the
    linear model (scikit-learn's layout: coef (rows, features), intercept (rows,))."""

    columns: Any
    idf: Any
    classes: Any
    coef: Any
    intercept: Any

    def transform(self, counts: Any) -> Any:
        return _tfidf(counts[:, self.columns], self.idf)

    def predict(self, x: Any) -> Any:
        import numpy as np

        scores = x @ self.coef.T + self.intercept
        if len(self.classes) == 2:
            return self.classes[(scores[:, 0] > 0).astype(int)]
        return self.classes[np.argmax(scores, axis=1)]


def _tfidf(counts: Any, idf: Any) -> Any:
    """TfidfTransformer(sublinear_tf=True).transform: 1 + log(tf), times idf, rows l2-normed."""
    import numpy as np

    x = counts.astype(np.float64)
    np.log(x.data, x.data)
    x.data += 1.0
    x.data *= idf[x.indices]
    lengths = np.diff(x.indptr)
    row = np.repeat(np.arange(x.shape[0]), lengths)
    norms = np.sqrt(np.bincount(row, weights=x.data**2, minlength=x.shape[0]))
    norms[norms == 0.0] = 1.0  # an empty row stays empty
    x.data /= norms[row]
    return x


def _fit_rows(counts: Any, rows: Any, labels: Any) -> _Fitted:
    """TF-IDF fitted on `rows` only - exactly what a TfidfVectorizer fitted on those texts
    gives: its vocabulary is the n-grams they contain, its idf their document frequencies
    (smoothed: log((1 + n) / (1 + df)) + 1) - and the logistic regression on it."""
    import numpy as np

    part = counts[rows]
    columns = np.flatnonzero(np.diff(part.tocsc().indptr))
    kept = part[:, columns]
    df = np.bincount(kept.indices, minlength=kept.shape[1]).astype(np.float64) + 1.0
    idf = np.full_like(df, fill_value=kept.shape[0] + 1, dtype=np.float64)
    idf /= df
    np.log(idf, out=idf)
    idf += 1.0
    classes, coef, intercept = _logistic(_tfidf(kept, idf), np.asarray(labels))
    return _Fitted(columns, idf, classes, coef, intercept)


def _logistic(x: Any, labels: Any) -> tuple[Any, Any, Any]:
    """LogisticRegression(C=C, max_iter=MAX_ITER).fit(x, labels) as scikit-learn computes
    it (lbfgs solver): the mean multinomial (or binomial) log-loss plus
    ||W||^2 / (2 C n), intercepts unpenalised, minimised by SciPy's L-BFGS-B from zeros with
    scikit-learn's options (maxls 50, gtol 1e-4, ftol 64 eps); parameters laid out as
    scikit-learn lays them out (classes of one feature contiguous), so the optimiser takes
    the same steps. tests/analytics/test_classify_reference.py checks the probabilities
    against scikit-learn's to 1e-9."""
    import numpy as np
    from scipy.optimize import minimize

    classes, encoded = np.unique(labels, return_inverse=True)
    n, features = x.shape
    k = len(classes)
    l2 = 1.0 / (C * n)
    if k == 2:
        target = (encoded == 1).astype(np.float64)
        objective = _binomial_loss(x, target, l2)
        start = np.zeros(features + 1)
    else:
        objective = _multinomial_loss(x, encoded, k, l2)
        start = np.zeros((k, features + 1), order="F").ravel(order="F")
    result = minimize(
        objective,
        start,
        method="L-BFGS-B",
        jac=True,
        options={"maxiter": MAX_ITER, "maxls": 50, "gtol": 1e-4, "ftol": 64 * np.finfo(float).eps},
    )
    w = result.x
    if k == 2:
        return classes, w[:-1][None, :], w[-1:]
    w = np.reshape(w, (k, -1), order="F")
    return classes, w[:, :-1], w[:, -1]


def _binomial_loss(x: Any, y: Any, l2: float) -> Any:
    """scikit-learn's HalfBinomialLoss with its branches of log1p(exp(raw))."""
    import numpy as np

    n = x.shape[0]

    def loss_gradient(coef: Any) -> tuple[float, Any]:
        weights, intercept = coef[:-1], coef[-1]
        raw = x @ weights + intercept
        loss = np.empty(n)
        grad = np.empty(n)
        low, mid, high = raw <= -37, (raw > -37) & (raw <= -2), raw > -2
        e = np.exp(raw[low])
        loss[low], grad[low] = e - y[low] * raw[low], e - y[low]
        e = np.exp(raw[mid])
        loss[mid] = np.log1p(e) - y[mid] * raw[mid]
        grad[mid] = ((1 - y[mid]) * e - y[mid]) / (1 + e)
        e = np.exp(-raw[high])
        r, t = raw[high], y[high]
        loss[high] = np.where(r <= 18, np.log1p(e), e) + (1 - t) * r
        grad[high] = ((1 - t) - t * e) / (1 + e)
        value = float(np.sum(loss) / n) + 0.5 * l2 * float(weights @ weights)
        grad /= n
        out = np.empty_like(coef)
        out[:-1] = x.T @ grad + l2 * weights
        out[-1] = np.sum(grad)
        return value, out

    return loss_gradient


def _multinomial_loss(x: Any, y: Any, k: int, l2: float) -> Any:
    """scikit-learn's HalfMultinomialLoss: log-sum-exp (max subtracted) minus the true
    class's score; gradient softmax - one-hot."""
    import numpy as np

    n = x.shape[0]
    rows = np.arange(n)

    def loss_gradient(coef: Any) -> tuple[float, Any]:
        w = coef.reshape((k, -1), order="F")
        weights, intercept = w[:, :-1], w[:, -1]
        raw = x @ weights.T + intercept
        top = raw.max(axis=1)
        p = np.exp(raw - top[:, None])
        sums = p.sum(axis=1)
        loss = np.log(sums) + top - raw[rows, y]
        p /= sums[:, None]
        p[rows, y] -= 1.0
        value = float(np.sum(loss) / n) + 0.5 * l2 * float(np.sum(weights * weights))
        p /= n
        grad = np.empty((k, w.shape[1]), order="F")
        grad[:, :-1] = p.T @ x + l2 * weights
        grad[:, -1] = np.sum(p, axis=0)
        return value, grad.ravel(order="F")

    return loss_gradient


def _single_threaded() -> Any:
    """BLAS threads spin on a busy 2-core host and cost more CPU than they save here."""
    # Limits apply to the BLAS libraries loaded so far: load SciPy's L-BFGS-B first.
    import scipy.optimize  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _floats(values: Any) -> array:
    import numpy as np

    return array("d", np.ascontiguousarray(values, dtype=np.float64).ravel().tobytes())


def _model(vocabulary: dict[str, int], fitted: _Fitted) -> TextModel:
    return TextModel(
        classes=[str(c) for c in fitted.classes],
        vocabulary=vocabulary,
        idf=_floats(fitted.idf),
        coef=_floats(fitted.coef),
        intercept=_floats(fitted.intercept),
    )


def train(texts: list[str], labels: list[str]) -> TextModel:
    """Fit on all the examples; the result holds plain arrays only."""
    model = train_and_evaluate(texts, labels, folds=0)[0]
    assert model is not None
    return model


def evaluate(texts: list[str], labels: list[str], folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Stratified k-fold cross-validation (see train_and_evaluate)."""
    scores = train_and_evaluate(texts, labels, folds=folds, seed=seed, final=False)[1]
    assert scores is not None
    return scores


def train_and_evaluate(
    texts: list[str], labels: list[str], folds: int = 5, seed: int = 0, final: bool = True
) -> tuple[TextModel | None, dict[str, Any] | None]:
    """The model fitted on every example, and its stratified k-fold cross-validation
    (accuracy, per fold, the majority-class baseline, the confusion matrix; None when
    folds is 0).

    The texts are analysed once. Each fold's TF-IDF is fitted on its training texts only
    - its vocabulary the n-grams they contain, its idf their document frequencies -
    exactly as a TfidfVectorizer refitted per fold would be, by slicing the counts.
    Training imports NumPy and SciPy (sparse matrices, L-BFGS-B), not scikit-learn: the
    same computations, without its ~1 s import.
    """
    import numpy as np

    y = np.asarray(labels)
    with _single_threaded():
        counts, vocabulary = _counts(texts)
        scores = _cross_validate(counts, y, folds, seed) if folds else None
        model = None
        if final:
            fitted = _fit_rows(counts, np.arange(len(y)), y)
            assert len(fitted.columns) == len(vocabulary)  # every n-gram occurs in some text
            model = _model(vocabulary, fitted)
    return model, scores


def stratified_folds(y: Any, folds: int, seed: int) -> Any:
    """The test fold of every example, as scikit-learn's StratifiedKFold(n_splits=folds,
    shuffle=True, random_state=seed) assigns them: classes numbered by first appearance,
    a round-robin allocation over the sorted labels, each class's fold numbers shuffled by
    numpy's RandomState(seed) in class order."""
    import numpy as np

    rng = np.random.RandomState(seed)
    _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
    _, by_appearance = np.unique(first, return_inverse=True)
    encoded = by_appearance[inverse]
    n_classes = len(first)
    ordered = np.sort(encoded)
    allocation = np.asarray(
        [np.bincount(ordered[i::folds], minlength=n_classes) for i in range(folds)]
    )
    test_folds = np.empty(len(y), dtype="i")
    for c in range(n_classes):
        assigned = np.arange(folds).repeat(allocation[:, c])
        rng.shuffle(assigned)
        test_folds[encoded == c] = assigned
    return test_folds


def _cross_validate(counts: Any, y: Any, folds: int, seed: int) -> dict[str, Any]:
    import numpy as np

    classes = sorted({str(c) for c in y})
    smallest = min(int((y == c).sum()) for c in classes)
    k = max(2, min(folds, smallest))
    assignment = stratified_folds(y, k, seed)
    predicted = np.empty(len(y), dtype=object)
    fold_scores: list[float] = []
    for fold in range(k):
        test_idx = np.flatnonzero(assignment == fold)
        train_idx = np.flatnonzero(assignment != fold)
        fitted = _fit_rows(counts, train_idx, y[train_idx])
        guess = fitted.predict(fitted.transform(counts[test_idx]))
        predicted[test_idx] = guess
        fold_scores.append(float(np.mean(guess == y[test_idx])))
    guessed = predicted.astype(str)
    position = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for actual, guess in zip(y, guessed, strict=True):
        matrix[position[str(actual)], position[str(guess)]] += 1
    majority = max(int((y == c).sum()) for c in classes) / len(y)
    return {
        "examples": len(y),
        "classes": classes,
        "folds": k,
        "accuracy": float(np.mean(guessed == y.astype(str))),
        "fold_accuracy": fold_scores,
        "baseline_accuracy": majority,
        "confusion": [
            {"actual": c, **{f"predicted_{p}": int(n) for p, n in zip(classes, row, strict=True)}}
            for c, row in zip(classes, matrix, strict=True)
        ],
    }


def predict(model: TextModel, text: str, top: int = 8) -> dict[str, Any]:
    """The most likely category, its probability, all probabilities and the top terms.

    A term's weight is its TF-IDF value in this text times the model's coefficient for the
    predicted class: the terms that pushed the prediction most.
    """
    proba = model.predict_proba(text)
    best = proba.index(max(proba))
    cols, values = model.features(text)
    sign = 1.0
    if model.rows == 1:  # two classes: one row, positive towards classes[1]
        row, sign = model.row(0), (1.0 if best == 1 else -1.0)
    else:
        row = model.row(best)
    terms = model.terms()
    contrib = sorted(
        ((sign * v * row[j], terms[j]) for j, v in zip(cols, values, strict=True)), reverse=True
    )
    order = sorted(range(len(proba)), key=lambda i: -proba[i])
    return {
        "category": model.classes[best],
        "confidence": float(proba[best]),
        "probabilities": [
            {"category": model.classes[i], "probability": round(proba[i], 4)} for i in order
        ],
        "top_terms": [{"term": term, "weight": round(w, 4)} for w, term in contrib[:top] if w > 0],
    }


# ------------------------------------------------------------------ storage: plain data only


def _array_out(values: array, shape: list[int]) -> dict[str, Any]:
    data = array("d", values)
    if sys.byteorder == "big":
        data.byteswap()
    return {
        "dtype": "<f8",
        "shape": shape,
        "data": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def _array_in(spec: Any, name: str, ndim: int) -> tuple[array, list[int]]:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        raise ModelRefused(f"stored classifier: {name} is not a plain array")
    shape = spec["shape"]
    if (
        spec["dtype"] != "<f8"
        or not isinstance(shape, list)
        or len(shape) != ndim
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        or not isinstance(spec["data"], str)
    ):
        raise ModelRefused(f"stored classifier: {name} has an unexpected type or shape")
    try:
        raw = base64.b64decode(spec["data"].encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise ModelRefused(f"stored classifier: {name} is not base64") from exc
    if len(raw) != 8 * math.prod(shape):
        raise ModelRefused(f"stored classifier: {name} has {len(raw)} bytes for shape {shape}")
    values = array("d")
    values.frombytes(raw)
    if sys.byteorder == "big":
        values.byteswap()
    if not all(map(math.isfinite, values)):
        raise ModelRefused(f"stored classifier: {name} holds non-finite numbers")
    return values, shape


def dumps(model: TextModel) -> str:
    """The model as JSON text (plain data: strings, numbers, base64 float64 arrays)."""
    return json.dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "analyzer": "char_wb",
            "ngram_range": list(model.ngram_range),
            "lowercase": True,
            "sublinear_tf": True,
            "norm": "l2",
            "classes": model.classes,
            "terms": model.terms(),
            "idf": _array_out(model.idf, [len(model.idf)]),
            "coef": _array_out(model.coef, [model.rows, len(model.idf)]),
            "intercept": _array_out(model.intercept, [model.rows]),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


_EXPECTED = {
    "format",
    "version",
    "analyzer",
    "ngram_range",
    "lowercase",
    "sublinear_tf",
    "norm",
    "classes",
    "terms",
    "idf",
    "coef",
    "intercept",
}


def loads(text: str) -> TextModel:
    """Rebuild a model written by `dumps`; anything else raises ModelRefused."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise ModelRefused(
            "the stored classifier is not in this program's plain-data format"
            " (an old pickled model is never loaded)"
        ) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or set(doc) != _EXPECTED:
        raise ModelRefused("the stored classifier is not in this program's plain-data format")
    if doc["version"] != VERSION:
        raise ModelRefused(f"the stored classifier has format version {doc['version']!r}")
    settings = (doc["analyzer"], doc["lowercase"], doc["sublinear_tf"], doc["norm"])
    if settings != ("char_wb", True, True, "l2"):
        raise ModelRefused("the stored classifier uses settings this program cannot apply")
    ngrams = doc["ngram_range"]
    if (
        not isinstance(ngrams, list)
        or len(ngrams) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in ngrams)
        or not 1 <= ngrams[0] <= ngrams[1] <= 10
    ):
        raise ModelRefused("stored classifier: bad ngram_range")
    classes, terms = doc["classes"], doc["terms"]
    if not (
        isinstance(classes, list)
        and len(classes) >= 2
        and all(isinstance(c, str) for c in classes)
        and isinstance(terms, list)
        and all(isinstance(t, str) for t in terms)
        and len(set(terms)) == len(terms)
    ):
        raise ModelRefused("stored classifier: classes or terms are not lists of strings")
    idf, idf_shape = _array_in(doc["idf"], "idf", 1)
    coef, coef_shape = _array_in(doc["coef"], "coef", 2)
    intercept, intercept_shape = _array_in(doc["intercept"], "intercept", 1)
    rows = 1 if len(classes) == 2 else len(classes)
    if (
        idf_shape != [len(terms)]
        or coef_shape != [rows, len(terms)]
        or intercept_shape != [rows]
        or len(set(classes)) != len(classes)
    ):
        raise ModelRefused("stored classifier: array shapes do not match its terms and classes")
    model = TextModel(
        classes=classes,
        vocabulary={t: j for j, t in enumerate(terms)},
        idf=idf,
        coef=coef,
        intercept=intercept,
        ngram_range=(ngrams[0], ngrams[1]),
    )
    model._terms = terms
    return model
