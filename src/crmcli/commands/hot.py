"""The bodies of the hot commands, importable without typer.

`crm comm log` runs in shell loops thousands of times: crmcli.launch parses its arguments
and calls `log_communication` directly (no CLI tree built, no typer imported), and the
typer command in commands/comm/records.py calls the same function. The helpers the other
comm commands share live here too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from crmcli.commands.session import open_db, out_format
from crmcli.core import clock
from crmcli.core.clock import to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.vocabulary import CHANNELS, DIRECTIONS, clean_text, normalize_enum
from crmcli.db import communications as repo
from crmcli.output import emit as output


def read_content(content: str | None, content_file: Path | None) -> str | None:
    """--content TEXT, --content - (stdin) or --content-file F; never two of them."""
    if content is not None and content_file is not None:
        raise InvalidInput("give --content or --content-file, not both")
    text: str | None
    if content_file is not None:
        try:
            text = content_file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InvalidInput(f"no such file: {content_file}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {content_file}: {exc}") from None
    elif content == "-":
        text = sys.stdin.read()
    else:
        text = content
    if text is None:
        return None
    return text.strip() or None


def option_time(value: str, field: str) -> str:
    """An option's time; 03/05/2024 is refused as ambiguous unless $CRM_DATE_ORDER decides."""
    from crmcli.core.validate import option_datetime  # core.validate only when a time is given

    return to_iso(option_datetime(value, field))


def _duration(value: str) -> int:
    from crmcli.core.validate import parse_duration

    return parse_duration(value, "--duration")


def find_customer(
    database: Any,
    customer_id: int | None,
    external_id: str | None,
    email: str | None,
    phone: str | None,
    exists_checked_later: bool = False,
) -> int:
    plain_id = external_id is None and email is None and phone is None
    if exists_checked_later and customer_id is not None and plain_id:
        # The plain `crm comm log ID` of shell loops: add_communication checks that the
        # customer exists (same NotFound message), so skip importing db.customers.
        return customer_id
    from crmcli.db.customers import find_customer_id

    if phone is not None:
        from crmcli.core.validate import normalize_phone

        phone = normalize_phone(phone)
    return find_customer_id(database, customer_id, external_id, email, phone)


def log_communication(
    customer_id: int | None = None,
    channel: str | None = None,
    direction: str | None = None,
    at: str | None = None,
    subject: str | None = None,
    content: str | None = None,
    content_file: Path | None = None,
    agent: str | None = None,
    duration: str | None = None,
    follow_up: str | None = None,
    external_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    deal: int | None = None,
    db: Path | None = None,
    format: str | None = None,
) -> None:
    """`crm comm log`: log a call, email, meeting ... with a customer and print its id."""
    fmt = out_format(format)
    if channel is None:
        raise InvalidInput(
            "give --channel (phone, email, meeting, chat, sms, visit, social, other)"
        )
    values: dict[str, Any] = {
        "channel": normalize_enum(channel, CHANNELS, "channel"),
        "direction": normalize_enum(direction, DIRECTIONS, "direction")
        if direction
        else "outbound",
        "occurred_at": option_time(at, "--at") if at else clock.now_iso(),
        "subject": clean_text(subject),
        "content": read_content(content, content_file),
        "agent": clean_text(agent) or None,
        "duration_s": _duration(duration) if duration else None,
        "follow_up_at": option_time(follow_up, "--follow-up") if follow_up else None,
        "deal_id": deal,
    }
    with open_db(db, write=True) as database:
        values["customer_id"] = find_customer(
            database, customer_id, external_id, email, phone, exists_checked_later=True
        )
        new_id = repo.add_communication(database, values)
    output.emit_id(new_id, fmt)
