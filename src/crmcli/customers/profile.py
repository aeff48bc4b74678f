"""What `crm customer show` shows: the record and everything related to it, in one place.

The JSON keys, in order: the customer's fields, `custom` (custom fields), `contact_points`
(the other emails, phones and addresses a merge kept), `counts`, `communications` (the last 5)
and `next_follow_up`, then `tickets`, `orders`, `order_totals` and `campaigns` (the last 5 of
each), then `deals` (open and recent).
"""

from __future__ import annotations

from typing import Any

from crmcli.db import Database, history
from crmcli.db import customers as repo
from crmcli.db.communications import customer_contacts


def customer_profile(database: Database, customer_id: int) -> dict[str, Any]:
    """The customer record plus its contacts, follow-up, tickets, orders and campaigns."""
    from crmcli.customers.fields import custom_of
    from crmcli.db.deals import customer_deals

    record = repo.get_customer(database, customer_id)
    record["custom"] = custom_of(database, "customer", customer_id)
    record["contact_points"] = repo.contact_points(database, customer_id)
    record["counts"] = repo.related_counts(database, customer_id)
    record.update(customer_contacts(database, customer_id, limit=5))
    record["tickets"] = history.recent_tickets(database, customer_id)
    record["orders"] = history.recent_orders(database, customer_id)
    record["order_totals"] = history.order_totals(database, customer_id)
    record["campaigns"] = history.campaign_memberships(database, customer_id)
    record["deals"] = customer_deals(database, customer_id)
    return record
