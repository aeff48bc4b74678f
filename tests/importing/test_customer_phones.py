"""`crm customer import`: the phone's region from the country column, vanity numbers, NANP
numbers written with their leading 1, and the phone_ext column (the real CLI, a real
SQLite file in tmp_path)."""

from __future__ import annotations

import csv
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any


def run_import(cli: Any, tmp_path: Path, text: str, *args: str) -> tuple[dict[str, Any], ...]:
    """Import `text` as c.csv: (summary, customers by name, rejects-file rows)."""
    src = tmp_path / "c.csv"
    src.write_text(text, encoding="utf-8")
    summary = cli.json("customer", "import", str(src), *args)
    customers = {c["name"]: c for c in cli.json("customer", "list")}
    rejects_path = tmp_path / "c.rejects.csv"
    rejects = []
    if rejects_path.exists():
        with rejects_path.open(encoding="utf-8-sig", newline="") as fh:
            rejects = list(csv.DictReader(fh))
    return summary, customers, {r["line"] + ":" + r["field"]: r for r in rejects}


def test_country_names_english_and_native_give_the_phone_region(cli: Any, tmp_path: Path) -> None:
    _, rows, rejects = run_import(
        cli,
        tmp_path,
        "name,phone,country\n"
        "D,0660 1234567,Österreich\n"
        "E,020 7946 0958,England\n"
        "F,08-123 456 78,Sweden\n"
        "G,22 123 45 67,Poland\n"
        "H,55 1234 5678,Mexico\n"
        "I,024 3825 3333,Vietnam\n"
        "J,024 3825 3334,Việt Nam\n"
        "K,030 1234567,Deutschland\n"
        "L,06 12345678,Holland\n"
        "M,(212) 555-0123,USA\n"
        "N,2123 4567,香港\n"
        "O,02-2345-6789,台湾\n"
        "P,03-1234-5678,日本\n"
        "Q,02-312-3456,韩国\n"
        "R,91 123 45 67,España\n"
        "S,044 668 18 00,Schweiz\n"
        "T,020 123 4567,Nederland\n"
        "U,08-123 456 79,Sverige\n"
        "V,22 123 45 68,Polska\n"
        "W,55 1234 5679,México\n"
        "X,06 1234 5678,Italia\n"
        "Y,01 23 45 67 89,France\n"
        "Z,010-62532000,中华人民共和国\n",
    )
    assert rejects == {}
    expected = {
        "D": "+436601234567",
        "E": "+442079460958",
        "F": "+46812345678",
        "G": "+48221234567",
        "H": "+525512345678",
        "I": "+842438253333",
        "J": "+842438253334",
        "K": "+49301234567",
        "L": "+31612345678",
        "M": "+12125550123",
        "N": "+85221234567",
        "O": "+886223456789",
        "P": "+81312345678",
        "Q": "+8223123456",
        "R": "+34911234567",
        "S": "+41446681800",
        "T": "+31201234567",
        "U": "+46812345679",
        "V": "+48221234568",
        "W": "+525512345679",
        "X": "+390612345678",
        "Y": "+33123456789",
        "Z": "+861062532000",
    }
    assert {name: rows[name]["phone"] for name in expected} == expected


def test_unknown_country_is_a_field_warning_never_the_default_region(
    cli: Any, tmp_path: Path
) -> None:
    summary, rows, rejects = run_import(
        cli,
        tmp_path,
        "name,phone,country\n"
        "A,020 7946 0958,Narnia\n"
        "B,+44 20 7946 0958,Narnia\n"  # the prefix decides: no country needed
        "C,13812345678,Atlantis\n"  # a Chinese mobile form too: not read as --region CN
        "D,13912345678,\n",  # a blank country cell: --region
    )
    assert rows["A"]["phone"] is None  # stored without its phone
    assert rejects["2:phone"]["reason"] == (
        "unknown country 'Narnia': the phone's region is not known (not read as CN); "
        "give an ISO code"
    )
    assert rows["B"]["phone"] == "+442079460958"
    assert (
        rows["C"]["phone"] is None and "unknown country 'Atlantis'" in rejects["4:phone"]["reason"]
    )
    assert rows["D"]["phone"] == "+8613912345678"
    assert summary["warnings"] == 2 and summary["inserted"] == 4


def test_vanity_number_is_refused_not_read_as_digits(cli: Any, tmp_path: Path) -> None:
    summary, rows, rejects = run_import(
        cli, tmp_path, "name,phone\nA,1-800-FLOWERS\nB,+1 800 FLOWERS\n"
    )
    assert rows["A"]["phone"] is None and rows["B"]["phone"] is None
    assert rejects["2:phone"]["reason"] == (
        "letters in a phone number ('1-800-FLOWERS'): store the digits"
    )
    assert "letters in a phone number" in rejects["3:phone"]["reason"]
    assert summary["suspect_phones"] == 0


def test_nanp_number_with_its_leading_one_is_read_as_plus_one_and_suspect(
    cli: Any, tmp_path: Path
) -> None:
    summary, rows, rejects = run_import(
        cli,
        tmp_path,
        "name,phone\nA,1-415-555-0100\nB,14155550101\nC,1 (415) 555-0102\nD,13812345678\n",
        "--region",
        "CN",
    )
    with closing(sqlite3.connect(tmp_path / "crm.db")) as db:
        flags = dict(db.execute("SELECT name, phone_suspect FROM customers"))
    for name, e164 in (("A", "+14155550100"), ("B", "+14155550101"), ("C", "+14155550102")):
        assert (rows[name]["phone"], flags[name]) == (e164, 1), name
    assert flags["D"] == 0
    assert rejects["2:phone"]["reason"] == (
        "read as a North American number (+14155550100) because it is impossible in the "
        "default region CN"
    )
    assert rows["D"]["phone"] == "+8613812345678"  # valid in CN: CN, as before
    assert summary["suspect_phones"] == 3 and summary["warnings"] == 3


def test_nanp_reading_needs_the_default_region(cli: Any, tmp_path: Path) -> None:
    """A row whose country says where the number is: impossible there is impossible."""
    _, rows, rejects = run_import(
        cli, tmp_path, "name,phone,country\nA,14155550100,China\nB,14155550100,US\n"
    )
    assert rows["A"]["phone"] is None
    assert rejects["2:phone"]["reason"] == "impossible phone '14155550100'"
    assert rows["B"]["phone"] == "+14155550100"


def test_nanp_reading_with_strict_fields_rejects_the_row(cli: Any, tmp_path: Path) -> None:
    summary, rows, _ = run_import(
        cli, tmp_path, "name,phone\nA,1-415-555-0100\n", "--strict-fields"
    )
    assert summary["rejected"] == 1 and rows == {}


def test_customer_add_refuses_what_an_import_would_read_as_plus_one(cli: Any) -> None:
    result = cli("customer", "add", "--name", "A", "--phone", "1-415-555-0100")
    assert result.exit_code == 2
    assert "read as a North American number" in result.stderr + result.stdout
    assert cli.json("customer", "list") == []


def test_phone_ext_column(cli: Any, tmp_path: Path) -> None:
    summary, rows, rejects = run_import(
        cli,
        tmp_path,
        "name,phone,phone_ext\n"
        "A,010-62532000 ext 12,34\n"  # two extensions that differ: the phone cell's
        "C,010-62532001,56\n"  # the column's, when the cell has none
        "D,010-62532002,abc\n"  # not digits: refused
        "E,010-62532003 ext 7,7\n"  # the same one twice: fine
        "F,N/A,89\n",  # the phone refused: its extension is not stored either
    )
    got = {n: (rows[n]["phone"], rows[n]["phone_ext"]) for n in "ACDEF"}
    assert got == {
        "A": ("+861062532000", "12"),
        "C": ("+861062532001", "56"),
        "D": ("+861062532002", None),
        "E": ("+861062532003", "7"),
        "F": (None, None),
    }
    assert rejects["2:phone_ext"]["reason"] == (
        "extension '34' differs from the phone's own (12): the phone's is kept"
    )
    assert rejects["4:phone_ext"]["reason"] == (
        "extension 'abc' is not digits: an extension is digits only"
    )
    assert rejects["6:phone_ext"]["reason"] == (
        "an extension of a phone not stored ('89'): not stored, an extension belongs to a number"
    )
    assert "6:phone" in rejects
    assert summary["warnings"] == 4 and summary["inserted"] == 5


def test_phone_ext_without_a_phone_is_a_field_warning(cli: Any, tmp_path: Path) -> None:
    summary, rows, rejects = run_import(cli, tmp_path, "name,phone,phone_ext\nB,,56\n")
    assert rows["B"]["phone_ext"] is None
    assert rejects["2:phone_ext"]["reason"] == (
        "an extension without a phone ('56'): not stored, an extension belongs to a number"
    )
    assert summary["warnings"] == 1


def test_a_label_before_the_number_is_not_part_of_it(cli: Any, tmp_path: Path) -> None:
    summary, rows, _rejects = run_import(
        cli, tmp_path, "name,phone\nA,Tel: 010-62532000\nB,手机 13812345678\nC,1-800-FLOWERS\n"
    )
    assert rows["A"]["phone"] == "+861062532000" and rows["B"]["phone"] == "+8613812345678"
    assert rows["C"]["phone"] is None and summary["warnings"] == 1


def test_suspect_phones_counts_the_stored_ones(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    """The summary's suspect_phones counts the suspect phones the import stored, as
    `report quality` will: a duplicate row's is not stored, so it is not counted."""
    src = tmp_path / "nanp.csv"
    src.write_text("name,phone\nJ,(415) 555-0100\nK,(415) 555-0100\nL,(415) 555-0101\n")
    summary = cli.json("customer", "import", str(src))
    assert (summary["inserted"], summary["duplicates"]) == (2, 1)
    assert summary["suspect_phones"] == 2
    assert sql_rows("SELECT count(*) FROM customers WHERE phone_suspect = 1") == [(2,)]


def test_two_numbers_on_two_lines_of_a_cell(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    """Excel's Alt+Enter puts two numbers on two lines of one cell, and Chinese sheets
    separate them with a full-width ；: both are two numbers (a field warning saying so),
    not one impossible number."""
    src = tmp_path / "two.csv"
    src.write_text(
        'name,phone\nA,"13800138000\n13900139000"\nB,13800138001；13900139001\n',
        encoding="utf-8",
    )
    summary = cli.json("customer", "import", str(src))
    assert (summary["inserted"], summary["warnings"]) == (2, 2)
    reasons = (tmp_path / "two.rejects.csv").read_text("utf-8-sig")
    assert reasons.count("two phone numbers in one cell") == 2
    assert sql_rows("SELECT phone FROM customers") == [(None,), (None,)]
