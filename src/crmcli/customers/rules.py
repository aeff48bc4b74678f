"""Customer field rules: one set for `customer add` / `update` and `customer import`.

- text fields (name, external_id, address, company, owner): trimmed, inner whitespace runs
  folded to one space; blank is no value;
- notes: trimmed only (their line breaks are kept);
- email: core.validate.normalize_email (syntax checked, lower case, the domain in Unicode);
- lifecycle: lead, prospect, customer or churned (aliases through normalize_enum);
- phone: core.validate.parse_phone: E.164, the region from a + / 00 prefix, else the row's
  country (a country cell naming no known country is refused, never read as `region`),
  else `region`; letters are refused (a vanity number is never read as digits); an
  extension (`ext. 12`) is kept in phone_ext and a number only valid read in the default
  region but written like a North American one is flagged (phone_suspect), as is one
  impossible there but a valid North American one with its leading 1 (read as +1, with a
  note: a field warning in imports, refused by `customer add`). Setting a phone sets all
  three; clearing it clears all three.
- phone_ext (a separate extension cell): digits only (extension()); it belongs to a
  number, so without a phone it is not stored, and the phone cell's own extension wins.

The import applies them per cell (a bad optional field is a warning there); `customer add`
and `update` through normalize_fields (a bad value is exit 2).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from crmcli.core.errors import InvalidInput
from crmcli.core.validate import LIFECYCLES, Phone, normalize_email, normalize_enum, parse_phone

TEXT_FIELDS = ("external_id", "name", "address", "company", "owner")
DEFAULT_REGION = "CN"  # the phone region when neither a prefix, a country nor --region says


def text(raw: str) -> str | None:
    """Trimmed, with inner whitespace runs folded to one space; blank is None.

    Every character str.split() splits on other than the ASCII space is unprintable, so a
    printable trimmed text without two spaces in a row is already folded (the common case:
    one strip and two C scans instead of split and join)."""
    trimmed = raw.strip()
    if trimmed.isprintable() and "  " not in trimmed:
        return trimmed or None
    return " ".join(trimmed.split()) or None


def notes(raw: str) -> str | None:
    """Trimmed; line breaks kept; blank is None."""
    return raw.strip() or None


def email(raw: str) -> str | None:
    return normalize_email(raw)


def lifecycle(raw: str) -> str:
    return normalize_enum(raw, LIFECYCLES, "lifecycle")


def phone(raw: str, region: str = "CN", country: str | None = None) -> Phone | None:
    return parse_phone(raw, region, country)


def extension(raw: str) -> str | None:
    """A separate extension cell: its digits (ASCII); blank is None; anything but digits
    is refused (an extension is dialled, so it is digits only)."""
    text = raw.strip()
    if not text:
        return None
    if not text.isdecimal():
        raise InvalidInput(f"extension {text!r} is not digits: an extension is digits only")
    return "".join(str(unicodedata.decimal(c)) for c in text)


def phone_fields(found: Phone | None, ext: str | None = None) -> dict[str, Any]:
    """The stored phone columns of a parsed number (None: all cleared); `ext` is a separate
    extension cell (digits only), used when the number itself carries none."""
    if found is None:
        return {"phone": None, "phone_ext": None, "phone_suspect": 0}
    return {
        "phone": found.e164,
        "phone_ext": found.ext or extension(ext or ""),
        "phone_suspect": 1 if found.suspect else 0,
    }


def normalize_fields(values: Mapping[str, str | None], region: str | None = None) -> dict[str, Any]:
    """User-given customer fields -> stored values (exit 2 on a bad one). A None value is
    not given (dropped); a blank one clears the field (None; a phone clears its extension
    and flag too). `region` None is the default region CN, not chosen by the operator: a
    number that is suspect read in it (written like a North American one) is refused
    then, asking for --region or the + prefix, since nothing decided its reading."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if key == "phone":
            found = phone(value, region or DEFAULT_REGION)
            if found is not None and found.note:  # no warning channel here: not stored
                raise InvalidInput(f"{found.note}; give it with its + prefix to store it")
            if found is not None and found.suspect and region is None:
                raise InvalidInput(
                    f"phone {value.strip()!r} is written like a North American number but "
                    f"reads as {found.e164} in the default region {DEFAULT_REGION}: give "
                    f"--region US (or --region {DEFAULT_REGION} to keep that reading), or "
                    "write it with its + prefix"
                )
            out |= phone_fields(found)
        elif key == "email":
            out[key] = email(value)
        elif key == "lifecycle":
            out[key] = lifecycle(value) if value.strip() else None
        elif key == "notes":
            out[key] = notes(value)
        else:
            out[key] = text(value)
    return out
