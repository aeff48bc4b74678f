"""Making data safe for where it is shown: spreadsheets (CSV) and terminals.

- `csv_cell(value)`: a text cell that a spreadsheet would run as a formula (it starts with
  = + - @, a tab, a CR, or the full-width ＝ ＋ － ＠) gets a leading apostrophe; numbers
  and other values pass unchanged. `uncsv_cell` undoes it (imports of our own exports).
- `csv_writer(out)`: a csv.writer that also quotes cells holding a CR (Python's writer only
  quotes the characters of its line terminator, so a CR inside a cell split the row).
- `terminal_text(text)`: removes what a terminal would interpret: ESC sequences (CSI, OSC,
  DCS/SOS/PM/APC strings, two-character escapes), the C0 controls except newline and tab,
  DEL and the C1 controls. Used for table and markdown cells; JSON and CSV keep the data.
"""

from __future__ import annotations

import re
from typing import IO, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

# ESC [ ... final byte (CSI), ESC ] ... BEL or ST (OSC), ESC P/X/^/_ ... ST (DCS, SOS, PM,
# APC), the 8-bit forms (CSI = U+009B, OSC = U+009D ...), then any other ESC + one char.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_RISKY = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def csv_cell(value: Any) -> Any:
    """Neutralise a CSV cell a spreadsheet would run as a formula; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


_GROUP_LIKE = re.compile(r"-?\d{1,3}\.\d{3}")


def export_number(value: Any) -> Any:
    """A number as an export writes it so that the import reads it back under either
    decimal convention decision: 1.234 (which a column of such cells could read as 1234,
    and the import then refuses to guess) is written 1.2340, the same number."""
    if isinstance(value, float):
        text = repr(value)
        if _GROUP_LIKE.fullmatch(text):
            return text + "0"
    return value


def uncsv_cell(cell: str) -> str:
    """Undo csv_cell: "'=1+1" -> "=1+1" (reading back a file we wrote)."""
    if len(cell) > 1 and cell[0] == "'" and cell[1:].startswith(FORMULA_PREFIXES):
        return cell[1:]
    return cell


class _SafeWriter:
    """csv.writer whose rows with a CR anywhere are written fully quoted."""

    def __init__(self, out: IO[str], lineterminator: str) -> None:
        import csv

        self._plain = csv.writer(out, lineterminator=lineterminator)
        self._quoted = csv.writer(out, lineterminator=lineterminator, quoting=csv.QUOTE_ALL)

    def writerow(self, row: Any) -> Any:
        cells = list(row)
        if any(isinstance(c, str) and "\r" in c for c in cells):
            return self._quoted.writerow(cells)
        return self._plain.writerow(cells)

    def writerows(self, rows: Any) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: IO[str], lineterminator: str = "\n") -> _SafeWriter:
    """A CSV writer that quotes CR and LF inside cells (pass cells through csv_cell)."""
    return _SafeWriter(out, lineterminator)


def terminal_text(text: str) -> str:
    """Text without terminal control sequences (newline and tab stay)."""
    if not _RISKY.search(text):
        return text
    return _CONTROLS.sub("", _SEQUENCES.sub("", text))
