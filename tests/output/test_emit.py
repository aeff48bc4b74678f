"""output.emit: the one cell formatter behind every flat format, and listing cells by kind."""

from __future__ import annotations

import io
import json
import math

from crmcli.output.emit import cell, emit_rows, listing_cell
from crmcli.output.report import render_bytes

# Floats that a rounding rule (`.6g`) would change, and the awkward ones.
FLOATS = [1234567.89, 0.1 + 0.2, 1e-07, 123456789012345.6, 2.5, -0.000123456789]


def test_a_float_cell_is_exact() -> None:
    for value in FLOATS:
        assert float(cell(value)) == value, value
        assert cell(value) == json.dumps(value), value  # the same text JSON has
    assert cell(math.nan) == ""  # JSON null
    assert cell([0.1 + 0.2, "x"]) == "0.30000000000000004; x"


def test_listings_and_reports_write_the_same_cells() -> None:
    rows = [{"id": i, "score": v} for i, v in enumerate(FLOATS)]
    listing_csv, listing_md = io.StringIO(), io.StringIO()
    emit_rows(rows, "csv", out=listing_csv)
    emit_rows(rows, "markdown", out=listing_md)
    report_csv = render_bytes({"scores": rows}, "csv", "t", {}).decode()
    listed = [line.split(",")[1] for line in listing_csv.getvalue().splitlines()[1:]]
    reported = [line.split(",")[1] for line in report_csv.splitlines()[2:]]
    assert listed == reported == [cell(v) for v in FLOATS]
    marked = [line.split("|")[2].strip() for line in listing_md.getvalue().splitlines()[2:]]
    assert marked == [cell(v) for v in FLOATS]


def test_a_table_for_people_formats_floats_by_kind() -> None:
    assert listing_cell("spread", 1234567.89) == "1.235e+06"  # a number of no special kind
    assert listing_cell("spread", 0.1 + 0.2) == "0.3"
    assert listing_cell("score", 0.91234567) == "0.912"  # a rate: 3 significant digits
    assert listing_cell("amount", 1234567.891) == "1,234,567.89"  # money
    assert listing_cell("id", 1234567) == "1234567"  # ids are not numbers to read
