"""analytics.dedupe.find_duplicate_groups: evidence, weights, weakest links, blocking."""

from __future__ import annotations

import random

import pytest
from rapidfuzz import fuzz

from crmcli.analytics import dedupe
from crmcli.analytics.dedupe import WEIGHTS, find_duplicate_groups


def row(i: int, name: str, **kw: str) -> dict:
    return {"id": i, "name": name, **kw}


def ids(groups: list[dict]) -> list[list[int]]:
    return [[c["id"] for c in g["customers"]] for g in groups]


def test_same_email_or_phone_pairs_score_their_weight() -> None:
    rows = [
        row(1, "Ann", email="Ann@Example.com"),
        row(2, "Someone Else", email=" ann@example.com "),
        row(3, "张伟", phone="+8613800138000"),
        row(4, "李娜", phone="+86 138 0013 8000"),
        row(5, "Unrelated", email="u@example.com", phone="+8613900139000"),
    ]
    groups = find_duplicate_groups(rows, 50)
    assert ids(groups) == [[1, 2], [3, 4]]
    assert [g["reason"] for g in groups] == ["same email", "same phone"]
    assert [g["score"] for g in groups] == [WEIGHTS["email"], WEIGHTS["phone"]]
    assert not any(g["auto_merge"] for g in groups)
    assert [g["group"] for g in groups] == [1, 2]


def test_evidence_adds_up_and_is_capped_at_100() -> None:
    rows = [
        row(1, "Jonathan Smith", email="js@x.com", phone="+8613800138000", company="Acme"),
        row(2, "Jonathon Smith", email="js@x.com", phone="+8613800138000", company="ACME Ltd"),
    ]
    (group,) = find_duplicate_groups(rows)
    (link,) = group["links"]
    sim = fuzz.ratio("jonathan smith", "jonathon smith")
    assert link["evidence"] == {
        "email": 55.0,
        "phone": 50.0,
        "name": round(35 * sim / 100, 1),
        "company": 10.0,
    }
    assert link["score"] == 100.0 and group["auto_merge"]
    assert group["reason"] == "same email, same phone, similar name, same company"


def test_similar_name_same_company_and_address_stays_below_auto_merge() -> None:
    rows = [
        row(1, "Jonathan Smith", company="Acme Ltd", address="1 Main St"),
        row(2, "Jonathon Smith", company="ACME Limited", address="1 Main St."),
        row(3, "Mary Jones", company="Acme Ltd"),
    ]
    (group,) = find_duplicate_groups(rows, 0)
    assert ids([group]) == [[1, 2]]
    sim = fuzz.ratio("jonathan smith", "jonathon smith")
    expected = round(35 * sim / 100, 1) + 10 + 25
    assert group["score"] == pytest.approx(expected, abs=0.11)
    assert group["score"] < dedupe.AUTO_MERGE_THRESHOLD and not group["auto_merge"]


def test_same_name_similar_address_and_the_name_alone_is_not_enough() -> None:
    rows = [
        row(1, "张伟", address="北京市朝阳区建国路88号"),
        row(2, "张 伟", address="北京市朝阳区建国路88号院"),
        row(3, "张伟", address="广州市天河区体育西路1号"),
        row(4, "张伟"),
        row(5, "张伟", company="乙公司"),
    ]
    groups = find_duplicate_groups(rows)
    assert ids(groups) == [[1, 2]]
    sim = fuzz.ratio("北京市朝阳区建国路88号", "北京市朝阳区建国路88号院")
    assert groups[0]["score"] == pytest.approx(35 + 25 * sim / 100, abs=0.11)
    assert groups[0]["reason"] == "same name, similar address"


def test_threshold_controls_what_is_reported() -> None:
    rows = [
        row(1, "Robert Brown", company="Globex", address="5 Elm Road"),
        row(2, "Robert Browne", company="Globex Corp", address="5 Elm Road"),
        row(3, "X", email="x@x.com"),
        row(4, "Y", email="x@x.com"),
    ]
    sim = fuzz.ratio("brown robert", "browne robert")
    score = round(35 * sim / 100, 1) + 10 + 25
    assert score > WEIGHTS["email"]
    assert ids(find_duplicate_groups(rows, score + 1)) == []
    assert ids(find_duplicate_groups(rows, score - 1)) == [[1, 2]]
    assert ids(find_duplicate_groups(rows, 50)) == [[1, 2], [3, 4]]
    assert ids(find_duplicate_groups(rows, 100)) == []
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
        rows.append(row(i, name, company="Same Co", address="9 Long Road"))
    rows.append(row(1000, rows[57]["name"] + "x", company="Same Co", address="9 Long Road"))
    groups = find_duplicate_groups(rows)
    assert [1000, 57] in [sorted(g, reverse=True) for g in ids(groups)]


def test_normalisers() -> None:
    assert dedupe.name_match_key("Smith,  John") == dedupe.name_match_key("john smith")
    assert dedupe.name_match_key("张 伟") == "张伟"
    assert dedupe.company_match_key("华为技术有限公司") == "华为技术"
    assert dedupe.company_match_key("Acme, Inc.") == dedupe.company_match_key("ACME")
    assert dedupe.phone_match_key("+86 138-0013-8000") == "+8613800138000"
    assert dedupe.phone_match_key("8613800138000") == "+8613800138000"
    assert dedupe.phone_match_key("12-34") == ""


def test_same_name_on_the_same_street_but_another_house_is_not_a_duplicate() -> None:
    rows = [
        row(1, "宋华", address="上海市浦东新区343号"),
        row(2, "宋华", address="上海市浦东新区58号"),
        row(3, "宋华", address="上海市浦东新区 343 号"),
    ]
    assert ids(find_duplicate_groups(rows)) == [[1, 3]]


def test_group_score_is_its_weakest_link_and_keeps_all_reasons() -> None:
    rows = [
        row(1, "Jonathan Smith", company="Acme", email="js@x.com"),
        row(2, "Jonathon Smith", company="Acme", email="js@x.com"),
        row(3, "Jonathan Smyth", company="Acme"),
    ]
    (group,) = find_duplicate_groups(rows, 40)
    assert ids([group]) == [[1, 2, 3]]
    joining = round(35 * fuzz.ratio("jonathan smith", "jonathan smyth") / 100, 1) + 10
    assert group["score"] == pytest.approx(joining, abs=0.11)
    assert group["weakest_link"]["b"] == 3 and group["weakest_link"]["a"] == 1
    assert len(group["links"]) == 2 and group["links"][0]["score"] > group["score"]
    assert group["reason"] == "same email, similar name, same company"


def test_a_member_sharing_only_a_phone_pulls_the_group_down() -> None:
    rows = [
        row(1, "Ann Lee", email="ann@x.com", phone="+8613800138000"),
        row(2, "Ann Lee", email="ann@x.com", phone="+8613800138000"),
        row(3, "Zed Q", phone="+8613800138000"),
    ]
    (group,) = find_duplicate_groups(rows)
    assert ids([group]) == [[1, 2, 3]]
    assert group["score"] == WEIGHTS["phone"] and not group["auto_merge"]
    assert group["weakest_link"]["evidence"] == {"phone": WEIGHTS["phone"]}


def test_many_identical_rows_form_one_group_and_missing_keys_are_fine() -> None:
    rows = [
        {"id": i, "name": "Ann Lee", "company": "Acme Inc", "address": "1 Main St"}
        for i in range(1, 301)
    ]
    rows += [{"id": 400, "name": "Ann Lee"}, {"id": 401}]
    (group,) = find_duplicate_groups(rows)
    assert ids([group]) == [list(range(1, 301))]
    assert group["score"] == 70.0 and group["reason"] == "same name, same company, same address"
    assert len(group["links"]) == 299
    assert group["customers"][0] == {
        "id": 1,
        "name": "Ann Lee",
        "email": None,
        "phone": None,
        "company": "Acme Inc",
        "address": "1 Main St",
    }


def test_medium_blocks_find_the_pairs_the_cdist_matrix_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Blocks of 9..64 use rapidfuzz's extract_iter (no numpy import): the same pairs, in
    the same order, as the cdist matrix used for larger blocks."""
    rng = random.Random(1)
    names = ["张伟", "张玮", "王芳", "John Smith", "Jon Smith", "Jane Smyth", "Ann Lee", "", "a"]
    for _ in range(100):
        n = rng.randint(9, dedupe.MEDIUM_BLOCK)
        values = [rng.choice(names) + rng.choice(["", "x", " jr", "明"]) for _ in range(n)]
        members = list(range(100, 100 + n))
        cutoff = rng.choice([0, 50, 88.5, 100])
        got = list(dedupe._pairs(values, members, cutoff))
        with monkeypatch.context() as patch:
            patch.setattr(dedupe, "MEDIUM_BLOCK", 0)
            assert list(dedupe._pairs(values, members, cutoff)) == got
