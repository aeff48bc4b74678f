"""The stored ticket classifier is plain data (#14 item 1) and says what it knows (#13):
a pickled model - planted in a backup that is then restored, or left by an older version -
is never unpickled; a model no better than the majority class is not stored without --force.
"""

from __future__ import annotations

import base64
import json
import pickle
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tickets"))
from ticket_corpus import labelled_texts  # noqa: E402

MODEL_KEY = "tickets.classifier.model"


class _Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.marker, "code from data ran"))


def _pickled(marker: Path) -> str:
    return base64.b64encode(pickle.dumps(_Payload(marker))).decode("ascii")


def _plant(db: Path, value: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (MODEL_KEY, value, "2024-01-01T00:00:00Z"),
        )
    conn.close()


def _forget_m180(conn: sqlite3.Connection) -> None:
    """Make the database look as if written before migration m180."""
    conn.execute("DELETE FROM _migrations WHERE name = 'm180_drop_pickled_classifier'")
    (count,) = conn.execute("SELECT count(*) FROM _migrations").fetchone()
    conn.execute(f"PRAGMA user_version = {int(count)}")


def _history(cli, tmp_path: Path, rows: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    lines = ["customer_external_id,subject,category,status"]
    lines += [f'C1,"{text}",{category},resolved' for text, category in rows]
    path = tmp_path / "history.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli.ok("ticket", "import", str(path))


def test_a_pickle_in_a_restored_backup_never_runs(cli, add_customer, db_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer("Ann", external_id="C1")
    marker = tmp_path / "pwned"
    backup = tmp_path / "planted.db"
    cli.ok("db", "backup", str(backup))
    _plant(backup, _pickled(marker))
    cli.ok("db", "restore", str(backup), "--yes")
    opened = cli.json("ticket", "open", str(cid), "--subject", "发票开错了", "--explain",
                      "--no-reply")  # fmt: skip
    assert opened["category"] is None
    assert "plain-data format" in opened["classification"]["reason"]
    assert "retrain" in opened["classification"]["reason"]
    explained = cli("ticket", "classify", "--text", "发票开错了")
    assert explained.exit_code == 1
    assert "plain-data format" in explained.stderr and "Traceback" not in explained.stderr
    assert not marker.exists()


def test_the_migration_drops_a_pickled_model(cli, add_customer, db_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann", external_id="C1")
    marker = tmp_path / "pwned"
    _plant(db_path, _pickled(marker))
    with sqlite3.connect(db_path) as conn:  # as if written by a version before m180
        conn.execute(
            "INSERT INTO settings(key, value, updated_at) VALUES"
            " ('tickets.classifier.meta', '{}', '2024-01-01T00:00:00Z')"
        )
        _forget_m180(conn)
    conn.close()
    cli.ok("customer", "list")
    with sqlite3.connect(db_path) as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM settings WHERE key LIKE 'tickets.c%'")]
    conn.close()
    assert keys == []
    missing = cli("ticket", "classify", "--text", "x")  # no model: retrain
    assert missing.exit_code == 1 and "no classifier trained" in missing.stderr
    assert not marker.exists()


def test_the_migration_keeps_a_plain_data_model(cli, add_customer, db_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann", external_id="C1")
    _history(cli, tmp_path, labelled_texts(6))
    cli.ok("ticket", "classify", "--train")
    with sqlite3.connect(db_path) as conn:
        _forget_m180(conn)
    conn.close()
    cli.ok("customer", "list")
    assert cli.json("ticket", "classify", "--text", "invoice is wrong")["prediction"]["predicted"]


def test_stored_model_is_json_with_plain_arrays(cli, add_customer, db_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann", external_id="C1")
    _history(cli, tmp_path, labelled_texts(8))
    trained = cli.json("ticket", "classify", "--train")
    assert trained["verdict"]["ok"] is True and trained["training"]["stored"] is True
    assert trained["verdict"]["score"] > trained["verdict"]["bar"] == 0.25
    with sqlite3.connect(db_path) as conn:
        (value,) = conn.execute("SELECT value FROM settings WHERE key = ?", (MODEL_KEY,)).fetchone()
    conn.close()
    doc = json.loads(value)
    assert doc["format"] == "crmcli.ticket-classifier"
    assert {doc[k]["dtype"] for k in ("idf", "coef", "intercept")} == {"<f8"}


@pytest.fixture
def hopeless(cli, add_customer, tmp_path):  # type: ignore[no-untyped-def]
    """Categories that have nothing to do with the texts, one class much bigger."""
    add_customer("Ann", external_id="C1")
    texts = [t for t, _ in labelled_texts(15)]
    rows = [(t, "billing" if i % 3 else "shipping") for i, t in enumerate(texts)]
    _history(cli, tmp_path, rows)


def test_a_model_no_better_than_the_majority_class_is_refused(cli, hopeless) -> None:  # type: ignore[no-untyped-def]
    result = cli("ticket", "classify", "--train", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["verdict"]["ok"] is False
    assert report["verdict"]["score"] <= report["verdict"]["bar"]
    assert report["training"]["stored"] is False
    assert "majority class" in result.stderr and "--force" in result.stderr
    missing = cli("ticket", "classify", "--text", "x")  # nothing stored
    assert missing.exit_code == 1 and "no classifier trained" in missing.stderr


def test_force_stores_it_with_a_warning(cli, hopeless) -> None:  # type: ignore[no-untyped-def]
    result = cli("ticket", "classify", "--train", "--force", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["training"]["stored"] is True
    assert "Stored anyway" in result.stderr
    assert cli.json("ticket", "classify", "--text", "x")["prediction"]["predicted"]
    assert cli("ticket", "classify", "--text", "x", "--force").exit_code == 2
