"""What a report builder returns besides plain tables: absent sections and chart specs.

Reports are dicts of named sections; a section is a list of rows, a dict of figures, or
`absent(reason)` when its data does not exist. Renderers (crmcli.output) read these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class RowStream:
    """A table section written row by row: `rows()` makes the rows anew each time, in order,
    `count` says how many there are and `columns` names their keys. JSON, JSON lines and CSV
    write such a section one row at a time (a million customer rows never sit in memory
    together); the other formats read it into a list first."""

    count: int
    rows: Callable[[], Iterator[dict[str, Any]]]
    columns: Sequence[str] = ()
    # True when every row is a dict of exactly `columns` holding only scalars (str, int,
    # float, bool, None) and no time column (`*_at`): renderers may then encode rows in
    # batches without looking at each value.
    flat: bool = False

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.rows()


def materialized(report: dict[str, Any]) -> dict[str, Any]:
    """The report with every RowStream section read into a plain list of rows."""
    if not any(isinstance(v, RowStream) for v in report.values()):
        return report
    return {k: list(v) if isinstance(v, RowStream) else v for k, v in report.items()}
