"""The warehouse export's sales tables: dim_company, fact_deal, fact_deal_event and
fact_custom_value, read back with DuckDB and checked against what the CLI stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb


def test_sales_tables(cli: Any, tmp_path: Path) -> None:
    company = cli.ok("company", "add", "--name", "Acme", "--industry", "制造", "--size", "80")
    cid = cli.ok("customer", "add", "--name", "Ann", "--company-id", company.strip()).strip()
    cli.ok("field", "add", "deal", "signed", "--type", "bool")
    cli.ok("field", "add", "customer", "score", "--type", "number")
    cli.ok("customer", "update", cid, "--set", "score=7.5")
    deal = cli.ok("deal", "add", "--customer", cid, "--title", "T", "--amount", "1234.50",
                  "--set", "signed=yes").strip()  # fmt: skip
    cli.ok("deal", "move", deal, "proposal")
    cli.ok("deal", "won", deal)
    target = tmp_path / "wh"
    manifest = json.loads(cli.ok("--format", "json", "export", "warehouse", str(target)))
    rows = {t: e["rows"] for t, e in manifest["tables"].items()}
    assert (rows["dim_company"], rows["fact_deal"], rows["fact_deal_event"]) == (1, 1, 3)
    assert rows["fact_custom_value"] == 2
    con = duckdb.connect()
    deal_row = con.execute(
        f"SELECT d.amount, d.stage, d.stage_kind, d.probability, c.industry"
        f" FROM '{target}/fact_deal.parquet' d JOIN '{target}/dim_company.parquet' c"
        f" ON c.company_id = (SELECT company_id FROM '{target}/dim_customer.parquet'"
        f" WHERE customer_id = d.customer_id)"
    ).fetchone()
    assert deal_row is not None
    assert (float(deal_row[0]), deal_row[1], deal_row[2], deal_row[3], deal_row[4]) == (
        1234.5,
        "won",
        "won",
        100,
        "制造",
    )
    stages = con.execute(
        f"SELECT to_stage FROM '{target}/fact_deal_event.parquet' ORDER BY event_id"
    ).fetchall()
    assert [s[0] for s in stages] == ["lead", "proposal", "won"]
    values = con.execute(
        f"SELECT entity, field_name, value_num FROM '{target}/fact_custom_value.parquet'"
        " ORDER BY entity"
    ).fetchall()
    assert values == [("customer", "score", 7.5), ("deal", "signed", 1.0)]
