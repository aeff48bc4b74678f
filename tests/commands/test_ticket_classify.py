"""`crm ticket classify` and classification on open: rules, trained model, threshold."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tickets"))
from ticket_corpus import labelled_texts  # noqa: E402


@pytest.fixture
def trained(cli, add_customer, tmp_path: Path, monkeypatch) -> dict:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CRM_OUTBOX", str(tmp_path / "outbox"))
    add_customer("Ann", external_id="C1")
    rows = ["customer_external_id,subject,category,status"]
    rows += [f'C1,"{text}",{category},resolved' for text, category in labelled_texts(25)]
    rows.append("C1,still open,billing,open")  # not used: only resolved tickets teach
    path = tmp_path / "history.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    cli.ok("ticket", "import", str(path))
    return cli.json("ticket", "classify", "--train")


def test_train_reports_cross_validated_accuracy(trained) -> None:  # type: ignore[no-untyped-def]
    summary = trained["training"]
    assert summary["examples"] == 100 and summary["categories"] == 4
    assert summary["cv_accuracy"] >= 0.8 > summary["majority_baseline"]
    matrix = trained["confusion_matrix"]
    assert [r["actual"] for r in matrix] == ["account", "billing", "shipping", "technical"]
    assert sum(v for r in matrix for k, v in r.items() if k != "actual") == 100
    diagonal = sum(r[f"predicted_{r['actual']}"] for r in matrix)
    assert diagonal / 100 == pytest.approx(summary["cv_accuracy"])


def test_open_uses_the_model_above_the_threshold(cli, trained) -> None:  # type: ignore[no-untyped-def]
    result = cli.json("ticket", "open", "--external-id", "C1", "--subject", "快递包裹丢失了",
                      "--explain")  # fmt: skip
    assert result["category"] == "shipping"
    assert result["classification"]["source"] == "model"
    assert result["classification"]["confidence"] >= 0.6
    explained = cli.json("ticket", "classify", str(result["id"]))
    assert explained["prediction"]["predicted"] == "shipping"
    assert explained["prediction"]["would_use"] == "shipping"
    assert explained["probabilities"][0]["category"] == "shipping"
    assert explained["top_terms"]
    text = cli.json("ticket", "classify", "--text", "invoice charged twice")
    assert text["prediction"]["predicted"] == "billing"


def test_rules_win_and_threshold_applies(cli, trained, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "crm.toml"
    cfg.write_text(
        '[[tickets.rules]]\ncategory = "vip"\nkeywords = ["投诉", "complaint"]\n'
        "[tickets.classifier]\nthreshold = 0.99\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CRM_CONFIG", str(cfg))
    ruled = cli.json("ticket", "open", "--external-id", "C1", "--subject", "快递投诉",
                     "--explain")  # fmt: skip
    assert ruled["category"] == "vip"
    assert ruled["classification"] == {"category": "vip", "source": "rule", "keyword": "投诉"}
    unsure = cli.json("ticket", "open", "--external-id", "C1", "--subject", "hello there",
                      "--explain")  # fmt: skip
    assert unsure["category"] is None and unsure["classification"]["source"] == "none"
    assert unsure["classification"]["confidence"] < 0.99


def test_classify_errors(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    assert cli("ticket", "classify").exit_code == 2
    assert cli("ticket", "classify", "1", "--train").exit_code == 2
    assert cli("ticket", "classify", "--train").exit_code == 1  # not enough data to learn from
    assert cli("ticket", "classify", "--text", "x").exit_code == 1  # not enough data: no model


def test_a_broken_stored_model_does_not_stop_opening(cli, add_customer, db_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    cid = add_customer()
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)",
            ("tickets.classifier.model", "bm90IGEgcGlja2xl", "2024-01-01T00:00:00Z"),
        )
    result = cli.json("ticket", "open", str(cid), "--subject", "x", "--explain", "--no-reply")
    assert result["category"] is None
    assert "retrain" in result["classification"]["reason"]
