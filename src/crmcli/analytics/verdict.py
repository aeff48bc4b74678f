"""Whether a model's cross-validated score is worth acting on: one verdict for every model
(`ticket classify`, `campaign suggest`).

A model passes when its score beats the documented bar: a classifier's accuracy must be
above the majority-class baseline (always answering the most common category); a ranking's
AUC must be at least 0.6 (0.5 is chance). Commands print `Verdict.line` on stderr and, when
it fails, warn and exit 1 unless --force.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_AUC = 0.6


@dataclass(frozen=True)
class Verdict:
    ok: bool
    metric: str  # "accuracy" | "auc"
    score: float
    bar: float
    text: str  # the verdict in words

    @property
    def line(self) -> str:
        return f"Cross-validated {self.metric} {self.score:.3f}: {self.text}."

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "metric": self.metric,
            "score": round(self.score, 4),
            "bar": round(self.bar, 4),
            "text": self.text,
        }


def accuracy_verdict(accuracy: float, majority: float, majority_class: str = "") -> Verdict:
    """A classifier passes when its accuracy is above the majority-class baseline."""
    label = f" ({majority_class!r})" if majority_class else ""
    if accuracy > majority:
        text = f"better than always answering the majority class{label} ({majority:.3f})"
        return Verdict(True, "accuracy", accuracy, majority, text)
    text = (
        f"no better than always answering the majority class{label} ({majority:.3f}); "
        "the model has learnt nothing useful"
    )
    return Verdict(False, "accuracy", accuracy, majority, text)


def auc_verdict(auc: float, bar: float = MIN_AUC) -> Verdict:
    """A ranking passes when its AUC is at least `bar` (0.6; 0.5 is chance)."""
    if auc >= bar:
        return Verdict(True, "auc", auc, bar, f"at or above {bar:.2f} (0.5 is chance)")
    return Verdict(
        False, "auc", auc, bar, f"below {bar:.2f}: close to chance (0.5), do not rely on it"
    )
