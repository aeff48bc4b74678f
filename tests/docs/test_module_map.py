"""CONTRIBUTING.md's module map names every module in src/crmcli, and nothing that is gone.

The map is the code block under "## Module map": one line per module or package, its path
relative to src/crmcli first (`db/customers.py`, `commands/customer/`), then what it is.
A package line (ending in `/`) covers its `__init__.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "crmcli"


def mapped_paths() -> set[str]:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## Module map", 1)[1]
    block = section.split("```", 2)[1]
    paths = set()
    for line in block.splitlines():
        match = re.match(r"^\s*([\w/]+(?:\.py|/))\s", line + " ")
        if match:
            paths.add(match.group(1))
    return paths


def tree_paths() -> set[str]:
    paths = set()
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if "__pycache__" in rel:
            continue
        paths.add(rel[: -len("__init__.py")] if rel.endswith("__init__.py") else rel)
    paths.discard("")  # the top package itself
    return paths


def test_every_module_is_in_the_map() -> None:
    missing = sorted(tree_paths() - mapped_paths())
    assert not missing, f"add these to CONTRIBUTING.md's module map: {missing}"


def test_the_map_names_no_missing_module() -> None:
    gone = sorted(mapped_paths() - tree_paths())
    assert not gone, f"CONTRIBUTING.md's module map names modules that do not exist: {gone}"
