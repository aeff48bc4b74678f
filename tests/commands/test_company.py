"""`crm company ...` and customers linked to companies."""

from __future__ import annotations

from typing import Any


def add_company(cli, name: str, *extra: str) -> str:  # type: ignore[no-untyped-def]
    return cli.ok("company", "add", "--name", name, *extra).strip()


def test_add_show_list(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    acme = add_company(cli, "Acme Ltd", "--domain", "ACME.com", "--industry", "制造",
                       "--size", "120", "--owner", "alice", "--tag", "key")  # fmt: skip
    add_company(cli, "星辰科技", "--industry", "软件")
    shown = cli.json("company", "show", acme)
    assert (shown["name"], shown["domain"], shown["size"]) == ("Acme Ltd", "acme.com", 120)
    assert shown["tags"] == ["key"]
    cid = cli.ok("customer", "add", "--name", "John", "--company-id", acme).strip()
    deal = cli.ok("deal", "add", "--company", acme, "--title", "T", "--amount", "100").strip()
    cli.ok("deal", "won", deal)
    shown = cli.json("company", "show", acme)
    assert [c["id"] for c in shown["contacts"]] == [int(cid)]
    assert shown["won_amount"] == 100.0
    assert shown["open_deals"] == []
    assert [c["name"] for c in cli.json("company", "list", "--search", "acme")] == ["Acme Ltd"]
    assert [c["name"] for c in cli.json("company", "list", "--tag", "key")] == ["Acme Ltd"]
    assert [c["name"] for c in cli.json("company", "list", "--owner", "alice")] == ["Acme Ltd"]
    assert len(cli.json("company", "list")) == 2


def test_names_are_unique_after_normalising(cli) -> None:  # type: ignore[no-untyped-def]
    add_company(cli, "Acme Ltd")
    assert cli("company", "add", "--name", "  ACME   ltd ").exit_code == 4
    assert cli("company", "add", "--name", "Other", "--domain", "not a domain").exit_code == 2
    assert cli("company", "add", "--name", "Other", "--size", "-3").exit_code == 2


def test_customer_company_by_name(cli) -> None:  # type: ignore[no-untyped-def]
    acme = add_company(cli, "Acme Ltd")
    cid = cli.ok("customer", "add", "--name", "Ann", "--company", "acme  LTD").strip()
    shown = cli.json("customer", "show", cid)
    assert shown["company_id"] == int(acme) and shown["company"] == "Acme Ltd"
    # A missing company is created only on request.
    cid2 = cli.ok("customer", "add", "--name", "Bob", "--company", "Globex",
                  "--create-company").strip()  # fmt: skip
    globex = cli.json("customer", "show", cid2)["company_id"]
    assert cli.json("company", "show", str(globex))["name"] == "Globex"
    assert cli("customer", "add", "--name", "C", "--company-id", "999").exit_code == 3
    cli.ok("customer", "update", cid, "--company-id", str(globex))
    assert cli.json("customer", "show", cid)["company"] == "Globex"
    # Still findable by the company's text, as before.
    assert {r["name"] for r in cli.json("customer", "list", "--company", "glob")} == {"Ann", "Bob"}


def test_link_by_domain(cli) -> None:  # type: ignore[no-untyped-def]
    acme = add_company(cli, "Acme", "--domain", "acme.com")
    add_company(cli, "Mail", "--domain", "qq.com")
    a = cli.ok("customer", "add", "--name", "A", "--email", "a@ACME.com",
               "--link-by-domain").strip()  # fmt: skip
    assert cli.json("customer", "show", a)["company_id"] == int(acme)
    b = cli.ok("customer", "add", "--name", "B", "--email", "b@acme.com").strip()
    assert cli.json("customer", "show", b)["company_id"] is None  # opt-in only
    c = cli.ok("customer", "add", "--name", "C", "--email", "c@qq.com", "--link-by-domain").strip()
    assert cli.json("customer", "show", c)["company_id"] is None  # free mail never links


def test_update_delete(cli) -> None:  # type: ignore[no-untyped-def]
    acme = add_company(cli, "Acme")
    diff = {r["field"]: r for r in cli.json("company", "update", acme, "--industry", "retail")}
    assert (diff["industry"]["old"], diff["industry"]["new"]) == (None, "retail")
    cid = cli.ok("customer", "add", "--name", "Ann", "--company-id", acme).strip()
    assert cli("company", "delete", acme, "--yes").exit_code == 4  # has a contact
    cli.ok("company", "delete", acme, "--yes", "--cascade")
    shown = cli.json("customer", "show", cid)
    assert shown["company_id"] is None
    assert cli("company", "show", acme).exit_code == 3


def test_segments_on_company(cli) -> None:  # type: ignore[no-untyped-def]
    acme = add_company(cli, "Acme", "--industry", "制造", "--size", "500")
    small = add_company(cli, "Small", "--industry", "制造", "--size", "10")
    cli.ok("customer", "add", "--name", "Ann", "--company-id", acme)
    cli.ok("customer", "add", "--name", "Bob", "--company-id", small)
    cli.ok("customer", "add", "--name", "Cat")

    def names(expr: str) -> list[str]:
        return [r["name"] for r in cli.json("customer", "list", "--segment", expr)]

    assert names("company=acme") == ["Ann"]
    assert names("company.industry=制造") == ["Ann", "Bob"]
    assert names("company.size>=100") == ["Ann"]
    assert names("not company.size>=100") == ["Bob", "Cat"]
    assert cli("customer", "list", "--segment", "company.nosuch=1").exit_code == 2
    assert cli("customer", "list", "--segment", "company.size>=big").exit_code == 2


def test_export(cli) -> None:  # type: ignore[no-untyped-def]
    add_company(cli, "=Acme", "--domain", "acme.com")
    out = cli.ok("company", "export", "--format", "csv")
    assert out.splitlines()[0].startswith("id,")
    assert "'=Acme" in out or "=Acme" not in out.split("\n", 1)[1].split(",")[1:2]


def test_company_name_without_a_match_fails_naming_create_company(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("customer", "add", "--name", "Ann", "--company", "Nowhere Ltd")
    assert result.exit_code == 3
    assert "no company named 'Nowhere Ltd'" in result.stderr
    assert "--create-company" in result.stderr and "Traceback" not in result.stderr
    assert cli.json("customer", "list") == []  # nothing half-written
    cid = cli.ok("customer", "add", "--name", "Bob").strip()
    assert cli("customer", "update", cid, "--company", "Nowhere Ltd").exit_code == 3
    assert cli.json("customer", "show", cid)["company"] is None


def test_company_tags_split_and_updates_say_what_changed(cli: Any) -> None:
    """`--tag "a;b"` is two tags, as everywhere else (it had been the one tag `a;b`, which an
    export read back split in two); custom values and tags an update changes are shown."""
    cli.ok("field", "add", "company", "tier", "--type", "text")
    cid = cli.ok("company", "add", "--name", "Zeta", "--tag", "a;b").strip()
    assert cli.json("company", "show", cid)["tags"] == ["a", "b"]
    changes = cli.json("company", "update", cid, "--set", "tier=gold")
    assert [c["field"] for c in changes] == ["custom.tier"]
    changes = cli.json("company", "update", cid, "--add-tag", "c,d", "--remove-tag", "a")
    assert [(c["field"], c["old"], c["new"]) for c in changes] == [("tags", "a;b", "b;c;d")]
    assert cli.json("company", "update", cid, "--set", "tier=gold") == []
