"""Turn mail messages and calendar occurrences into communications (shared by both imports).

Matching: each party's address, normalized by core.validate.normalize_email (IDN domains in
their Unicode form; the ``xn--`` form is tried too), is looked up among customers through
db.customers' lookup functions. Parties in one of `--our-domain` (or its subdomains) are us.
Mail: a message from us is outbound, to the customers among its recipients; anything else
is inbound, from the first of its From addresses that is a customer (else the first). Without
--our-domain, a sender who is a customer makes it inbound, else a customer among the
recipients makes it outbound. Meetings: every external participant who is a customer gets
the meeting; outbound when the organizer is one of us (or not a customer).

Idempotency: every item has a key (``mail:<Message-ID>``, ``ics:<UID>:<start>``) stored in
communications.external_id. When an item concerns several customers the first gets the key
itself, the others ``<key>#<customer id>``. Mail: an item whose key exists is a duplicate.
Calendars (``update_existing``): a stored occurrence whose time, duration, subject or text
changed is updated (a single event that moved keeps its row and gets its new key); a
`Removal` deletes the stored occurrences of a cancelled event, a cancelled occurrence, or
the occurrences a series in the file no longer has within the window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crmcli.core.clock import from_iso, to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import email_match_keys, normalize_email
from crmcli.db import Database
from crmcli.db import customers as customers_repo
from crmcli.db import office as repo

MAX_CONTENT = 100_000
UPDATED_FIELDS = ("occurred_at", "subject", "content", "duration_s")


@dataclass
class Party:
    name: str | None
    email: str  # normalized when valid; else lower-case as written (then it never matches)


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
    senders: list[Party] = field(default_factory=list)  # every From address (mail)
    notes: list[str] = field(default_factory=list)  # warnings about this item
    series_prefix: str | None = None  # single calendar events: "ics:<UID>:" (a move re-keys)
    aliases: list[str] = field(default_factory=list)  # keys older versions gave this item


@dataclass
class Skipped:
    source: str
    reason: str


@dataclass
class Removal:
    """Stored calendar occurrences to delete: `key` exactly, or every key under `prefix`
    (within `window` when given) except those in `keep`."""

    source: str
    reason: str
    key: str | None = None
    prefix: str | None = None
    keep: set[str] = field(default_factory=set)
    window: tuple[datetime, datetime] | None = None


@dataclass
class Summary:
    source: str
    kind: str
    dry_run: bool
    items: int = 0
    imported_items: int = 0
    communications: int = 0
    duplicates: int = 0
    updated: int = 0
    removed: int = 0
    removed_communications: int = 0
    internal: int = 0
    unmatched_items: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    leads_created: list[dict[str, Any]] = field(default_factory=list)
    unmatched: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "source": self.source,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "items": self.items,
            "imported_items": self.imported_items,
            "communications_created": self.communications,
            "duplicates": self.duplicates,
        }
        if self.kind == "calendar":
            out |= {
                "updated": self.updated,
                "removed": self.removed,
                "removed_communications": self.removed_communications,
            }
        return out | {
            "internal": self.internal,
            "unmatched_items": self.unmatched_items,
            "unmatched_addresses": len(self.unmatched),
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "warnings": self.warnings,
            "leads_created": self.leads_created,
            "unmatched": sorted(self.unmatched.values(), key=lambda u: (-u["items"], u["email"])),
            **self.extra,
        }


def normalize_domains(domains: Iterable[str] | None) -> list[str]:
    out = []
    for d in domains or []:
        text = d.strip().lower().lstrip("@")
        if not text or "." not in text or " " in text:
            raise InvalidInput(f"invalid --our-domain {d!r}; use a domain such as example.com")
        try:
            text = (normalize_email(f"a@{text}") or text).split("@", 1)[1]
        except InvalidInput:
            raise InvalidInput(
                f"invalid --our-domain {d!r}; use a domain such as example.com"
            ) from None
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


def _base_key(external_id: str) -> str:
    head, sep, tail = external_id.rpartition("#")
    return head if sep and tail.isdigit() else external_id


_KEY_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _under(prefix: str, base: str) -> bool:
    """Is `base` an occurrence key of the UID `prefix` names (not of a longer UID)?"""
    return base.startswith(prefix) and bool(_KEY_TIME.fullmatch(base[len(prefix) :]))


def _original_start(key: str) -> datetime | None:
    """The original start at the end of an occurrence key ``ics:<UID>:<UTC time>``."""
    tail = key[-20:]
    return from_iso(tail) if _KEY_TIME.fullmatch(tail) else None


def _distinct_parties(found: list[tuple[Party, str]]) -> list[tuple[Party, str]]:
    """Each address once, with the role it first appears in (a person in both To and Cc
    is one party, so one communication)."""
    parties: list[tuple[Party, str]] = []
    emails: set[str] = set()
    for party, role in found:
        if party.email not in emails:
            emails.add(party.email)
            parties.append((party, role))
    return parties


class _DryRun(Exception):
    """Raised to roll back a dry run's transaction."""


class _Importer:
    def __init__(
        self,
        db: Database,
        summary: Summary,
        domains: list[str],
        create_leads: bool,
        update_existing: bool,
    ):
        self.db = db
        self.summary = summary
        self.domains = domains
        self.create_leads = create_leads
        self.update_existing = update_existing
        self.customers: dict[str, int | None] = {}
        self.agents = repo.agents_by_email(db)
        self.seen: set[str] = set()

    def customer(self, email: str) -> int | None:
        if email not in self.customers:
            ok = valid_email(email)
            cid = None
            if ok:
                found = customers_repo.lookup_ids(self.db, "email", email_match_keys(ok))
                cid = min(found.values()) if found else None
            self.customers[email] = cid
        return self.customers[email]

    def unmatched(self, party: Party, role: str) -> None:
        entry = self.summary.unmatched.setdefault(
            party.email, {"email": party.email, "name": party.name, "role": role, "items": 0}
        )
        entry["items"] += 1

    def _sender(self, item: Item) -> Party | None:
        """The first From address that is a customer, else the first."""
        for party in item.senders:
            if self.customer(party.email) is not None:
                return party
        return item.sender

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
            sender = self._sender(item)
            return "inbound", [(sender, "sender")] if sender else []
        sender = self._sender(item)
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

    def _values(self, item: Item) -> dict[str, Any]:
        content = item.content
        if content and len(content) > MAX_CONTENT:
            content = content[:MAX_CONTENT] + "\n[truncated]"
        return {
            "occurred_at": to_iso(item.occurred_at),
            "subject": item.subject,
            "content": content,
            "duration_s": item.duration_s,
        }

    def _update(self, item: Item) -> bool:
        """A calendar occurrence stored before: update it when it changed. True if handled."""
        rows = repo.communications_with_key(self.db, item.key)
        rekey = False
        if not rows and item.series_prefix:  # a single event that moved: its old key
            prefix = item.series_prefix
            rows = [
                r
                for r in repo.communications_with_key_prefix(self.db, prefix)
                if _under(prefix, _base_key(r["external_id"]))
            ]
            rekey = bool(rows) and len({_base_key(r["external_id"]) for r in rows}) == 1
            if not rekey:
                return False
        if not rows:
            return False
        values = self._values(item)
        changed = rekey or any(any(row[k] != values[k] for k in UPDATED_FIELDS) for row in rows)
        if changed:
            for row in rows:
                new = dict(values)
                if rekey:
                    suffix = row["external_id"][len(_base_key(row["external_id"])) :]
                    new["external_id"] = item.key + suffix
                repo.update_communication_fields(self.db, row["id"], new)
            self.summary.updated += 1
        else:
            self.summary.duplicates += 1
        return True

    def _match(self, parties: list[tuple[Party, str]]) -> list[int]:
        """The customers an item's parties are, in order and each once; an unknown sender
        becomes a lead when asked for, any other unknown party is noted as unmatched."""
        matched: list[int] = []
        for party, role in parties:
            cid = self.customer(party.email)
            if cid is None and self.create_leads and role == "sender":
                cid = self._lead(party)
            if cid is None:
                self.unmatched(party, role)
            elif cid not in matched:
                matched.append(cid)
        return matched

    def _lead(self, party: Party) -> int | None:
        """A new lead for an unknown sender, or None when the address is no valid email."""
        email = valid_email(party.email)
        if not email:
            return None
        cid = repo.insert_lead(self.db, lead_name(party), email)
        self.customers[party.email] = cid
        self.summary.leads_created.append({"id": cid, "email": email, "name": lead_name(party)})
        return cid

    def add(self, item: Item) -> None:
        s = self.summary
        s.items += 1
        for note in item.notes:
            s.warnings.append({"source": item.source, "warning": note})
        keys = [item.key, *item.aliases]
        if any(k in self.seen for k in keys):
            s.duplicates += 1
            return
        self.seen.update(keys)
        if self.update_existing:
            if self._update(item):
                return
        elif any(repo.external_id_exists(self.db, k) for k in keys):
            s.duplicates += 1
            return
        direction, found = self.counterparts(item)
        parties = _distinct_parties(found)
        if not parties:
            s.internal += 1
            return
        matched = self._match(parties)
        if not matched:
            s.unmatched_items += 1
            return
        values = self._values(item)
        agent = self.agent(item, direction)
        for n, cid in enumerate(matched):
            repo.insert_communication(
                self.db,
                {
                    **values,
                    "customer_id": cid,
                    "channel": item.channel,
                    "direction": direction,
                    "agent": agent,
                    "external_id": item.key if n == 0 else f"{item.key}#{cid}",
                },
            )
            s.communications += 1
        s.imported_items += 1

    def remove(self, removal: Removal) -> None:
        if removal.key is not None:
            rows = repo.communications_with_key(self.db, removal.key)
        elif removal.prefix is not None:
            rows = [
                r
                for r in repo.communications_with_key_prefix(self.db, removal.prefix)
                if _under(removal.prefix, _base_key(r["external_id"]))
            ]
        else:
            return
        doomed = []
        for row in rows:
            base = _base_key(row["external_id"])
            if base in removal.keep or (removal.key is None and base in self.seen):
                continue
            if removal.window is not None:
                original = _original_start(base)
                if original is None or not removal.window[0] <= original <= removal.window[1]:
                    continue
            doomed.append((base, row["id"]))
        if not doomed:
            return
        repo.delete_communications(self.db, [cid for _, cid in doomed])
        self.summary.removed += len({base for base, _ in doomed})
        self.summary.removed_communications += len(doomed)


def import_items(
    db: Database,
    items: Iterable[Item | Skipped | Removal],
    summary: Summary,
    our_domains: list[str],
    create_leads: bool = False,
    update_existing: bool = False,
) -> Summary:
    """Write the items as communications in one transaction with one audit row.

    A dry run does the same work and rolls it back, so its counts are the real ones.
    """
    try:
        with db.transaction():
            importer = _Importer(db, summary, our_domains, create_leads, update_existing)
            for item in items:
                if isinstance(item, Skipped):
                    summary.items += 1
                    summary.skipped.append(item)
                elif isinstance(item, Removal):
                    importer.remove(item)
                else:
                    importer.add(item)
            details = {
                k: v
                for k, v in summary.as_dict().items()
                if k not in ("unmatched", "skipped", "dry_run", "warnings")
            }
            details["unmatched"] = len(summary.unmatched)
            details["skipped"] = len(summary.skipped)
            details["warnings"] = len(summary.warnings)
            details["leads_created"] = [lead["id"] for lead in summary.leads_created]
            repo.record_import(db, f"import_{summary.kind}", summary.source, details)
            if summary.dry_run:
                raise _DryRun
    except _DryRun:
        for lead in summary.leads_created:
            lead["id"] = None  # rolled back: no id was kept
    return summary
