"""`customer duplicates` explains its scores (#13): per-pair evidence with documented
weights, name + company alone never reaches the auto-merge threshold, a group reports its
weakest link."""

from __future__ import annotations

from rapidfuzz import fuzz

# The documented weights (README "Duplicates and merging").
EMAIL, PHONE, NAME, COMPANY, ADDRESS = 55, 50, 35, 10, 25
AUTO_MERGE = 90


def test_same_name_and_company_alone_stays_below_auto_merge(cli, add_customer) -> None:
    a = add_customer("张伟", company="甲公司")
    b = add_customer("张伟", company="甲公司有限公司")
    groups = cli.json("customer", "duplicates", "--threshold", "0")
    (group,) = groups
    assert [c["id"] for c in group["customers"]] == [a, b]
    assert group["score"] == NAME + COMPANY < AUTO_MERGE
    assert group["auto_merge"] is False
    (link,) = group["links"]
    assert link["evidence"] == {"name": NAME, "company": COMPANY}
    # the default threshold is documented to leave it out
    assert cli.json("customer", "duplicates") == []


def test_evidence_adds_up_with_the_documented_weights(cli, add_customer) -> None:
    a = add_customer("Jonathan Smith", phone="13800138000", company="Acme Ltd")
    b = add_customer("Jonathon Smith", phone="+86 138 0013 8000", company="ACME Limited")
    (group,) = cli.json("customer", "duplicates")
    (link,) = group["links"]
    sim = fuzz.ratio("jonathan smith", "jonathon smith")
    assert link["a"] == a and link["b"] == b
    assert link["evidence"]["phone"] == PHONE
    assert link["evidence"]["company"] == COMPANY
    assert abs(link["evidence"]["name"] - NAME * sim / 100) < 0.06
    assert "email" not in link["evidence"] and "address" not in link["evidence"]
    assert abs(link["score"] - (PHONE + COMPANY + NAME * sim / 100)) < 0.11
    assert group["auto_merge"] is True


def test_a_shared_phone_alone_is_reported_but_not_auto_merged(cli, add_customer) -> None:
    add_customer("Ann Lee", email="family@example.com")
    add_customer("Bob Lee", email="family@example.com.cn")
    add_customer("Carl Lee", phone="13800138000")
    add_customer("Dora Wu", phone="+86 138 0013 8000")
    groups = cli.json("customer", "duplicates")
    assert len(groups) == 1
    (group,) = groups
    assert group["score"] == PHONE and group["auto_merge"] is False
    assert group["links"][0]["evidence"] == {"phone": PHONE}


def test_group_reports_its_weakest_link(cli, add_customer) -> None:
    a = add_customer("Ann Lee", phone="13800138000", address="1 Main St")
    b = add_customer("Ann Lee", phone="13800138000", address="1 Main St.")
    c = add_customer("Someone Else", phone="13800138000")  # shares only the phone
    (group,) = cli.json("customer", "duplicates")
    assert [x["id"] for x in group["customers"]] == [a, b, c]
    weakest = group["weakest_link"]
    assert weakest["score"] == PHONE == group["score"]
    assert c in (weakest["a"], weakest["b"])
    strongest = max(group["links"], key=lambda link: link["score"])
    assert {strongest["a"], strongest["b"]} == {a, b} and strongest["score"] == 100
    # the table view names the weakest link too
    table = cli.ok("customer", "duplicates")
    assert "weakest" in table.lower() or "phone" in table
