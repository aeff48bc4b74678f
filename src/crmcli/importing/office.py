"""Turn mail messages and calendar occurrences into communications (shared by both imports).

Matching: each party's address, normalized by core.validate.normalize_email (IDN domains in
their Unicode form; the ``xn--`` form is tried too), is looked up among customers through
db.customers' lookup functions. Parties in one of `--our-domain` (or its subdomains) are us.
Mail: a message from us is outbound, to the customers among its recipients; anything else
is inbound, from the first of its From addresses that is a customer (else the first). Without
--our-domain, a sender who is a customer makes it inbound, else a customer among the
recipients makes it outbound. Meetings: every external participant who is a customer gets
the meeting; outbound when the organizer is one of us (or not a customer).

Mail Reply-To (contact forms send From ``noreply@site`` with ``Reply-To: customer``): used
only when no From address is a customer, the usual matching found no customer, the message
is no list or bulk mail, and Reply-To holds one address, not ours, that is a customer. The
message is then inbound from that customer (never a lead made from it); the summary counts
these (``matched_by_reply_to``). A Reply-To naming a customer but not usable for one of
those reasons is a warning when the message found no customer otherwise.

Idempotency: every item has a key (``mail:<Message-ID>``, ``ics:<UID>:<start>``) stored in
communications.external_id. When an item concerns several customers the first gets the key
itself, the others ``<key>#<customer id>``. Mail: a message is a duplicate when its key is
stored (or seen earlier in the file) for the same message: it was stored for one of the
customers the message concerns (a mail merge under one id to Ann and to Bob is two
messages), and two of its Date (to the second), Subject and text agree, compared with white space folded and mbox ``>From`` escaping undone,
so the CRLF .eml, its mbox copy and a re-import are one message (From is not compared: list
software rewrites it; Received and other transport headers differ between copies), and so
is a message an earlier crmcli stored with a Date zone or a body it read otherwise then. A
different message under a reused Message-ID (broken mailers, list software, hand-made
mail: two of the three differ) is stored, not dropped: under ``mail:<id>~<16 hex of its
fingerprint>``, stable, so a re-import finds it again; when it is stored, a warning names
the key and ``reused_message_ids`` counts it (a stored copy for any customer, ``<key>#<id>``
too, counts). Stored rather than refused because it is a real message and the Message-ID
is the sender's fault: a refusal would leave the operator nothing to do but edit the
mailbox. Two messages under one id with the same Date and Subject and only another text
(hand-made test mail) are one message: telling them from a body read otherwise by an
earlier version is not possible from what is stored. A stored message whose subject and
text were both edited afterwards no longer compares equal: re-importing its mailbox then
adds the file's version once more, with that warning (a visible copy, never a silent
loss). Ids crmcli made for messages without a Message-ID are hashes of the bytes:
an existing one is always a duplicate.

Calendars (``update_existing``): a stored occurrence whose time, duration, subject or text
changed is updated (a single event that moved keeps its row and gets its new key); a
`Removal` deletes the stored occurrences of a cancelled event, a cancelled occurrence, or
the occurrences a series in the file no longer has within the window.
"""

from __future__ import annotations

import hashlib
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
    reply_to: list[Party] = field(default_factory=list)  # mail: every Reply-To address
    reply_to_refused: str | None = None  # mail: why Reply-To may not name the customer


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
    reused_ids: int = 0
    by_reply_to: int = 0
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
        if self.kind == "mail":
            out |= {
                "reused_message_ids": self.reused_ids,
                "matched_by_reply_to": self.by_reply_to,
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


_MBOX_ESCAPE = re.compile(r"^>+(?=From )", re.M)


def fingerprint(values: dict[str, Any]) -> tuple[str, str, str]:
    """What makes two copies of a message one message, as stored: its Date (to the second),
    Subject and text, white space folded (line ends, wrapping) and mbox ``>From`` escaping
    undone, each as a hex digest. Equal for a CRLF .eml and its mbox copy."""
    subject = " ".join(str(values.get("subject") or "").split())
    text = " ".join(_MBOX_ESCAPE.sub("", str(values.get("content") or "")).split())
    return tuple(  # type: ignore[return-value]
        hashlib.sha256(part.encode("utf-8", "surrogatepass")).hexdigest()
        for part in (str(values.get("occurred_at") or ""), subject, text)
    )


def same_message(one: tuple[str, str, str], other: tuple[str, str, str]) -> bool:
    """Two of Date, Subject and text agree: one message. A message stored by an earlier
    crmcli may differ in one of them (a Date zone or a body it read otherwise since), and a
    re-import must not store it again; a message that only reuses the Message-ID differs in
    at least two."""
    return sum(a == b for a, b in zip(one, other, strict=True)) >= 2


@dataclass
class _Print:
    """A message as the duplicate check sees it: its fingerprint and the customers it
    concerns (stored for, or known among its addresses)."""

    parts: tuple[str, str, str]
    customers: set[int]

    def same(self, other: _Print) -> bool:
        """One message: two of Date, Subject and text agree, and it concerns one of the
        same customers (a mail merge under one Message-ID to Ann and to Bob is two)."""
        if not same_message(self.parts, other.parts):
            return False
        return bool(self.customers & other.customers) or not (self.customers or other.customers)


def _variant_mark(mark: tuple[str, str, str]) -> str:
    return hashlib.sha256("".join(mark).encode()).hexdigest()[:16]


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
        self.seen: set[str] = set()  # calendar keys of this file
        # mail: key -> this file's message under it; key -> the variants of the key
        self.prints: dict[str, _Print] = {}
        self.variants: dict[str, list[_Print]] = {}
        self._last_print: _Print | None = None

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

    def agent(self, item: Item, direction: str, with_sender: bool = True) -> str | None:
        """Who on our side handled it; a contact form's own From (`with_sender` False, the
        message matched through Reply-To) is no one."""
        sender = item.sender if with_sender else None
        parties = ([sender] if sender else []) + item.others
        for p in parties:
            if p.email in self.agents:
                return self.agents[p.email]
        for p in parties:  # no agent record: the first of our people, by name
            if self.domains and is_ours(p.email, self.domains):
                return p.name or p.email
        if direction == "outbound" and sender is not None:
            return sender.name or sender.email
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

    def _mail_key(self, item: Item) -> str | None:
        """The key to store a message under, or None when it is a duplicate (see the module
        docstring): its own key, or its variant when a different message holds that one."""
        mark = _Print(fingerprint(self._values(item)), self._concerned(item))
        self._last_print = mark
        keys = [item.key, *item.aliases]
        if item.key.endswith("@crmcli.generated>"):  # a hash of the bytes: same key, same mail
            if any(k in self.prints or repo.external_id_exists(self.db, k) for k in keys):
                return None
            self.prints.update(dict.fromkeys(keys, mark))
            return item.key
        taken = False
        for key in keys:
            stored = [self.prints[key]] if key in self.prints else self._stored(key)
            if any(mark.same(other) for other in stored):
                return None
            taken = taken or bool(stored)
        if not taken:
            self.prints.update(dict.fromkeys(keys, mark))
            return item.key
        # the different messages stored under variants of the key, before or in this file
        variants = self.variants.setdefault(item.key, [])
        if not variants:
            variants += self._stored(f"{item.key}~", prefix=True)
        if any(mark.same(other) for other in variants):
            return None
        variants.append(mark)
        return f"{item.key}~{_variant_mark(mark.parts)}"

    def _stored(self, key: str, prefix: bool = False) -> list[_Print]:
        """The messages stored under a key (or keys beginning so): each distinct one with
        the customers it was stored for (`key`, `key#<customer id>`)."""
        rows = (
            repo.communications_with_key_prefix(self.db, key)
            if prefix
            else repo.communications_with_key(self.db, key)
        )
        found: dict[tuple[str, str, str], set[int]] = {}
        for row in rows:
            found.setdefault(fingerprint(row), set()).add(int(row["customer_id"]))
        return [_Print(parts, customers) for parts, customers in found.items()]

    def _concerned(self, item: Item) -> set[int]:
        """The known customers among a message's addresses (From, To, Cc, Bcc, Reply-To)."""
        parties = [*item.senders, *([item.sender] if item.sender else []), *item.others]
        parties += item.reply_to
        return {cid for p in parties if (cid := self.customer(p.email)) is not None}

    def _reused(self, item: Item, key: str) -> None:
        """Say that a message was stored under its variant key (its Message-ID reused)."""
        self.summary.reused_ids += 1
        self.summary.warnings.append(
            {
                "source": item.source,
                "warning": f"Message-ID {item.key.removeprefix('mail:')} is also used by a"
                f" different message (another Date, Subject or text): stored under {key}",
            }
        )

    def _by_reply_to(self, item: Item, parties: list[tuple[Party, str]]) -> Party | None:
        """The customer a message's Reply-To names, when it may stand for the sender (module
        docstring); a usable-looking one refused is a warning."""
        if not item.reply_to or any(self.customer(p.email) is not None for p, _ in parties):
            return None
        if any(self.customer(p.email) is not None for p in item.senders):
            return None
        known = [
            p
            for p in item.reply_to
            if not is_ours(p.email, self.domains) and self.customer(p.email) is not None
        ]
        if not known:
            return None
        refused = item.reply_to_refused
        if refused is None and len(item.reply_to) > 1:
            refused = f"Reply-To holds {len(item.reply_to)} addresses"
        if refused is not None:
            self.summary.warnings.append(
                {
                    "source": item.source,
                    "warning": f"Reply-To {known[0].email} is a customer but was not used:"
                    f" {refused}",
                }
            )
            return None
        return known[0]

    def add(self, item: Item) -> None:
        s = self.summary
        s.items += 1
        self._last_print = None
        for note in item.notes:
            s.warnings.append({"source": item.source, "warning": note})
        key: str | None = item.key
        if self.update_existing:
            keys = [item.key, *item.aliases]
            if any(k in self.seen for k in keys):
                s.duplicates += 1
                return
            self.seen.update(keys)
            if self._update(item):
                return
        else:
            key = self._mail_key(item)
        if key is None:
            s.duplicates += 1
            return
        direction, found = self.counterparts(item)
        parties = _distinct_parties(found)
        reply_to = self._by_reply_to(item, parties) if item.channel == "email" else None
        if reply_to is not None:
            direction, parties = "inbound", [(reply_to, "reply-to")]
        if not parties:
            s.internal += 1
            return
        matched = self._match(parties)
        if not matched:
            s.unmatched_items += 1
            return
        values = self._values(item)
        agent = self.agent(item, direction, with_sender=reply_to is None)
        for n, cid in enumerate(matched):
            repo.insert_communication(
                self.db,
                {
                    **values,
                    "customer_id": cid,
                    "channel": item.channel,
                    "direction": direction,
                    "agent": agent,
                    "external_id": key if n == 0 else f"{key}#{cid}",
                },
            )
            s.communications += 1
        if self._last_print is not None:  # (a lead made for it is a customer it concerns)
            self._last_print.customers.update(matched)
        s.imported_items += 1
        if reply_to is not None:
            s.by_reply_to += 1
        if key != item.key:
            self._reused(item, key)

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
