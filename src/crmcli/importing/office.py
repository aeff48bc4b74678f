"""Turn mail messages and calendar occurrences into communications (shared by both imports).

Matching: each party's address is looked up among customers' emails. Parties in one of
`--our-domain` (or its subdomains) are us. Mail: a message from us is outbound, to the
customers among its recipients; anything else is inbound, from the sender. Without
--our-domain, a sender who is a customer makes it inbound, else a customer among the
recipients makes it outbound. Meetings: every external participant who is a customer gets
the meeting; outbound when the organizer is one of us (or not a customer).

Idempotency: every item has a key (``mail:<Message-ID>``, ``ics:<UID>:<start>``) stored in
communications.external_id; an item whose key exists is skipped. When an item concerns several
customers the first gets the key itself, the others ``<key>#<customer id>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crmcli.core.clock import to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import normalize_email
from crmcli.db import Database
from crmcli.db import office as repo

MAX_CONTENT = 100_000


@dataclass
class Party:
    name: str | None
    email: str  # lower-case; may be malformed (then it never matches)


@dataclass
class Item:
    """One message or one meeting occurrence, ready to become communications."""

    key: str
    channel: str  # email | meeting
    sender: Party | None  # From / ORGANIZER
    others: list[Party]  # To + Cc / ATTENDEEs
    occurred_at: datetime
    subject: str | None
    content: str | None
    duration_s: int | None = None
    source: str = ""


@dataclass
class Skipped:
    source: str
    reason: str


@dataclass
class Summary:
    source: str
    kind: str
    dry_run: bool
    items: int = 0
    imported_items: int = 0
    communications: int = 0
    duplicates: int = 0
    internal: int = 0
    unmatched_items: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    leads_created: list[dict[str, Any]] = field(default_factory=list)
    unmatched: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "items": self.items,
            "imported_items": self.imported_items,
            "communications_created": self.communications,
            "duplicates": self.duplicates,
            "internal": self.internal,
            "unmatched_items": self.unmatched_items,
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "leads_created": self.leads_created,
            "unmatched": sorted(self.unmatched.values(), key=lambda u: (-u["items"], u["email"])),
            **self.extra,
        }


def normalise_domains(domains: Iterable[str] | None) -> list[str]:
    out = []
    for d in domains or []:
        text = d.strip().lower().lstrip("@")
        if not text or "." not in text or " " in text:
            raise InvalidInput(f"invalid --our-domain {d!r}; use a domain such as example.com")
        out.append(text)
    return out


def is_ours(email: str, domains: list[str]) -> bool:
    domain = email.rsplit("@", 1)[-1]
    return any(domain == d or domain.endswith("." + d) for d in domains)


def valid_email(text: str) -> str | None:
    try:
        return normalize_email(text)
    except InvalidInput:
        return None


def lead_name(party: Party) -> str:
    name = (party.name or "").strip().strip('"').strip()
    return name or party.email.split("@", 1)[0]


class _DryRun(Exception):
    """Raised to roll back a dry run's transaction."""


class _Importer:
    def __init__(self, db: Database, summary: Summary, domains: list[str], create_leads: bool):
        self.db = db
        self.summary = summary
        self.domains = domains
        self.create_leads = create_leads
        self.customers: dict[str, int | None] = {}
        self.agents = repo.agents_by_email(db)
        self.seen: set[str] = set()

    def customer(self, email: str) -> int | None:
        if email not in self.customers:
            ok = valid_email(email)
            self.customers[email] = repo.customer_id_by_email(self.db, ok) if ok else None
        return self.customers[email]

    def unmatched(self, party: Party, role: str) -> None:
        entry = self.summary.unmatched.setdefault(
            party.email, {"email": party.email, "name": party.name, "role": role, "items": 0}
        )
        entry["items"] += 1

    def counterparts(self, item: Item) -> tuple[str, list[tuple[Party, str]]]:
        """(direction, [(party, role)]) of the people outside our domains."""
        sender, others = item.sender, item.others
        if item.channel == "meeting":
            parties = [p for p in ([sender] if sender else []) + others]
            external = [(p, "attendee") for p in parties if not is_ours(p.email, self.domains)]
            if self.domains:
                ours = sender is not None and is_ours(sender.email, self.domains)
            else:
                ours = sender is None or self.customer(sender.email) is None
            return ("outbound" if ours else "inbound"), external
        if self.domains:
            if sender is not None and is_ours(sender.email, self.domains):
                ext = [(p, "recipient") for p in others if not is_ours(p.email, self.domains)]
                return "outbound", ext
            return "inbound", [(sender, "sender")] if sender else []
        if sender is not None and self.customer(sender.email) is not None:
            return "inbound", [(sender, "sender")]
        if any(self.customer(p.email) is not None for p in others):
            return "outbound", [(p, "recipient") for p in others]
        return "inbound", [(sender, "sender")] if sender else []

    def agent(self, item: Item, direction: str) -> str | None:
        parties = ([item.sender] if item.sender else []) + item.others
        for p in parties:
            if p.email in self.agents:
                return self.agents[p.email]
        for p in parties:  # no agent record: the first of our people, by name
            if self.domains and is_ours(p.email, self.domains):
                return p.name or p.email
        if direction == "outbound" and item.sender is not None:
            return item.sender.name or item.sender.email
        return None

    def add(self, item: Item) -> None:
        s = self.summary
        s.items += 1
        if item.key in self.seen or repo.external_id_exists(self.db, item.key):
            s.duplicates += 1
            return
        self.seen.add(item.key)
        direction, found = self.counterparts(item)
        parties: list[tuple[Party, str]] = []
        for party, role in found:
            if all(party.email != p.email for p, _ in parties):
                parties.append((party, role))
        if not parties:
            s.internal += 1
            return
        matched: list[int] = []
        for party, role in parties:
            cid = self.customer(party.email)
            if cid is None and self.create_leads and role == "sender":
                email = valid_email(party.email)
                if email:
                    cid = repo.insert_lead(self.db, lead_name(party), email)
                    self.customers[party.email] = cid
                    s.leads_created.append({"id": cid, "email": email, "name": lead_name(party)})
            if cid is None:
                self.unmatched(party, role)
            elif cid not in matched:
                matched.append(cid)
        if not matched:
            s.unmatched_items += 1
            return
        content = item.content
        if content and len(content) > MAX_CONTENT:
            content = content[:MAX_CONTENT] + "\n[truncated]"
        agent = self.agent(item, direction)
        for n, cid in enumerate(matched):
            repo.insert_communication(
                self.db,
                {
                    "customer_id": cid,
                    "channel": item.channel,
                    "direction": direction,
                    "occurred_at": to_iso(item.occurred_at),
                    "subject": item.subject,
                    "content": content,
                    "agent": agent,
                    "duration_s": item.duration_s,
                    "external_id": item.key if n == 0 else f"{item.key}#{cid}",
                },
            )
            s.communications += 1
        s.imported_items += 1


def import_items(
    db: Database,
    items: Iterable[Item | Skipped],
    summary: Summary,
    our_domains: list[str],
    create_leads: bool = False,
) -> Summary:
    """Write the items as communications in one transaction with one audit row.

    A dry run does the same work and rolls it back, so its counts are the real ones.
    """
    try:
        with db.transaction():
            importer = _Importer(db, summary, our_domains, create_leads)
            for item in items:
                if isinstance(item, Skipped):
                    summary.items += 1
                    summary.skipped.append(item)
                else:
                    importer.add(item)
            details = {
                k: v
                for k, v in summary.as_dict().items()
                if k not in ("unmatched", "skipped", "dry_run")
            }
            details["unmatched"] = len(summary.unmatched)
            details["skipped"] = len(summary.skipped)
            details["leads_created"] = [lead["id"] for lead in summary.leads_created]
            repo.record_import(db, f"import_{summary.kind}", summary.source, details)
            if summary.dry_run:
                raise _DryRun
    except _DryRun:
        for lead in summary.leads_created:
            lead["id"] = None  # rolled back: no id was kept
    return summary
