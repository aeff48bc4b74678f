"""output.plain writes the text rich prints, or says it can't (None), never something else.

The reference is rich itself: every table and line is printed by rich's Console (no color,
the given width) and compared with output.plain.render character for character.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from crmcli.output import plain

WORDS = [
    "",
    "a",
    "phone",
    "2025-11-01",
    "14,221",
    "-28.0%",
    "张伟",
    "北京市朝阳区建国路 88 号",
    "  padded  ",
    "trailing ",
    "█████▍",
    "▁▃▇",
    "x" * 40,
    "Zoë Ångström",
    "12:30",
    "ratio:",
    "🙂 emoji",
    "a very long customer name that will not fit a narrow column",
]


def _rich(items: list[plain.Table | plain.Line], width: int) -> str:
    buf = io.StringIO()
    con = Console(
        file=buf, width=width, color_system=None, markup=False, highlight=False, soft_wrap=False
    )
    for item in items:
        con.print(plain.to_rich(item))
    return buf.getvalue()


def _random_table(rng: random.Random) -> plain.Table:
    table = plain.Table(
        title=rng.choice([None, "", "Periods", "客户价值", "A title longer than most tables are"]),
        title_justify=rng.choice(["left", "center", "right"]),
    )
    for _ in range(rng.randint(1, 6)):
        numeric = rng.random() < 0.4
        table.add_column(
            rng.choice(["Period", "Total", "Change (%)", "客户", "", "Seasonal effect"]),
            justify="right" if numeric else rng.choice(["left", "center", "right"]),
            no_wrap=rng.random() < 0.8,
            overflow=rng.choice(["ellipsis", "fold", "crop"]),
            min_width=rng.choice([None, None, 0, 3, 12]),
            max_width=rng.choice([None, None, 5, 28]),
        )
    for _ in range(rng.randint(1, 8)):
        table.add_row(*[rng.choice(WORDS) for _ in table.columns])
    return table


def test_random_tables_match_rich_or_defer_to_it() -> None:
    rng = random.Random(18)
    rendered = 0
    for _ in range(600):
        width = rng.choice([40, 80, 120, 200])
        items: list[plain.Table | plain.Line] = [
            plain.Line(rng.choice(WORDS), bold=rng.random() < 0.3),
            _random_table(rng),
        ]
        text = plain.render(items, width)
        if text is not None:
            rendered += 1
            assert text == _rich(items, width), (width, items)
    assert rendered > 200  # about half are written directly (the rest need rich)


def test_long_lines_wrap_as_rich_wraps_them() -> None:
    rng = random.Random(8)
    for _ in range(300):
        width = rng.choice([20, 40, 80])
        text = rng.choice([" ", ", ", ""]).join(
            rng.choice(WORDS) for _ in range(rng.randint(1, 12))
        )
        items: list[plain.Table | plain.Line] = [plain.Line(text)]
        written = plain.render(items, width)
        if written is None:
            assert not text.isprintable() or ":" in text
        else:
            assert written == _rich(items, width), (width, text)


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("a\tb", "tabs are expanded by rich"),
        ("two\nlines", "a cell of two lines"),
        ("bell\x07", "control characters are stripped by rich"),
        ("see :thumbs_up: here", "rich replaces emoji codes in cells"),
        ("x" * 300, "wider than the console: rich shrinks the column"),
    ],
)
def test_what_only_rich_can_print_is_left_to_rich(cell: str, why: str) -> None:
    table = plain.Table(title="T")
    table.add_column("c", no_wrap=True)
    table.add_row(cell)
    assert plain.render([table], 120) is None, why


def test_times_with_two_colons_are_not_emoji_codes() -> None:
    table = plain.Table()
    table.add_column("at")
    table.add_row("12:30:45")
    assert plain.render([table], 80) == _rich([table], 80)


def test_styles_ascii_and_terminals_go_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    class Pipe(io.StringIO):
        encoding = "utf-8"

    class Latin1(io.StringIO):
        encoding = "latin-1"

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert plain.plain_width(Pipe(), 200) == 200
    assert plain.plain_width(Latin1(), 200) is None  # rich draws an ASCII box
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert plain.plain_width(Pipe(), 200) is None  # rich prints bold headers
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert plain.plain_width(Pipe(), 200) is None
    # rich agrees that the pipe takes no styles
    monkeypatch.delenv("TTY_COMPATIBLE")
    assert Console(file=Pipe()).color_system is None


def test_a_long_report_table_is_written_without_rich(tmp_path: Path) -> None:
    """`report comm --by day` (a 365-row table) through a pipe: the plain writer, and rich
    is not even imported; the text is the one rich prints (compared in-process)."""
    env = {**os.environ, "CRM_DB": str(tmp_path / "crm.db"), "CRM_TZ": "Asia/Shanghai"}
    as_of = ["--as-of", "2026-11-01T00:00:00Z"]
    made = subprocess.run(
        [sys.executable, "-m", "crmcli", *as_of, "demo", "--customers", "200", "--seed", "5"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert made.returncode == 0, made.stderr
    args = [*as_of, "report", "comm", "--by", "day", "--seasonality"]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "crmcli", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "crmcli.output.plain" in imported
    assert "rich.table" not in imported and "rich.console" not in imported
    assert proc.stdout.count("\n") > 365
    assert "│ 2026-10-31 │" in proc.stdout


REPORTS = [
    ["report", "dashboard"],
    ["report", "comm", "--by", "day", "--seasonality"],
    ["report", "comm", "--forecast", "12"],
    ["report", "value"],
    ["report", "loyalty"],
    ["report", "quality"],
    ["report", "tickets"],
]


def test_every_report_table_is_the_text_rich_prints(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of = ["--as-of", "2026-11-01T00:00:00Z"]
    made = cli(*as_of, "demo", "--customers", "200", "--seed", "5")
    assert made.exit_code == 0, made.stderr
    written = {}
    direct = []
    real_render = plain.render

    def spy(items: list[plain.Table | plain.Line], width: int) -> str | None:
        text = real_render(items, width)
        direct.append(text is not None)
        return text

    monkeypatch.setattr(plain, "render", spy)
    for columns in ("200", "80"):
        for lang in ("en", "zh"):
            for args in REPORTS:
                result = cli(*as_of, "--lang", lang, *args, env={"COLUMNS": columns})
                assert result.exit_code == 0, result.stderr
                written[(columns, lang, *args)] = result.stdout
    assert direct.count(True) >= len(written) - 2  # written directly (not by rich)
    monkeypatch.setattr(plain, "render", lambda items, width: None)  # rich prints them all
    for (columns, lang, *args), text in written.items():
        result = cli(*as_of, "--lang", lang, *args, env={"COLUMNS": columns})
        assert result.stdout == text, (columns, lang, args)


LISTINGS = [
    ["customer", "list"],
    ["customer", "list", "--wide"],
    ["customer", "list", "--columns", "id,name,email,phone"],
    ["customer", "list", "--limit", "0"],
    ["comm", "list"],
    ["comm", "list", "--wide", "--limit", "5"],
    ["ticket", "list"],
    ["deal", "list"],
    ["order", "list"],
]


def test_listings_are_the_text_rich_prints(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listings (print_listing) through a pipe: written directly, and the same text (and the
    same stderr note on hidden columns) as rich prints, --wide and --columns included."""
    as_of = ["--as-of", "2026-11-01T00:00:00Z"]
    made = cli(*as_of, "demo", "--customers", "120", "--seed", "7")
    assert made.exit_code == 0, made.stderr
    direct = []
    real_render = plain.render

    def spy(items: list[plain.Table | plain.Line], width: int) -> str | None:
        text = real_render(items, width)
        direct.append(text is not None)
        return text

    monkeypatch.setattr(plain, "render", spy)
    written = {}
    for columns in ("200", "80"):
        for args in LISTINGS:
            result = cli(*as_of, *args, env={"COLUMNS": columns})
            assert result.exit_code == 0, (args, result.stderr)
            written[(columns, *args)] = (result.stdout, result.stderr)
    assert direct.count(True) >= len(written) - 2
    assert any("hidden to fit 80 columns" in err for _, err in written.values())
    monkeypatch.setattr(plain, "render", lambda items, width: None)  # rich prints them all
    for (columns, *args), (out, err) in written.items():
        result = cli(*as_of, *args, env={"COLUMNS": columns})
        assert (result.stdout, result.stderr) == (out, err), (columns, args)
