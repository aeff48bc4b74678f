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
