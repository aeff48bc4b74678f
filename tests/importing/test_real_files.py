"""Values from files written the way real systems write them (tests/data/import/)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent.parent / "data" / "import"


US_NAME = ("--map", "First Name+Last Name=name")


def copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copy(DATA / name, dst)
    return dst


def customers(cli: Any) -> dict[str, dict[str, Any]]:
    return {c["external_id"]: c for c in cli.json("customer", "list", "--limit", "0")}


def rejects(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_european_excel_orders_read_decimal_commas(cli: Any, tmp_path: Path) -> None:
    cli.ok("customer", "import", str(copy(tmp_path, "eu_excel_customers.csv")), "--region", "DE")
    src = copy(tmp_path, "eu_excel_orders.csv")
    summary = cli.json("order", "import", str(src), "--customer-key", "external_id")
    assert summary["inserted"] == 6 and summary["rejected"] == 0, summary
    assert summary["encoding"] == "cp1252" and summary["delimiter"] == ";"
    assert summary["conventions"]["amount"]["decimal"] == "comma"
    amounts = {o["external_id"]: o["amount"] for o in cli.json("order", "list", "--limit", "0")}
    assert amounts == {
        "DE-1001": 12.5,
        "DE-1002": 1234.56,
        "DE-1003": 209.3,
        "DE-1004": 99.0,
        "DE-1005": -12.5,
        "DE-1006": -1000.0,
    }
    dates = {o["external_id"]: o["ordered_at"][:10] for o in cli.json("order", "list")}
    # 13.03.2024 settles day-first for the whole column.
    assert dates["DE-1001"] == "2024-03-05" and dates["DE-1002"] == "2024-03-13"


def test_us_excel_orders_read_thousands_commas(cli: Any, tmp_path: Path) -> None:
    cli.ok(
        "customer",
        "import",
        str(copy(tmp_path, "us_excel_customers.csv")),
        "--region",
        "US",
        *US_NAME,
    )
    orders = str(copy(tmp_path, "us_excel_orders.csv"))
    # "$1,341.00" is not yuan: without a currency column or --currency the rows are refused
    refused = cli.json("order", "import", orders)
    assert refused["rejected"] == 3 and refused["inserted"] == 0
    rejects = (tmp_path / "us_excel_orders.rejects.csv").read_text(encoding="utf-8-sig")
    assert "amount '$12.50' is not in CNY (give the currency column or --currency)" in rejects
    summary = cli.json("order", "import", orders, "--currency", "USD")
    assert summary["rejected"] == 0 and summary["conventions"]["amount"]["decimal"] == "point"
    listed = cli.json("order", "list")
    amounts = {o["external_id"]: o["amount"] for o in listed}
    assert amounts == {"CA-1": 1341.0, "CA-2": 12.5, "CA-3": 1234.56}
    assert {o["currency"] for o in listed} == {"USD"}


def test_ambiguous_money_column_needs_decimal_option(cli: Any, tmp_path: Path) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--external-id", "C1")
    src = tmp_path / "o.csv"
    src.write_text(
        "external_id,customer_external_id,ordered_at,amount\n"
        'O1,C1,2024-03-05,"1,234"\nO2,C1,2024-03-06,"2,500"\n',
        encoding="utf-8",
    )
    refused = cli("order", "import", str(src))
    assert refused.exit_code == 2 and "--decimal" in refused.stderr
    assert cli.json("order", "list") == []
    summary = cli.json("order", "import", str(src), "--decimal", "point")
    assert summary["conventions"]["amount"] == {"decimal": "point", "decided_by": "--decimal"}
    assert sorted(o["amount"] for o in cli.json("order", "list")) == [1234.0, 2500.0]


def test_contradictory_money_column_is_refused(cli: Any, tmp_path: Path) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--external-id", "C1")
    src = tmp_path / "o.csv"
    src.write_text(
        "external_id,customer_external_id,ordered_at,amount\n"
        'O1,C1,2024-03-05,"1.234,56"\nO2,C1,2024-03-06,"1,234.56"\n',
        encoding="utf-8",
    )
    refused = cli("order", "import", str(src))
    assert refused.exit_code == 2 and "amount" in refused.stderr
    assert cli.json("order", "list") == []


@pytest.mark.parametrize("value", ["1e30", "1e309", "1000000000000", "-1000000000000.00"])
def test_absurd_amounts_are_refused_cleanly(cli: Any, tmp_path: Path, value: str) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--external-id", "C1")
    src = tmp_path / "o.csv"
    src.write_text(
        f"external_id,customer_external_id,ordered_at,amount\nO1,C1,2024-03-05,{value}\n",
        encoding="utf-8",
    )
    summary = cli.json("order", "import", str(src))
    assert summary["rejected"] == 1 and summary["inserted"] == 0
    assert "Traceback" not in (tmp_path / "o.rejects.csv").read_text(encoding="utf-8-sig")


def test_day_first_customer_file_is_not_swapped(cli: Any, tmp_path: Path) -> None:
    summary = cli.json(
        "customer", "import", str(copy(tmp_path, "eu_excel_customers.csv")), "--region", "DE"
    )
    assert summary["conventions"]["created_at"]["date_order"] == "dmy"
    rows = customers(cli)
    # 08.11.2020 is the 8th of November (13.11.2020 in the same column settles it).
    assert rows["K-03"]["created_at"] == "2020-11-08T00:00:00+08:00"


def test_month_first_us_file(cli: Any, tmp_path: Path) -> None:
    summary = cli.json(
        "customer",
        "import",
        str(copy(tmp_path, "us_excel_customers.csv")),
        "--region",
        "US",
        *US_NAME,
    )
    assert summary["conventions"]["created_at"]["date_order"] == "mdy"
    assert customers(cli)["US-1"]["created_at"] == "2020-08-11T00:00:00+08:00"


def test_ambiguous_date_column_follows_option_env_or_region(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("external_id,name,created_at\nA,Ann,03/05/2020\n", encoding="utf-8")
    refused = cli("customer", "import", str(src), "--region", "CN", "--dry-run")
    # CN's convention is year-first: it does not decide a dd/mm vs mm/dd column.
    assert refused.exit_code == 2 and "--date-order" in refused.stderr
    by_option = cli.json("customer", "import", str(src), "--date-order", "dmy", "--dry-run")
    assert by_option["conventions"]["created_at"]["decided_by"] == "--date-order"
    by_region = cli.json("customer", "import", str(src), "--region", "US", "--dry-run")
    assert by_region["conventions"]["created_at"]["date_order"] == "mdy"
    by_env = cli.json("customer", "import", str(src), "--dry-run", env={"CRM_DATE_ORDER": "dmy"})
    assert by_env["conventions"]["created_at"]["date_order"] == "dmy"


def test_contradictory_date_column_is_refused(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text(
        "external_id,name,created_at\nA,Ann,13/05/2020\nB,Bob,05/13/2020\n", encoding="utf-8"
    )
    refused = cli("customer", "import", str(src))
    assert refused.exit_code == 2 and "created_at" in refused.stderr
    assert cli.json("customer", "list") == []


def test_history_in_the_future_is_a_field_warning(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("external_id,name,created_at\nA,Ann,2999-01-01\n", encoding="utf-8")
    summary = cli.json("customer", "import", str(src))
    assert summary["inserted"] == 1 and summary["warnings"] == 1
    warning = rejects(tmp_path / "c.rejects.csv")[0]
    assert warning["field"] == "created_at" and "future" in warning["reason"]


def test_phones_take_region_from_prefix_then_country_then_option(cli: Any, tmp_path: Path) -> None:
    summary = cli.json(
        "customer", "import", str(copy(tmp_path, "eu_excel_customers.csv")), "--region", "CN"
    )
    assert summary["rejected"] == 0
    rows = customers(cli)
    assert rows["K-01"]["phone"] == "+49301234567"  # + prefix
    assert rows["K-02"]["phone"] == "+33142685300"  # 00 prefix
    # No prefix, but the row's country is DE and the digits start with 49: +49 151 ...
    assert rows["K-03"]["phone"] == "+4915123456789"


def test_nanp_number_under_another_region_is_suspect(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("external_id,name,phone\nA,Ann,(415) 555-0100\n", encoding="utf-8")
    summary = cli.json("customer", "import", str(src), "--region", "CN")
    assert summary["suspect_phones"] == 1
    quality = cli.json("report", "quality")
    phone = next(r for r in quality["fields"] if r["field"] == "phone")
    assert phone["suspect"] == 1 and phone["valid"] == 0


def test_extensions_are_kept_and_shown(cli: Any, tmp_path: Path) -> None:
    summary = cli.json(
        "customer",
        "import",
        str(copy(tmp_path, "us_excel_customers.csv")),
        "--region",
        "US",
        *US_NAME,
    )
    assert summary["inserted"] == 4 and summary["rejected"] == 0
    rows = customers(cli)
    assert rows["US-1"]["phone"] == "+14155550100" and rows["US-1"]["phone_ext"] is None
    assert rows["US-2"]["phone"] == "+14155550101" and rows["US-2"]["phone_ext"] == "123"
    assert rows["US-3"]["phone"] == "+12125550199" and rows["US-3"]["phone_ext"] == "45"
    shown = cli.json("customer", "show", str(rows["US-2"]["id"]))
    assert shown["phone_ext"] == "123"
    out = tmp_path / "export.csv"
    cli.ok("customer", "export", "--out", str(out))
    assert "phone_ext" in out.read_text(encoding="utf-8-sig").splitlines()[0]


def test_a_bad_phone_never_costs_the_row(cli: Any, tmp_path: Path) -> None:
    src = copy(tmp_path, "cn_excel_customers.csv")
    summary = cli.json("customer", "import", str(src), "--create-company")
    assert summary["encoding"] == "gb18030"
    assert summary["inserted"] == 4 and summary["rejected"] == 0 and summary["warnings"] == 2
    rows = customers(cli)
    assert rows["C001"]["phone"] == "+8613800138000"
    assert rows["C002"]["phone"] == "+861062532000" and rows["C002"]["phone_ext"] == "123"
    assert rows["C003"]["phone"] is None and rows["C004"]["phone"] is None
    warnings = rejects(tmp_path / "cn_excel_customers.rejects.csv")
    assert [(w["line"], w["field"]) for w in warnings] == [("4", "phone"), ("5", "phone")]
    assert warnings[0]["value"] == "无"
    strict = cli("customer", "import", str(src), "--strict-fields", "--key", "external_id")
    assert strict.exit_code == 0
    assert cli.json("customer", "import", str(src), "--strict-fields", "--dry-run")["rejected"] == 2


def test_thunderbird_address_book_with_joined_name(cli: Any, tmp_path: Path) -> None:
    src = copy(tmp_path, "thunderbird_gbk.csv")
    summary = cli.json(
        "customer",
        "import",
        str(src),
        "--map",
        "Last Name+First Name=name",
        "--map",
        "Display Name=-",
    )
    assert summary["inserted"] == 3 and summary["rejected"] == 0
    names = sorted(c["name"] for c in cli.json("customer", "list"))
    # No space between two CJK parts; a space between Latin ones.
    assert names == ["Schmidt Anna", "张伟", "李娜"]


def test_map_errors_before_any_row_is_read(cli: Any, tmp_path: Path) -> None:
    src = copy(tmp_path, "thunderbird_gbk.csv")
    two = cli("customer", "import", str(src), "--map", "First Name=name", "--map", "Last Name=name")
    assert two.exit_code == 2 and "Last Name" in two.stderr and "+" in two.stderr
    twice = cli("customer", "import", str(src), "--map", "Notes=notes", "--map", "Notes=company")
    assert twice.exit_code == 2 and "mapped twice" in twice.stderr
    assert cli.json("customer", "list") == []


def test_status_column_of_temperatures_is_an_unknown_column(cli: Any, tmp_path: Path) -> None:
    src = copy(tmp_path, "crm_contacts_status.csv")
    summary = cli.json("customer", "import", str(src), "--map", "first_name+last_name=name")
    assert summary["inserted"] == 3 and summary["rejected"] == 0
    assert "status" in summary["unknown_columns"]
    assert {c["lifecycle"] for c in cli.json("customer", "list")} == {"lead"}


def test_erp_order_lines_are_one_order_each(cli: Any, tmp_path: Path) -> None:
    base = tmp_path / "c.csv"
    base.write_text("external_id,name\nC001,Ann\nC002,Bob\n", encoding="utf-8")
    cli.ok("customer", "import", str(base))
    src = copy(tmp_path, "erp_order_lines.csv")
    summary = cli.json("order", "import", str(src))
    assert summary["inserted"] == 3 and summary["duplicates"] == 0 and summary["lines"] == 6
    orders = {o["external_id"]: o for o in cli.json("order", "list", "--limit", "0")}
    assert {k: o["amount"] for k, o in orders.items()} == {
        "SO-1": 160.5,
        "SO-2": 250.0,
        "SO-3": 186.0,
    }
    shown = cli.json("order", "show", str(orders["SO-1"]["id"]))
    assert [
        (ln["sku"], ln["quantity"], ln["unit_price"], ln["amount"]) for ln in shown["lines"]
    ] == [
        ("A-1", 2, 25.0, 50.0),
        ("B-7", 1, 80.5, 80.5),
        ("C-3", 3, 10.0, 30.0),
    ]
    again = cli.json("order", "import", str(src))
    assert again["inserted"] == 0 and again["unchanged"] == 3
    assert len(cli.json("order", "show", str(orders["SO-1"]["id"]))["lines"]) == 3


def test_ambiguous_option_dates_need_a_date_order(cli: Any) -> None:
    cli.ok("customer", "add", "--name", "Ann")
    refused = cli("comm", "log", "1", "--channel", "phone", "--at", "03/05/2024 10:00")
    assert refused.exit_code == 2 and "ambiguous" in refused.stderr
    env = {"CRM_DATE_ORDER": "dmy"}
    cli.ok("comm", "log", "1", "--channel", "phone", "--at", "03/05/2024 10:00", env=env)
    logged = cli.json("comm", "list")
    assert logged[0]["occurred_at"].startswith("2024-05-03T10:00")
    # 13/05/2024 decides itself; ISO never needs an order.
    cli.ok("comm", "log", "1", "--channel", "phone", "--at", "13/05/2024 10:00")
    cli.ok("comm", "log", "1", "--channel", "phone", "--at", "2024-03-05 10:00")
