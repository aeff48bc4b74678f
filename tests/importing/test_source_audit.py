"""The CSV reading layer (importing/source.py) as a reviewer found it: a file mixing
encodings stored as mojibake with exit 0, a duplicate header name that dropped a column, a
title line above the header reported as "no customer columns", and `Customer ID` read as
this database's id in some imports and as another system's number in others."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from crmcli.importing.source import SAMPLE_BYTES, open_csv

# -- 1. a file mixing encodings is refused, naming the line -------------------------------


def test_utf8_lines_then_a_cp1252_line_are_refused_naming_it(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """`printf 'name,email\\nZoë,z@x.de\\n' > mix.csv; printf 'M\\xfcller,m@x.de\\n' >> mix.csv`:
    read as GB18030 it was stored as Zo毛 and M黮ler."""
    path = tmp_path / "mix.csv"
    path.write_bytes("name,email\nZoë,z@x.de\n".encode() + "Müller,m@x.de\n".encode("cp1252"))
    result = cli("customer", "import", str(path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: mix.csv: line 3 is not valid utf-8 like line 2 before it (it reads as cp1252):"
        " the file mixes encodings; save it again in one encoding, or give --encoding to read"
        " every line as one"
    )
    assert sql_rows("SELECT name FROM customers") == []


def test_a_gbk_file_with_a_utf8_row_appended_is_refused_naming_the_row(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """Chinese Excel's GBK file, then a row added by a UTF-8 editor: 李娜 was stored as 鏉庡."""
    path = tmp_path / "客户.csv"
    path.write_bytes(
        "姓名,电话\r\n张伟,13800138000\r\n".encode("gbk") + "李娜,13900139000\r\n".encode()
    )
    result = cli("customer", "import", str(path))
    assert result.exit_code == 2, result.stdout
    assert "客户.csv: line 3 reads as UTF-8, not as GB18030 like line 1: the file mixes" in (
        result.stderr
    )
    assert "--encoding" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sql_rows("SELECT name FROM customers") == []
    # the file in one encoding reads whole, and --encoding reads it as the user says
    path.write_bytes("姓名,电话\r\n张伟,13800138000\r\n李娜,13900139000\r\n".encode("gbk"))
    assert cli.json("customer", "import", str(path))["encoding"] == "gb18030"
    assert sorted(n for (n,) in sql_rows("SELECT name FROM customers")) == ["张伟", "李娜"]


def _gbk_names(count: int, seed: int) -> list[str]:
    """Chinese Excel's rows: everyday names, 生僻字 among them, and a gender column (女 in
    GBK, C5 AE, is valid UTF-8 by itself: Ů)."""
    rng = random.Random(seed)
    common = [bytes((a, b)).decode("gbk") for a in range(0xB0, 0xD7) for b in range(0xA1, 0xFF)]
    rare = "喆堃淼犇鑫昇玥珺翀燊"
    rows = []
    for i in range(count):
        name = "".join(rng.choice(common) for _ in range(rng.choice((1, 2, 3))))
        if i % 17 == 0:
            name += rng.choice(rare)
        street = "".join(rng.choice(common) for _ in range(2))
        address = f"{rng.choice(('北京', '上海', '广州'))}市{street}路{i % 300}号" if i % 2 else ""
        rows.append(f"{name},{rng.choice('男女')},1{3800000000 + i},{address}\r\n")
    return rows


@pytest.mark.parametrize("tail_encoding", ["utf-8", "cp1252"])
def test_a_large_gbk_file_is_decided_from_its_end_too(
    cli: Any, tmp_path: Path, sql_rows: Any, tail_encoding: str
) -> None:
    """The first MiB alone said GB18030; rows appended in another encoding at the end of a
    bigger file were read as mojibake. Short GBK lines that happen to be valid UTF-8 (one
    in a hundred of these) do not make a real GBK file "mixed"."""
    rows = _gbk_names(80_000, seed=5)
    body = ("姓名,性别,电话,地址\r\n" + "".join(rows)).encode("gbk")
    assert len(body) > 2 * SAMPLE_BYTES
    accidental = sum(1 for row in rows if _valid_utf8(row.encode("gbk")))
    assert accidental > 50  # the trap: lines valid as UTF-8 as well
    whole = tmp_path / "whole.csv"
    whole.write_bytes(body)
    assert _encoding(whole) == "gb18030"
    appended = tmp_path / "appended.csv"
    extra = "王芳,女,13912345678,\r\n" if tail_encoding == "utf-8" else "Zoë Müller,,,\r\n"
    appended.write_bytes(body + extra.encode(tail_encoding))
    result = cli("customer", "import", str(appended))
    assert result.exit_code == 2
    name = "UTF-8" if tail_encoding == "utf-8" else "cp1252"
    assert f"appended.csv: line 80002 reads as {name}, not as GB18030 like line 1" in (
        result.stderr
    )
    assert sql_rows("SELECT count(*) FROM customers") == [(0,)]


def test_a_large_cp1252_file_with_utf8_rows_appended_is_refused(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """Excel on German Windows (cp1252, `;`, CRLF), then rows pasted in by a UTF-8 tool:
    they had been stored as `ZoÃ«`."""
    rng = random.Random(3)
    names = ["Jürgen", "Müller", "François", "Hélène", "José", "Conceição", "Søren", "Björk"]
    rows = "".join(
        f"{rng.choice(names)} {rng.choice(names)};k{i}@beispiel.de;München\r\n"
        for i in range(60_000)
    )
    body = ("Name;E-Mail;Ort\r\n" + rows).encode("cp1252")
    assert len(body) > 2 * SAMPLE_BYTES
    path = tmp_path / "kunden.csv"
    path.write_bytes(body + "Zoë Weiß;zw@beispiel.de;Köln\r\n".encode())
    result = cli("customer", "import", str(path))
    assert result.exit_code == 2
    assert "kunden.csv: line 60002 reads as UTF-8, not as cp1252 like line 2" in result.stderr
    assert sql_rows("SELECT count(*) FROM customers") == [(0,)]
    path.write_bytes(body)
    assert _encoding(path) == "cp1252"


def _encoding(path: Path) -> str:
    """The encoding the import reads a file as (open_csv, as every import opens it)."""
    source = open_csv(path, {}, ("name", "email", "phone", "address"))
    try:
        return source.encoding
    finally:
        source.close()


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# -- 2. two header cells of one name ----------------------------------------------------


def test_a_duplicate_header_name_is_named_by_position_and_never_dropped(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    path = tmp_path / "dup.csv"
    path.write_bytes(b"Name,Email,Email\r\nA,a@x.cn,b@x.cn\r\n")
    plain = cli("customer", "import", str(path))
    assert plain.exit_code == 2
    assert plain.stderr.strip() == (
        "Error: columns 2 and 3 are both named 'Email' (both read as email); say which with"
        " --map '#2=email' or --map '#3=email' (the other is then an unknown column), or"
        " rename one in the file"
    )
    by_name = cli("customer", "import", str(path), "--map", "Email=email")
    assert by_name.exit_code == 2  # had stored a@x.cn and dropped b@x.cn without a word
    assert "--map Email: columns 2 and 3 are both named 'Email', so the name cannot say" in (
        by_name.stderr
    )
    assert sql_rows("SELECT email FROM customers") == []
    summary = cli.json("customer", "import", str(path), "--map", "#3=email")
    assert summary["unknown_columns"] == ["Email (column 2)"]  # reported, not dropped
    assert sql_rows("SELECT name, email FROM customers") == [("A", "b@x.cn")]
    again = cli.json(
        "customer", "import", str(path), "--map", "#2=email", "--map", "#3=-", "--dry-run"
    )
    assert again["ignored_columns"] == ["Email (column 3)"] and again["unknown_columns"] == []
    ignored = cli.json("customer", "import", str(path), "--map", "Email=-", "--dry-run")
    assert ignored["ignored_columns"] == ["Email (column 2)", "Email (column 3)"]
    outside = cli("customer", "import", str(path), "--map", "#4=email")
    assert outside.exit_code == 2 and "--map #4: the header has 3 columns" in outside.stderr


def test_a_position_and_a_name_feed_a_join(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    """Two `Name` columns (given and family name, as a hand-made sheet has them): joined by
    position; the name alone cannot say which part comes first."""
    path = tmp_path / "names.csv"
    path.write_bytes(b"Name,Name,Email\r\nAnn,Lee,ann@x.com\r\n")
    joined = cli("customer", "import", str(path), "--map", "Name+Email=name")
    assert joined.exit_code == 2 and "columns 1 and 2 are both named 'Name'" in joined.stderr
    cli.ok("customer", "import", str(path), "--map", "#1+#2=name")
    assert sql_rows("SELECT name, email FROM customers") == [("Ann Lee", "ann@x.com")]


# -- 3. a title line above the header ---------------------------------------------------


def test_a_title_line_above_the_header_is_named_with_how_to_skip_it(
    cli: Any, tmp_path: Path, sql_rows: Any
) -> None:
    """Excel's report layout saved as CSV (German Windows: cp1252, `;`, CRLF): a title, an
    empty row, then the header. It said only "no customer columns in the header"."""
    path = tmp_path / "kundenliste.csv"
    text = "Kundenliste Export 2024;;\r\n;;\r\nName;E-Mail;Telefon\r\nJürgen;j@x.de;030 1234567\r\n"
    path.write_bytes(text.encode("cp1252"))
    result = cli("customer", "import", str(path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: kundenliste.csv: line 1 does not look like a header ('Kundenliste Export"
        " 2024', one cell; line 3 has 3: Name, E-Mail, Telefon); delete the 2 lines above"
        " the header, or read the file from line 3: tail -n +3 kundenliste.csv | crm ..."
        " import -"
    )
    assert sql_rows("SELECT count(*) FROM customers") == [(0,)]
    # what the message says works: the file from line 3 on standard input
    tail = "".join(text.splitlines(keepends=True)[2:])
    rejects = tmp_path / "stdin.rejects.csv"
    cli.ok("customer", "import", "-", "--region", "DE", "--rejects", str(rejects), input=tail)
    assert sql_rows("SELECT name, email FROM customers") == [("Jürgen", "j@x.de")]
    other = tmp_path / "calls.csv"
    other.write_bytes(b"Call log March\r\ncustomer_email,occurred_at,channel\r\n")
    assert "line 1 does not look like a header ('Call log March'" in (
        cli("comm", "import", str(other)).stderr
    )


# -- 4. `Customer ID` is another system's number in every import -----------------------

IMPORTS = {
    "comm": (
        ["comm", "import"],
        "{h},occurred_at,channel,subject\n2,2024-05-02 10:00,phone,ref\n",
        "SELECT customer_id FROM communications",
    ),
    "order": (
        ["order", "import"],
        "Order ID,{h},Order Date,Amount,Currency\nSO-1,2,2024-05-02,5.00,CNY\n",
        "SELECT customer_id FROM orders",
    ),
    "ticket": (["ticket", "import"], "{h},subject\n2,ref\n", "SELECT customer_id FROM tickets"),
    "campaign": (
        ["campaign", "import-results", "1"],
        "{h},result\n2,success\n",
        "SELECT customer_id FROM campaign_members WHERE result = 'success'",
    ),
    "deal": (
        ["deal", "import"],
        "title,amount,{h}\nBig one,100,2\n",
        "SELECT customer_id FROM deals",
    ),
}


@pytest.mark.parametrize("entity", sorted(IMPORTS))
@pytest.mark.parametrize(
    ("header", "meant"),
    [
        ("Customer ID", "external"),
        ("CustomerID", "external"),
        ("客户编号", "external"),
        ("客户ID", "external"),
        ("Kundennummer", "external"),
        ("CUSTOMER_ID", "external"),  # an Oracle or SAP export's upper-case column
        ("customer_id", "own"),
    ],
)
def test_customer_id_spelled_by_another_system_is_its_number_in_every_import(
    cli: Any, add_customer: Any, tmp_path: Path, sql_rows: Any, entity: str, header: str, meant: str
) -> None:
    """Customer 1 has the external id 2; customer 2 is this database's id 2. A `Customer ID`
    column of 2 (another system's export) is customer 1 in every import; a header spelled
    as the field, `customer_id`, is this database's id: customer 2."""
    ann = add_customer("Ann", external_id="2", tag="vip")
    bob = add_customer("Bob", external_id="B-9", tag="vip")
    cli.ok("campaign", "create", "Spring", "--channel", "email")
    cli.ok("campaign", "target", "1", "--segment", "tag=vip")
    command, text, query = IMPORTS[entity]
    path = tmp_path / f"{entity}.csv"
    path.write_bytes(text.format(h=header).encode("utf-8-sig"))
    summary = cli.json(*command, str(path))
    assert summary["rejected"] == 0 and summary["unknown_columns"] == []
    assert sql_rows(query) == [(ann if meant == "external" else bob,)]


@pytest.mark.parametrize(
    ("foreign", "reads"),
    [
        ("Renée Dubois,13900000000,Rue Amélie\r\n".encode("cp1252"), "cp1252"),
        ("赵霞,13900000000,市朝街厦室中大上\r\n".encode(), "UTF-8"),  # valid GB18030 bytes too
    ],
)
def test_a_foreign_row_between_the_sampled_windows_is_found(
    cli: Any, tmp_path: Path, sql_rows: Any, foreign: bytes, reads: str
) -> None:
    """A 6 MB GBK file with one row in another encoding where no sampled window looks
    (row 40,000): every line of a file read as GBK or cp1252 is checked, so it is refused
    naming the line instead of stored as Ren閑 Dubois or 璧甸湠."""
    rows = ["姓名,电话,地址"] + [
        f"张伟{i % 97},13{i % 10}{i:08d},广东省深圳市南山区科技园南区高新南一道{i}号大厦"
        for i in range(90_000)
    ]
    lines = [(row + "\r\n").encode("gbk") for row in rows]
    lines[40_000] = foreign
    path = tmp_path / "客户.csv"
    path.write_bytes(b"".join(lines))
    assert path.stat().st_size > 6_000_000
    result = cli("customer", "import", str(path))
    assert result.exit_code == 2
    assert f"line 40001 reads as {reads}, not as GB18030 like line 1" in result.stderr
    assert sql_rows("SELECT count(*) FROM customers") == [(0,)]
