"""Every CSV import goes through one pipeline and honours the same options identically.

One test per behaviour, each parametrised over the seven imports (customer, comm, order,
ticket, campaign import-results, company, deal). Each case's file has a good row, a row missing a required
field, and another good row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BASE = (
    "external_id,name,email,phone,tags\n"
    "C1,Ann,ann@example.com,13800138000,vip\n"
    "C2,Bob,bob@example.com,13900139000,vip\n"
    "C3,Cy,cy@example.com,13700137000,vip\n"
)


@dataclass
class Case:
    name: str
    command: list[str]
    csv: str
    count_args: list[str]
    required: str  # the field whose absence rejects line 3
    names_customer: bool = True  # rows name a customer (--customer-key applies)


CASES = [
    Case(
        "customer",
        ["customer", "import"],
        "external_id,name,email\nN1,Neu,neu@example.com\nN2,,x@example.com\nN3,Neu Drei,\n",
        ["customer", "list", "--limit", "0"],
        "name",
    ),
    Case(
        "comm",
        ["comm", "import"],
        "customer_external_id,occurred_at,channel,subject\n"
        "C1,2024-03-05 10:00,phone,Hello\nC1,2024-03-05 11:00,,No channel\n"
        "C2,2024-03-06 10:00,email,Hi\n",
        ["comm", "list", "--limit", "0"],
        "channel",
    ),
    Case(
        "order",
        ["order", "import"],
        "external_id,customer_external_id,ordered_at,amount\n"
        "O1,C1,2024-03-05,10.00\nO2,C1,2024-03-05,\nO3,C2,2024-03-06,5\n",
        ["order", "list", "--limit", "0"],
        "amount",
    ),
    Case(
        "ticket",
        ["ticket", "import"],
        "external_id,customer_external_id,subject,created_at\n"
        "T1,C1,Broken,2024-03-05 10:00\nT2,C1,,2024-03-05 11:00\nT3,C2,Other,2024-03-06 10:00\n",
        ["ticket", "list", "--limit", "0"],
        "subject",
    ),
    Case(
        "campaign",
        ["campaign", "import-results", "1"],
        "customer_external_id,result,revenue\nC1,success,10\nC2,,\nC3,failure,\n",
        ["campaign", "show", "1", "--members", "0"],
        "result",
    ),
    Case(
        "company",
        ["company", "import"],
        "external_id,name,domain\nA1,Acme,acme.com\nA2,,beta.com\nA3,Gamma,gamma.com\n",
        ["company", "list", "--limit", "0"],
        "name",
        names_customer=False,
    ),
    Case(
        "deal",
        ["deal", "import"],
        "external_id,customer_external_id,title,amount\n"
        "D1,C1,Deal one,100\nD2,C1,,200\nD3,C2,Deal three,300\n",
        ["deal", "list", "--limit", "0"],
        "title",
    ),
]
IDS = [c.name for c in CASES]


@pytest.fixture
def base(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "base.csv"
    src.write_text(BASE, encoding="utf-8")
    cli.ok("customer", "import", str(src))
    cli.ok("campaign", "create", "Spring", "--channel", "sms")
    cli.ok("campaign", "target", "1", "--segment", "tag=vip", "--control", "0")


def stored(cli: Any, case: Case) -> Any:
    data = cli.json(*case.count_args)
    if case.name == "campaign":
        return sorted((m["customer_id"], m["result"]) for m in data["members"])
    return len(data)


def read_rejects(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "rejects file is UTF-8 with a BOM"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rejects_file_names_line_field_value_reason(
    cli: Any, base: None, tmp_path: Path, case: Case
) -> None:
    src = tmp_path / f"{case.name}.csv"
    src.write_text(case.csv, encoding="utf-8")
    summary = cli.json(*case.command, str(src))
    assert summary["rows"] == 3 and summary["rejected"] == 1
    rows = read_rejects(tmp_path / f"{case.name}.rejects.csv")
    assert rows[0][:4] == ["line", "field", "value", "reason"]
    assert rows[1][0] == "3" and rows[1][1] == case.required
    assert summary["rejects_file"] == str(tmp_path / f"{case.name}.rejects.csv")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dry_run_changes_nothing_and_writes_rejects_only_when_asked(
    cli: Any, base: None, tmp_path: Path, case: Case
) -> None:
    src = tmp_path / f"{case.name}.csv"
    src.write_text(case.csv, encoding="utf-8")
    before = stored(cli, case)
    dry = cli.json(*case.command, str(src), "--dry-run")
    assert dry["dry_run"] is True and dry["rejected"] == 1
    assert stored(cli, case) == before
    assert not (tmp_path / f"{case.name}.rejects.csv").exists()
    asked = tmp_path / "asked.csv"
    cli.json(*case.command, str(src), "--dry-run", "--rejects", str(asked))
    assert [r[0] for r in read_rejects(asked)[1:]] == ["3"]
    assert stored(cli, case) == before


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_strict_refuses_the_file_and_keeps_its_rejects(
    cli: Any, base: None, tmp_path: Path, case: Case
) -> None:
    src = tmp_path / f"{case.name}.csv"
    src.write_text(case.csv, encoding="utf-8")
    before = stored(cli, case)
    result = cli(*case.command, str(src), "--strict")
    assert result.exit_code == 2 and "--strict" in result.stderr
    assert "Traceback" not in result.stderr
    assert stored(cli, case) == before
    assert (tmp_path / f"{case.name}.rejects.csv").exists()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_stdin_dash_reads_the_file(cli: Any, base: None, tmp_path: Path, case: Case) -> None:
    rejects = tmp_path / "stdin.rejects.csv"
    summary = cli.json(*case.command, "-", "--rejects", str(rejects), input=case.csv)
    assert summary["rows"] == 3 and summary["rejected"] == 1
    assert summary["file"] == "-"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reimporting_a_rejects_file_ignores_its_own_columns(
    cli: Any, base: None, tmp_path: Path, case: Case
) -> None:
    src = tmp_path / f"{case.name}.csv"
    src.write_text(case.csv, encoding="utf-8")
    cli.json(*case.command, str(src))
    again = cli.json(*case.command, str(tmp_path / f"{case.name}.rejects.csv"), "--dry-run")
    assert again["unknown_columns"] == []
    assert again["rows"] == 1


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name != "customer" and c.names_customer],
    ids=[c.name for c in CASES if c.name != "customer" and c.names_customer],
)
@pytest.mark.parametrize("key", ["external_id", "customer_external_id"])
def test_customer_key_vocabulary_is_the_same(
    cli: Any, base: None, tmp_path: Path, case: Case, key: str
) -> None:
    src = tmp_path / f"{case.name}.csv"
    src.write_text(case.csv, encoding="utf-8")
    summary = cli.json(*case.command, str(src), "--customer-key", key)
    assert summary["customer_key"] == "external_id"
    bad = cli(*case.command, str(src), "--customer-key", "nickname")
    assert bad.exit_code == 2 and "id, external_id, email, phone" in bad.stderr


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_summary_has_the_same_keys_and_an_audit_entry(
    cli: Any, base: None, tmp_path: Path, case: Case
) -> None:
    src = tmp_path / f"{case.name}.csv"
    src.write_text(case.csv, encoding="utf-8")
    summary = cli.json(*case.command, str(src))
    for key in (
        "file",
        "encoding",
        "delimiter",
        "rows",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
        "duplicates",
        "warnings",
        "unknown_columns",
        "rejects_file",
        "dry_run",
        "conventions",
    ):
        assert key in summary, key
    entries = cli.json("audit", "list", "--limit", "0")
    assert any(e["action"] in ("import", "import_results") for e in entries)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_column_mapped_twice_is_refused_before_reading(
    cli: Any, base: None, tmp_path: Path, case: Case
) -> None:
    src = tmp_path / f"{case.name}.csv"
    src.write_text(case.csv, encoding="utf-8")
    first = case.csv.split(",", 1)[0]
    result = cli(*case.command, str(src), "--map", f"{first}=-", "--map", f"{first}=notes")
    assert result.exit_code == 2 and "mapped twice" in result.stderr
