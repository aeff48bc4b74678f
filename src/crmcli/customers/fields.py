"""Custom field rules: names, types, and `--set NAME=VALUE` parsed by the field's type.

Used for customers, companies, deals and tickets alike (the entity names the definitions).
"""

from __future__ import annotations

import math
import re
from typing import Any

from crmcli.core.errors import InvalidInput
from crmcli.db import Database
from crmcli.db import fields as repo

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TRUE = repo.TRUE_WORDS
FALSE = repo.FALSE_WORDS

Stored = tuple[str | None, float | None]
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def check_definition(
    entity: str, name: str, type_: str, choices: str | None
) -> tuple[str, str, str, list[str] | None]:
    entity = entity.strip().lower()
    if entity not in repo.ENTITIES:
        raise InvalidInput(
            f"unknown entity {entity!r}; custom fields exist for: {', '.join(repo.ENTITIES)}"
        )
    name = name.strip()
    if not FIELD_NAME.match(name):
        raise InvalidInput(
            f"invalid field name {name!r}: lower-case letters, digits and _, starting with a letter"
        )
    type_ = type_.strip().lower()
    if type_ not in repo.TYPES:
        raise InvalidInput(f"unknown field type {type_!r}; use one of: {', '.join(repo.TYPES)}")
    parsed: list[str] | None = None
    if type_ == "choice":
        parsed = [c.strip() for c in re.split(r"[,，]", choices or "") if c.strip()]
        if not parsed:
            raise InvalidInput("a choice field needs --choices a,b,c")
        if len(set(parsed)) != len(parsed):
            raise InvalidInput("--choices lists a choice twice")
    elif choices:
        raise InvalidInput("--choices applies to --type choice only")
    return entity, name, type_, parsed


def parse_value(field: dict[str, Any], raw: str) -> Stored | None:
    """One value by the field's type; '' clears (None). Bad values exit 2."""
    text = raw.strip()
    if not text:
        return None
    name, type_ = field["name"], field["type"]
    if type_ == "number":
        if not _PLAIN_NUMBER.fullmatch(text):  # float() alone reads 1_000, 1e5, inf
            raise InvalidInput(f"{name} is a number field; got {raw!r}")
        try:
            number = float(text)
        except ValueError:
            raise InvalidInput(f"{name} is a number field; got {raw!r}") from None
        if not math.isfinite(number):
            raise InvalidInput(f"{name} is a number field; got {raw!r}")
        return None, number
    if type_ == "bool":
        low = text.lower()
        if low in TRUE:
            return None, 1.0
        if low in FALSE:
            return None, 0.0
        raise InvalidInput(f"{name} is a yes/no field; got {raw!r} (use true/false, yes/no, 1/0)")
    if type_ == "date":
        from crmcli.core.validate import parse_date

        try:
            return parse_date(text, name).isoformat(), None
        except InvalidInput as exc:
            if str(exc).startswith("ambiguous"):  # say what decides it
                raise InvalidInput(f"{name} is a date field: {exc}") from None
            raise InvalidInput(f"{name} is a date field; got {raw!r} (e.g. 2024-03-01)") from None
    if type_ == "choice":
        if text not in (field["choices"] or []):
            raise InvalidInput(
                f"{name} must be one of: {', '.join(field['choices'] or [])}; got {raw!r}"
            )
        return text, None
    return " ".join(text.split()), None


def split_assignment(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise InvalidInput(f"--set needs NAME=VALUE, got {item!r}")
    name, value = item.split("=", 1)
    return name.strip(), value


def parse_assignments(
    db: Database, entity: str, items: list[str] | None
) -> dict[int, Stored | None]:
    """`--set NAME=VALUE` items -> {field_id: stored value or None (clear)}; all checked
    before anything is written."""
    if not items:
        return {}
    defs = {f["name"]: f for f in repo.list_fields(db, entity)}
    labels = {f["label"]: f for f in defs.values() if f["label"]}
    out: dict[int, Stored | None] = {}
    for item in items:
        name, value = split_assignment(item)
        field = defs.get(name) or labels.get(name)
        if field is None:
            known = ", ".join(defs) or "none yet (crm field add)"
            raise InvalidInput(f"{entity} has no custom field {name!r}; fields: {known}")
        if field["type"] == "number":
            value = option_number_text(value, field["name"])
        out[field["id"]] = parse_value(field, value)
    return out


def option_number_text(raw: str, name: str) -> str:
    """A number given alone (`--set score=1,5`) in plain form (1.5): its own separators
    decide the convention, as an amount option's do; `1,500` alone reads as 1500 or 1.5
    and is refused (an import decides it from the whole column instead)."""
    from crmcli.core.validate import money_evidence

    body = raw.strip().replace("\u00a0", "").replace(" ", "").replace("'", "")
    try:
        says = money_evidence(body, name)
    except InvalidInput:
        return raw  # parse_value says why it is no number
    if says == "either":
        raise InvalidInput(
            f"ambiguous {name} {raw.strip()!r} (thousands separator or decimal?); write 1500 or 1.5"
        )
    if says == "comma":
        return body.replace(".", "").replace(",", ".")
    return body.replace(",", "")


def apply(db: Database, entity: str, entity_id: int, parsed: dict[int, Stored | None]) -> None:
    repo.set_values(db, entity, entity_id, parsed)


def custom_of(db: Database, entity: str, entity_id: int) -> dict[str, Any]:
    return repo.values_for(db, entity, [entity_id])[entity_id]


def attach_custom(db: Database, entity: str, rows: list[dict[str, Any]], fmt: str) -> None:
    """Listings carry custom values: JSON under `custom` ({name: value}), CSV as one
    `custom.NAME` column per field (empty where unset); tables for people leave them out."""
    if fmt not in ("json", "jsonl", "csv") or not rows:
        return
    defs = repo.list_fields(db, entity)
    if fmt == "csv" and not defs:
        return
    values = repo.values_for(db, entity, [r["id"] for r in rows]) if defs else {}
    for row in rows:
        mine = values.get(row["id"], {})
        if fmt == "csv":
            for f in defs:
                row[f"custom.{f['name']}"] = mine.get(f["name"])
        else:
            row["custom"] = mine
