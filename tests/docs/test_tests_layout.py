"""The tests folder follows CONTRIBUTING's rule ("## Tests"): a folder per package of
src/crmcli, plus the suites by concern, docs and data; test file names unique."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SRC = ROOT / "src" / "crmcli"
BY_CONCERN = {"security", "reliability"}
OTHER = {"docs", "data"}


def packages() -> set[str]:
    return {p.parent.name for p in SRC.glob("*/__init__.py")}


def test_every_test_folder_is_a_package_or_a_concern() -> None:
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders - packages() - BY_CONCERN - OTHER == set()
    assert "commands" in folders  # the CLI end to end


def test_the_whole_tree_and_security_files() -> None:
    top = {p.name for p in TESTS.glob("test_*.py")}
    assert {"test_architecture.py", "test_cli_basics.py", "test_startup.py"} <= top
    assert all(p.name.startswith("test_sec_") for p in (TESTS / "security").glob("test_*.py"))


def test_test_file_names_are_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py") if "data" not in p.parts)
    assert [n for n, k in names.items() if k > 1] == []
