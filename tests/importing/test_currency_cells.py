"""Currency cells and amount signs as Chinese ERPs and spreadsheets write them: names
(人民币, 美元, 港币), country-prefixed signs (CN¥, HK$, US$), ISO codes checked against ISO
4217, and whole units for currencies without a minor unit (JPY)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HEADER = "order_id,customer_external_id,order_date,amount,currency\n"


def _orders(cli: Any, tmp_path: Path, rows: str, *args: str) -> tuple[dict[str, Any], str]:
    src = tmp_path / "orders.csv"
    src.write_text(HEADER + rows, encoding="utf-8")
    summary = cli.json("order", "import", str(src), *args)
    rejects = tmp_path / "orders.rejects.csv"
    return summary, rejects.read_text("utf-8-sig") if rejects.exists() else ""


def test_chinese_names_and_prefixed_signs(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--external-id", "C1")
    summary, _ = _orders(
        cli,
        tmp_path,
        "K1,C1,2024-03-01,100.00,人民币\n"  # Kingdee / Yonyou write the name
        "K2,C1,2024-03-02,CN¥100.00,CNY\n"
        "K3,C1,2024-03-03,HK$250.00,港币\n"
        "K4,C1,2024-03-04,US$9.99,美元\n"
        "K5,C1,2024-03-05,12.00,cnh\n",  # the offshore yuan
    )
    assert (summary["inserted"], summary["rejected"]) == (5, 0)
    assert sql_rows("SELECT external_id, amount, currency FROM orders ORDER BY id") == [
        ("K1", 10000, "CNY"),
        ("K2", 10000, "CNY"),
        ("K3", 25000, "HKD"),
        ("K4", 999, "USD"),
        ("K5", 1200, "CNH"),
    ]


def test_unknown_codes_and_ambiguous_signs_are_refused(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """`XYZ` is no currency (it had been stored as one); `$` alone in a currency cell is
    a dozen currencies (it had been stored as USD); `¥` is the default CNY's sign."""
    cli.ok("customer", "add", "--name", "Ann", "--external-id", "C1")
    summary, rejects = _orders(
        cli,
        tmp_path,
        "X1,C1,2024-03-01,10.00,XYZ\nX2,C1,2024-03-02,10.00,$\nX3,C1,2024-03-03,10.00,¥\n",
    )
    assert (summary["inserted"], summary["rejected"]) == (1, 2)
    assert "unknown currency 'XYZ'" in rejects
    assert "is the sign of" in rejects and "give the ISO code" in rejects
    assert sql_rows("SELECT external_id, currency FROM orders") == [("X3", "CNY")]
    summary, _ = _orders(cli, tmp_path, "X2,C1,2024-03-02,10.00,$\n", "--currency", "USD")
    assert summary["inserted"] == 1  # --currency USD says which dollar


def test_a_fraction_of_a_yen_is_refused(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    """JPY has no minor unit: 100.5 yen is no amount (a column written with a decimal comma
    read with a point?); refused with the reason, never stored as 100.50 JPY."""
    cli.ok("customer", "add", "--name", "Ann", "--external-id", "C1")
    rows = "J1,C1,2024-03-01,100.5,JPY\nJ2,C1,2024-03-02,2000,JPY\nJ3,C1,2024-03-03,0.5,USD\n"
    summary, rejects = _orders(cli, tmp_path, rows)
    assert (summary["inserted"], summary["rejected"]) == (2, 1)
    assert "JPY has no minor unit" in rejects and "conventions" in rejects
    assert sql_rows("SELECT external_id, amount FROM orders ORDER BY external_id") == [
        ("J2", 200000),
        ("J3", 50),
    ]
