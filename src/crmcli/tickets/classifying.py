"""`crm ticket classify`: train the category model on resolved tickets, explain predictions."""

from __future__ import annotations

from typing import Any

from crmcli.core import clock
from crmcli.db import Database
from crmcli.db import tickets as repo
from crmcli.tickets import service
from crmcli.tickets.policy import load_policy


def train_model(db: Database, folds: int = 5, force: bool = False) -> dict[str, Any]:
    """Cross-validate, fit on every resolved ticket and store the model - unless its
    accuracy is not above the majority-class baseline and `force` is not given (then
    nothing is stored; the report's `verdict.ok` is false and the command exits 1).

    The stored model is plain data (crmcli.analytics.classify.dumps).
    """
    from collections import Counter

    from crmcli.analytics.classify import train_and_evaluate, usable_examples
    from crmcli.analytics.verdict import accuracy_verdict

    pairs = repo.training_texts(db)
    texts, labels, dropped = usable_examples([t for t, _ in pairs], [c for _, c in pairs])
    model, scores = train_and_evaluate(texts, labels, folds=folds)
    assert model is not None and scores is not None
    majority_class = Counter(labels).most_common(1)[0][0]
    verdict = accuracy_verdict(scores["accuracy"], scores["baseline_accuracy"], majority_class)
    stored = verdict.ok or force
    meta = {
        "trained_at": clock.now_iso(),
        "examples": len(texts),
        "classes": scores["classes"],
        "cv_accuracy": round(scores["accuracy"], 4),
        "majority_baseline": round(scores["baseline_accuracy"], 4),
        "folds": scores["folds"],
        "forced": bool(force and not verdict.ok),
    }
    if stored:
        service.save_model(db, model, meta)
    summary = {
        "examples": len(texts),
        "categories": len(scores["classes"]),
        "folds": scores["folds"],
        "cv_accuracy": round(scores["accuracy"], 4),
        "fold_accuracy": ", ".join(f"{a:.3f}" for a in scores["fold_accuracy"]),
        "majority_baseline": round(scores["baseline_accuracy"], 4),
        "majority_class": majority_class,
        "verdict": verdict.text,
        "stored": stored,
        "threshold": load_policy().threshold,
        "skipped_categories": ", ".join(dropped) or None,
    }
    return {
        "training": summary,
        "verdict": verdict.as_dict(),
        "confusion_matrix": scores["confusion"],
    }


def explain(db: Database, ticket_id: int | None, text: str | None) -> dict[str, Any]:
    """The model's probabilities and top terms for a ticket's (or any) text, and the rules."""
    from crmcli.analytics.classify import match_rules, predict

    policy = load_policy()
    current = None
    if ticket_id is not None:
        ticket = repo.get_ticket(db, ticket_id)
        text = f"{ticket['subject']} {ticket['description'] or ''}".strip()
        current = ticket["category"]
    assert text is not None
    model = service.load_model(db)
    guess = predict(model, text)
    rule = match_rules(text, policy.rules)
    meta = service.model_meta(db) or {}
    decision = (
        f"rule ({rule[1]!r} -> {rule[0]})"
        if rule
        else guess["category"]
        if guess["confidence"] >= policy.threshold
        else "none (below the threshold)"
    )
    return {
        "prediction": {
            "ticket_id": ticket_id,
            "current_category": current,
            "predicted": guess["category"],
            "confidence": round(guess["confidence"], 4),
            "threshold": policy.threshold,
            "would_use": decision,
            "model_trained_at": meta.get("trained_at"),
            "model_cv_accuracy": meta.get("cv_accuracy"),
        },
        "probabilities": guess["probabilities"],
        "top_terms": guess["top_terms"],
    }
