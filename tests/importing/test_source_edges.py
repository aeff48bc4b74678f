"""importing.source edges: encodings it must not guess, dry runs without a database, the
line a multi-line record starts on, columns without a header."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from crmcli.core.errors import InvalidInput
from crmcli.importing.source import SAMPLE_BYTES, detect_encoding, open_csv

FIELDS = ("name", "email", "notes")


# -- 1. encodings ------------------------------------------------------------------------
def test_gbk_names_outside_gb2312_are_read_as_gbk_not_korean(cli: Any, tmp_path: Path) -> None:
    # 喆 and 犇 are outside GB2312: half the hanzi, but no reading as anything else fits
    path = tmp_path / "g2.csv"
    path.write_bytes(
        "name,notes\r\nZhang 喆,x\r\nLi 淼,y\r\nWang 鑫,z\r\nChen 犇,w\r\n".encode("gbk")
    )
    result = cli("customer", "import", str(path))
    assert result.exit_code == 0, result.stderr
    assert "read as gb18030" in result.stderr
    names = [r["name"] for r in cli.json("customer", "list")]
    assert sorted(names) == sorted(["Zhang 喆", "Li 淼", "Wang 鑫", "Chen 犇"])


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (
            "name,email\r\n山田太郎,taro@example.jp\r\nさとう はなこ,hanako@example.jp\r\n",
            "shift_jis",
        ),
        ("name,email\r\n陳大文,chen@example.tw\r\n張偉,zhang@example.tw\r\n", "big5"),
    ],
)
def test_an_encoding_it_cannot_tell_is_refused_asking_for_encoding(
    cli: Any, tmp_path: Path, text: str, encoding: str
) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(text.encode(encoding))
    result = cli("customer", "import", str(path))
    assert result.exit_code == 2
    assert "x.csv: cannot tell the file's encoding (it decodes as GB18030" in result.stderr
    assert "give --encoding" in result.stderr and "Traceback" not in result.stderr
    assert cli.json("customer", "list") == []
    forced = cli.json("customer", "import", str(path), "--encoding", encoding)
    assert forced["inserted"] == 2 and forced["encoding"] == encoding


def test_bytes_that_read_as_rare_hanzi_and_as_paired_cp1252_letters_are_not_guessed() -> None:
    sample = b"name,notes\r\nWang \xf6\xce,z\r\nLi \xe9\x9a,y\r\n"  # 鑫 闅 / öÎ éš
    with pytest.raises(InvalidInput, match=r"decodes as GB18030 and as cp1252.*--encoding"):
        detect_encoding(sample)


def test_western_letters_standing_alone_stay_cp1252() -> None:
    assert (
        detect_encoding("Name\r\nJürgen Müller\r\nBjörk Guðmundsdóttir\r\n".encode("cp1252"))
        == "cp1252"
    )


def test_excel_for_mac_roman_is_not_read_as_cp1252(cli: Any, tmp_path: Path) -> None:
    """Excel for Mac's old "CSV" is Mac Roman with CR line ends: é is 0x8E, which cp1252
    reads as Ž (`JosŽ`, `cafŽ`). Both decode, so it is refused asking for --encoding, and
    `--encoding mac_roman` reads it right."""
    src = tmp_path / "mac.csv"
    text = "name,email,notes\rJosé Núñez,j@example.com,café crème\rZoë,z@example.com,über\r"
    src.write_bytes(text.encode("mac_roman"))
    refused = cli("customer", "import", str(src))
    assert refused.exit_code == 2 and "mac_roman" in refused.stderr
    assert "--encoding" in refused.stderr
    cli.ok("customer", "import", str(src), "--encoding", "mac_roman")
    rows = cli.json("customer", "list", "--sort", "name")
    assert [(r["name"], r["notes"]) for r in rows] == [
        ("José Núñez", "café crème"),
        ("Zoë", "über"),
    ]
    french = "Nom\r\nFrançois Lefèvre\r\nHélène Œuvray\r\n".encode("cp1252")
    assert detect_encoding(french) == "cp1252"  # its accents are 0xC0-0xFF: cp1252 stays


def _ascii_head(rows: int) -> str:
    return "name,email,notes\n" + "".join(
        f"user{i},u{i}@example.com,{'x' * 180}\n" for i in range(rows)
    )


def test_a_file_whose_first_mib_is_ascii_is_decided_by_its_later_bytes(tmp_path: Path) -> None:
    head = _ascii_head(6000)
    assert len(head) > SAMPLE_BYTES
    path = tmp_path / "late.csv"
    path.write_bytes(head.encode() + "张伟,zw@example.cn,备注\n王鑫,wx@example.cn,\n".encode("gbk"))
    source = open_csv(path, {}, FIELDS)
    try:
        assert source.encoding == "gb18030"
        last = list(source.cells())[-2:]
    finally:
        source.close()
    assert [cells[0] for _, cells, _ in last] == ["张伟", "王鑫"]
    assert last[0][0] == 6002


def test_a_later_byte_that_does_not_decode_is_exit_2_naming_its_line(
    cli: Any, tmp_path: Path
) -> None:
    head = "name,email,notes\n张三,z@example.cn,\n" + _ascii_head(6000).split("\n", 1)[1]
    path = tmp_path / "mixed.csv"
    path.write_bytes(head.encode() + "王鑫,wx@example.cn,\n".encode("gbk"))
    result = cli("customer", "import", str(path))
    assert result.exit_code == 2
    assert "mixed.csv: line 6003 is not valid utf-8" in result.stderr
    assert "give --encoding" in result.stderr and "Traceback" not in result.stderr
    assert cli.json("customer", "list") == []


def test_a_gbk_file_with_a_small_ascii_head_is_read_whole(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "late64.csv"
    head = "name,email\n" + "".join(f"user{i},u{i}@example.com\n" for i in range(3000))
    assert 64 * 1024 < len(head) < SAMPLE_BYTES
    path.write_bytes(head.encode() + "张喆,zz@example.cn\n".encode("gbk"))
    summary = cli.json("customer", "import", str(path))
    assert (summary["encoding"], summary["inserted"]) == ("gb18030", 3001)


# -- 2. a dry run creates no database ------------------------------------------------------
IMPORTS = [
    (["customer", "import"], "name,email\nAnn,ann@example.com\n", 0),
    (["company", "import"], "name,domain\nAcme,acme.example\n", 0),
    (
        ["comm", "import"],
        "customer_email,channel,occurred_at\nann@example.com,email,2024-01-02 10:00\n",
        0,
    ),
    (
        ["order", "import"],
        "external_id,customer_email,ordered_at,amount\nO1,ann@example.com,2024-01-02,10.00\n",
        0,
    ),
    (["ticket", "import"], "customer_email,subject\nann@example.com,Broken\n", 0),
    (["deal", "import"], "name,amount,company\nBig deal,1000,Acme\n", 0),
    (["campaign", "import-results", "1"], "customer_email,result\nann@example.com,sent\n", 3),
]


@pytest.mark.nodb
@pytest.mark.parametrize(("command", "text", "code"), IMPORTS)
def test_a_dry_run_against_a_missing_database_creates_nothing(
    cli: Any, tmp_path: Path, command: list[str], text: str, code: int
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(text, encoding="utf-8")
    db = tmp_path / "new.db"
    keys = Path(f"{tmp_path}-config")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("--db", str(db), *command, str(src), "--dry-run")
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr and "Created a new crm database" not in result.stderr
    if code == 0:
        assert "No database at" in result.stderr and "Dry run: would import" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not keys.exists() or not any(keys.rglob("*"))


@pytest.mark.nodb
def test_a_dry_run_on_a_missing_database_reports_what_the_first_import_would_do(
    cli: Any, tmp_path: Path, db_path: Path
) -> None:
    src = tmp_path / "leads.csv"
    src.write_text("name,email\nAnn,ann@example.com\nBob,bad\nAnn2,ann@example.com\n")
    dry = cli("customer", "import", str(src), "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.stderr
    summary = json.loads(dry.stdout)
    assert (summary["dry_run"], summary["inserted"], summary["duplicates"]) == (True, 2, 1)
    assert not db_path.exists() and not Path(f"{db_path}-wal").exists()
    real = cli.json("customer", "import", str(src))
    assert real["inserted"] == 2 and db_path.exists()


# -- 3. the line a record starts on --------------------------------------------------------
def test_a_multi_line_record_is_reported_at_the_line_it_starts_on(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "ml.csv"
    path.write_text(
        'name,email,notes\nA,a@x.com,n\nB,bad,"multi\nline"\n"C\nD",c@@x,z\nE,e@,\n',
        encoding="utf-8",
    )
    result = cli("customer", "import", str(path))
    assert result.exit_code == 0, result.stderr
    with open(tmp_path / "ml.rejects.csv", encoding="utf-8-sig", newline="") as fh:
        lines = [row["line"] for row in csv.DictReader(fh)]
    assert lines == ["3", "5", "7"]


def test_cells_give_the_first_line_of_each_record(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('name,notes\n\n"A\n\nB",1\nC,"2\n3"\nD\nE,4\n', encoding="utf-8")
    source = open_csv(path, {}, FIELDS)
    try:
        got = [(line, problem is None) for line, _, problem in source.cells()]
    finally:
        source.close()
    assert got == [(3, True), (6, True), (8, False), (9, True)]


# -- 4. columns without a header -----------------------------------------------------------
def test_empty_unnamed_columns_are_ignored_silently(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("name,email,,,\r\nAnn,ann@x.com,,,\r\nBob,bob@x.com,, ,\r\n", encoding="utf-8")
    result = cli("customer", "import", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["unknown_columns"] == []
    assert "unknown column" not in result.stderr


def test_an_unnamed_column_with_values_is_reported_by_its_position(
    cli: Any, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_text(
        "name,email,,,Extra\r\nAnn,ann@x.com,,,\r\nBob,bob@x.com,,v,\r\n", encoding="utf-8"
    )
    result = cli("customer", "import", str(path), "--format", "json", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["unknown_columns"] == ["Extra", "column 4 (no header)"]
    assert "unknown column(s) not imported: Extra, column 4 (no header)" in result.stderr
    assert "(use --map SRC=FIELD)" in result.stderr  # for Extra
    assert "a column without a header is imported only once the header line names it" in (
        result.stderr
    )


def test_only_unnamed_columns_are_not_told_to_use_map(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("name,email,\r\nAnn,ann@x.com,note\r\n", encoding="utf-8")
    result = cli("customer", "import", str(path), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "unknown column(s) not imported: column 3 (no header)" in result.stderr
    assert "--map" not in result.stderr


def _korean_excel_csv() -> bytes:
    """A customer list as Excel on Korean Windows saves it ("CSV (쉼표로 분리)"): cp949,
    CRLF, no BOM."""
    rows = [
        ("name", "email", "phone", "company", "address"),
        ("김민준", "minjun.kim@example.kr", "010-1234-5678", "주식회사 한빛", "서울특별시 강남구"),
        ("이서연", "seoyeon@example.kr", "02-555-0192", "삼성물산", "부산광역시 해운대구"),
        ("박지훈", "jihoon.park@example.kr", "010-9876-5432", "한국전력", "대전광역시 유성구"),
    ]
    return "".join(",".join(r) + "\r\n" for r in rows).encode("cp949")


def test_a_korean_cp949_file_is_not_read_as_gbk_hanzi(cli: Any, tmp_path: Path) -> None:
    # hangul in cp949/EUC-KR takes the lead bytes GBK reads as everyday hanzi: 김민준 came
    # out as 辫刮霖 and was stored without a word
    data = _korean_excel_csv()
    assert data.decode("gb18030")  # the trap: it decodes as GBK too
    path = tmp_path / "고객.csv"
    path.write_bytes(data)
    result = cli("customer", "import", str(path))
    assert result.exit_code == 2, result.stdout
    assert "decodes as GB18030" in result.stderr and "cp949 (Korean)" in result.stderr
    assert "give --encoding" in result.stderr
    assert cli.json("customer", "list") == []
    forced = cli.json("customer", "import", str(path), "--encoding", "cp949")
    assert forced["inserted"] == 3 and forced["encoding"] == "cp949"
    names = sorted(r["name"] for r in cli.json("customer", "list"))
    assert names == sorted(["김민준", "이서연", "박지훈"])


@pytest.mark.parametrize(
    "text",
    [
        "姓名,公司\r\n张伟,上海华信有限公司\r\n王芳,北京中关村科技\r\n李娜,深圳市腾达电子\r\n",
        "name,notes\r\nZhang 喆,x\r\nLi 淼,y\r\nWang 鑫,z\r\nChen 犇,w\r\n",
    ],
)
def test_chinese_gbk_text_is_still_read_as_gbk(text: str) -> None:
    assert detect_encoding(text.encode("gbk")) == "gb18030"


def test_hanzi_that_all_read_as_hangul_are_too_few_to_tell() -> None:
    # 陈 and 黄 both have lead bytes in the hangul rows: as cp949 they are 냈 and 뼝
    with pytest.raises(InvalidInput, match=r"GB18030.*cp949 \(Korean\).*--encoding"):
        detect_encoding("name\r\n陈\r\n黄\r\n".encode("gbk"))
