"""Property-based bad input: random option values, dates, encodings, truncated and binary CSVs.

For every generated command line: no traceback, an exit code from DESIGN.md (0-4), a single
`Error: ...` line when it fails, and a failed command leaves the database exactly as it was
(compared by a hash over every row of every table). Deterministic: derandomized, no example
database, modest example counts.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from dbstate import content_hash
from fastcli import FastRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
runner = FastRunner()
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24
)
TRICKY = st.sampled_from(
    [
        "",
        " ",
        "-1",
        "0",
        "9" * 40,
        "1e309",
        "NaN",
        "%s%n",
        "{0}",
        "\\",
        "'",
        '"',
        "张伟",
        "＋８６ １３８ ００１３ ８０００",
        "\u202e",
        "a\nb",
        "\t",
    ]
)
DATES = st.one_of(
    st.sampled_from(
        [
            "2024-02-30",
            "2024-13-01",
            "0000-00-00",
            "9999-12-31T23:59:59",
            "yesterday",
            "+3d",
            "-2w",
            "1700000000",
            "2024/1/1 25:61",
            "2025-01-01T00:00:00+25:00",
            "3月5日",
        ]
    ),
    st.datetimes().map(str),
    TEXT,
)
VALUE = st.one_of(TEXT, TRICKY, DATES)
IDS = st.sampled_from(["1", "2", "3", "999", "0", "-1", "abc", "1.5", "", "99999999999999999999"])


def add_args() -> st.SearchStrategy[list[str]]:
    fields = st.lists(
        st.tuples(
            st.sampled_from(
                ["--phone", "--email", "--lifecycle", "--tag", "--external-id", "--address"]
            ),
            VALUE,
        ),
        max_size=3,
    )
    return st.tuples(VALUE, fields).map(
        lambda t: ["customer", "add", "--name", t[0], *[x for pair in t[1] for x in pair]]
    )


COMMANDS = st.one_of(
    add_args(),
    st.tuples(
        IDS,
        st.sampled_from(["--phone", "--email", "--lifecycle", "--name", "--external-id"]),
        VALUE,
    ).map(lambda t: ["customer", "update", t[0], t[1], t[2]]),
    st.tuples(
        st.sampled_from(
            [
                "--search",
                "--sort",
                "--limit",
                "--offset",
                "--created-since",
                "--segment",
                "--lifecycle",
                "--tag",
            ]
        ),
        VALUE,
    ).map(lambda t: ["customer", "list", t[0], t[1]]),
    st.tuples(IDS, VALUE, DATES, VALUE).map(
        lambda t: ["comm", "log", t[0], "--channel", t[1], "--at", t[2], "--duration", t[3]]
    ),
    st.tuples(IDS, VALUE, VALUE).map(
        lambda t: [
            "ticket",
            "open",
            t[0],
            "--subject",
            t[1],
            "--priority",
            t[2],
            "--category",
            "billing",
            "--no-reply",
        ]
    ),
    st.tuples(IDS, VALUE).map(lambda t: ["customer", "tag", t[0], "--add", t[1]]),
    DATES.map(lambda d: ["audit", "list", "--since", d]),
    DATES.map(lambda d: ["--as-of", d, "customer", "list"]),
    st.tuples(IDS, VALUE).map(lambda t: ["order", "add", t[0], "--amount", t[1]]),
    IDS.map(lambda i: ["customer", "forget", i]),
    IDS.map(lambda i: ["customer", "export-data", i]),
    VALUE.map(lambda v: ["db", "backup", "--keep", v]),
    VALUE.map(lambda v: ["customer", "list", "--format", v]),
)


def run(args: list[str], db: Path) -> None:
    """Run one command line and check the contract; the database must not change on failure."""
    before = content_hash(db)
    result = runner.run(args, catch_exceptions=False)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, args
    assert result.exit_code in {0, 1, 2, 3, 4}, (args, result.exit_code, output)
    if result.exit_code != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
        assert len(errors) == 1, (args, result.stderr)
        assert "unexpected" not in errors[0], (args, errors[0])  # an unmapped exception
        assert content_hash(db) == before, (args, result.stderr)


@pytest.fixture
def seeded(cli, add_customer, db_path: Path) -> Path:  # type: ignore[no-untyped-def]
    add_customer("Ann", email="ann@example.com", phone="13800138000", tag="vip")
    add_customer("Bob", external_id="B-1")
    add_customer("张伟", phone="13900139000")
    return db_path


@FUZZ
@given(args=COMMANDS)
def test_random_command_lines_keep_the_contract(seeded: Path, args: list[str]) -> None:
    run(args, seeded)


HEADERS = ["name", "phone", "email", "external_id", "tags", "姓名", "电话", "邮箱", "company"]
HEADERS += ["lifecycle", "created_at", "junk", ""]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "gb18030", "latin-1", "cp1252", "shift_jis", "big5"]


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["text", "text", "binary", "empty"]))
    if kind == "binary":
        return draw(st.binary(max_size=1500))
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"\xef\xbb\xbf", b"\xff\xfe", b",,,\n"]))
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6))
    rows = draw(st.lists(st.lists(st.one_of(VALUE, st.just('"unclosed')), max_size=7), max_size=12))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    text = "\n".join(delimiter.join(r) for r in [header, *rows]) + "\n"
    encoding = draw(st.sampled_from(ENCODINGS))
    data = codecs.encode(text, encoding, errors="ignore")
    if draw(st.booleans()):  # truncated mid-file (possibly mid-character)
        data = data[: draw(st.integers(min_value=0, max_value=len(data)))]
    return data


@FUZZ
@given(
    data=csv_files(),
    flags=st.lists(
        st.sampled_from(
            [
                ["--strict"],
                ["--key", "email"],
                ["--key", "external_id"],
                ["--key", "name"],
                ["--encoding", "gb18030"],
                ["--encoding", "no-such-codec"],
                ["--map", "junk=notes"],
                ["--map", "=="],
                ["--dry-run"],
            ]
        ),
        max_size=2,
    ),
)
def test_random_csv_imports_keep_the_contract(
    seeded: Path, tmp_path: Path, data: bytes, flags: list[list[str]]
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    run(["customer", "import", str(path), *[x for f in flags for x in f]], seeded)


def test_huge_id_is_invalid_input(cli, add_customer) -> None:  # type: ignore[no-untyped-def]
    add_customer("Ann")
    assert cli("customer", "show", "99999999999999999999").exit_code == 2


def test_offset_out_of_range_is_invalid_input(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("audit", "list", "--since", "2025-01-01T00:00:00+25:00").exit_code == 2


def test_own_commands_reject_huge_ids_as_usage_errors(cli) -> None:  # type: ignore[no-untyped-def]
    for command in ("forget", "export-data"):
        assert (
            cli(
                "customer",
                command,
                "99999999999999999999",
                "--yes" if command == "forget" else "--no-mask",
            ).exit_code
            == 2
        )


@settings(FUZZ, max_examples=25)
@given(cut=st.floats(min_value=0.0, max_value=0.999), flip=st.booleans())
def test_damaged_backups_are_refused_and_change_nothing(
    seeded: Path, tmp_path: Path, cut: float, flip: bool
) -> None:
    good = tmp_path / "good.db"
    if not good.exists():
        assert runner.run(["db", "backup", str(good)]).exit_code == 0
    data = bytearray(good.read_bytes())
    if flip:  # scribble over a page in the middle instead of cutting the file short
        at = int(len(data) * cut)
        data[at : at + 512] = bytes(512)
        data[at : at + 16] = b"garbage-garbage!"
    else:
        data = data[: int(len(data) * cut)]
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(bytes(data))
    before = content_hash(seeded)
    result = runner.run(["db", "restore", str(damaged), "--yes", "--force"])
    assert "Traceback" not in result.stdout + result.stderr
    if result.exit_code != 0:
        assert result.exit_code == 1 and result.stderr.startswith("Error: ")
        assert content_hash(seeded) == before
    else:  # the scribble hit unused bytes: then the restore must be a faithful copy
        assert runner.run(["db", "check"]).exit_code == 0
