"""Adding and updating a customer together with its company link and custom fields, in one
transaction (a bad custom value or a missing company leaves nothing half-written)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crmcli.customers import fields
from crmcli.db import Database
from crmcli.db import customers as repo
from crmcli.sales.companies import resolve_customer_company


@dataclass
class CompanyChoice:
    """How the command line names the customer's company (all optional)."""

    company_id: int | None = None
    name: str | None = None
    create: bool = False
    link_by_domain: bool = False

    def given(self) -> bool:
        return self.company_id is not None or self.name is not None or self.link_by_domain


@dataclass
class Outcome:
    id: int
    diff: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _company_fields(
    db: Database, choice: CompanyChoice, email: str | None, warnings: list[str]
) -> dict[str, Any]:
    if not choice.given():
        return {}
    company_id, text, warning = resolve_customer_company(
        db, company_id=choice.company_id, name=choice.name, create=choice.create,
        email=email, link_by_domain=choice.link_by_domain,
    )  # fmt: skip
    if warning:
        warnings.append(warning)
    if company_id is not None:
        return {"company_id": company_id, "company": text}
    if choice.name is not None:  # '' clears the link
        return {"company_id": None, "company": text}
    return {}


def add_customer(
    db: Database,
    values: dict[str, Any],
    tags: list[str],
    choice: CompanyChoice,
    sets: list[str] | None,
) -> Outcome:
    warnings: list[str] = []
    with db.transaction():
        custom = fields.parse_assignments(db, "customer", sets)
        values = {k: v for k, v in values.items() if k != "company"}
        values |= _company_fields(db, choice, values.get("email"), warnings)
        new_id = repo.add_customer(db, values, tags)
        fields.apply(db, "customer", new_id, custom)
    return Outcome(new_id, warnings=warnings)


def update_customer(
    db: Database,
    customer_id: int,
    changes: dict[str, Any],
    choice: CompanyChoice,
    sets: list[str] | None,
) -> Outcome:
    warnings: list[str] = []
    with db.transaction():
        current = repo.get_customer(db, customer_id)
        custom = fields.parse_assignments(db, "customer", sets)
        changes = {k: v for k, v in changes.items() if k != "company"}
        email = changes.get("email", current.get("email"))
        changes |= _company_fields(db, choice, email, warnings)
        diff = repo.update_customer(db, customer_id, changes) if changes else {}
        if custom:
            before = fields.custom_of(db, "customer", customer_id)
            fields.apply(db, "customer", customer_id, custom)
            after = fields.custom_of(db, "customer", customer_id)
            for name in sorted(set(before) | set(after)):
                if before.get(name) != after.get(name):
                    diff[f"custom.{name}"] = [before.get(name), after.get(name)]
    return Outcome(customer_id, diff, warnings)
