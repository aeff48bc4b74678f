"""Tables and lines as rich prints them, written directly (issue #18: interactive speed).

rich measures and renders every cell through its layout engine: a 365-row report table
took 1.3 s, plus 0.09 s to import rich's console. When the output cannot carry styles
(stdout is not a terminal, so rich's color system would be None) the text rich prints is
fully determined by the cells and the column settings, and this module writes that same
text: the HEAVY_HEAD box, padding 1, the same column widths (a column's widest cell, its
min_width / max_width), the same justification and ellipsis. Whenever rich would do
something more (fold or wrap a cell, shrink columns to fit, expand tabs, replace :emoji:
codes, substitute an ASCII box for a non-UTF-8 stream), `render` returns None and the
caller prints the same items with rich. tests/output/test_plain.py compares the two.

The items are described once (`Table`, `Line`) and turned into rich objects by `to_rich`,
so both renderers always get the same columns, widths and cells.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

# rich's box.HEAVY_HEAD (the default box of rich.table.Table)
_TOP = ("┏", "━", "┳", "┓")
_HEAD = ("┃", "┃", "┃")
_HEAD_ROW = ("┡", "━", "╇", "┩")
_BODY = ("│", "│", "│")
_BOTTOM = ("└", "─", "┴", "┘")


@dataclass
class Column:
    header: str
    justify: str = "left"  # left | right | center
    no_wrap: bool = False
    overflow: str = "ellipsis"  # rich's Column default
    min_width: int | None = None
    max_width: int | None = None


@dataclass
class Table:
    """A rich.table.Table with the settings crmcli uses (header_style bold, default box)."""

    title: str | None = None
    title_justify: str = "center"
    columns: list[Column] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def add_column(self, header: str, **settings: Any) -> None:
        self.columns.append(Column(header, **settings))

    def add_row(self, *cells: str) -> None:
        self.rows.append(list(cells))


@dataclass
class Line:
    """A rich.text.Text printed on its own (bold or not)."""

    text: str
    bold: bool = False


def to_rich(item: Table | Line) -> Any:
    """The rich renderable the same item prints as."""
    from rich.text import Text

    if isinstance(item, Line):
        return Text(item.text, style="bold") if item.bold else Text(item.text)
    from rich.table import Table as RichTable

    table = RichTable(title=item.title, header_style="bold", title_justify=item.title_justify)  # type: ignore[arg-type]
    for c in item.columns:
        table.add_column(
            c.header,
            justify=c.justify,  # type: ignore[arg-type]
            no_wrap=c.no_wrap,
            overflow=c.overflow,  # type: ignore[arg-type]
            min_width=c.min_width,
            max_width=c.max_width,
        )
    for row in item.rows:
        table.add_row(*row)
    return table


def plain_width(stream: TextIO, width: int) -> int | None:
    """`width` when rich would print to `stream` without styles (so `render` applies),
    else None. Mirrors rich.console.Console: is_terminal (TTY_COMPATIBLE, FORCE_COLOR,
    isatty), Jupyter, and ascii_only (an encoding that is not UTF-*)."""
    environ = os.environ
    if environ.get("TTY_COMPATIBLE", "") == "1" or environ.get("FORCE_COLOR") not in (None, ""):
        return None
    if environ.get("TTY_COMPATIBLE", "") != "0" and environ.get("FORCE_COLOR") is None:
        try:
            if stream.isatty():
                return None
        except ValueError:
            pass
    import builtins

    if hasattr(builtins, "get_ipython"):
        return None  # maybe Jupyter: rich decides
    if hasattr(sys.stdin, "__module__") and sys.stdin.__module__.startswith("idlelib"):
        return None
    encoding = (getattr(stream, "encoding", "utf-8") or "utf-8").lower()
    if not encoding.startswith("utf"):
        return None
    return width


def natural_width(table: Table) -> int | None:
    """The width rich measures for the table when nothing limits it (Console.measure's
    maximum: every column at its natural width, plus the box), or None (see render)."""
    if not table.columns:
        return None
    widths = _widths(table, 10**9)
    return None if widths is None else sum(widths) + len(table.columns) + 1


def render(items: list[Table | Line], width: int) -> str | None:
    """The text rich's Console(width=width, no color) prints for these items, or None when
    only rich can say (see the module docstring)."""
    parts: list[str] = []
    for item in items:
        text = _line(item, width) if isinstance(item, Line) else _table(item, width)
        if text is None:
            return None
        parts.append(text)
    return "".join(parts)


def _simple(text: str) -> bool:
    """Text rich prints as it is: printable only (rich strips some control characters,
    expands tabs, breaks lines), and no :emoji: code it would replace (cells are rendered
    with emoji on)."""
    if not text.isprintable():
        return False
    if text.count(":") >= 2:
        from rich._emoji_replace import _emoji_replace

        return _emoji_replace(text) == text
    return True


def _line(item: Line, width: int) -> str | None:
    """A Text on its own line, word-wrapped at `width` as rich's Text.wrap does it
    (justify default, overflow fold)."""
    from rich.cells import cell_len, set_cell_size

    text = item.text
    if not _simple(text):
        return None
    if cell_len(text) <= width:
        return text + "\n"
    from rich._wrap import divide_line

    offsets = divide_line(text, width, fold=True)
    lines = []
    for start, end in zip([0, *offsets], [*offsets, len(text)], strict=True):
        line = text[start:end]
        if len(line) > width:  # Text.rstrip_end: whitespace beyond the width goes
            spaces = len(line) - len(line.rstrip())
            line = line[: len(line) - min(spaces, len(line) - width)]
        if cell_len(line) > width:
            line = set_cell_size(line, width)
        lines.append(line)
    return "\n".join(lines) + "\n"


def cells(text: str) -> int:
    """rich.cells.cell_len, quick for printable ASCII (one cell a character)."""
    if text.isascii() and text.isprintable():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _justify(text: str, width: int, justify: str, overflow: str) -> str:
    """One cell line as rich's Lines.justify + Text.truncate make it: exactly `width` cells."""
    if justify == "left":
        length = cells(text)
        if length > width:
            return _cut(text, width, overflow)
        return text + " " * (width - length)
    text = text.rstrip()
    length = cells(text)
    if length > width:
        text = _cut(text, width, overflow)
        length = cells(text)
    if justify == "right":
        return " " * (width - length) + text
    from rich.cells import set_cell_size

    left = (width - length) // 2
    return set_cell_size(" " * left + text, width)


def _cut(text: str, width: int, overflow: str) -> str:
    from rich.cells import set_cell_size

    if overflow == "ellipsis":
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def _widths(table: Table, available: int) -> list[int] | None:
    """Each column's width with its padding, as rich's Table._calculate_column_widths gives
    it when every column has its natural width; None when rich would shrink or fold."""
    widths = []
    for index, column in enumerate(table.columns):
        texts = [column.header, *(row[index] for row in table.rows)]
        if not all(_simple(c) for c in texts):
            return None
        widest = max(cells(c) for c in texts) + 2
        if widest > available:
            return None  # rich caps the column at the table's width
        natural = widest
        if column.min_width is not None:
            natural = max(natural, column.min_width + 2)
        if column.max_width is not None:
            natural = min(natural, column.max_width + 2)
        if not column.no_wrap and natural < widest:
            return None  # a wrapping column narrower than a cell: rich folds the cell
        widths.append(natural or 1)
    if sum(widths) > available:
        return None  # rich would collapse columns
    return widths


def _table(table: Table, width: int) -> str | None:
    if not table.columns or not table.rows:
        return None
    if any(len(row) != len(table.columns) for row in table.rows):
        return None
    extra = 2 + len(table.columns) - 1
    widths = _widths(table, width - extra)
    if widths is None:
        return None
    table_width = sum(widths) + extra
    out: list[str] = []
    if table.title:
        title = table.title
        if not _simple(title) or cells(title) > table_width:
            return None
        out.append(_justify(title, table_width, table.title_justify, "fold") + "\n")
    out.append(_rule(_TOP, widths))
    cols = list(zip(table.columns, widths, strict=True))
    out.append(_row(_HEAD, [c.header for c in table.columns], cols))
    out.append(_rule(_HEAD_ROW, widths))
    for row in table.rows:
        out.append(_row(_BODY, row, cols))
    out.append(_rule(_BOTTOM, widths))
    return "".join(out)


def _rule(chars: tuple[str, str, str, str], widths: list[int]) -> str:
    left, line, cross, right = chars
    return left + cross.join(line * w for w in widths) + right + "\n"


def _row(chars: tuple[str, str, str], cells: list[str], cols: list[tuple[Column, int]]) -> str:
    left, divider, right = chars
    rendered = [
        " " + _justify(text, w - 2, c.justify, c.overflow) + " "
        for text, (c, w) in zip(cells, cols, strict=True)
    ]
    return left + divider.join(rendered) + right + "\n"
