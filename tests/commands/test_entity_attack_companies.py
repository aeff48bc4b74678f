"""`crm company import` and custom-field columns attacked with real export files: a GBK
Excel sheet with typed custom fields, ids Excel wrote in scientific notation, number cells
that are no number, and an export read into another database (real CLI, real database)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent.parent / "data" / "import" / "attack"


def rejects(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def custom_by_name(cli: Any) -> dict[str, dict[str, Any]]:
    return {
        c["name"]: cli.json("company", "show", str(c["id"]))["custom"]
        for c in cli.json("company", "list", "--limit", "0")
    }


def test_gbk_excel_sheet_with_typed_custom_fields(cli: Any, tmp_path: Path) -> None:
    cli.ok("field", "add", "company", "capital", "--type", "number", "--label", "注册资本")
    cli.ok("field", "add", "company", "listed", "--type", "bool", "--label", "是否上市")
    cli.ok("field", "add", "company", "founded", "--type", "date", "--label", "成立日期")
    out = tmp_path / "r.csv"
    summary = cli.json(
        "company", "import", str(DATA / "cn_companies_gbk.csv"), "--rejects", str(out)
    )
    assert summary["encoding"] == "gb18030" and summary["unknown_columns"] == []
    assert (summary["inserted"], summary["warnings"]) == (3, 3)
    companies = {c["name"]: c for c in cli.json("company", "list", "--limit", "0")}
    huadong = companies["上海华东贸易有限公司"]
    assert huadong["external_id"] is None  # 9.13101E+17 names no company for sure
    assert huadong["domain"] == "huadong-trade.cn"
    assert companies["北京北方制造有限公司"]["size"] == 1200
    custom = custom_by_name(cli)
    assert custom["上海华东贸易有限公司"] == {
        "capital": 1200.5, "listed": True, "founded": "2001-05-03",
    }  # fmt: skip
    assert custom["北京北方制造有限公司"] == {
        "capital": 3500, "listed": False, "founded": "1999-12-25",
    }  # fmt: skip
    assert custom["深圳南方科技有限公司"] == {"listed": True, "founded": "2010-10-10"}  # not 1e5
    reasons = {(r["line"], r["field"]): r["reason"] for r in rejects(out)}
    assert "scientific notation" in reasons[("2", "external_id")]
    assert "scientific notation" in reasons[("4", "custom.capital")]
    assert "range" in reasons[("4", "size")]


def test_a_scientific_external_id_never_inserts_a_duplicate_by_key(
    cli: Any, tmp_path: Path
) -> None:
    cli.ok("company", "add", "--name", "Acme", "--external-id", "5012345001")
    src = tmp_path / "c.csv"
    src.write_text("Record ID,Company name,Industry\n5.01235E+09,Acme Group,retail\n", "utf-8")
    summary = cli.json("company", "import", str(src), "--key", "external_id")
    assert (summary["inserted"], summary["updated"], summary["rejected"]) == (0, 0, 1)
    [row] = rejects(tmp_path / "c.rejects.csv")
    assert row["field"] == "external_id" and "scientific notation" in row["reason"]
    assert [c["name"] for c in cli.json("company", "list")] == ["Acme"]


def test_number_cells_that_are_no_number_are_warnings(cli: Any, tmp_path: Path) -> None:
    """float() read 1,2,3 as 123, 1_000 as 1000 and Excel's 1.23457E+11 as 123457000000."""
    cli.ok("field", "add", "company", "n", "--type", "number")
    src = tmp_path / "c.csv"
    src.write_text(
        'name,n\nA,1.23457E+11\nB,"1,2,3"\nC,1_000\nD,"12,345,67"\nE,"1,234.5"\nF,-7\n'
        "G,+8.25\nH,NaN\n",
        encoding="utf-8",
    )
    summary = cli.json("company", "import", str(src))
    assert summary["inserted"] == 8 and summary["warnings"] == 5
    custom = custom_by_name(cli)
    assert {k: v.get("n") for k, v in custom.items()} == {
        "A": None, "B": None, "C": None, "D": None, "E": 1234.5, "F": -7, "G": 8.25, "H": None,
    }  # fmt: skip
    warned = {r["value"] for r in rejects(tmp_path / "c.rejects.csv")}
    assert warned == {"1.23457E+11", "1,2,3", "1_000", "12,345,67", "NaN"}


def test_bool_and_choice_cells_of_real_sheets(cli: Any, tmp_path: Path) -> None:
    cli.ok("field", "add", "company", "vip", "--type", "bool")
    cli.ok("field", "add", "company", "tier", "--type", "choice", "--choices", "A,B")
    src = tmp_path / "c.csv"
    src.write_text(
        "name,vip,tier\r\nA,是,A\r\nB,否, B \r\nC,TRUE,a\r\nD,No,A;B\r\nE,√,\r\n",
        encoding="utf-8-sig",
    )
    summary = cli.json("company", "import", str(src))
    assert summary["inserted"] == 5 and summary["warnings"] == 3
    custom = custom_by_name(cli)
    assert custom["A"] == {"vip": True, "tier": "A"}
    assert custom["B"] == {"vip": False, "tier": "B"}
    assert custom["C"] == {"vip": True}  # 'a' is no choice: never the guessed 'A'
    assert custom["D"] == {"vip": False}  # two choices in one cell
    assert custom["E"] == {}


def test_an_export_into_another_database_with_create_fields_keeps_the_names(
    cli: Any, tmp_path: Path
) -> None:
    cli.ok("field", "add", "company", "tier", "--type", "text")
    cli.ok("company", "add", "--name", "Acme", "--domain", "acme.com", "--set", "tier=gold")
    src = tmp_path / "companies.csv"
    src.write_text(cli.ok("company", "export", "--format", "csv"), encoding="utf-8")
    other = tmp_path / "other.db"
    cli.ok("db", "init", str(other))
    summary = cli.json("--db", str(other), "company", "import", str(src), "--create-fields")
    assert summary["fields_created"] == [{"name": "tier", "label": None, "type": "text"}]
    [acme] = cli.json("--db", str(other), "company", "list")
    assert cli.json("--db", str(other), "company", "show", str(acme["id"]))["custom"] == {
        "tier": "gold"
    }
    again = tmp_path / "again.csv"
    again.write_text(cli.ok("--db", str(other), "company", "export", "--format", "csv"), "utf-8")
    header = again.read_text(encoding="utf-8").splitlines()[0]
    assert header.endswith(",custom.tier")  # not custom.custom_tier
    back = cli.json("--db", str(other), "company", "import", str(again), "--key", "domain")
    assert back["unchanged"] == 1 and back["unknown_columns"] == []
