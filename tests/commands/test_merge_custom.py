"""`customer merge` keeps the dropped customers' custom-field values; unmerge gives them back."""

from __future__ import annotations

from typing import Any


def custom(cli: Any, cid: int) -> dict[str, Any]:
    return cli.json("customer", "show", str(cid))["custom"]


def test_merge_takes_over_missing_values_and_records_conflicts(cli: Any) -> None:
    cli.ok("field", "add", "customer", "region", "--type", "text")
    cli.ok("field", "add", "customer", "score", "--type", "number")
    cli.ok("field", "add", "customer", "vip", "--type", "bool")
    keep = cli.json("customer", "add", "--name", "Ann", "--set", "region=华东")["id"]
    drop = cli.json(
        "customer", "add", "--name", "Ann B", "--set", "region=华北", "--set", "score=80"
    )["id"]
    drop2 = cli.json("customer", "add", "--name", "A.", "--set", "score=10", "--set", "vip=yes")[
        "id"
    ]
    plan = cli.json("customer", "merge", str(keep), str(drop), str(drop2), "--dry-run")
    assert [m["field"] for m in plan["custom"]["moved"]] == ["score", "vip"]
    assert custom(cli, drop) == {"region": "华北", "score": 80}  # dry run: nothing moved
    result = cli.json("customer", "merge", str(keep), str(drop), str(drop2), "--yes")
    assert custom(cli, keep) == {"region": "华东", "score": 80, "vip": True}
    assert {
        (c["field"], c["from"], c["value"], c["kept"]) for c in result["custom"]["conflicts"]
    } == {
        ("region", drop, "华北", "华东"),
        ("score", drop2, 10, 80),
    }
    entry = next(e for e in cli.json("audit", "list", "--limit", "0") if e["action"] == "merge")
    assert entry["details"]["custom"]["conflicts"]  # the dropped values are in the audit entry
    seg = cli.json("customer", "list", "--segment", "custom.score>=50")
    assert [r["id"] for r in seg] == [keep]
    cli.ok("customer", "unmerge", str(result["audit_id"]), "--yes")
    assert custom(cli, keep) == {"region": "华东"}
    assert custom(cli, drop) == {"region": "华北", "score": 80}
    assert custom(cli, drop2) == {"score": 10, "vip": True}


def test_list_json_and_csv_carry_custom_values(cli: Any) -> None:
    cli.ok("field", "add", "customer", "region", "--type", "text")
    a = cli.json("customer", "add", "--name", "Ann", "--set", "region=华东")["id"]
    b = cli.json("customer", "add", "--name", "Bob")["id"]
    rows = {r["id"]: r for r in cli.json("customer", "list")}
    assert rows[a]["custom"] == {"region": "华东"} and rows[b]["custom"] == {}
    text = cli("customer", "list", "--format", "csv").stdout.splitlines()
    assert text[0].endswith(",custom.region") and text[1].endswith(",华东")
