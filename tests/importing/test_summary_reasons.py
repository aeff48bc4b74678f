"""The summary's reject_reasons (also in the audit entry) counts kinds of reasons, not one
key per row value: 40 unknown customers are one kind, not 40 keys in every audit entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_unknown_customers_are_one_reason(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    src = tmp_path / "log.csv"
    rows = "".join(f"u{n}@example.com,phone,2024-01-05 10:{n:02d}\n" for n in range(40))
    src.write_text("customer_email,channel,occurred_at\n" + rows, encoding="utf-8")
    summary = cli.json("comm", "import", str(src))
    assert summary["rejected"] == 40
    assert summary["reject_reasons"] == {"no customer with email": 40}
    (details,) = sql_rows("SELECT details FROM audit_log WHERE action = 'import'")[-1:]
    assert json.loads(details[0])["reject_reasons"] == {"no customer with email": 40}
