"""`crm order import | list | add` through the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crmcli.db import connect


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_import_upserts_by_external_id_and_rejects_bad_rows(
    cli: Any, add_customer: Any, tmp_path: Path
) -> None:
    ann = add_customer("ann", external_id="C1")
    first = write(
        tmp_path / "orders.csv",
        "order_id,customer_external_id,ordered_at,amount,currency\n"
        "O1,C1,2024-01-02,12.50,\n"
        'O2,C1,2024-01-03 10:00,"1,000.00",usd\n'
        "O3,C9,2024-01-04,5,\n"  # unknown customer
        "O4,C1,someday,5,\n"  # bad time
        "O5,C1,2024-01-05,lots,\n"  # bad amount
        "O6,C1,2024-01-06,7\n",  # ragged row
    )
    strict = cli("order", "import", str(first), "--strict")
    assert strict.exit_code == 2 and "nothing imported (--strict)" in strict.stderr
    assert cli.json("order", "list") == []
    # (--currency: the currency of the empty currency cells)
    summary = cli.json("order", "import", str(first), "--currency", "CNY")
    assert (summary["inserted"], summary["rejected"], summary["rows"]) == (2, 4, 6)
    rejects = (tmp_path / "orders.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rejects[0].startswith("line,field,value,reason,order_id")
    assert "no customer with external_id C9" in rejects[1]
    assert len(rejects) == 5
    orders = cli.json("order", "list")
    assert [(o["external_id"], o["amount"], o["currency"]) for o in orders] == [
        ("O2", 1000.0, "USD"),
        ("O1", 12.5, "CNY"),
    ]
    assert orders[1]["ordered_at"] == "2024-01-02T00:00:00+08:00"  # naive = local zone
    second = write(
        tmp_path / "again.csv",
        "order_id,customer_external_id,ordered_at,amount\n"
        "O1,C1,2024-01-02,12.50\n"  # unchanged
        "O2,C1,2024-01-03 10:00,999\n"  # changed (currency now the default CNY too)
        "O7,C2,2024-02-01,30\n",  # new customer, created
    )
    summary = cli.json("order", "import", str(second), "--create-customers")
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (1, 1, 1)
    assert summary["customers_created"] == 1
    assert (
        cli.json("order", "list", "--customer", str(ann), "--since", "2024-01-03")[0]["amount"]
        == 999.0
    )
    created = cli.json("customer", "list", "--search", "C2")
    assert created[0]["external_id"] == "C2"


def test_import_reads_chinese_gb18030_files_by_email(
    cli: Any, add_customer: Any, tmp_path: Path
) -> None:
    add_customer("张伟", email="zw@example.cn")
    text = "订单号,客户邮箱,下单时间,金额\nSO-1,ZW@example.cn,2024年3月5日,¥99.00\n"
    path = write(tmp_path / "订单.csv", text, encoding="gb18030")
    summary = cli.json("order", "import", str(path), "--customer-key", "email")
    assert summary["encoding"] == "gb18030" and summary["inserted"] == 1
    assert cli.json("order", "list")[0]["amount"] == 99.0


def test_dry_run_and_refusals_leave_the_database_unchanged(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    add_customer("ann", external_id="C1")
    path = write(
        tmp_path / "o.csv",
        "external_id,customer_external_id,ordered_at,amount\nO1,C1,2024-01-02,1\n",
    )
    summary = cli.json("order", "import", str(path), "--dry-run")
    assert summary["inserted"] == 1 and summary["dry_run"] is True
    assert cli.json("order", "list") == []
    no_amount = write(
        tmp_path / "bad.csv", "external_id,customer_external_id,ordered_at\nO1,C1,x\n"
    )
    result = cli("order", "import", str(no_amount))
    assert result.exit_code == 2 and "amount" in result.stderr
    assert cli("order", "import", str(path), "--customer-key", "fax").exit_code == 2
    assert cli("order", "import", str(tmp_path / "missing.csv")).exit_code == 2
    db = connect(db_path)
    try:
        assert db.scalar("SELECT count(*) FROM orders") == 0
        assert db.scalar("SELECT count(*) FROM audit_log WHERE entity = 'order'") == 0
    finally:
        db.close()


def test_add_and_list(cli: Any, add_customer: Any) -> None:
    ann = add_customer("ann")
    bob = add_customer("bob")
    assert cli.json(
        "order",
        "add",
        str(ann),
        "--amount",
        "199.90",
        "--at",
        "2024-05-01",
        "--external-id",
        "SO-1",
    ) == {"id": 1}
    cli.ok("order", "add", str(bob), "--amount", "10", "--at", "2024-06-01", "--currency", "usd")
    duplicate = cli("order", "add", str(bob), "--amount", "1", "--external-id", "SO-1")
    assert duplicate.exit_code == 4
    assert cli("order", "add", "999", "--amount", "1").exit_code == 3
    assert cli("order", "add", str(ann), "--amount", "abc").exit_code == 2
    rows = cli.json("order", "list", "--until", "2024-05-31")
    assert [(r["customer_id"], r["amount"]) for r in rows] == [(ann, 199.9)]
    assert len(cli.json("order", "list", "--limit", "1")) == 1
    assert cli("order", "list", "--since", "2024-06-02", "--until", "2024-01-01").exit_code == 2
