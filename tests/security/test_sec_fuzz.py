"""Property-based fuzzing of every command: walk the command tree from `--help`, then call
each command with random, unicode, huge and control-character arguments.

Fails on a traceback, an "unexpected ..." error, or an exit code outside DESIGN.md's 0-4.
The quick version (a few examples per command) runs in CI; the slow one digs deeper.
Values that look like absolute or parent paths are made relative, so nothing is written
outside the test's folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crmcli.cli import app

# Commands that take minutes by design with any argument (demo builds a large dataset).
SKIP = {("demo",)}
runner = CliRunner()


def _help(path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, (path, result.stderr)
    return result.stdout


def _section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        if re.match(rf"^\s*[╭─]*\s*{title}\b", line) or line.strip() == f"{title}:":
            inside = True
            continue
        if inside and (not line.strip() or re.match(r"^\S", line) or line.startswith("╰")):
            if out:
                break
            continue
        if inside:
            out.append(line.strip("│ ").rstrip())
    return out


def walk(path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], list[str], int]]:
    """(command path, its long options, how many positional arguments)."""
    text = _help(path)
    commands = [
        m.group(1)
        for line in _section(text, "Commands")
        if (m := re.match(r"^([a-z][\w-]*)", line))
    ]
    if commands:
        for name in commands:
            yield from walk((*path, name))
        return
    usage = next((line for line in text.splitlines() if line.startswith("Usage:")), "")
    after = usage.split("[OPTIONS]", 1)[-1]
    positional = len(re.findall(r"\b[A-Z][A-Z_]+\b", after))
    options = sorted(set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", text)) - {"--help"})
    yield path, options, positional


COMMANDS = [c for c in walk() if c[0] not in SKIP]
IDS = [" ".join(c[0]) for c in COMMANDS]

CONTROL = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x9F), max_size=12)
UNICODE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)
SPECIAL = st.sampled_from(
    [
        "",
        "-",
        "0",
        "-1",
        "1",
        "9" * 30,
        "1e309",
        "NaN",
        "2024-02-30",
        "+3d",
        "7d",
        "tag=vip and (orders>=2 or not rfm=champions)",
        "(" * 200,
        "\x1b[2J\x1b]8;;x\x07",
        "=HYPERLINK(1)",
        "张伟",
        "a\r\nb",
        "%s%n{0}",
        "' OR 1=1 --",
        b"\xff\xfe".decode("utf-8", "surrogateescape"),
    ]
)
HUGE = st.sampled_from(["x" * 100_000, "(" * 5_000 + "tag=a" + ")" * 5_000, "é" * 20_000])
VALUE = st.one_of(SPECIAL, UNICODE, CONTROL, HUGE)


def safe_path(value: str) -> str:
    """Keep generated paths inside the working folder."""
    value = value.replace("\x00", "")
    if value.startswith(("/", "~")) or ".." in value:
        return "./" + value.lstrip("/~").replace("..", "__")
    return value


@st.composite
def command_line(draw: Any, spec: tuple[tuple[str, ...], list[str], int]) -> list[str]:
    path, options, positional = spec
    args = [safe_path(draw(VALUE)) for _ in range(positional)]
    if options:
        for option in draw(st.lists(st.sampled_from(options), max_size=3, unique=True)):
            args.append(option)
            if draw(st.booleans()):
                args.append(safe_path(draw(VALUE)))
    return [*path, *args]


def check(args: list[str]) -> None:
    result = runner.invoke(app, args, input="", catch_exceptions=True)
    err = result.stderr if result.stderr_bytes is not None else ""
    if result.exception and not isinstance(result.exception, SystemExit):
        pytest.fail(f"{args!r:.300}: raised {result.exception!r}")
    assert result.exit_code in (0, 1, 2, 3, 4), f"{args!r:.300}: exit {result.exit_code}: {err}"
    assert "Traceback" not in err, f"{args!r:.300}: {err}"
    # "Error: unexpected ..." is the last-resort mapper in cli.py (click's own usage errors,
    # "Got unexpected extra argument", are fine: exit 2 with a usage line).
    assert not re.search(r"^Error: unexpected ", err, re.MULTILINE), f"{args!r:.300}: {err}"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRM_OUTBOX", str(tmp_path / "box"))
    cid = cli.ok("customer", "add", "--name", "Ann Lee", "--email", "ann@example.com").strip()
    cli.ok("comm", "log", cid, "--channel", "phone", "--subject", "hi", "--follow-up", "+1d")
    cli.ok("ticket", "open", cid, "--subject", "Broken", "--category", "billing")
    return tmp_path


def test_the_walk_finds_every_group() -> None:
    groups = {c[0][0] for c in COMMANDS}
    assert {"customer", "comm", "ticket", "campaign", "report", "db", "audit"} <= groups
    assert len(COMMANDS) > 40


QUICK = settings(
    max_examples=int(os.environ.get("CRM_FUZZ_EXAMPLES", "6")),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("spec", COMMANDS, ids=IDS)
def test_fuzz_command(spec: tuple[tuple[str, ...], list[str], int], workdir: Path) -> None:
    @QUICK
    @given(command_line(spec))
    def run(args: list[str]) -> None:
        check(args)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("spec", COMMANDS, ids=IDS)
def test_fuzz_command_deep(spec: tuple[tuple[str, ...], list[str], int], workdir: Path) -> None:
    @settings(QUICK, max_examples=25, derandomize=True)
    @given(command_line(spec))
    def run(args: list[str]) -> None:
        check(args)

    run()
