"""Rendering: rows and objects to stdout as table | json | jsonl | csv | markdown.

stdout is data, stderr is talk. Times (keys ending in `_at`) are shown in the configured
zone; lists (tags) are joined for flat formats. rich is imported only for tables and
messages on a terminal, so `--format json` stays fast.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from crmcli.core.errors import InvalidInput

FORMATS = ("table", "json", "jsonl", "csv", "markdown")


def check_format(fmt: str | None, allowed: Sequence[str] = FORMATS) -> str:
    fmt = (fmt or "table").lower()
    if fmt == "md":
        fmt = "markdown"
    if fmt not in allowed:
        raise InvalidInput(f"unknown format {fmt!r}; choose one of: {', '.join(allowed)}")
    return fmt


def is_time_key(key: str) -> bool:
    """Keys whose values are stored UTC times, shown in the configured zone: every `*_at`
    column, and `at` (ticket events and transitions, the audit log)."""
    return key.endswith("_at") or key == "at"


def _display_value(key: str, value: Any) -> Any:
    if is_time_key(key) and isinstance(value, str):
        from crmcli.core.clock import display_time

        return display_time(value)
    return value


def prepare(row: dict[str, Any]) -> dict[str, Any]:
    """Times into the configured zone, in nested objects too (a ticket's `sla.*.due_at`);
    everything else as is (JSON-ready)."""
    return {k: prepare(v) if isinstance(v, dict) else _display_value(k, v) for k, v in row.items()}


def _row_shape(rows: Sequence[Any]) -> dict[str, set[type]] | None:
    """For a list of non-empty dicts with text keys (the rows of a listing): the types of
    each key's values (NoneType where a row lacks the key); None for anything else. Checked
    by C-level iteration, not a Python call per value."""
    from itertools import chain
    from operator import methodcaller

    if not rows or not all(type(r) is dict and r for r in rows):
        return None
    keys = dict.fromkeys(chain.from_iterable(rows))
    if set(map(type, keys)) != {str}:
        return None
    return {k: set(map(type, map(methodcaller("get", k), rows))) for k in keys}


def _nested_empty(rows: Sequence[dict[str, Any]], shape: dict[str, set[type]]) -> bool:
    """Scalars, and objects that are all empty ({}: a listing's `custom` without fields)."""
    from operator import methodcaller

    for key, kinds in shape.items():
        if not kinds <= _ROW_TYPES:
            return False
        if dict in kinds and any(v for v in map(methodcaller("get", key), rows) if type(v) is dict):
            return False
    return True


def _flat_rows(rows: Sequence[Any]) -> bool:
    """Rows (_row_shape) whose values are scalars or empty objects: JSON in one encoder call."""
    shape = _row_shape(rows)
    return shape is not None and _nested_empty(rows, shape)


def _prepare_rows(rows: list[dict[str, Any]], shape: dict[str, set[type]]) -> list[dict[str, Any]]:
    """prepare() over rows whose values are scalars, plain objects or lists (every kind in
    _PREPARED_TYPES; prepare() leaves lists as they are): copies with their time columns converted a column at a time by the clock's
    batch conversion (one zone lookup per UTC hour), objects through prepare()."""
    from crmcli.core.clock import display_times

    out = [r.copy() for r in rows]
    for key, kinds in shape.items():
        if dict in kinds:
            for r in out:
                value = r.get(key)
                if type(value) is dict:
                    r[key] = prepare(value)
        if str in kinds and is_time_key(key):
            having = [r for r in out if type(r.get(key)) is str]
            for r, shown in zip(having, display_times([r[key] for r in having]), strict=True):
                r[key] = shown
    return out


def _prepared_rows(rows: list[Any]) -> list[dict[str, Any]] | None:
    """_prepare_rows when the rows qualify, else None (the caller takes the general path)."""
    shape = _row_shape(rows)
    if shape is None or not all(kinds <= _PREPARED_TYPES for kinds in shape.values()):
        return None
    return _prepare_rows(rows, shape)


def cell(value: Any) -> str:
    """A value as one cell of text, exactly as JSON has it: the one cell formatter.

    CSV (listings, reports, the customer export), markdown listings and record tables use
    it: a float is its shortest exact form (`repr`: 1234567.89, 0.1, 1e-07), never rounded;
    NaN is an empty cell, as JSON has null; lists (tags) are joined with "; ", objects are
    JSON, booleans true/false. What people read (listing tables, report tables, markdown and
    HTML) formats numbers by their kind instead (`listing_cell`, `output.sections.human_cell`,
    via output.labels) and uses this for everything else.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value else ""
    if isinstance(value, list | tuple):
        return "; ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def neutralise(text: str) -> str:
    """Stop spreadsheet formula injection (core.sanitize.csv_cell on text)."""
    from crmcli.core.sanitize import csv_cell

    return str(csv_cell(text))


def _csv_cell(value: Any) -> str:
    """A CSV cell: text neutralised (formula injection), numbers and booleans as they are."""
    from crmcli.core.sanitize import csv_cell

    if isinstance(value, str):
        return str(csv_cell(value))
    text = cell(value)
    # Lists (tags) and objects are text once joined: "=1; x" must not run either.
    return str(csv_cell(text)) if isinstance(value, list | tuple | dict) else text


def term(text: str) -> str:
    """A cell for a terminal or markdown: control characters and escape sequences removed."""
    from crmcli.core.sanitize import terminal_text

    return terminal_text(text)


def to_json(value: Any, indent: int | None = 2) -> str:
    """JSON text, indented by default. Byte for byte what json.dumps(indent=...) writes, but
    flat objects (e.g. the 400k customer rows of `report value`) go through the C encoder:
    with indent, json.dumps runs its pure-Python encoder, ~10x slower."""
    if indent is None:
        return _dumps(value, None)
    parts: list[str] = []
    _encode_indented(value, indent, 0, parts)
    return "".join(parts)


_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)
_ROW_TYPES = _SCALAR_TYPES | {dict}  # rows JSON-encoded in one call (objects empty)
_PREPARED_TYPES = _ROW_TYPES | {list, tuple}  # rows prepared a column at a time


def _dumps(value: Any, indent: int | None, separators: tuple[str, str] | None = None) -> str:
    return json.dumps(
        value,
        ensure_ascii=False,
        indent=indent,
        default=str,
        allow_nan=False,
        separators=separators,
    )


def _flat_list_json(rows: list[dict[str, Any]], indent: int, level: int = 0) -> str:
    """Indented JSON of flat rows (_flat_rows) in one C-encoder call: item and row separators
    carry the rows' indentation, then the row boundaries (the only "},\n" + indentation + "{"
    there is: strings escape newlines) get the list's."""
    outer = " " * (indent * level)
    inner = outer + " " * indent
    row_inner = inner + " " * indent
    text = _dumps(rows, None, (",\n" + row_inner, ": "))
    text = text[2:-2].replace("},\n" + row_inner + "{", f"\n{inner}}},\n{inner}{{\n{row_inner}")
    return f"[\n{inner}{{\n{row_inner}{text}\n{inner}}}\n{outer}]"


def _encode_indented(value: Any, indent: int, level: int, parts: list[str]) -> None:
    kind = type(value)
    outer = " " * (indent * level)
    inner = " " * (indent * (level + 1))
    if kind is dict and value and all(type(k) is str for k in value):
        if all(type(v) in _SCALARS for v in value.values()):
            # Newlines only ever appear between items (strings escape theirs), so the item
            # separator can carry the indentation.
            text = _dumps(value, None, (",\n" + inner, ": "))
            parts.append("{\n" + inner + text[1:-1] + "\n" + outer + "}")
            return
        # Runs of scalar items in one encoder call each (as above), the rest item by item.
        pieces: list[str] = []
        run: dict[str, Any] = {}
        for k, v in value.items():
            if type(v) in _SCALARS:
                run[k] = v
                continue
            if run:
                pieces.append(_dumps(run, None, (",\n" + inner, ": "))[1:-1])
                run = {}
            item = [_dumps(k, None) + ": "]
            _encode_indented(v, indent, level + 1, item)
            pieces.append("".join(item))
        if run:
            pieces.append(_dumps(run, None, (",\n" + inner, ": "))[1:-1])
        parts.append("{\n" + inner + (",\n" + inner).join(pieces) + "\n" + outer + "}")
        return
    if kind is list and value and _flat_rows(value):
        parts.append(_flat_list_json(value, indent, level))
        return
    if kind is list and value:
        parts.append("[\n")
        first = True
        for v in value:
            if not first:
                parts.append(",\n")
            first = False
            parts.append(inner)
            _encode_indented(v, indent, level + 1, parts)
        parts.append("\n" + outer + "]")
        return
    # Anything else (scalars, empty or non-str-keyed containers, tuples): the standard
    # encoder, its lines shifted to this depth.
    text = _dumps(value, indent)
    parts.append(text.replace("\n", "\n" + outer) if level and "\n" in text else text)


def _columns(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None) -> list[str]:
    if columns:
        return list(columns)
    from itertools import chain

    return list(dict.fromkeys(chain.from_iterable(rows)))  # in first-seen order


def write_csv(
    rows: Iterable[dict[str, Any]],
    out: TextIO,
    columns: Sequence[str],
) -> int:
    """Write rows as CSV, text cells neutralised against formula injection and cells with
    a CR or LF quoted (core.sanitize). Returns the row count."""
    from crmcli.core.clock import display_converter
    from crmcli.core.sanitize import csv_cell, csv_writer

    writer = csv_writer(out, lineterminator="\n")
    writer.writerow([_csv_cell(c) for c in columns])
    # _csv_cell(_display_value(c, value)) per cell, with the per-hour time conversion and
    # text cells neutralised directly (listings write millions of cells)
    convert = display_converter()
    times = [is_time_key(c) for c in columns]
    n = 0
    for row in rows:
        cells = []
        for c, is_time in zip(columns, times, strict=True):
            value = row.get(c)
            if isinstance(value, str):
                cells.append(csv_cell(convert(value) if is_time else value))
            elif isinstance(value, list | tuple | dict):
                cells.append(_csv_cell(value))
            else:  # numbers, booleans, None: as they are
                cells.append(cell(value))
        writer.writerow(cells)
        n += 1
    return n


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    def esc(text: str) -> str:
        return term(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(c) for c in columns) + " |"]
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for r in rows:
        lines.append(
            "| " + " | ".join(esc(cell(_display_value(c, r.get(c)))) for c in columns) + " |"
        )
    return "\n".join(lines) + "\n"


def console(stderr: bool = False):  # type: ignore[no-untyped-def]
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty():
        # Piped tables keep their columns whole instead of folding at 80 characters.
        width = int(os.environ.get("COLUMNS") or 200)
    return Console(stderr=stderr, markup=False, highlight=False, soft_wrap=False, width=width)


def print_items(build: Callable[[int], list[Any]]) -> None:
    """Print output.plain Tables and Lines built for the console's width: written directly
    when stdout takes no styles (a pipe or a file: the same text, without rich's layout
    engine), else by rich."""
    from crmcli.output import plain

    stream = sys.stdout
    if not stream.isatty():
        width = plain.plain_width(stream, int(os.environ.get("COLUMNS") or 200))
        if width is not None:
            items = build(width)
            text = plain.render(items, width)
            if text is not None:
                stream.write(text)
                return
    con = console()
    for item in build(con.width):
        con.print(plain.to_rich(item))


def rich_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None):  # type: ignore[no-untyped-def]
    from rich.table import Table

    table = Table(title=term(title) if title else None, show_lines=False, header_style="bold")
    for c in columns:
        numeric = any(
            isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows
        )
        table.add_column(term(c), justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        table.add_row(*[term(cell(_display_value(c, r.get(c)))) for c in columns])
    return table


def emit_rows(
    rows: Sequence[dict[str, Any]],
    fmt: str,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    out: TextIO | None = None,
) -> None:
    """Print a listing. Empty: `[]` for JSON, a header for CSV, a note on stderr for people."""
    stream = out or sys.stdout
    cols = listing_columns(rows, columns, fmt)
    if fmt == "json":
        chosen = [r if list(r) == cols else {c: r.get(c) for c in cols} for r in rows]
        prepared = _prepared_rows(chosen)
        if prepared is None:
            prepared = [prepare(r) for r in chosen]
        stream.write(to_json(prepared) + "\n")
    elif fmt == "jsonl":
        for r in rows:
            stream.write(to_json(prepare({c: r.get(c) for c in cols}), indent=None) + "\n")
    elif fmt == "csv":
        if cols:
            write_csv(rows, stream, cols)
    elif fmt == "markdown":
        if rows:
            stream.write(markdown_table(rows, cols))
        else:
            info("No results found.")
    else:
        if not rows:
            info("No results found.")
            return
        print_listing(rows, cols, title)


def emit_object(obj: dict[str, Any], fmt: str, title: str | None = None) -> None:
    """Print one record; nested lists of dicts (events, tags, ...) become their own tables."""
    scalars = {
        k: v
        for k, v in obj.items()
        if not (isinstance(v, list) and v and isinstance(v[0], dict)) and not isinstance(v, dict)
    }
    nested = {k: v for k, v in obj.items() if k not in scalars}
    if fmt == "json":
        sys.stdout.write(to_json(_prepare_deep(obj)) + "\n")
        return
    if fmt == "jsonl":
        sys.stdout.write(to_json(_prepare_deep(obj), indent=None) + "\n")
        return
    if fmt == "csv":
        write_csv(
            [{"field": k, "value": v} for k, v in prepare(scalars).items()],
            sys.stdout,
            ["field", "value"],
        )
        return
    pairs = [{"field": k, "value": cell(v)} for k, v in prepare(scalars).items()]
    if fmt == "markdown":
        sys.stdout.write(markdown_table(pairs, ["field", "value"]))
        for k, v in nested.items():
            rows = v if isinstance(v, list) else [v]
            sys.stdout.write(f"\n### {term(k)}\n\n" + markdown_table(rows, _columns(rows, None)))
        return
    con = console()
    con.print(rich_table(pairs, ["field", "value"], title))
    for k, v in nested.items():
        rows = v if isinstance(v, list) else [v]
        con.print(rich_table(rows, _columns(rows, None), k))


def _prepare_deep(value: Any, key: str = "") -> Any:
    # Scalars under keys not ending in _at are taken as they are without a call per value
    # (reports carry millions of them).
    if isinstance(value, dict):
        return {
            k: _prepare_deep(v, k) if isinstance(v, dict | list) or is_time_key(k) else v
            for k, v in value.items()
        }
    if isinstance(value, list):
        prepared = _prepared_rows(value)
        if prepared is not None:
            return prepared
        if not is_time_key(key):
            return [_prepare_deep(v, key) if isinstance(v, dict | list) else v for v in value]
        return [_prepare_deep(v, key) for v in value]
    return _display_value(key, value)


def emit_id(new_id: int | str, fmt: str, key: str = "id") -> None:
    """Commands that create print the new id (a bare number, or {"id": N} for JSON)."""
    if fmt in ("json", "jsonl"):
        sys.stdout.write(to_json({key: new_id}, indent=None) + "\n")
    else:
        sys.stdout.write(f"{new_id}\n")


def emit_json(value: Any) -> None:
    sys.stdout.write(to_json(_prepare_deep(value)) + "\n")


def info(text: str) -> None:
    """A message for people, on stderr (never stdout), suppressed by --quiet."""
    from crmcli.core.config import settings

    if settings.quiet:
        return
    sys.stderr.write(term(text) + "\n")


def warn(text: str) -> None:
    from crmcli.core.config import settings

    if settings.quiet:
        return
    sys.stderr.write(f"Warning: {term(text)}\n")


def error(text: str) -> None:
    sys.stderr.write(f"Error: {term(text)}\n")


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def string_io() -> io.StringIO:
    return io.StringIO()


def emit_import_summary(summary: Any, fmt: str) -> None:
    """What every `import` prints: unknown columns and the summary line on stderr; the
    summary object on stdout for json / jsonl / csv / markdown (nothing for a table)."""
    if summary.unknown_columns:
        # (--map names columns by their header: one without a header cannot be mapped)
        named = [c for c in summary.unknown_columns if not c.endswith("(no header)")]
        how = " (use --map SRC=FIELD)" if named else ""
        if len(named) < len(summary.unknown_columns):
            how += (" (a column without a header is imported only once the header line names"
                    " it)")  # fmt: skip
        warn("unknown column(s) not imported: " + ", ".join(summary.unknown_columns) + how)
    info(summary.line())
    if fmt in ("json", "jsonl"):
        sys.stdout.write(to_json(summary.as_dict(), indent=None if fmt == "jsonl" else 2) + "\n")
    elif fmt in ("csv", "markdown"):
        emit_object(summary.as_dict(), fmt)


def emit_changes(diff: dict[str, Any], fmt: str) -> None:
    """What every `update` prints: {field: [old, new]} as rows; "Nothing changed." for people."""
    rows = [
        {"field": k, "old": _display_value(k, v[0]), "new": _display_value(k, v[1])}
        for k, v in diff.items()
    ]
    if fmt == "table" and not rows:
        info("Nothing changed.")
        return
    emit_rows(rows, fmt, columns=["field", "old", "new"])


# ------------------------------------------------------------------ listings for people
# --columns a,b,c (every format) and --wide (every column, for people) are per-invocation
# view options kept in config.settings.extra by their option callbacks (commands/options.py).

TEXT_CAP = 28  # a text cell wider than this is cut with … (the full value is in `show`)


def view_option(name: str) -> Any:
    from crmcli.core.config import settings

    return settings.extra.get(name)


def listing_columns(
    rows: Sequence[dict[str, Any]], columns: Sequence[str] | None, fmt: str
) -> list[str]:
    """The columns a listing shows: --columns as given (unknown names refused), --wide every
    field (tables and markdown), else the command's columns (machine formats: every field)."""
    available = _columns(rows, None)
    chosen = view_option("columns")
    if chosen:
        names = [c.strip() for c in str(chosen).split(",") if c.strip()]
        known = set(available) | set(columns or [])
        unknown = [c for c in names if rows and c not in known]
        if unknown:
            raise InvalidInput(
                f"unknown column(s) for --columns: {', '.join(unknown)}; choose from: "
                + ", ".join(available or list(columns or []))
            )
        return names
    if view_option("wide") and fmt in ("table", "markdown"):
        return _columns(
            rows, [*(columns or []), *[c for c in available if c not in (columns or [])]]
        )
    return _columns(rows, columns)


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def listing_cell(key: str, value: Any, row: dict[str, Any] | None = None) -> str:
    """A listing cell for people: times as `2024-05-01 08:00` in the configured zone, numbers
    by their kind (money with two decimals and thousands separators, a float of no special
    kind to its size's precision: see output.labels), whole numbers of other kinds (ids) as
    they are, the rest as `cell` text."""
    if _is_num(value):
        from crmcli.output.labels import format_number, kind

        number_kind = kind(key)
        if isinstance(value, float) or number_kind in (
            "money", "percent", "ratio", "rate", "param", "count",
        ):  # fmt: skip
            return format_number(value, number_kind)
        return cell(value)
    if key == "at" and isinstance(value, str):
        from crmcli.core.clock import display_time

        value = display_time(value)
    text = term(cell(_display_value(key, value)))  # no escape sequences reach a terminal
    if (key.endswith("_at") or key == "at") and len(text) >= 16 and text[10:11] == "T":
        return text[:16].replace("T", " ")
    return text


def fit_columns(rows: Sequence[dict[str, Any]], columns: Sequence[str], width: int) -> list[str]:
    """The columns, in priority order, that fit `width` characters on one line per row."""
    from crmcli.output.labels import label
    from crmcli.output.plain import cells as cell_len  # rich.cells.cell_len, quick for ASCII

    chosen: list[str] = []
    used = 1
    for c in columns:
        cells = [listing_cell(c, r.get(c), r) for r in rows]
        numeric = any(_is_num(r.get(c)) for r in rows)
        natural = max([cell_len(label(c))] + [cell_len(t) for t in cells])
        need = (natural if numeric else min(natural, max(TEXT_CAP, cell_len(label(c))))) + 3
        if chosen and used + need > width:
            continue
        chosen.append(c)
        used += need
    return chosen


def print_listing(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None
) -> None:
    """A listing on the terminal; --wide tables take the width they need (pipe to less -S).

    Through a pipe or into a file the table is written directly as the text rich prints
    (output.plain); rich prints it on a terminal, or whatever plain cannot write."""
    from crmcli.output import plain

    stream = sys.stdout
    piped = not stream.isatty()
    width = int(os.environ.get("COLUMNS") or 200) if piped else console().width
    table = listing_table(rows, columns, title, width)
    wide = bool(view_option("wide"))
    if piped and plain.plain_width(stream, width) is not None:
        natural = plain.natural_width(table) if wide else width
        if natural is not None:
            text = plain.render([table], max(width, natural))
            if text is not None:
                stream.write(text)
                return
    from rich.console import Console

    con = console()
    renderable = plain.to_rich(table)
    if wide:
        needed = con.measure(renderable, options=con.options.update(max_width=100_000)).maximum
        if needed > con.width:
            con = Console(markup=False, highlight=False, soft_wrap=False, width=needed)
    con.print(renderable)


def listing_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    title: str | None = None,
    width: int = 80,
) -> Any:
    """A listing for the terminal: labelled headers, one line per row. By default only the
    columns that fit the terminal (in the command's order of importance); long text is cut
    with …; numbers are never wrapped or cut. --wide or --columns: the columns asked for."""
    from crmcli.output.labels import label
    from crmcli.output.plain import Table, cells

    cell_len = cells  # rich.cells.cell_len, quick for ASCII

    explicit = bool(view_option("columns") or view_option("wide"))
    cols = list(columns) if explicit else fit_columns(rows, columns, width)
    hidden = [c for c in columns if c not in cols]
    table = Table(title=title)  # output.plain: rich's Table(header_style="bold") as text
    for c in cols:
        numeric = any(_is_num(r.get(c)) for r in rows)
        natural = max([cell_len(label(c))] + [cell_len(listing_cell(c, r.get(c), r)) for r in rows])
        if numeric:
            table.add_column(label(c), justify="right", no_wrap=True, min_width=natural)
        elif explicit:
            table.add_column(label(c), justify="left", no_wrap=True)
        else:
            table.add_column(
                label(c),
                justify="left",
                no_wrap=True,
                overflow="ellipsis",
                max_width=max(TEXT_CAP, cell_len(label(c))),
                min_width=min(natural, cell_len(label(c))),
            )
    for r in rows:
        table.add_row(*[listing_cell(c, r.get(c), r) for c in cols])
    if hidden:
        info(
            f"{len(hidden)} column(s) hidden to fit {width} columns: {', '.join(hidden)}"
            " (--wide shows every column, --columns chooses)"
        )
    return table
