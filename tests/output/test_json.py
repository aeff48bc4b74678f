"""output.to_json writes exactly what json.dumps writes (it only takes a faster path)."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcli.output import emit as output

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.tuples(inner, inner)
    ),
    max_leaves=25,
)


def reference(value: Any, indent: int | None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(values, st.sampled_from([None, 0, 1, 2, 4]))
def test_to_json_is_byte_identical_to_json_dumps(value: Any, indent: int | None) -> None:
    assert output.to_json(value, indent=indent) == reference(value, indent)


def test_rows_with_odd_values_match_json_dumps() -> None:
    report = {
        "settings": {"when": date(2024, 1, 2), "n": 3, "x": 1.5e-7, "ok": True},
        "rows": [
            {"name": 'a "quoted"\nline\t王', "v": None, "big": 10**30},
            {1: "int key", "k": []},
            {},
            [],
            {"nested": {"deep": [1, {"a": 2}]}},
        ],
        "empty": {},
    }
    for indent in (None, 2):
        assert output.to_json(report, indent=indent) == reference(report, indent)


def test_nan_is_refused_like_json_dumps() -> None:
    for value in ({"x": math.nan}, [{"y": math.inf}]):
        with pytest.raises(ValueError):
            output.to_json(value)


def test_prepare_deep_keeps_values_and_converts_times() -> None:
    report = {"a": [{"k": 1, "created_at": None}], "b": {"c": "x"}, 3: {"d": 1}}
    prepared = output._prepare_deep(report)
    assert prepared == report
    assert prepared["a"][0] is not report["a"][0]


flat_rows = st.lists(
    st.dictionaries(st.text(max_size=6), scalars | st.just({}), min_size=1, max_size=5),
    min_size=1,
    max_size=6,
)
times = st.sampled_from(["2026-03-29T00:59:59Z", "2026-10-25T01:30:00Z", "2026-01-01", "", "x"])
listing_rows = st.lists(
    st.dictionaries(
        st.sampled_from(["id", "created_at", "at", "title", "custom", "due_at"]),
        scalars
        | times
        | st.lists(times, max_size=2)
        | st.dictionaries(st.sampled_from(["signed_at", "n"]), scalars | times, max_size=2),
        min_size=1,
        max_size=6,
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(flat_rows, st.sampled_from([None, 0, 1, 2, 4]))
def test_lists_of_flat_rows_in_one_encoder_call(
    rows: list[dict[str, Any]], indent: int | None
) -> None:
    # The one-call path for a listing's rows, at the top and nested in a report.
    for value in (rows, {"section": rows, "other": [rows, {"x": rows}]}):
        assert output.to_json(value, indent=indent) == reference(value, indent)


@settings(max_examples=300, deadline=None)
@given(listing_rows, st.sampled_from(["Europe/Berlin", "Asia/Shanghai", "America/St_Johns"]))
def test_listing_rows_prepared_column_wise_like_prepare(
    rows: list[dict[str, Any]], zone: str
) -> None:
    # Times (also inside objects such as `custom`) in the configured zone, as prepare() does.
    import os

    os.environ["CRM_TZ"] = zone  # the autouse fixture restores the test zone
    prepared = output._prepared_rows(rows)
    assert prepared is not None
    assert prepared == [output.prepare(r) for r in rows]
