"""The segment language: parsing, precedence, errors with positions, and the customers
each expression selects on a real database (compared with the obvious Python filter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crmcli.core.errors import InvalidInput
from crmcli.db import connect
from crmcli.db.segments import SegmentError, compile_segment, tokenize


def test_tokenizer_reads_values_after_operators_only() -> None:
    kinds = [(t.kind, t.text) for t in tokenize("tag = 'big spender' and not(company~Acme)")]
    assert kinds == [
        ("FIELD", "tag"),
        ("OP", "="),
        ("VALUE", "big spender"),
        ("AND", "and"),
        ("NOT", "not"),
        ("LPAREN", "("),
        ("FIELD", "company"),
        ("OP", "~"),
        ("VALUE", "Acme"),
        ("RPAREN", ")"),
        ("END", ""),
    ]
    assert [t.text for t in tokenize("created>=2024-01-01")][2] == "2024-01-01"


@pytest.mark.parametrize(
    ("expr", "column", "words"),
    [
        ("tag=vip and", 12, "ends too early"),
        ("foo=1", 1, "unknown field 'foo'"),
        ("tag>1", 4, "does not apply to tag"),
        ("(tag=vip", 9, "expected ')'"),
        ("tag=vip)", 8, "without a matching '('"),
        ("orders>=x", 9, "whole number"),
        ("tag", 4, "expected an operator"),
        ("tag=vip or or tag=x", 12, "expected a condition"),
        ("rfm=sleepy", 5, "unknown RFM segment"),
        ('tag="vip', 5, "unterminated"),
        ("spend>=lots", 8, "spend needs an amount"),
        ("last_contact=90d", 13, "use <, <=, > or >="),
        ("tag=vip; DROP TABLE customers", 10, "unexpected 'DROP'"),
        ("tag=vip & x", 9, "unexpected character '&'"),
        ("lifecycle=vip", 11, "invalid lifecycle"),
    ],
)
def test_errors_point_at_the_offending_token(expr: str, column: int, words: str) -> None:
    with pytest.raises(SegmentError) as info:
        compile_segment(expr)
    assert info.value.position == column
    assert words in info.value.message and f"column {column}" in info.value.message
    assert isinstance(info.value, InvalidInput)  # exit code 2


def test_values_are_bound_never_pasted() -> None:
    sql, params = compile_segment("name=\"x' OR 1=1 --\" or company~'%_'")
    assert "OR 1=1" not in sql and "x' OR 1=1 --" in params
    assert "%\\%\\_%" in params  # LIKE wildcards in the value are escaped


@pytest.fixture
def people(cli: Any, add_customer: Any, db_path: Path) -> dict[str, int]:
    ids = {
        "ann": add_customer("ann", tag="vip", company="Acme Ltd", lifecycle="customer"),
        "bob": add_customer("bob", tag="vip", company="Globex", lifecycle="lead"),
        "cat": add_customer("cat", tag="trial", company="ACME China", lifecycle="customer"),
        "dan": add_customer("dan", lifecycle="churned"),
    }
    for name, amount, day in [
        ("ann", "600", "2024-01-10"),
        ("ann", "700", "2024-03-01"),
        ("bob", "50", "2024-02-01"),
        ("cat", "2000", "2023-06-01"),
    ]:
        cli.ok("order", "add", str(ids[name]), "--amount", amount, "--at", day)
    db = connect(db_path)
    db.execute(
        "INSERT INTO communications(customer_id, channel, direction, occurred_at, created_at,"
        " updated_at) VALUES (?, 'phone', 'outbound', '2024-03-20T02:00:00Z', 'x', 'x')",
        (ids["bob"],),
    )
    db.close()
    return ids


def select(db_path: Path, expr: str) -> set[int]:
    from crmcli.core import clock
    from crmcli.core.validate import parse_datetime

    clock.pin(parse_datetime("2024-04-01"))
    where, params = compile_segment(expr)
    db = connect(db_path)
    try:
        return {r[0] for r in db.execute(f"SELECT c.id FROM customers c WHERE {where}", params)}
    finally:
        db.close()
        clock.pin(None)


CASES = [
    ("tag=vip", {"ann", "bob"}),
    ("tag!=vip", {"cat", "dan"}),
    ("company~acme", {"ann", "cat"}),
    ("not company~acme", {"bob", "dan"}),
    ("lifecycle=客户", {"ann", "cat"}),
    ("orders>=2", {"ann"}),
    ("orders=0", {"dan"}),
    ("spend>=1000", {"ann", "cat"}),
    ("spend<100 and orders>0", {"bob"}),
    ("tag=vip or tag=trial and spend>5000", {"ann", "bob"}),  # and binds tighter
    ("(tag=vip or tag=trial) and spend>=1000", {"ann", "cat"}),
    ("last_contact>90d", {"ann", "cat", "dan"}),  # never contacted counts as long ago
    ("last_contact<30d", {"bob"}),
    ("last_order>=2024-01-01", {"ann", "bob"}),
    ("last_order<2024-01-01", {"cat"}),
    ("last_order=2024-03-01", {"ann"}),
    ("created>=2020-01-01", {"ann", "bob", "cat", "dan"}),
    ("NOT (tag=vip AND orders>=2)", {"bob", "cat", "dan"}),
]


def test_segments_select_the_right_customers(people: dict[str, int], db_path: Path) -> None:
    for expr, names in CASES:
        assert select(db_path, expr) == {people[n] for n in names}, expr


def test_customer_list_uses_segments(cli: Any, people: dict[str, int]) -> None:
    rows = cli.json("customer", "list", "--segment", "tag=vip and orders>=2")
    assert [r["id"] for r in rows] == [people["ann"]]
    bad = cli("customer", "list", "--segment", "tag=vip and")
    assert bad.exit_code == 2 and "column 12" in bad.stderr


def test_rfm_segments_select_what_the_rfm_scores_say(people: dict[str, int], db_path: Path) -> None:
    from crmcli.db.order_stats import rfm_scores

    db = connect(db_path)
    try:
        scores = rfm_scores(db, "2024-04-01T00:00:00Z")
    finally:
        db.close()
    assert len(scores) == 3  # dan has no orders, hence no RFM segment
    for segment in {row["segment"] for row in scores}:
        expected = {row["customer_id"] for row in scores if row["segment"] == segment}
        assert select(db_path, f"rfm={segment}") == expected
        assert select(db_path, f"rfm!={segment}") == set(people.values()) - expected


def test_spend_never_adds_up_two_currencies(cli: Any, add_customer: Any) -> None:
    """100 EUR and 900 CNY are not a spend of 1000: spend sums the currency the value
    names, else the only one orders are in; with two and none named it is refused."""
    eu = add_customer("eu")
    cn = add_customer("cn")
    cli.ok("order", "add", str(eu), "--amount", "600", "--currency", "EUR", "--at", "2024-01-10")
    cli.ok("order", "add", str(eu), "--amount", "500", "--at", "2024-01-11")  # CNY
    cli.ok("order", "add", str(cn), "--amount", "900", "--at", "2024-01-12")

    def ids(expr: str) -> list[int]:
        return [r["id"] for r in cli.json("customer", "list", "--segment", expr)]

    bad = cli("customer", "list", "--segment", "spend>=1000")
    assert bad.exit_code == 2 and "2 currencies (CNY, EUR)" in bad.stderr
    assert ids("spend>=1000CNY") == []  # eu: 500 CNY, not 1,100
    assert ids("spend>=800CNY") == [cn]
    assert ids("spend>=¥800") == [cn]  # ¥ is CNY or JPY: only CNY orders exist
    assert ids("spend>=€500") == [eu]
    assert ids("spend>$1") == []  # no dollar orders: nobody has spent dollars
    bad = cli("customer", "list", "--segment", "spend>=1000", "--format", "json")
    assert bad.exit_code == 2
