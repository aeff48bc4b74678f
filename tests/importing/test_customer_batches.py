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


def test_repeated_values_written_differently_are_found_in_later_batches(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge remembers only the values the file repeats (pipeline.RepeatedKeys): a
    value is repeated once normalized, so a later batch still finds the customer an
    earlier one inserted, however the cell was written."""
    monkeypatch.setattr("crmcli.importing.pipeline.BATCH", 2)
    lines = [
        "name,email,phone",
        "Ann,ann@example.com,13800138000",
        "Filler 1,f1@example.com,",
        "Filler 2,f2@example.com,",
        "Ann Again,ANN@Example.com,",  # same email, other case: a duplicate
        "Filler 3,f3@example.com,",
        "Phone Again,,+86 138 0013 8000",  # same phone, other form: a duplicate
        "Once,once@example.com,13900139000",
    ]
    src = tmp_path / "r.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = cli.json("customer", "import", str(src))
    assert (summary["inserted"], summary["duplicates"]) == (5, 2)
    # by key: the second row updates the customer the first inserted, two batches later
    src = tmp_path / "k.csv"
    src.write_text(
        "email,name\nnew@example.com,New\nx1@example.com,X1\nx2@example.com,X2\n"
        "x3@example.com,X3\nNEW@example.com,New Renamed\n",
        encoding="utf-8",
    )
    summary = cli.json("customer", "import", str(src), "--key", "email")
    assert (summary["inserted"], summary["updated"]) == (4, 1)
    assert [c["name"] for c in cli.json("customer", "list", "--search", "new@example")] == [
        "New Renamed"
    ]
