"""Masking of personal data for exports and reports (`--mask`, or CRM_MASK=1 by default).

One masker, `mask_personal(value)`, serves every command that shows personal data: it walks dicts
and lists and hides a string by the field it sits under (the rules in `FIELD_RULES`):

- a field named phone / customer_phone, email / customer_email or address (and the
  other_phones / other_emails / other_addresses lists of an export), a list under such a
  field included;
- a contact point `{"kind": "phone" | "email" | "address", "value": ...}` (what a merge
  keeps, in `customer show` and in the audit trail): its value, by its kind.

Names stay (a masked listing must still say who a row is); the warehouse export, whose
columns name what they hold, masks names too (`mask_name`, in `PII_MASKS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Masker = Callable[[str | None], str | None]


def mask_phone(value: str | None) -> str | None:
    """+8613800138000 -> +86138****8000 (keeps country code, first 3 and last 4 digits)."""
    if not value:
        return value
    if len(value) <= 7:
        return value[:1] + "*" * (len(value) - 1)
    head = 6 if value.startswith("+86") else min(5, len(value) - 4)
    return value[:head] + "*" * (len(value) - head - 4) + value[-4:]


def mask_email(value: str | None) -> str | None:
    """zhang.wei@example.cn -> z*******i@example.cn."""
    if not value or "@" not in value:
        return value
    user, domain = value.split("@", 1)
    if len(user) <= 2:
        return user[:1] + "*" + "@" + domain
    return user[0] + "*" * (len(user) - 2) + user[-1] + "@" + domain


def mask_address(value: str | None) -> str | None:
    """Keep the first third (city / district), hide the rest."""
    if not value:
        return value
    keep = max(1, len(value) // 3)
    return value[:keep] + "*" * (len(value) - keep)


def mask_name(value: str | None) -> str | None:
    """张伟 -> 张*, Ann Lee -> A******: the first character stays, the rest is hidden."""
    if not value:
        return value
    return value[0] + "*" * max(1, len(value) - 1)


def looks_masked(kind: str, value: str) -> bool:
    """Whether an email or address is what mask_email / mask_address write (a masked export
    imported back): an email whose local part is one character, asterisks and at most one
    more; an address ending in at least two asterisks that hide at least half of it. (Phones
    need no test: a masked number is no possible number.)"""
    if kind == "email":
        user = value.partition("@")[0]
        if len(user) < 2 or user[0] == "*":
            return False
        return set(user[1:]) == {"*"} or set(user[1:-1]) == {"*"}
    if kind == "address":
        stars = len(value) - len(value.rstrip("*"))
        return stars >= 2 and stars * 2 >= len(value)
    return False


# What each kind of personal data looks like masked (also a contact point's kind).
KIND_MASKS: dict[str, Masker] = {
    "phone": mask_phone,
    "email": mask_email,
    "address": mask_address,
}
# The warehouse's personal-data column kinds (warehouse/schema.py `Column.pii`).
PII_MASKS: dict[str, Masker] = {"name": mask_name, **KIND_MASKS}

# The field rules: a field's name -> the kind of personal data it holds.
FIELD_RULES: dict[str, str] = {
    "phone": "phone",
    "customer_phone": "phone",
    "other_phones": "phone",
    "email": "email",
    "customer_email": "email",
    "other_emails": "email",
    "address": "address",
    "other_addresses": "address",
}


def mask_personal(value: Any, field: str = "") -> Any:
    """A copy of `value` with every phone, email and address hidden, at any depth.

    A string is masked when the field it sits under (for a list: the list's field) is in
    FIELD_RULES; a dict that is a contact point (`kind` + `value`) has its value masked by
    its kind. Everything else is copied unchanged.
    """
    if isinstance(value, dict):
        out = {k: mask_personal(v, k) for k, v in value.items()}
        kind = value.get("kind")
        if kind in KIND_MASKS and isinstance(value.get("value"), str):
            out["value"] = KIND_MASKS[kind](value["value"])
        return out
    if isinstance(value, list):
        return [mask_personal(v, field) for v in value]
    if isinstance(value, str) and field in FIELD_RULES:
        return KIND_MASKS[FIELD_RULES[field]](value)
    return value


def should_mask(option: bool | None) -> bool:
    """--mask/--no-mask given wins; otherwise CRM_MASK decides."""
    if option is not None:
        return option
    from crmcli.core.config import mask_default

    return mask_default()
