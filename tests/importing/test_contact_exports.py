"""Contact exports give a name in parts: Google Contacts and Outlook (First Name, Middle
Name, Last Name), Chinese sheets (姓, 名). Without a name column they are joined into the
name (CJK parts family name first without a space); with one, the name column is the name
and the summary says the parts were not read. Google's numbered columns (E-mail 1 - Value,
Phone 1 - Value, Address 1 - Formatted) and its ':::'-separated labels are read too."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

GOOGLE = [
    ["First Name", "Middle Name", "Last Name", "E-mail 1 - Label", "E-mail 1 - Value",
     "Phone 1 - Label", "Phone 1 - Value", "Address 1 - Formatted", "Labels"],
    ["Ann", "M.", "Lee", "* Work", "Ann@Work.example.com", "Mobile", "+1 415-555-0100",
     "1 Main St\nSan Francisco", "VIP ::: Trade show"],
    ["", "", "Okafor", "", "o@example.com", "", "", "", ""],
]  # fmt: skip


def test_google_contacts_export(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    src = tmp_path / "contacts.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(GOOGLE)
    summary = cli.json("customer", "import", str(src))
    assert summary["inserted"] == 2
    assert summary["name_from"] == "first_name + middle_name + last_name"
    assert sql_rows("SELECT name, email, phone, address FROM customers ORDER BY id") == [
        ("Ann M. Lee", "ann@work.example.com", "+14155550100", "1 Main St San Francisco"),
        ("Okafor", "o@example.com", None, None),
    ]
    assert sql_rows("SELECT tag FROM customer_tags ORDER BY tag") == [
        ("Trade show",),
        ("VIP",),
    ]


def test_chinese_name_parts_and_a_name_column(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    src = tmp_path / "客户.csv"
    src.write_bytes(
        "姓,名,手机\r\n张,伟,13800138000\r\n欧阳,娜娜,13800138001\r\n".encode("gb18030")
    )
    cli.ok("customer", "import", str(src))
    assert sql_rows("SELECT name FROM customers ORDER BY id") == [("张伟",), ("欧阳娜娜",)]
    both = tmp_path / "both.csv"
    both.write_text("name,first name,last name\nAnn Lee-Smith,Ann,Lee\n", encoding="utf-8")
    summary = cli.json("customer", "import", str(both))
    assert summary["name_parts_not_read"] == ["first_name", "last_name"]
    assert sql_rows("SELECT name FROM customers WHERE id = 3") == [("Ann Lee-Smith",)]


# Outlook's "Export to a file > CSV" header (the columns this test fills, among its others)
OUTLOOK_HEADER = [
    "First Name", "Middle Name", "Last Name", "Title", "E-mail Address", "E-mail 2 Address",
    "E-mail 3 Address", "Home Phone", "Home Phone 2", "Business Phone", "Business Phone 2",
    "Mobile Phone", "Car Phone", "Other Phone", "Primary Phone", "Pager", "Business Fax",
    "Company Main Phone", "Assistant's Phone", "Company", "Business Street", "Business City",
    "Business Country/Region", "Home Country/Region", "Birthday", "Notes",
]  # fmt: skip


def _outlook(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, OUTLOOK_HEADER, quoting=csv.QUOTE_ALL, restval="")
        writer.writeheader()
        writer.writerows(rows)


def test_outlook_export_keeps_every_phone_and_email(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """Outlook writes a customer's phones in labelled columns and no `phone` column: the
    first filled in the order Primary, Mobile, Business, Home, ... is the phone, every
    other one is kept among the customer's other phones (a fax or an assistant's phone is
    not the customer's: an unknown column); likewise E-mail 2/3 Address. Its Business
    Country/Region is the country the phones are read in."""
    src = tmp_path / "contacts.CSV"
    _outlook(src, [
        {"First Name": "Ann", "Last Name": "Lee", "E-mail Address": "ann@acme.example",
         "E-mail 2 Address": "ann.lee@home.example", "Business Phone": "(415) 555-0100",
         "Mobile Phone": "(415) 555-0199", "Business Fax": "(415) 555-0111",
         "Business Country/Region": "United States of America", "Birthday": "0/0/00"},
        {"First Name": "伟", "Last Name": "张", "Primary Phone": "010 6253 2000",
         "Mobile Phone": "138 0013 8000", "Business Country/Region": "China"},
        {"First Name": "Olu", "Last Name": "Okafor", "E-mail 3 Address": "olu@example.ng"},
    ])  # fmt: skip
    summary = cli.json("customer", "import", str(src))
    assert (summary["inserted"], summary["rejected"]) == (3, 0)
    assert summary["phones_from"].startswith("Primary Phone, Mobile Phone, Business Phone")
    assert "Business Fax" in summary["unknown_columns"]
    assert "Assistant's Phone" in summary["unknown_columns"]
    assert sql_rows("SELECT name, phone, email FROM customers ORDER BY id") == [
        ("Ann Lee", "+14155550199", "ann@acme.example"),
        ("张伟", "+861062532000", None),
        ("Olu Okafor", None, "olu@example.ng"),  # its only email, in the third column
    ]
    assert sql_rows(
        "SELECT customer_id, kind, value FROM customer_contacts ORDER BY customer_id, kind, value"
    ) == [
        (1, "email", "ann.lee@home.example"),
        (1, "phone", "+14155550100"),
        (2, "phone", "+8613800138000"),
    ]
    # the same file again, by email: nothing changes, no phone is added twice
    again = cli.json("customer", "import", str(src), "--key", "email")
    assert (again["inserted"], again["updated"]) == (0, 0)
    assert sql_rows("SELECT count(*) FROM customer_contacts") == [(3,)]


def test_google_several_values_in_one_cell(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    """Google Contacts joins several values of one label with ' ::: ': the first is the
    customer's phone (email), the rest its other ones; Phone 2 - Value is read too."""
    src = tmp_path / "contacts.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([
            ["Name", "E-mail 1 - Value", "E-mail 2 - Value", "Phone 1 - Value",
             "Phone 2 - Value"],
            ["Ann Lee", "ann@x.example ::: ann@y.example", "ann@z.example",
             "+1 415-555-0100 ::: +1 415-555-0101", "+44 20 7946 0000"],
        ])  # fmt: skip
    summary = cli.json("customer", "import", str(src))
    assert (summary["inserted"], summary["rejected"], summary["warnings"]) == (1, 0, 0)
    assert sql_rows("SELECT phone, email FROM customers") == [("+14155550100", "ann@x.example")]
    assert sql_rows("SELECT kind, value FROM customer_contacts ORDER BY kind, value") == [
        ("email", "ann@y.example"),
        ("email", "ann@z.example"),
        ("phone", "+14155550101"),
        ("phone", "+442079460000"),
    ]


def test_a_file_without_a_name_column_is_refused_whole(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """A Portuguese Excel export (`Nome;E-mail`, cp1252) has no column read as the name:
    every row would be rejected for it, so the file is (exit 2, nothing stored); with
    --key the rows update existing customers, which need no name."""
    src = tmp_path / "clientes.csv"
    src.write_bytes("Nome;E-mail\r\nJoão;joao@example.pt\r\n".encode("cp1252"))
    result = cli("customer", "import", str(src))
    assert result.exit_code == 2
    assert "no name column" in result.stderr and "--map SRC=name" in result.stderr
    assert sql_rows("SELECT count(*) FROM customers") == [(0,)]
    cli.ok("customer", "import", str(src), "--map", "Nome=name")
    assert sql_rows("SELECT name, email FROM customers") == [("João", "joao@example.pt")]
    summary = cli.json("customer", "import", str(src), "--key", "email")
    assert summary["unchanged"] == 1


def test_a_sheet_with_phone_and_mobile_keeps_both(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    """A Chinese sheet's 电话 and 手机 (Phone and Mobile) had been refused as two columns of
    one field: the phone is 电话 where filled, else 手机, and the other is kept."""
    src = tmp_path / "客户.csv"
    src.write_bytes("姓名,电话,手机\r\n张伟,010-62532000,13800138000\r\n李娜,,13900139000\r\n"
                    .encode("gbk"))  # fmt: skip
    summary = cli.json("customer", "import", str(src))
    assert summary["inserted"] == 2
    assert summary["phones_from"] == "电话, 手机 (the others kept as its other phones)"
    assert sql_rows("SELECT name, phone FROM customers ORDER BY id") == [
        ("张伟", "+861062532000"),
        ("李娜", "+8613900139000"),
    ]
    assert sql_rows("SELECT customer_id, value FROM customer_contacts") == [(1, "+8613800138000")]
    one = tmp_path / "mobile.csv"
    one.write_text("Name,Mobile\nAnn,+1 415 555 0100\n", encoding="utf-8")
    summary = cli.json("customer", "import", str(one))
    assert "phones_from" not in summary  # one phone column: nothing to say
    assert sql_rows("SELECT phone FROM customers WHERE name = 'Ann'") == [("+14155550100",)]


def test_the_first_usable_value_is_the_phone_and_others_stay_one_customers(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """`N/A` in Phone and a number in Mobile: the mobile is the phone (before, the customer
    had no phone and every re-import added a copy); an other phone that is another
    customer's is a warning, never stored for both; an other phone in NANP grouping read
    in CN, or with an extension, is said, not stored as a guess or silently cut."""
    first = tmp_path / "a.csv"
    first.write_text(
        "name,phone,mobile,email\n"
        "Cy Ng,N/A,13900139000,\n"
        "Zed,13700137000,13900139001,zed@example.com\n",
        encoding="utf-8",
    )
    summary = cli.json("customer", "import", str(first))
    assert summary["inserted"] == 2 and summary["phones_from"].startswith("phone, mobile")
    again = cli.json("customer", "import", str(first))
    assert (again["inserted"], again["duplicates"]) == (0, 2)
    assert sql_rows("SELECT name, phone FROM customers ORDER BY id") == [
        ("Cy Ng", "+8613900139000"),
        ("Zed", "+8613700137000"),
    ]
    second = tmp_path / "b.csv"
    second.write_text(
        "First Name,Last Name,Mobile Phone,Business Phone,Home Phone,Other Phone\n"
        "Fay,Xu,13600136000,+8613700137000,(415) 555-0101,010-12345678 转 88\n",
        encoding="utf-8",
    )
    summary = cli.json("customer", "import", str(second))
    assert (summary["inserted"], summary["warnings"]) == (1, 3)
    reasons = (tmp_path / "b.rejects.csv").read_text("utf-8-sig")
    assert "+8613700137000 is the phone of customer 2: not stored" in reasons
    assert "written in another numbering plan's grouping: not stored" in reasons
    assert "extension 88 not stored" in reasons
    assert sql_rows(
        "SELECT customer_id, value FROM customer_contacts ORDER BY customer_id, value"
    ) == [(2, "+8613900139001"), (3, "+861012345678")]
