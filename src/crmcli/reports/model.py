"""What a report builder returns besides plain tables: absent sections and chart specs.

Reports are dicts of named sections; a section is a list of rows, a dict of figures, or
`absent(reason)` when its data does not exist. Renderers (crmcli.output) read these.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ChartSpec(TypedDict, total=False):
    """A chart drawn from one table section: x column, y columns, line or bar."""

    section: str
    x: str
    y: list[str]
    kind: str  # "line" | "bar" (grouped when several y) | "stacked"
    title: str


def absent(reason: str) -> dict[str, str]:
    """A section whose data does not exist: every format says so instead of showing zeros."""
    return {"no_data": reason}


def is_absent(section: Any) -> bool:
    return isinstance(section, dict) and list(section) == ["no_data"]
