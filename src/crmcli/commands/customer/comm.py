"""Adds the last contacts and the next open follow-up to `crm customer show`.

A module of its own so that the customer group can load it without loading the comm group:
list it among the customer group's extension modules in cli.GROUPS. `crm comm ...` imports
it too. The JSON of `show` gains `communications` (the last 5) and `next_follow_up`.
"""

from __future__ import annotations

from typing import Any

from crmcli.commands.customer import records as customer
from crmcli.db.communications import customer_contacts


def contacts_profile(database: Any, customer_id: int) -> dict[str, Any]:
    """The last 5 contacts and the next open follow-up of a customer."""
    return customer_contacts(database, customer_id, limit=5)


if contacts_profile not in customer.PROFILE_EXTENSIONS:
    customer.PROFILE_EXTENSIONS.append(contacts_profile)
