"""The ticket classifier: rules, held-out accuracy well above chance, explanations."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crmcli.analytics import classify

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tickets"))
from ticket_corpus import labelled_texts  # noqa: E402


def test_rules_first_match_wins_case_insensitive() -> None:
    rules = [("billing", ["invoice", "发票"]), ("shipping", ["快递", "INVOICE"])]
    assert classify.match_rules("Wrong INVOICE", rules) == ("billing", "invoice")
    assert classify.match_rules("快递发票", rules) == ("billing", "发票")
    assert classify.match_rules("nothing", rules) is None


def test_held_out_accuracy_well_above_chance() -> None:
    from sklearn.model_selection import train_test_split

    data = labelled_texts(40)
    texts, labels = [t for t, _ in data], [c for _, c in data]
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.3, random_state=1, stratify=labels
    )
    model = classify.train(x_train, y_train)
    accuracy = sum(model.predict(t) == y for t, y in zip(x_test, y_test, strict=True)) / len(y_test)
    assert accuracy >= 0.85  # chance is 0.25 with four balanced classes
    zh_only = [(t, y) for t, y in zip(x_test, y_test, strict=True) if not t.isascii()]
    zh_acc = sum(model.predict(t) == y for t, y in zh_only) / len(zh_only)
    assert zh_acc >= 0.8  # Chinese works without a word segmenter


def test_cross_validation_report_is_consistent() -> None:
    data = labelled_texts(15)
    texts, labels = [t for t, _ in data], [c for _, c in data]
    scores = classify.evaluate(texts, labels, folds=5)
    assert scores["folds"] == 5 and scores["examples"] == 60
    assert scores["classes"] == ["account", "billing", "shipping", "technical"]
    matrix = scores["confusion"]
    total = sum(v for row in matrix for k, v in row.items() if k.startswith("predicted_"))
    diagonal = sum(row[f"predicted_{row['actual']}"] for row in matrix)
    assert total == 60
    assert scores["accuracy"] == pytest.approx(diagonal / total)
    assert scores["accuracy"] == pytest.approx(sum(scores["fold_accuracy"]) / 5, abs=0.02)
    assert scores["accuracy"] > 0.7 and scores["baseline_accuracy"] == 0.25


def test_prediction_explained_and_persisted() -> None:
    data = labelled_texts(20)
    model = classify.train([t for t, _ in data], [c for _, c in data])
    again = classify.loads(classify.dumps(model))
    guess = again.predict_proba("我的快递包裹丢失了")
    explained = classify.predict(again, "我的快递包裹丢失了")
    assert explained["category"] == "shipping"
    assert explained["confidence"] == pytest.approx(max(guess))
    assert sum(p["probability"] for p in explained["probabilities"]) == pytest.approx(1, abs=1e-3)
    terms = [t["term"] for t in explained["top_terms"]]
    assert terms and all(w["weight"] > 0 for w in explained["top_terms"])
    assert any(ch in "".join(terms) for ch in "快递包裹丢失")


def test_too_few_examples_is_not_enough_data() -> None:
    from crmcli.core.errors import NotEnoughData

    with pytest.raises(NotEnoughData):
        classify.usable_examples(["a", "b", "c"], ["x", "x", "y"])
    texts, labels, dropped = classify.usable_examples(
        ["a", "b", "c", "d", "e"], ["x", "x", "y", "y", "z"]
    )
    assert dropped == ["z"] and labels == ["x", "x", "y", "y"]
