"""customers/rules.py: `customer add`, `customer update` and `customer import` store the same
input the same way (one set of field rules)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

COLUMNS = ("name", "phone", "phone_ext", "phone_suspect", "email", "address", "lifecycle", "notes")
# One awkward value per rule: folded whitespace, an extension, a NANP-looking number read in
# CN, an upper-case email, a lifecycle alias, notes with a line break.
CASES = [
    {"name": "  Ann   Lee ", "phone": "010-6552-9988 ext. 12", "email": "ANN@Example.COM",
     "address": "1  Main\tSt", "lifecycle": "Customer", "notes": " first line\nsecond "},
    {"name": "Bob", "phone": "(415) 555-2671", "email": "bob@example.com",
     "address": "x", "lifecycle": "lead", "notes": "one"},
]  # fmt: skip


def stored(db_path: Path) -> list[dict[str, Any]]:
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    try:
        return [
            {c: r[c] for c in COLUMNS}
            for r in con.execute(f"SELECT {', '.join(COLUMNS)} FROM customers ORDER BY id")
        ]
    finally:
        con.close()


def add_args(case: dict[str, str]) -> list[str]:
    return [part for field, value in case.items() for part in (f"--{field}", value)]


def test_add_and_import_store_the_same_values(cli: Any, tmp_path: Path, db_path: Path) -> None:
    for case in CASES:  # --region CN: chosen, so the NANP-looking number is read in it
        cli.ok("customer", "add", *add_args(case), "--region", "CN")
    added = stored(db_path)
    assert added[0]["phone"] == "+861065529988" and added[0]["phone_ext"] == "12"
    assert added[0]["name"] == "Ann Lee" and added[0]["notes"] == "first line\nsecond"
    assert added[1]["phone_suspect"] == 1 and added[0]["phone_suspect"] == 0
    cli.ok("customer", "delete", "1", "--yes")
    cli.ok("customer", "delete", "2", "--yes")
    src = tmp_path / "people.csv"
    import csv

    with src.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(CASES[0]))
        writer.writeheader()
        writer.writerows(CASES)
    cli.ok("customer", "import", str(src))
    assert stored(db_path) == added


def test_update_sets_and_clears_a_phone_with_its_extension(cli: Any, db_path: Path) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--phone", "010-6552-9988 ext. 12")
    cli.ok("customer", "update", "1", "--phone", "(415) 555-2671", "--region", "CN")
    (row,) = stored(db_path)
    assert (row["phone"], row["phone_ext"], row["phone_suspect"]) == ("+864155552671", None, 1)
    cli.ok("customer", "update", "1", "--phone", "")
    (row,) = stored(db_path)
    assert (row["phone"], row["phone_ext"], row["phone_suspect"]) == (None, None, 0)


def test_text_fast_path_folds_exactly_as_split_and_join() -> None:
    """rules.text skips split/join for printable text without double spaces: the same
    result as the reference " ".join(raw.split()) for every character Python calls
    whitespace (and every other code point) alone, between letters, doubled, at the ends."""
    import sys

    from crmcli.customers.rules import text

    def reference(raw: str) -> str | None:
        return " ".join(raw.split()) or None

    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        forms = (ch, f"a{ch}b", f" {ch}", f"a{ch}{ch}b") if ch.isspace() or code < 0x3100 else (
            ch, f"a{ch}b")  # fmt: skip
        for raw in forms:
            assert text(raw) == reference(raw), repr(raw)


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass
else:

    @settings(max_examples=500, deadline=None)
    @given(
        st.text(
            alphabet=st.sampled_from("ab 张\t\n\r\u00a0\u3000\u2028\u200b\x1f\x85'"), max_size=12
        )
    )
    def test_text_equals_split_and_join_on_any_mix_of_spaces(raw: str) -> None:
        from crmcli.customers.rules import text

        assert text(raw) == (" ".join(raw.split()) or None)


def test_a_nanp_looking_number_under_the_unchosen_default_region_is_refused(
    cli: Any, db_path: Path
) -> None:
    """`(415) 555-0100` with no --region would be stored as +864155550100 only because CN
    is the default: nothing decided that reading, so add and update ask for --region."""
    result = cli("customer", "add", "--name", "Ann", "--phone", "(415) 555-0100")
    assert result.exit_code == 2
    assert "--region US" in result.stderr and "+864155550100" in result.stderr
    assert stored(db_path) == []
    cli.ok("customer", "add", "--name", "Ann", "--phone", "(415) 555-0100", "--region", "US")
    cli.ok("customer", "add", "--name", "Bo", "--phone", "13812345678")  # CN mobile: no doubt
    result = cli("customer", "update", "2", "--phone", "(415) 555-0101")
    assert result.exit_code == 2 and "--region" in result.stderr
    rows = stored(db_path)
    assert [(r["phone"], r["phone_suspect"]) for r in rows] == [
        ("+14155550100", 0),
        ("+8613812345678", 0),
    ]
