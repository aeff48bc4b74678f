"""The customer upsert across batch boundaries (the 5,000-row "malformed" crash of #12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

BATCH = 5000


@pytest.mark.parametrize("rows", [BATCH - 1, BATCH, BATCH + 1])
def test_same_key_updated_after_the_batch_boundary(cli: Any, tmp_path: Path, rows: int) -> None:
    lines = ["external_id,name,company"]
    lines.append("K1,First Name,Acme")
    lines += [f"X{i},Filler {i},Co {i}" for i in range(rows - 2)]
    lines.append("K1,Renamed,Acme Two")
    src = tmp_path / "c.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = cli.json("customer", "import", str(src), "--key", "external_id", "--create-company")
    assert summary["inserted"] == rows - 1 and summary["updated"] == 1
    found = cli.json("customer", "list", "--search", "Renamed")
    assert [c["company"] for c in found] == ["Acme Two"]
    assert cli.json("customer", "list", "--search", "First Name") == []
    assert cli("db", "check").exit_code == 0


def test_new_customer_updated_in_three_later_batches(cli: Any, tmp_path: Path) -> None:
    lines = ["external_id,name,email"]
    lines.append("K1,Version 0,")
    for version in (1, 2, 3):
        lines += [f"X{version}-{i},Filler,f{version}-{i}@example.com" for i in range(BATCH)]
        lines.append(f"K1,Version {version},v{version}@example.com")
    src = tmp_path / "c.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = cli.json("customer", "import", str(src), "--key", "external_id")
    assert summary["inserted"] == 3 * BATCH + 1 and summary["updated"] == 3
    hit = cli.json("customer", "list", "--search", "v3@example")
    assert [c["name"] for c in hit] == ["Version 3"]
    assert cli.json("customer", "list", "--search", "Version 1") == []
    assert cli("db", "check").exit_code == 0
