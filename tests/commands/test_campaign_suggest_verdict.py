"""`campaign suggest` says what its model knows: the cross-validated AUC with a verdict, and a
refusal (exit 1) below AUC 0.6 unless --force."""

from __future__ import annotations

from typing import Any


def _history(cli: Any, add_customer: Any, signal: bool) -> list[int]:
    hot = [add_customer(f"h{i}", tag="hot" if signal else "same") for i in range(30)]
    cold = [add_customer(f"k{i}", tag="cold" if signal else "same") for i in range(30)]
    cli.ok("campaign", "create", "Past", "--channel", "email")
    cli.ok("campaign", "target", "1", "--segment", "tag=hot or tag=cold or tag=same")
    for i, customer in enumerate(hot):
        cli.ok("campaign", "result", "1", str(customer), "failure" if i % 6 == 0 else "success")
    for i, customer in enumerate(cold):
        cli.ok("campaign", "result", "1", str(customer), "success" if i % 6 == 0 else "failure")
    return hot


def test_a_model_no_better_than_chance_is_refused_without_force(
    cli: Any, add_customer: Any
) -> None:
    _history(cli, add_customer, signal=False)
    # Every customer looks the same to the model: its AUC is 0.5.
    refused = cli("campaign", "suggest", "--segment", "tag=same", "--format", "json")
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert "AUC 0.500" in refused.stderr and "close to chance" in refused.stderr
    assert "--force" in refused.stderr
    forced = cli("campaign", "suggest", "--segment", "tag=same", "--force", "--format", "json")
    assert forced.exit_code == 0
    assert "Warning:" in forced.stderr and "close to chance" in forced.stderr
    import json

    report = json.loads(forced.stdout)
    assert report["model"]["cv_auc"] == 0.5
    assert report["verdict"] == {
        "ok": False,
        "metric": "auc",
        "score": 0.5,
        "bar": 0.6,
        "text": "below 0.60: close to chance (0.5), do not rely on it",
    }


def test_a_useful_model_prints_its_verdict(cli: Any, add_customer: Any) -> None:
    hot = _history(cli, add_customer, signal=True)
    result = cli("campaign", "suggest", "--segment", "tag=hot or tag=cold", "--format", "json")
    assert result.exit_code == 0, result.stderr
    import json

    report = json.loads(result.stdout)
    assert report["model"]["cv_auc"] > 0.75 and report["verdict"]["ok"] is True
    assert f"AUC {report['model']['cv_auc']:.3f}" in result.stderr
    assert report["verdict"]["text"] in result.stderr
    assert {c["customer_id"] for c in report["customers"]} <= set(hot)
