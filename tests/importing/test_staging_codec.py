"""Entities that stage with marshal (stage_marshal) only stage data that JSON would give
back unchanged: lists (never tuples), dicts with str keys, str, int, float, bool, None.
So the faster codec cannot change what merge() sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crmcli.db import staging


def json_exact(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, list):
        return all(json_exact(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_exact(v) for k, v in value.items())
    return False  # a tuple, a set, bytes ...


@pytest.fixture
def staged(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    original = staging.Staging.add

    def add(self: staging.Staging, rows: list[tuple[str | None, int, list[str], Any]]) -> None:
        if self.fast:
            for _key, line, cells, data in rows:
                seen.append(data)
                assert isinstance(line, int) and json_exact(cells), (line, cells)
                assert json_exact(data), data
                assert json.loads(json.dumps(data)) == data
        original(self, rows)

    monkeypatch.setattr(staging.Staging, "add", add)
    return seen


def test_customer_and_order_imports_stage_only_json_exact_data(
    cli: Any, tmp_path: Path, staged: list[Any]
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "external_id,name,phone,email,tags,lifecycle,created_at,country\n"
        "C1,张伟,138-1234-5678 转 12,Zhang@Example.com,vip;老客户,客户,2024-03-05 10:00,\n"
        "C2,Ann Lee,(415) 555-0100,ann@x.io,,lead,,US\n"
        "C3,Bad Phone,N/A,not-an-email,,prospect,2024-13-01,\n",
        encoding="utf-8",
    )
    cli.ok("customer", "import", str(people))
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_external_id,order_date,sku,product,quantity,unit_price,line_amount\n"
        "O1,C1,2024-04-01 09:00,SKU-1,键盘,2,12.50,25.00\n"
        "O1,C1,2024-04-01 09:00,SKU-2,Mouse,1.5,10,\n"
        "O2,C2,2024-04-02,,,,,99\n",
        encoding="utf-8",
    )
    cli.ok("order", "import", str(orders))
    assert len(staged) == 6  # every staged row was checked
