"""The README's ERP round trip, end to end in real processes: customers out by
`--changed-since`, orders back in by customer external_id, then the warehouse sees them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path


def crm(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crmcli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_erp_round_trip(tmp_path: Path) -> None:
    env = {**os.environ, "CRM_DB": str(tmp_path / "crm.db"), "CRM_TZ": "Asia/Shanghai"}
    env.pop("CRM_NOW", None)
    (tmp_path / "customers.csv").write_text(
        "external_id,name,email\nK001,张伟,zw@client.cn\nK002,Li Na,li@client.cn\n",
        encoding="utf-8",
    )
    assert (
        crm(
            env, "customer", "import", "customers.csv", "--key", "external_id", cwd=tmp_path
        ).returncode
        == 0
    )

    first = crm(env, "--format", "json", "export", "warehouse", "dw", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    last = "1970-01-01T00:00:00Z"

    # CRM -> ERP
    out = crm(env, "customer", "export", "--changed-since", last, "--format", "csv",
              "--out", "changed.csv", cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    sent = list(csv.DictReader(io.StringIO((tmp_path / "changed.csv").read_text("utf-8-sig"))))
    assert sorted(r["external_id"] for r in sent) == ["K001", "K002"]

    # ERP -> CRM: the ERP answers with orders keyed by its customer numbers.
    (tmp_path / "orders.csv").write_text(
        "external_id,customer_external_id,ordered_at,amount,currency\n"
        "SO-1,K001,2026-03-01 10:00,1200.50,CNY\n"
        "SO-2,K002,2026-03-31 23:30,99,CNY\n"
        "SO-3,K999,2026-03-02 11:00,5,CNY\n",
        encoding="utf-8",
    )
    args = ("order", "import", "orders.csv", "--customer-key", "external_id",
            "--rejects", "orders.rejects.csv")  # fmt: skip
    result = crm(env, "--format", "json", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["inserted"] == 2 and summary["rejected"] == 1
    assert "K999" in (tmp_path / "orders.rejects.csv").read_text("utf-8-sig")
    again = json.loads(crm(env, "--format", "json", *args, cwd=tmp_path).stdout)
    assert again["inserted"] == 0  # re-running a night is safe

    # The warehouse's next incremental export carries exactly the new orders.
    delta = crm(env, "--format", "json", "export", "warehouse", "dw", "--incremental",
                cwd=tmp_path)  # fmt: skip
    assert delta.returncode == 0, delta.stderr
    manifest = json.loads(delta.stdout)
    assert manifest["mode"] == "incremental" and manifest["tables"]["fact_order"]["rows"] == 2
    import duckdb

    rows = duckdb.sql(
        f"SELECT d.year_month, sum(o.amount)::VARCHAR FROM '{tmp_path}/dw/fact_order.parquet' o"
        f" JOIN '{tmp_path}/dw/dim_date.parquet' d USING (date_key) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [("2026-03", "1299.50")]
