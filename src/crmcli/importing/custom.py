"""Custom-field columns of an import (customer, company and deal imports).

- A header equal to a custom field's name or label (case, spaces and underscores aside)
  maps to it; `--map SRC=custom.NAME` maps any column. A header that already names a
  built-in field (or one of its aliases) stays with the built-in field, and a label two
  fields share maps to neither (the column is reported unknown).
- Values are parsed by the field's type: number columns get the money parser's per-column
  decimal convention (1.234,5 vs 1,234.5), date columns its day/month order. A bad value is
  a field-level warning (the row is kept without it) unless `--strict-fields`. An empty
  cell never erases a stored value.
- `--create-fields`: every unknown column becomes a new **text** field (types are never
  guessed from values: change the definition with `crm field` before importing to get a
  number or date). Its name is the header in lower case with `_` for other characters
  (`Annual Revenue` -> `annual_revenue`); a header with no latin letters (`地区`) gets
  `custom_N`. The header is kept as the label, so the next import of the same file maps
  the column to the field by its label. The summary lists the fields created.
"""

from __future__ import annotations

import re
import unicodedata
from functools import partial
from typing import TYPE_CHECKING, Any

from crmcli.core import clock, validate
from crmcli.core.errors import InvalidInput
from crmcli.customers import fields as rules
from crmcli.db import fields as repo
from crmcli.importing.source import COMMON_ALIASES, normalize_header

if TYPE_CHECKING:
    from crmcli.importing.pipeline import Context, Entity

PREFIX = "custom."
Stored = tuple[str | None, float | None]


def with_custom_fields(entity_cls: type[Entity], db: Any, entity: str) -> type[Entity]:
    """`entity_cls` extended by the entity's custom fields: their `custom.NAME` targets are
    known fields (so --map can name them), their names and labels header aliases, number
    columns money-like and date columns date-like for pass 1 of the pipeline."""
    defs = repo.list_fields(db, entity)
    builtin = {normalize_header(f) for f in entity_cls.fields} | set(entity_cls.aliases)
    builtin |= set(COMMON_ALIASES) | {normalize_header(f) for f in entity_cls.ignored_fields}
    aliases: dict[str, str | None] = {}
    for f in defs:
        target = PREFIX + f["name"]
        for spelling in {f["name"], f["label"] or f["name"]}:
            key = normalize_header(spelling)
            if key in builtin:
                continue
            aliases[key] = target if aliases.get(key, target) == target else None
    targets = tuple(PREFIX + f["name"] for f in defs)
    attrs = {
        "fields": (*entity_cls.fields, *targets),
        "aliases": {**{k: v for k, v in aliases.items() if v}, **entity_cls.aliases},
        "money_fields": (
            *entity_cls.money_fields,
            *(PREFIX + f["name"] for f in defs if f["type"] == "number"),
        ),
        "date_fields": (
            *entity_cls.date_fields,
            *(PREFIX + f["name"] for f in defs if f["type"] == "date"),
        ),
        "custom_entity": entity,
        "custom_defs": defs,
    }
    return type(entity_cls.__name__, (entity_cls,), attrs)


def _slug(header: str) -> str:
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    text = text.lstrip("0123456789_")
    return text[:40].rstrip("_")


class CustomColumns:
    """The custom-field columns of one running import: which columns, their parsing, and
    writing the values of the records the entity stored."""

    def __init__(self, ctx: Context, entity: str, defs: list[dict[str, Any]], create: bool):
        self.ctx = ctx
        self.entity = entity
        self.create = create
        self.by_target = {PREFIX + f["name"]: f for f in defs}
        self.columns: list[tuple[str, dict[str, Any]]] = []
        self.new: list[dict[str, Any]] = []
        self.pending: dict[int, dict[int, Stored]] = {}
        self.changed: set[int] = set()
        # where flush() reads the stored values and writes the new ones (None: the database;
        # a customer import's plan, db/customers.ImportPlan, keeps them until it applies)
        self.store: Any = None

    # -- before the first row ----------------------------------------------------------
    def claim(self, present: set[str], builtin: set[str]) -> set[str]:
        """Note the custom columns of the header; with --create-fields, plan a text field for
        every unknown column. Returns the file's fields other than custom ones."""
        source = self.ctx.source
        if self.create:
            self._plan_new_fields(source, builtin)
            present = set(source.field_indexes())
        self.columns = [(t, f) for t, f in self.by_target.items() if t in present]
        if self.columns:
            self.ctx.summary.extra["custom_fields"] = [f["name"] for _, f in self.columns]
        return {p for p in present if not p.startswith(PREFIX)}

    def _plan_new_fields(self, source: Any, builtin: set[str]) -> None:
        names = {f["name"] for f in self.by_target.values()} | builtin
        unknown = {c for c in source.unknown_columns}
        joined = {i for cols in source.joins.values() for i in cols}
        counter = 1
        for index, (cell, fld) in enumerate(zip(source.header, source.fields, strict=True)):
            header = cell.strip().lstrip("\ufeff")
            if fld is not None or index in joined or header not in unknown or not header:
                continue
            # an export's custom.NAME column makes the field NAME again (not custom_name,
            # which the next export would write as custom.custom_name)
            exported = header.removeprefix(PREFIX) if header.startswith(PREFIX) else None
            name = exported if exported and rules.FIELD_NAME.match(exported) else _slug(header)
            if not rules.FIELD_NAME.match(name or "-"):
                name = ""
            if not name or name in names:
                base = name or "custom"
                while f"{base}_{counter}" in names:
                    counter += 1
                name = f"{base}_{counter}"
            names.add(name)
            field = {"id": None, "name": name, "type": "text", "choices": None,
                     "label": header if header not in (name, PREFIX + name) else None}  # fmt: skip
            self.new.append(field)
            self.by_target[PREFIX + name] = field
            source.fields[index] = PREFIX + name
            source.unknown_columns.remove(header)
            unknown.discard(header)

    def start(self) -> None:
        """MERGE, inside the transaction: create the planned fields."""
        for field in self.new:
            field["id"] = repo.add_field(
                self.ctx.db, self.entity, field["name"], "text", None, field["label"]
            )
        if self.new:
            self.ctx.summary.extra["fields_created"] = [
                {"name": f["name"], "label": f["label"], "type": "text"} for f in self.new
            ]

    # -- one row -------------------------------------------------------------------------
    def parse(
        self,
        line: int,
        record: dict[str, str],
        cells: list[str],
        into: list[list[str]] | None = None,
    ) -> dict[str, list[Any]]:
        """STAGING: {custom.NAME: [text, num]} of the row's non-empty custom cells (JSON-able;
        fields made by --create-fields get their ids in the merge). A bad value is a
        field-level warning (kept in `into` when given; Reject with --strict-fields)."""
        out: dict[str, list[Any]] = {}
        for target, field in self.columns:
            raw = record.get(target)
            if not raw or not raw.strip():
                continue
            parse = partial(self._value, field, target)
            value = self.ctx.optional(line, cells, target, raw, parse, into=into)
            if value is not None:
                out[target] = list(value)
        return out

    def _value(self, field: dict[str, Any], target: str, raw: str) -> Stored | None:
        text = raw.strip()
        if field["type"] == "number":
            text = _number_text(text, self.ctx.decimal.get(target, "point"), field["name"])
        elif field["type"] == "date":
            moment = validate.parse_datetime_as(text, self.ctx.date_order.get(target), target)
            text = moment.astimezone(clock.local_zone()).date().isoformat()
        return rules.parse_value(field, text)

    # -- writing ---------------------------------------------------------------------------
    def queue(self, entity_id: int, values: dict[str, list[Any]]) -> None:
        """MERGE: staged values of a record the entity stored (written by flush)."""
        for target, value in values.items():
            field_id = int(self.by_target[target]["id"])
            self.pending.setdefault(entity_id, {})[field_id] = (value[0], value[1])

    def flush(self) -> set[int]:
        """Write the queued values that differ from the stored ones; returns the ids of the
        records whose custom values changed."""
        pending, self.pending = self.pending, {}
        if not pending:
            return set()
        field_ids = sorted({fid for values in pending.values() for fid in values})
        store = self.store
        stored = (store.stored_values if store else partial(repo.stored_values, self.ctx.db))(
            field_ids, sorted(pending)
        )
        rows = []
        changed: set[int] = set()
        for eid, values in pending.items():
            for fid, value in values.items():
                if stored.get((fid, eid)) != value:
                    rows.append((fid, eid, value[0], value[1]))
                    changed.add(eid)
        if store:
            store.put_values(rows)
        else:
            repo.upsert_values(self.ctx.db, rows)
        self.changed |= changed
        return changed


# A number in plain form once a cell's separators are read: what parse_value may see (its
# float() alone would also read 1_000, 1e5 and infinity).
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_EXPONENT = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+")


def _number_text(text: str, convention: str, name: str) -> str:
    """A number cell in plain form (1234.5) under its column's decimal convention; refuses
    what is no number in it (1,2,3, 1_000) and a spreadsheet's scientific notation
    (1.23457E+11: the digits after the sixth are gone)."""
    body = text.replace("\u00a0", "").replace(" ", "").replace("'", "")
    if _EXPONENT.fullmatch(body):
        raise InvalidInput(
            f"{name} {text!r} was written in scientific notation by a spreadsheet, which may"
            " have lost its digits; format the column as a number and export it again"
        )
    try:
        says = validate.money_evidence(body, name)
    except InvalidInput:
        raise InvalidInput(f"{name} is a number field; got {text!r}") from None
    if says in ("comma", "point") and says != convention:
        raise InvalidInput(f"{name} {text!r} is not written with a decimal {convention}")
    if convention == "comma":
        plain = body.replace(".", "").replace(",", ".")
    else:
        plain = body.replace(",", "")
    if not _PLAIN_NUMBER.fullmatch(plain):
        raise InvalidInput(f"{name} is a number field; got {text!r}")
    return plain
