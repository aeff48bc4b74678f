"""`crm field ...` and `--set NAME=VALUE`: custom fields through add, show, segment, export."""

from __future__ import annotations

import csv
import io


def test_define_and_list(cli) -> None:  # type: ignore[no-untyped-def]
    cli.ok("field", "add", "customer", "region", "--type", "choice", "--choices", "华东,华北,华南",
           "--label", "区域")  # fmt: skip
    cli.ok("field", "add", "customer", "score", "--type", "number")
    cli.ok("field", "add", "deal", "signed", "--type", "bool")
    fields = cli.json("field", "list")
    assert [(f["entity"], f["name"], f["type"]) for f in fields] == [
        ("customer", "region", "choice"),
        ("customer", "score", "number"),
        ("deal", "signed", "bool"),
    ]
    assert fields[0]["choices"] == ["华东", "华北", "华南"] and fields[0]["label"] == "区域"
    assert [f["name"] for f in cli.json("field", "list", "deal")] == ["signed"]
    assert cli("field", "add", "customer", "score", "--type", "number").exit_code == 4
    assert cli("field", "add", "customer", "x", "--type", "blob").exit_code == 2
    assert cli("field", "add", "planet", "x", "--type", "text").exit_code == 2
    assert cli("field", "add", "customer", "x", "--type", "choice").exit_code == 2  # no choices
    assert cli("field", "add", "customer", "bad name", "--type", "text").exit_code == 2


def test_set_validates_by_type(cli) -> None:  # type: ignore[no-untyped-def]
    cli.ok("field", "add", "customer", "region", "--type", "choice", "--choices", "华东,华北")
    cli.ok("field", "add", "customer", "score", "--type", "number")
    cli.ok("field", "add", "customer", "since", "--type", "date")
    cli.ok("field", "add", "customer", "vip", "--type", "bool")
    cid = cli.ok("customer", "add", "--name", "Ann", "--set", "region=华东", "--set", "score=85",
                 "--set", "since=2024-03-01", "--set", "vip=yes").strip()  # fmt: skip
    shown = cli.json("customer", "show", cid)
    assert shown["custom"] == {"region": "华东", "score": 85, "since": "2024-03-01", "vip": True}
    for bad in ("region=西北", "score=many", "since=someday", "vip=perhaps", "nosuch=1", "score"):
        result = cli("customer", "update", cid, "--set", bad)
        assert result.exit_code == 2, bad
        assert "Traceback" not in result.stderr
    assert cli("customer", "add", "--name", "B", "--set", "score=x").exit_code == 2
    assert len(cli.json("customer", "list")) == 1  # nothing half-written
    cli.ok("customer", "update", cid, "--set", "score=90.5", "--set", "region=")
    assert cli.json("customer", "show", cid)["custom"] == {
        "score": 90.5,
        "since": "2024-03-01",
        "vip": True,
    }


def test_set_number_decides_its_own_separators(cli) -> None:  # type: ignore[no-untyped-def]
    """`--set score=1,5` is 1.5 (a decimal comma), never 15; `1,500` alone reads two ways and
    is refused; an ambiguous date names --date-order."""
    cli.ok("field", "add", "customer", "score", "--type", "number")
    cli.ok("field", "add", "customer", "since", "--type", "date")
    cid = cli.ok("customer", "add", "--name", "Ann", "--set", "score=1,5").strip()
    assert cli.json("customer", "show", cid)["custom"] == {"score": 1.5}
    for value, stored in (("1.234,5", 1234.5), ("1,234.5", 1234.5), ("-2.25", -2.25)):
        cli.ok("customer", "update", cid, "--set", f"score={value}")
        assert cli.json("customer", "show", cid)["custom"] == {"score": stored}, value
    for ambiguous in ("1,500", "1.500"):
        result = cli("customer", "update", cid, "--set", f"score={ambiguous}")
        assert result.exit_code == 2 and "ambiguous" in result.stderr, ambiguous
    for no_number in ("1e5", "1_000", "1,2,3", "inf", "nan"):  # float() reads all but 1,2,3
        result = cli("customer", "update", cid, "--set", f"score={no_number}")
        assert result.exit_code == 2 and "number field" in result.stderr, no_number
    result = cli("customer", "update", cid, "--set", "since=03/05/2024")
    assert result.exit_code == 2 and "--date-order" in result.stderr
    cli.ok("customer", "update", cid, "--set", "since=03/05/2024", "--date-order", "dmy")
    assert cli.json("customer", "show", cid)["custom"] == {"score": -2.25, "since": "2024-05-03"}


def test_other_entities(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    cid = str(add_customer("Ann"))
    cli.ok("field", "add", "company", "tier", "--type", "text")
    cli.ok("field", "add", "deal", "signed", "--type", "bool")
    cli.ok("field", "add", "ticket", "sku", "--type", "text")
    company = cli.ok("company", "add", "--name", "Acme", "--set", "tier=gold").strip()
    assert cli.json("company", "show", company)["custom"] == {"tier": "gold"}
    deal = cli.ok("deal", "add", "--customer", cid, "--title", "T", "--amount", "1",
                  "--set", "signed=false").strip()  # fmt: skip
    assert cli.json("deal", "show", deal)["custom"] == {"signed": False}
    cli.ok("deal", "update", deal, "--set", "signed=true")
    assert cli.json("deal", "show", deal)["custom"] == {"signed": True}
    ticket = cli.ok("ticket", "open", cid, "--subject", "s", "--set", "sku=A-1").strip()
    assert cli.json("ticket", "show", ticket)["custom"] == {"sku": "A-1"}
    cli.ok("ticket", "update", ticket, "--set", "sku=B-2")
    assert cli.json("ticket", "show", ticket)["custom"] == {"sku": "B-2"}
    assert cli("ticket", "update", ticket, "--set", "nosuch=1").exit_code == 2


def test_segments_and_export(cli) -> None:  # type: ignore[no-untyped-def]
    cli.ok("field", "add", "customer", "region", "--type", "text", "--label", "区域")
    cli.ok("field", "add", "customer", "score", "--type", "number")
    cli.ok("customer", "add", "--name", "Ann", "--set", "region=华东", "--set", "score=85")
    cli.ok("customer", "add", "--name", "Bob", "--set", "region=华北", "--set", "score=60")
    cli.ok("customer", "add", "--name", "Cat")

    def names(expr: str) -> list[str]:
        return [r["name"] for r in cli.json("customer", "list", "--segment", expr)]

    assert names("custom.region=华东") == ["Ann"]
    assert names("custom.score>=80") == ["Ann"]
    assert names("custom.score<80") == ["Bob"]
    assert names("not custom.score>=80") == ["Bob", "Cat"]
    assert names("custom.region~华") == ["Ann", "Bob"]
    assert cli("customer", "list", "--segment", "custom.nosuch=1").exit_code == 2
    assert cli("customer", "list", "--segment", "custom.score>=lots").exit_code == 2
    rows = list(csv.DictReader(io.StringIO(cli.ok("customer", "export", "--format", "csv"))))
    assert [(r["name"], r["custom.region"], r["custom.score"]) for r in rows] == [
        ("Ann", "华东", "85"),
        ("Bob", "华北", "60"),
        ("Cat", "", ""),
    ]


def test_remove(cli) -> None:  # type: ignore[no-untyped-def]
    cli.ok("field", "add", "customer", "score", "--type", "number")
    cid = cli.ok("customer", "add", "--name", "Ann", "--set", "score=1").strip()
    assert cli("field", "remove", "customer", "score").exit_code == 4
    cli.ok("field", "remove", "customer", "score", "--drop-values")
    assert cli.json("customer", "show", cid)["custom"] == {}
    assert cli("field", "remove", "customer", "score").exit_code == 3
