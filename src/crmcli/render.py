"""One rendering layer for every report.

A report is a dict of named sections. A section is either a list of row dicts (a table)
or a dict of scalar values (key figures). `emit_report` writes it to stdout or a file in
table | json | csv | markdown (html and xlsx: see the reports issue).
"""

from __future__ import annotations

import sys
from typing import Any

from crmcli import output

REPORT_FORMATS = ("table", "json", "jsonl", "csv", "markdown")


def _is_table(section: Any) -> bool:
    return isinstance(section, list)


def _as_rows(section: Any) -> list[dict[str, Any]]:
    if isinstance(section, list):
        return [r if isinstance(r, dict) else {"value": r} for r in section]
    if isinstance(section, dict):
        return [{"metric": k, "value": v} for k, v in section.items()]
    return [{"value": section}]


def emit_report(report: dict[str, Any], fmt: str, title: str | None = None) -> None:
    """Render a report (dict of sections) to stdout."""
    if fmt in ("json", "jsonl"):
        sys.stdout.write(
            output.to_json(output._prepare_deep(report), indent=None if fmt == "jsonl" else 2)
            + "\n"
        )
        return
    if fmt == "csv":
        first = True
        for name, section in report.items():
            rows = _as_rows(section)
            if not rows:
                continue
            if not first:
                sys.stdout.write("\n")
            sys.stdout.write(f"# {name}\n")
            output.write_csv(rows, sys.stdout, output._columns(rows, None))
            first = False
        return
    if fmt == "markdown":
        if title:
            sys.stdout.write(f"# {title}\n\n")
        for name, section in report.items():
            rows = _as_rows(section)
            sys.stdout.write(f"## {name}\n\n")
            sys.stdout.write(
                output.markdown_table(rows, output._columns(rows, None)) if rows else "_No data._\n"
            )
            sys.stdout.write("\n")
        return
    con = output.console()
    for name, section in report.items():
        rows = _as_rows(section)
        if rows:
            con.print(output.rich_table(rows, output._columns(rows, None), title=name))
        else:
            con.print(f"{name}: no data")
