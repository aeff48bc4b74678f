"""analytics.dedupe.find_duplicate_groups: exact and fuzzy matches, scores, blocking."""

from __future__ import annotations

import random

import pytest
from rapidfuzz import fuzz

from crmcli.analytics import dedupe
from crmcli.analytics.dedupe import find_duplicate_groups


def row(i: int, name: str, **kw: str) -> dict:
    return {"id": i, "name": name, **kw}


def ids(groups: list[dict]) -> list[list[int]]:
    return [[c["id"] for c in g["customers"]] for g in groups]


def test_same_email_or_phone_are_exact_groups_with_score_100() -> None:
    rows = [
        row(1, "Ann", email="Ann@Example.com"),
        row(2, "Someone Else", email=" ann@example.com "),
        row(3, "张伟", phone="+8613800138000"),
        row(4, "张伟伟", phone="+86 138 0013 8000"),
        row(5, "Unrelated", email="u@example.com", phone="+8613900139000"),
    ]
    groups = find_duplicate_groups(rows, 90)
    assert ids(groups) == [[1, 2], [3, 4]]
    assert [g["reason"] for g in groups] == ["same email", "same phone"]
    assert all(g["score"] == 100 for g in groups)
    assert [g["group"] for g in groups] == [1, 2]


def test_chains_join_into_one_group_with_every_reason() -> None:
    rows = [
        row(1, "A", email="a@x.com"),
        row(2, "B", email="a@x.com", phone="+8613800138000"),
        row(3, "C", phone="+8613800138000"),
    ]
    (group,) = find_duplicate_groups(rows)
    assert ids([group]) == [[1, 2, 3]]
    assert group["reason"] == "same email, same phone"


def test_similar_name_same_company_score_is_weighted_ratio() -> None:
    rows = [
        row(1, "Jonathan Smith", company="Acme Ltd"),
        row(2, "Jonathon Smith", company="ACME Limited"),
        row(3, "Mary Jones", company="Acme Ltd"),
    ]
    (group,) = find_duplicate_groups(rows, 85)
    assert ids([group]) == [[1, 2]]
    expected = 0.6 * fuzz.ratio("jonathan smith", "jonathon smith") + 0.4 * 100
    assert group["score"] == pytest.approx(expected, abs=0.6)
    assert group["reason"] == "similar name + same company"


def test_same_name_similar_address_and_the_name_alone_is_not_enough() -> None:
    rows = [
        row(1, "张伟", address="北京市朝阳区建国路88号"),
        row(2, "张 伟", address="北京市朝阳区建国路88号院"),
        row(3, "张伟", address="广州市天河区体育西路1号"),
        row(4, "张伟"),
        row(5, "张伟", company="乙公司"),
    ]
    groups = find_duplicate_groups(rows, 90)
    assert ids(groups) == [[1, 2]]
    sim = fuzz.ratio("北京市朝阳区建国路88号", "北京市朝阳区建国路88号院")
    assert groups[0]["score"] == pytest.approx(60 + 0.4 * sim, abs=0.6)
    assert groups[0]["reason"] == "same name + similar address"


def test_threshold_controls_fuzzy_matches_only() -> None:
    rows = [
        row(1, "Robert Brown", company="Globex"),
        row(2, "Rob Brown", company="Globex Corp"),
        row(3, "X", email="x@x.com"),
        row(4, "Y", email="x@x.com"),
    ]
    sim = fuzz.ratio("brown robert", "brown rob")
    score = 0.6 * sim + 40
    assert ids(find_duplicate_groups(rows, score + 1)) == [[3, 4]]
    loose = find_duplicate_groups(rows, score - 1)
    assert ids(loose) == [[3, 4], [1, 2]]
    assert ids(find_duplicate_groups(rows, 100)) == [[3, 4]]
    with pytest.raises(ValueError):
        find_duplicate_groups(rows, 101)


def test_limit_and_order_strongest_first() -> None:
    rows = [row(i, f"P{i}", email=f"e{i // 2}@x.com") for i in range(1, 11)]
    groups = find_duplicate_groups(rows, limit=2)
    assert len(groups) == 2 and [g["group"] for g in groups] == [1, 2]
    assert find_duplicate_groups([]) == []


def test_oversized_blocks_are_windowed_but_still_find_close_pairs(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(dedupe, "MAX_BLOCK", 20)
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    rows = []
    for i in range(200):
        name = "".join(rng.choice(alphabet) for _ in range(10))
        rows.append(row(i, name, company="Same Co"))
    rows.append(row(1000, rows[57]["name"] + "x", company="Same Co"))  # sorts next to 57
    groups = find_duplicate_groups(rows, 90)
    assert [1000, 57] in [sorted(g, reverse=True) for g in ids(groups)]


def test_normalisers() -> None:
    assert dedupe.normalise_name("Smith,  John") == dedupe.normalise_name("john smith")
    assert dedupe.normalise_name("张 伟") == "张伟"
    assert dedupe.normalise_company("华为技术有限公司") == "华为技术"
    assert dedupe.normalise_company("Acme, Inc.") == dedupe.normalise_company("ACME")
    assert dedupe.normalise_phone("+86 138-0013-8000") == "+8613800138000"
    assert dedupe.normalise_phone("8613800138000") == "+8613800138000"
    assert dedupe.normalise_phone("12-34") == ""


def test_same_name_on_the_same_street_but_another_house_is_not_a_duplicate() -> None:
    rows = [
        row(1, "宋华", address="上海市浦东新区343号"),
        row(2, "宋华", address="上海市浦东新区58号"),
        row(3, "宋华", address="上海市浦东新区 343 号"),
    ]
    assert ids(find_duplicate_groups(rows, 90)) == [[1, 3]]


def test_group_score_is_weakest_joining_link_and_keeps_all_reasons() -> None:
    rows = [
        row(1, "Jonathan Smith", company="Acme", email="js@x.com"),
        row(2, "Jonathon Smith", company="Acme", email="js@x.com"),
        row(3, "Jonathan Smyth", company="Acme"),
    ]
    (group,) = find_duplicate_groups(rows, 80)
    assert ids([group]) == [[1, 2, 3]]
    assert group["reason"] == "same email, similar name + same company"
    joining = fuzz.ratio("jonathan smith", "jonathan smyth")  # 1-3; 1-2 was already joined
    assert group["score"] == pytest.approx(0.6 * joining + 40, abs=0.1)
    assert group["score"] < 100


def test_many_identical_rows_form_one_group_and_missing_keys_are_fine() -> None:
    rows = [{"id": i, "name": "Ann Lee", "company": "Acme Inc"} for i in range(1, 301)]
    rows += [{"id": 400, "name": "Ann Lee"}, {"id": 401}]
    (group,) = find_duplicate_groups(rows)
    assert ids([group]) == [list(range(1, 301))]
    assert group["score"] == 100.0 and group["reason"] == "similar name + same company"
    assert group["customers"][0] == {
        "id": 1,
        "name": "Ann Lee",
        "email": None,
        "phone": None,
        "company": "Acme Inc",
        "address": None,
    }
