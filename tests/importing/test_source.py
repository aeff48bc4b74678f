"""importing: encoding detection, delimiter sniffing, header mapping, cells, rejects."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import pytest

from crmcli.core.errors import InvalidInput
from crmcli.importing.pipeline import ImportSummary, RejectSink, default_rejects_path
from crmcli.importing.source import (
    detect_encoding,
    join_cells,
    normalize_header,
    open_csv,
    parse_mapping,
    sniff_delimiter,
    unneutralise,
)

FIELDS = ("name", "phone", "email", "tags", "external_id")
TEXT = "姓名,电话,邮箱\n张伟,13800138000,zw@example.cn\n"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gb18030", "gb18030"),
        ("gbk", "gb18030"),
        ("utf-16", "utf-16"),
    ],
)
def test_detect_encoding(encoding: str, expected: str) -> None:
    assert detect_encoding(TEXT.encode(encoding)) == expected


def test_detect_utf16_without_bom_and_binary() -> None:
    assert detect_encoding("name,phone\nAnn,1\n".encode("utf-16-le")) == "utf-16-le"
    with pytest.raises(InvalidInput):
        detect_encoding(b"\x00\x00\x89PNG" * 200)


def test_sniff_delimiter() -> None:
    assert sniff_delimiter("a;b;c\n") == ";"
    assert sniff_delimiter("a\tb\tc\n") == "\t"
    assert sniff_delimiter('"x;y",b,c\n') == ","
    assert sniff_delimiter("single\n") == ","


def test_header_normalisation_and_mapping() -> None:
    assert normalize_header("\ufeff E-Mail ") == "email"
    assert normalize_header("External_ID") == "externalid"
    assert parse_mapping(["客户 代码=external_id"]).single == {"客户代码": "external_id"}
    joined = parse_mapping(["First Name+Last Name=name", "Notes=-"])
    assert joined.joins == {"name": ["firstname", "lastname"]}
    assert joined.single == {"notes": "-"} and joined.targets() == {"name"}
    with pytest.raises(InvalidInput):
        parse_mapping(["=name"])
    with pytest.raises(InvalidInput, match="mapped twice"):
        parse_mapping(["a=name", "A=email"])
    with pytest.raises(InvalidInput, match="join columns with \\+"):
        parse_mapping(["a=name", "b=name"])
    assert join_cells(["张", "伟"]) == "张伟"
    assert join_cells(["Ann ", " Lee"]) == "Ann Lee" and join_cells(["", "Lee"]) == "Lee"


def test_unneutralise_undoes_export_neutralising() -> None:
    from crmcli.output.emit import neutralise

    for value in ("=1+1", "+8613800138000", "-5", "@x", "\tx", "plain", "'quoted", "'"):
        assert unneutralise(neutralise(value)) == value


def test_open_csv_maps_headers_and_reports_unknown(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_bytes("Name;微信;标签;cid\nAnn;wx;a,b;7\n".encode("gb18030"))
    source = open_csv(src, {}, FIELDS, mapping=["cid=external_id"])
    try:
        assert (source.encoding, source.delimiter) == ("gb18030", ";")
        assert source.fields == ["name", None, "tags", "external_id"]
        assert source.unknown_columns == ["微信"]
        assert source.field_indexes() == {"name": [0], "tags": [2], "external_id": [3]}
        assert list(source.cells()) == [(2, ["Ann", "wx", "a,b", "7"], None)]
    finally:
        source.close()


def test_encoding_aliases(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_bytes(codecs.BOM_UTF8 + b"name\nAnn\n")
    source = open_csv(src, {}, FIELDS, encoding="UTF-8-BOM")
    assert source.encoding == "utf-8-sig" and source.header == ["name"]
    source.close()
    with pytest.raises(InvalidInput):
        open_csv(src, {}, FIELDS, encoding="nope")


def test_cells_skips_blank_lines_trims_empty_extras_and_flags_ragged(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text('name,phone\n\nA,1\n,\nB,2,,\nC\nD,4,5\n"E\nF",6\n', encoding="utf-8")
    source = open_csv(src, {}, FIELDS)
    got = list(source.cells())
    source.close()
    assert got[0] == (3, ["A", "1"], None)
    assert got[1] == (5, ["B", "2"], None)
    assert got[2][0] == 6 and got[2][2] == "ragged row: 1 fields, header has 2"
    assert got[3][0] == 7 and got[3][2].startswith("ragged row: 3 fields")
    assert got[4] == (8, ["E\nF", "6"], None)  # the line the record starts on


def test_rows_api_still_works(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("name,email\nA,a@x.com\n", encoding="utf-8")
    source = open_csv(src, {}, FIELDS)
    assert [(line, rec) for line, rec, _, _ in source.rows()] == [
        (2, {"name": "A", "email": "a@x.com"})
    ]
    source.close()


@pytest.mark.nodb  # lists or creates the database file itself
def test_reject_sink_is_atomic_in_line_order_and_only_written_when_needed(
    tmp_path: Path,
) -> None:
    target = default_rejects_path(str(tmp_path / "in.csv"))
    assert target == tmp_path / "in.rejects.csv"
    sink = RejectSink(target, ["name", "phone"])
    assert sink.finish() is None and not target.exists()
    sink = RejectSink(target, ["name", "phone"])
    sink.add(5, "phone", "无", "not a phone number", ["A", "无"], "warning")
    sink.add(3, "name", "", "no name", ["", "1"], "reject")
    assert not target.exists()
    assert sink.finish() == target
    assert (sink.rejected, sink.warnings) == (1, 1)
    raw = target.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    with open(target, encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh)) == [
            ["line", "field", "value", "reason", "name", "phone"],
            ["3", "name", "", "no name", "", "1"],
            ["5", "phone", "无", "not a phone number", "A", "无"],
        ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.rejects.csv"]  # no .part left
    sink.discard(target)
    assert not target.exists()
    counting = RejectSink(None, ["name"])
    counting.add(2, "", "", "x", ["y"], "reject")
    assert counting.finish() is None and counting.rejected == 1


@pytest.mark.nodb
def test_reject_sink_spools_many_entries_in_line_order_and_takes_back_a_plan(
    tmp_path: Path,
) -> None:
    """Entries are spooled to a temporary file: thousands of them, arriving out of line
    order, come out sorted by line (one line's entries in the order they came); truncate()
    forgets the entries a plan added, and what is added after it is kept."""
    target = tmp_path / "r.csv"
    sink = RejectSink(target, ["name", "note"])
    expected = []
    for i in range(3000):
        line = 2 + (i * 7919) % 1500  # every line twice, out of order
        sink.add(line, "note", f"v{i}", f"reason {i}", [f"n{i}", 'x,"y"\n'], "warning")
        expected.append((line, i))
    kept = sink.count
    sink.add(1, "name", "", "taken back", ["a", "b"], "reject")
    sink.truncate(kept)
    sink.add(9999, "name", "", "after", ["z", ""], "reject")
    expected.append((9999, 3000))
    assert sink.finish() == target
    with open(target, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    want = []
    for line, i in sorted(expected):
        if i == 3000:
            want.append([str(line), "name", "", "after", "z", ""])
        else:
            want.append([str(line), "note", f"v{i}", f"reason {i}", f"n{i}", 'x,"y"\n'])
    assert rows == want


def test_import_summary_line_and_dict() -> None:
    s = ImportSummary("f.csv", "utf-8", "\t", rows=3, inserted=1, rejected=1, duplicates=1)
    assert s.as_dict()["delimiter"] == "tab"
    assert (
        s.line() == "Imported f.csv: 1 inserted, 0 updated, 0 unchanged, 1 rejected, 1 duplicates"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Name;Email\r\nJürgen Müller;jm@beispiel.de\r\n",  # "ür" and "ül" are GBK pairs too
        "Name;Ville\r\nHélène Dupré;Besançon\r\nFrançois Lefèvre;Orléans\r\n",
        "name,city\r\nBjörk Guðmundsdóttir;Reykjavík\r\n",
    ],
)
def test_western_excel_ansi_is_not_read_as_gbk(text: str) -> None:
    sample = text.encode("cp1252")
    if text.startswith("Name;Email"):
        sample.decode("gb18030")  # the trap: these bytes are valid GBK as well
    assert detect_encoding(sample) == "cp1252"


def test_gbk_with_rare_given_names_stays_gbk() -> None:
    # 喆 and 堃 are outside GB2312 (GBK extension): a few of them do not make it Western
    text = "姓名,电话,城市\r\n张喆,13800138000,北京\r\n王堃,13900139000,上海\r\n李伟,13700137000,广州\r\n"
    assert detect_encoding(text.encode("gbk")) == "gb18030"


def test_a_cp1252_customer_list_imports_its_names_and_says_how_it_was_read(
    cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "kunden.csv"
    path.write_bytes("Name;Email\r\nJürgen Müller;jm@beispiel.de\r\n".encode("cp1252"))
    result = cli("customer", "import", str(path))
    assert result.exit_code == 0, result.stderr
    assert "read as cp1252" in result.stderr
    assert [r["name"] for r in cli.json("customer", "list")] == ["Jürgen Müller"]


@pytest.mark.nodb
def test_column_counts_count_what_column_values_yields(tmp_path: Path) -> None:
    """Pass 1's counted path (enum columns only) sees exactly the cells of the row-by-row
    path: blank lines, ragged rows, rows with empty extra cells, quoted newlines, spaces."""
    import random
    from collections import Counter

    rnd = random.Random(7)
    values = ["lead", " Customer ", "", "warm", "cold", "a\nb", "x,y", "  "]
    for trial in range(40):
        lines = ["name,lifecycle,owner"]
        for _ in range(rnd.randint(0, 60)):
            width = rnd.choice([3, 3, 3, 3, 2, 4, 5, 0])
            cells = [rnd.choice(values) for _ in range(width)]
            if width > 3 and rnd.random() < 0.5:
                cells[3:] = [" "] * (width - 3)  # empty extra cells: trimmed, not ragged
            lines.append(",".join(f'"{c}"' if ("," in c or "\n" in c) else c for c in cells))
        path = tmp_path / f"f{trial}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        src = open_csv(path, {}, ("name", "lifecycle", "owner"))
        counted = src.column_counts(["lifecycle", "owner"])
        src.rewind()
        by_row = list(src.column_values(["lifecycle", "owner"]))
        src.close()
        assert counted is not None
        for f in ("lifecycle", "owner"):
            # cells that are blank once stripped are ignored by the evidence either way
            want = Counter(r[f] for r in by_row if r[f].strip())
            assert Counter({c: n for c, n in counted[f].items() if c.strip()}) == want, f


@pytest.mark.nodb
def test_two_columns_matched_to_one_field_are_an_error_naming_the_choice(tmp_path: Path) -> None:
    """Two columns read as one field (by name or alias): which one is meant is not guessed
    (the second was dropped without a word: `Phone,Mobile`, `email,email`)."""
    path = tmp_path / "two.csv"
    path.write_text("name,status,stage\nA,,lead\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        open_csv(path, {"status": "lifecycle", "stage": "lifecycle"}, ("name", "lifecycle"))
    assert str(err.value) == (
        "columns 'status' and 'stage' both read as lifecycle; say which with"
        " --map status=lifecycle or --map stage=lifecycle (the other is then not read),"
        " or ignore one with --map stage=-"
    )
    # either choice reads the file
    for chosen in ({"stage": "lifecycle"}, {"status": "-"}):
        spec = [f"{k}={v}" for k, v in chosen.items()]
        src = open_csv(path, {"status": "lifecycle", "stage": "lifecycle"}, ("name", "lifecycle"),
                       mapping=spec)  # fmt: skip
        assert src.fields.count("lifecycle") == 1
        src.close()
    path.write_text("name,email,email\nAnn,a1@x.com,a2@x.com\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="columns 2 and 3 are both named 'email'"):
        open_csv(path, {}, ("name", "email"))
