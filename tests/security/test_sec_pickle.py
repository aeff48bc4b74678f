"""No code from data: a pickle planted in a backup's classifier setting is refused on restore
or on load, and never executed (#14 item 1; the classifier itself is stored as plain arrays
by the speed work)."""

from __future__ import annotations

import base64
import pickle
import sqlite3
from pathlib import Path
from typing import Any

import pytest


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (open, (str(self.marker), "w"))


def _still_pickle() -> bool:
    source = Path(__file__).resolve().parents[2] / "src" / "crmcli" / "analytics" / "classify.py"
    return "import pickle" in source.read_text(encoding="utf-8")


@pytest.mark.xfail(_still_pickle(), reason="the classifier is still pickled (#14 item 1)")
def test_planted_pickle_in_a_restored_backup_never_runs(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_OUTBOX", raising=False)
    cid = cli.ok("customer", "add", "--name", "Ann Lee", "--email", "ann@example.com").strip()
    backup = tmp_path / "planted.db"
    cli.ok("db", "backup", str(backup))
    marker = tmp_path / "PWNED"
    blob = base64.b64encode(pickle.dumps(Payload(marker))).decode("ascii")
    conn = sqlite3.connect(str(backup))
    with conn:
        conn.execute(
            "INSERT OR REPLACE INTO settings(key, value, updated_at)"
            " VALUES ('tickets.classifier.model', ?, '2024-01-01T00:00:00Z')",
            (blob,),
        )
    conn.close()
    restored = cli("db", "restore", str(backup), "--yes")
    assert "Traceback" not in restored.stderr
    opened = cli("ticket", "open", cid, "--subject", "invoice wrong")
    assert "Traceback" not in opened.stderr and "unexpected" not in opened.stderr.lower()
    cli("ticket", "classify", "--text", "invoice wrong")
    assert not marker.exists(), "the planted pickle ran"


def test_no_code_from_data_anywhere_in_src() -> None:
    """No pickle, joblib, marshal, shelve, dill, eval/exec or unsafe YAML in src/."""
    import re

    src = Path(__file__).resolve().parents[2] / "src" / "crmcli"
    banned = re.compile(
        r"^\s*(?:import|from)\s+(?:pickle|cPickle|joblib|marshal|shelve|dill)\b"
        r"|\b(?:eval|exec)\(|yaml\.(?:load|unsafe_load)\(|allow_pickle\s*=\s*True",
        re.MULTILINE,
    )
    hits = [
        f"{path.relative_to(src)}: {m.group(0).strip()}"
        for path in src.rglob("*.py")
        for m in banned.finditer(path.read_text(encoding="utf-8"))
    ]
    assert hits == []
