"""Masking of personal data for exports and reports (`--mask`, or CRM_MASK=1 by default)."""

from __future__ import annotations

from typing import Any


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


MASKERS = {
    "phone": mask_phone,
    "customer_phone": mask_phone,
    "email": mask_email,
    "customer_email": mask_email,
    "address": mask_address,
}


def mask_row(row: dict[str, Any]) -> dict[str, Any]:
    """A copy of row with phone, email and address masked."""
    return {
        k: (MASKERS[k](v) if k in MASKERS and isinstance(v, str) else v) for k, v in row.items()
    }


def should_mask(option: bool | None) -> bool:
    """--mask/--no-mask given wins; otherwise CRM_MASK decides."""
    if option is not None:
        return option
    from crmcli.core.config import mask_default

    return mask_default()
