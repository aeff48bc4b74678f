"""Repository functions for custom fields: definitions and their typed, indexed values.

A value sits in `value_num` (number, bool as 0/1) or `value_text` (text, choice, date as
YYYY-MM-DD); (field_id, value) indexes serve segments such as custom.score>=80.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from crmcli.core.clock import now_iso
from crmcli.core.errors import Conflict, NotFound
from crmcli.db import Database, audit

ENTITIES = ("customer", "company", "deal", "ticket")
TYPES = ("text", "number", "date", "bool", "choice")
NUMERIC = ("number", "bool")
# The words a yes/no field accepts (input, and segment values).
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on", "是", "真", "对"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", "否", "假", "错"})
TABLES = {"customer": "customers", "company": "companies", "deal": "deals", "ticket": "tickets"}


def _decode_def(row: dict[str, Any]) -> dict[str, Any]:
    row["choices"] = json.loads(row["choices"]) if row["choices"] else None
    return row


def add_field(
    db: Database, entity: str, name: str, type_: str, choices: list[str] | None, label: str | None
) -> int:
    with db.transaction():
        try:
            cur = db.execute(
                "INSERT INTO custom_fields(entity, name, type, choices, label, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (entity, name, type_, json.dumps(choices, ensure_ascii=False) if choices else None,
                 label, now_iso()),
            )  # fmt: skip
        except sqlite3.IntegrityError:
            raise Conflict(f"{entity} already has a field named {name!r}") from None
        field_id = int(cur.lastrowid or 0)
        audit.record(db, "create", "custom_field", field_id,
                     {"entity": entity, "name": name, "type": type_, "choices": choices,
                      "label": label})  # fmt: skip
    return field_id


def list_fields(db: Database, entity: str | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE f.entity = ?", [entity]) if entity else ("", [])
    rows = db.query(
        "SELECT f.id, f.entity, f.name, f.type, f.choices, f.label, f.created_at,"
        " (SELECT count(*) FROM custom_values v WHERE v.field_id = f.id) AS values_set"
        f" FROM custom_fields f {where}"
        " ORDER BY CASE f.entity WHEN 'customer' THEN 1 WHEN 'company' THEN 2"
        " WHEN 'deal' THEN 3 ELSE 4 END, f.id",
        params,
    )
    return [_decode_def(r) for r in rows]


def get_field(db: Database, entity: str, name: str) -> dict[str, Any]:
    row = db.query_one(
        "SELECT id, entity, name, type, choices, label FROM custom_fields"
        " WHERE entity = ? AND name = ?",
        (entity, name),
    )
    if row is None:
        raise NotFound(f"{entity} has no custom field {name!r}")
    return _decode_def(row)


def remove_field(db: Database, entity: str, name: str, drop_values: bool) -> int:
    """Delete a field definition; returns how many values went with it."""
    with db.transaction():
        field = get_field(db, entity, name)
        n = int(db.scalar("SELECT count(*) FROM custom_values WHERE field_id = ?", (field["id"],)))
        if n and not drop_values:
            raise Conflict(
                f"{n} {entity}(s) have a value for {name}; --drop-values deletes them too"
            )
        db.execute("DELETE FROM custom_values WHERE field_id = ?", (field["id"],))
        db.execute("DELETE FROM custom_fields WHERE id = ?", (field["id"],))
        audit.record(db, "delete", "custom_field", field["id"],
                     {"entity": entity, "name": name, "values_dropped": n})  # fmt: skip
    return n


def set_values(
    db: Database,
    entity: str,
    entity_id: int,
    values: dict[int, tuple[str | None, float | None] | None],
) -> None:
    """Store parsed values {field_id: (text, num)}; None deletes the field's value."""
    if not values:
        return
    with db.transaction():
        table = TABLES[entity]
        if db.scalar(f"SELECT 1 FROM {table} WHERE id = ?", (entity_id,)) is None:
            raise NotFound(f"no {entity} with id {entity_id}")
        for field_id, value in values.items():
            if value is None:
                db.execute(
                    "DELETE FROM custom_values WHERE field_id = ? AND entity_id = ?",
                    (field_id, entity_id),
                )
            else:
                db.execute(
                    "INSERT INTO custom_values(field_id, entity_id, value_text, value_num)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(field_id, entity_id) DO UPDATE SET"
                    " value_text = excluded.value_text, value_num = excluded.value_num",
                    (field_id, entity_id, value[0], value[1]),
                )
        audit.record(
            db, "set_fields", entity, entity_id, {"fields": {str(k): v for k, v in values.items()}}
        )


def _decode(type_: str, text: str | None, num: float | None) -> Any:
    if type_ == "bool":
        return None if num is None else bool(num)
    if type_ == "number":
        if num is None:
            return None
        return int(num) if float(num).is_integer() else num
    return text


def values_for(db: Database, entity: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    """{entity id: {field name: value}} for the given records (fields in definition order)."""
    out: dict[int, dict[str, Any]] = {i: {} for i in ids}
    if not ids:
        return out
    for start in range(0, len(ids), 20000):
        chunk = ids[start : start + 20000]
        for eid, name, type_, text, num in db.execute(
            "SELECT v.entity_id, f.name, f.type, v.value_text, v.value_num FROM custom_values v"
            " JOIN custom_fields f ON f.id = v.field_id WHERE f.entity = ?"
            " AND v.entity_id IN (SELECT value FROM json_each(?)) ORDER BY v.entity_id, f.id",
            (entity, json.dumps(chunk)),
        ):
            out[eid][name] = _decode(type_, text, num)
    return out


def segment_sql(field: dict[str, Any], op: str, id_column: str = "c.id") -> str:
    """SQL over `id_column` for `custom.NAME OP ?`; OP from the segment allow-list."""
    column = "value_num" if field["type"] in NUMERIC else "value_text"
    cond = "value_text LIKE ? ESCAPE '\\'" if op == "~" else f"{column} {op} ?"
    return (
        f"{id_column} IN (SELECT entity_id FROM custom_values WHERE field_id = {int(field['id'])}"
        f" AND {cond})"
    )


# ---------------------------------------------------------------- imports
# Used by crmcli.importing.custom inside the import's one transaction (no audit entry per
# value: the import's own audit entry covers them).


def stored_values(
    db: Database, field_ids: list[int], entity_ids: list[int]
) -> dict[tuple[int, int], tuple[str | None, float | None]]:
    """{(field_id, entity_id): (text, num)} of the values these records have now."""
    out: dict[tuple[int, int], tuple[str | None, float | None]] = {}
    if not field_ids or not entity_ids:
        return out
    for start in range(0, len(entity_ids), 20000):
        chunk = entity_ids[start : start + 20000]
        for fid, eid, text, num in db.execute(
            "SELECT field_id, entity_id, value_text, value_num FROM custom_values"
            " WHERE field_id IN (SELECT value FROM json_each(?))"
            " AND entity_id IN (SELECT value FROM json_each(?))",
            (json.dumps(field_ids), json.dumps(chunk)),
        ):
            out[(fid, eid)] = (text, num)
    return out


def upsert_values(db: Database, rows: list[tuple[int, int, str | None, float | None]]) -> None:
    """Store (field_id, entity_id, text, num) rows, replacing a record's earlier value."""
    if rows:
        db.executemany(
            "INSERT INTO custom_values(field_id, entity_id, value_text, value_num)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(field_id, entity_id) DO UPDATE SET"
            " value_text = excluded.value_text, value_num = excluded.value_num",
            rows,
        )


def entity_values(db: Database, entity: str, entity_id: int) -> list[dict[str, Any]]:
    """Every custom value of one record as stored: [{field_id, name, value_text, value_num}]
    (what a merge's before-image keeps)."""
    return db.query(
        "SELECT v.field_id, f.name, v.value_text, v.value_num FROM custom_values v"
        " JOIN custom_fields f ON f.id = v.field_id WHERE f.entity = ? AND v.entity_id = ?"
        " ORDER BY f.id",
        (entity, entity_id),
    )
