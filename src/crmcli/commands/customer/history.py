"""Adds recent tickets, orders and campaign memberships to `crm customer show`.

Listed among the customer group's extension modules in cli.GROUPS. The JSON of `show`
gains `tickets`, `orders`, `order_totals` and `campaigns` (the last 5 of each).
"""

from __future__ import annotations

from typing import Any

from crmcli.commands.customer import records as customer
from crmcli.db import history


def history_profile(database: Any, customer_id: int) -> dict[str, Any]:
    """The customer's recent tickets, orders (with lifetime totals) and campaigns."""
    return {
        "tickets": history.recent_tickets(database, customer_id),
        "orders": history.recent_orders(database, customer_id),
        "order_totals": history.order_totals(database, customer_id),
        "campaigns": history.campaign_memberships(database, customer_id),
    }


if history_profile not in customer.PROFILE_EXTENSIONS:
    customer.PROFILE_EXTENSIONS.append(history_profile)
