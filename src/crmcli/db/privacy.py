"""Data-subject rights: erase a customer's personal data (`forget`) and export it all.

Erasure (GDPR art. 17 / PIPL art. 47) keeps the customer's row and every aggregate fact --
counts, amounts, dates, channels, categories, statuses, satisfaction scores -- so reports
and models keep their numbers, and removes what identifies or describes the person:

- customers: name -> "[erased]"; phone, email, address, notes, external_id -> NULL; tags
  deleted; erased_at set. (company, lifecycle and owner are facts about the account.)
- communications: subject and content -> NULL.
- tickets: subject -> "[erased]"; description, satisfaction_comment -> NULL; their
  ticket_events' body -> NULL and details redacted (statuses and times stay).
- any other table with a customer_id column (added by later migrations): the customer's
  identifiers are replaced inside its text columns.
- customers merged into this one (`customer merge`, found through the audit log's
  `merged_into` entries, transitively) count as the same person: their old identifiers and
  audit rows are erased too.
- audit_log: rows about the customer or its records get their details redacted (string
  values other than statuses / categories / times become "[erased]"); any other row whose
  details contain one of the customer's identifiers has that text replaced. This goes
  through the controlled redaction path described in db/audit.py, so `crm audit verify`
  still passes.
- FTS indexes are rebuilt; then the WAL is checkpointed and truncated and the file is
  VACUUMed with secure_delete on, so the erased values are gone from the database file's
  bytes, its -wal and -shm files. Backups made before the erasure still hold them until
  rotated out (`crm db backup --keep N`).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmcli.core.clock import display_time
from crmcli.core.errors import Conflict
from crmcli.db import audit, search_index
from crmcli.db.audit import REDACTED

if TYPE_CHECKING:
    from crmcli.db.database import Database

# String values under these keys are facts (kept when audit details are redacted).
FACT_KEYS = {
    "action",
    "category",
    "channel",
    "currency",
    "direction",
    "from_status",
    "kind",
    "lifecycle",
    "owner",
    "agent",
    "assignee",
    "actor",
    "priority",
    "result",
    "status",
    "to_status",
    "variant",
    "company",
}
CUSTOMER_CLEARED = ("phone", "email", "address", "notes", "external_id")
# Tables handled explicitly below; other tables with a customer_id get the generic scrub.
KNOWN_TABLES = {
    "customers",
    "customer_tags",
    "communications",
    "tickets",
    "ticket_events",
    "campaign_members",
    "orders",
    "audit_log",
    "audit_redactions",
    "change_log",
}


def _columns(db: Database, table: str) -> list[tuple[str, str]]:
    return [(r[1], (r[2] or "").upper()) for r in db.execute(f'PRAGMA table_info("{table}")')]


def _ids(db: Database, sql: str, params: Any) -> list[int]:
    return [int(r[0]) for r in db.execute(sql, params)]


@dataclass
class Secrets:
    """What identifies a customer: distinctive strings (email, phones, ids, address, notes)
    are replaced wherever they occur; the name only where it is a whole value, so erasing
    "Li" does not blank every "Limited" in other people's audit entries."""

    substrings: list[str]
    names: set[str]

    def all(self) -> list[str]:
        return sorted(set(self.substrings) | self.names, key=len, reverse=True)

    def probes(self) -> list[str]:
        """How they look inside JSON text: escaped substrings, quoted whole names."""
        forms = set(self.substrings)
        forms.update(json.dumps(s, ensure_ascii=False)[1:-1] for s in self.substrings)
        forms.update(json.dumps(n, ensure_ascii=False) for n in self.names)
        return sorted(forms, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        if text in self.names:
            return REDACTED
        for secret in self.substrings:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


def identifiers(customer: dict[str, Any]) -> Secrets:
    """The customer's identifying strings (phone in its usual spellings too)."""
    values = [customer.get(k) for k in ("email", "phone", "address", "external_id", "notes")]
    phone = customer.get("phone")
    if phone:
        values += [phone.lstrip("+"), phone[3:] if phone.startswith("+86") else None]
        try:
            import phonenumbers

            parsed = phonenumbers.parse(phone, None)
            values.append(str(parsed.national_number))
            values.append(
                phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            )
            values.append(
                phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
            )
        except Exception:  # noqa: BLE001 - a stored phone that no longer parses: skip variants
            pass
    distinct = {str(v) for v in values if v and len(str(v)) >= 5}
    name = customer.get("name")
    names = {name} if name and name != REDACTED else set()
    return Secrets(sorted(distinct, key=len, reverse=True), names)


def redact_value(value: Any, key: str = "", secrets: Secrets | None = None) -> Any:
    """Redact a JSON value: strings that are not facts become "[erased]".

    With `secrets`, only the customer's identifiers are replaced (rows about someone else)."""
    if isinstance(value, dict):
        return {k: redact_value(v, k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v, key, secrets) for v in value]
    if not isinstance(value, str):
        return value
    if secrets is not None:
        return secrets.scrub(value)
    if "external" in key:  # an identifier in another system is personal
        return REDACTED
    if key in FACT_KEYS or key.endswith("_at") or key.endswith("_id") or key == "id":
        return value
    return REDACTED


def _redacted_details(text: str | None, secrets: Secrets | None) -> str | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return secrets.scrub(text) if secrets is not None else REDACTED
    return json.dumps(redact_value(value, "", secrets), ensure_ascii=False, sort_keys=True)


def merged_identities(db: Database, customer_id: int) -> tuple[list[int], list[dict[str, Any]]]:
    """The customer's id plus every id merged into it (transitively, from the audit log's
    `merged_into` entries), and the merged records those entries kept."""
    ids = [customer_id]
    records: list[dict[str, Any]] = []
    frontier = [customer_id]
    while frontier:
        marks = ",".join("?" * len(frontier))
        rows = db.query(
            "SELECT entity_id, details FROM audit_log WHERE action = 'merged_into'"
            " AND entity = 'customer' AND CASE WHEN json_valid(details)"
            f" THEN json_extract(details, '$.into') END IN ({marks})",
            frontier,
        )
        frontier = []
        for row in rows:
            try:
                merged = int(row["entity_id"])
            except (TypeError, ValueError):
                continue
            if merged in ids:
                continue
            ids.append(merged)
            frontier.append(merged)
            record = audit.parse_details(row["details"])
            if isinstance(record, dict) and isinstance(record.get("record"), dict):
                records.append(record["record"])
    return ids, records


def _about_sql(ids: list[int]) -> tuple[str, list[Any]]:
    """WHERE text for audit rows about these customer ids (by entity or by customer_id)."""
    marks = ",".join("?" * len(ids))
    return (
        f"((entity = 'customer' AND entity_id IN ({marks})) OR (CASE WHEN json_valid(details)"
        f" THEN json_extract(details, '$.customer_id') END IN ({marks})))",
        [*[str(i) for i in ids], *ids],
    )


def _redact_audit(
    db: Database, ids: list[int], related: dict[str, list[int]], secrets: Secrets, by: int
) -> int:
    """Redact audit details about the customer (and those merged into it); returns how many
    rows changed."""
    where, params = _about_sql(ids)
    about: set[int] = set(
        _ids(db, f"SELECT id FROM audit_log WHERE id != ? AND {where}", [by, *params])
    )
    for entity_names, ids in (
        (("communication", "communications", "comm"), related["communications"]),
        (("ticket", "tickets"), related["tickets"]),
        (("order", "orders"), related["orders"]),
    ):
        for start in range(0, len(ids), 500):
            chunk = [str(i) for i in ids[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            names = ",".join("?" * len(entity_names))
            about.update(
                _ids(
                    db,
                    f"SELECT id FROM audit_log WHERE entity IN ({names})"
                    f" AND entity_id IN ({marks}) AND id != ?",
                    [*entity_names, *chunk, by],
                )
            )
    forms = secrets.probes()
    mentioning: set[int] = set()
    for start in range(0, len(forms), 50):
        chunk = forms[start : start + 50]
        where = " OR ".join("instr(details, ?) > 0" for _ in chunk)
        mentioning.update(
            _ids(db, f"SELECT id FROM audit_log WHERE id != ? AND ({where})", [by, *chunk])
        )
    changed = 0
    for audit_id in sorted(about | mentioning):
        text = db.scalar("SELECT details FROM audit_log WHERE id = ?", (audit_id,))
        new = _redacted_details(text, None if audit_id in about else secrets)
        if new != text:
            audit.redact(db, audit_id, new, by)
            changed += 1
    return changed


def _scrub_other_tables(db: Database, customer_id: int, secrets: Secrets) -> int:
    """Replace the customer's identifiers in text columns of tables added by others."""
    changed = 0
    tables = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'"
        )
    ]
    for table in tables:
        if table in KNOWN_TABLES:
            continue
        cols = _columns(db, table)
        if not any(name == "customer_id" for name, _ in cols):
            continue
        text_cols = [
            n for n, t in cols if n != "customer_id" and ("CHAR" in t or "TEXT" in t or t == "")
        ]
        for column in text_cols:
            for secret in secrets.all():  # the customer's own rows: the name goes too
                changed += db.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?)'
                    f' WHERE customer_id = ? AND instr("{column}", ?) > 0',
                    (secret, REDACTED, customer_id, secret),
                ).rowcount
    return changed


def rebuild_fts(db: Database) -> list[str]:
    from crmcli.db.database import fts_tables

    done = []
    for name, sql in fts_tables(db):
        flat = sql.replace(" ", "")
        command = "optimize" if "content=''" in flat else "rebuild"
        db.execute(f'INSERT INTO "{name}"("{name}") VALUES (?)', (command,))
        if name == "customers_fts":
            search_index.forget_pending(db)
        done.append(name)
    return done


def forget_customer(db: Database, customer_id: int) -> dict[str, Any]:
    """Erase one customer's personal data everywhere; keep aggregate facts."""
    from crmcli.core.clock import now_iso
    from crmcli.db.customers import get_customer

    with db.transaction():
        customer = get_customer(db, customer_id)
        if customer.get("erased_at"):
            erased = display_time(customer["erased_at"])
            raise Conflict(f"customer {customer_id} was already erased at {erased}")
        tags = list(customer.get("tags") or [])
        related = {
            "communications": _ids(
                db, "SELECT id FROM communications WHERE customer_id = ?", (customer_id,)
            ),
            "tickets": _ids(db, "SELECT id FROM tickets WHERE customer_id = ?", (customer_id,)),
            "orders": _ids(db, "SELECT id FROM orders WHERE customer_id = ?", (customer_id,)),
        }
        ids, merged_records = merged_identities(db, customer_id)
        secrets = identifiers(customer)
        for record in merged_records:  # a duplicate's old email or phone is theirs too
            more = identifiers(record)
            secrets.substrings = sorted(
                set(secrets.substrings) | set(more.substrings), key=len, reverse=True
            )
            secrets.names |= more.names
        custom_texts = [
            str(v)
            for (v,) in db.execute(
                "SELECT v.value_text FROM custom_values v JOIN custom_fields f ON f.id = v.field_id"
                " WHERE f.entity = 'customer' AND v.entity_id = ? AND v.value_text IS NOT NULL",
                (customer_id,),
            ).fetchall()
            if len(str(v)) >= 5
        ]
        secrets.substrings = sorted(
            set(secrets.substrings) | set(custom_texts), key=len, reverse=True
        )
        now = now_iso()
        sets = ", ".join(f"{c} = NULL" for c in CUSTOMER_CLEARED)
        db.execute(
            f"UPDATE customers SET name = ?, {sets}, erased_at = ?, updated_at = ? WHERE id = ?",
            (REDACTED, now, now, customer_id),
        )
        db.execute("DELETE FROM customer_tags WHERE customer_id = ?", (customer_id,))
        # the other emails, phones and addresses a merge kept (db/merge.py) are theirs too
        db.execute("DELETE FROM customer_contacts WHERE customer_id = ?", (customer_id,))
        # custom field values may hold anything about the person (a WeChat id, a birthday)
        custom = db.execute(
            "DELETE FROM custom_values WHERE entity_id = ? AND field_id IN"
            " (SELECT id FROM custom_fields WHERE entity = 'customer')",
            (customer_id,),
        ).rowcount
        comms = db.execute(
            "UPDATE communications SET subject = NULL, content = NULL, updated_at = ?"
            " WHERE customer_id = ?",
            (now, customer_id),
        ).rowcount
        tickets = db.execute(
            "UPDATE tickets SET subject = ?, description = NULL, satisfaction_comment = NULL,"
            " updated_at = ? WHERE customer_id = ?",
            (REDACTED, now, customer_id),
        ).rowcount
        events = 0
        for event_id, details in db.execute(
            "SELECT e.id, e.details FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
            " WHERE t.customer_id = ?",
            (customer_id,),
        ).fetchall():
            db.execute(
                "UPDATE ticket_events SET body = NULL, details = ? WHERE id = ?",
                (_redacted_details(details, None), event_id),
            )
            events += 1
        other = _scrub_other_tables(db, customer_id, secrets)
        summary: dict[str, Any] = {
            "customer_id": customer_id,
            "erased_at": now,
            "tags_removed": len(tags),
            "communications": comms,
            "tickets": tickets,
            "ticket_events": events,
            "custom_values": custom,
            "other_fields": other,
        }
        by = audit.record(db, "forget", "customer", customer_id, summary)
        summary["audit_rows_redacted"] = _redact_audit(db, ids, related, secrets, by)
        summary["ticket_ids"] = related["tickets"]
        summary["fts_rebuilt"] = rebuild_fts(db)
        summary["pending_purge"] = _add_pending_purge(db, customer_id, secrets, related)
    from crmcli.core import faults

    faults.point("forget.committed")
    try:
        summary.update(purge_free_space(db), purged=True)
    except sqlite3.OperationalError:  # e.g. another writer held the lock past the timeout
        summary.update(wal_truncated=False, purged=False)
    return summary


# -- what the erasure leaves outside the database -------------------------------------
def identifier_hash(value: str) -> str:
    """How a pending purge remembers an identifier without keeping it: SHA-256 of the
    trimmed, lower-cased text."""
    import hashlib

    return hashlib.sha256(value.strip().lower().encode("utf-8")).hexdigest()


def _add_pending_purge(
    db: Database, customer_id: int, secrets: Secrets, related: dict[str, list[int]]
) -> int:
    """Record, in the erasure's transaction, the files to clean outside the database:
    auto-reply e-mails (by ticket id or address), rejects files imports wrote, warehouse
    temporary files. Identifiers are kept only as hashes, and dropped once done."""
    from crmcli.core.clock import now_iso

    rejects = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT json_extract(details, '$.rejects_file') FROM audit_log"
            " WHERE action = 'import' AND json_valid(details)"
            " AND json_extract(details, '$.rejects_file') IS NOT NULL"
        )
    ]
    targets = warehouse_targets(db)
    work = {
        "ticket_ids": related["tickets"],
        "hashes": sorted({identifier_hash(v) for v in secrets.all()}),
        "rejects_files": rejects,
        "warehouse_dirs": targets,
    }
    return db.insert_id(
        "INSERT INTO pending_purges(customer_id, created_at, work) VALUES (?, ?, ?)",
        (customer_id, now_iso(), json.dumps(work, ensure_ascii=False)),
    )


def warehouse_targets(db: Database) -> list[str]:
    """The folders `crm export warehouse` has written to (from their saved state)."""
    from crmcli.db.database import table_exists

    if not table_exists(db, "settings"):
        return []
    prefix = "export.warehouse:"
    return [
        r[0][len(prefix) :]
        for r in db.execute("SELECT key FROM settings WHERE key LIKE 'export.warehouse:/%'")
    ]


def pending_purges(db: Database) -> list[dict[str, Any]]:
    """Purges committed with an erasure and not finished yet (oldest first)."""
    from crmcli.db.database import table_exists

    if not table_exists(db, "pending_purges"):
        return []
    rows = db.query("SELECT id, customer_id, created_at, work FROM pending_purges"
                    " WHERE done_at IS NULL ORDER BY id")  # fmt: skip
    for row in rows:
        row["work"] = json.loads(row["work"])
    return rows


def finish_purge(db: Database, purge_id: int, result: dict[str, Any]) -> None:
    """Mark a purge done; the identifier hashes it held are dropped."""
    from crmcli.core.clock import now_iso

    with db.transaction():
        db.execute(
            "UPDATE pending_purges SET done_at = ?, result = ?, work = '{}' WHERE id = ?",
            (now_iso(), json.dumps(result, sort_keys=True), purge_id),
        )


# -- subject access request ------------------------------------------------------------
def export_customer(db: Database, customer_id: int) -> dict[str, Any]:
    """Everything held about one customer, as one JSON-ready object."""
    from crmcli.db.customers import get_customer

    customer = get_customer(db, customer_id)
    communications = db.query(
        "SELECT * FROM communications WHERE customer_id = ? ORDER BY occurred_at, id",
        (customer_id,),
    )
    tickets = db.query("SELECT * FROM tickets WHERE customer_id = ? ORDER BY id", (customer_id,))
    for ticket in tickets:
        ticket["events"] = db.query(
            "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY at, id", (ticket["id"],)
        )
        for event in ticket["events"]:
            event["details"] = audit.parse_details(event.get("details"))
    members = db.query(
        "SELECT m.*, c.name AS campaign_name, c.channel AS campaign_channel"
        " FROM campaign_members m JOIN campaigns c ON c.id = m.campaign_id"
        " WHERE m.customer_id = ? ORDER BY m.campaign_id",
        (customer_id,),
    )
    orders = db.query(
        "SELECT * FROM orders WHERE customer_id = ? ORDER BY ordered_at, id", (customer_id,)
    )
    for row in orders + members:
        for key in ("amount", "revenue"):
            if isinstance(row.get(key), int):
                from crmcli.core.validate import money

                row[key] = money(row[key])
    related = {
        "communication": [str(c["id"]) for c in communications],
        "ticket": [str(t["id"]) for t in tickets],
        "order": [str(o["id"]) for o in orders],
    }
    where, params = _about_sql(merged_identities(db, customer_id)[0])
    entries = db.query(
        "SELECT id, at, actor, action, entity, entity_id, details FROM audit_log"
        f" WHERE {where} ORDER BY id",
        params,
    )
    seen = {e["id"] for e in entries}
    for entity, ids in related.items():
        for entity_id in ids:
            for e in db.query(
                "SELECT id, at, actor, action, entity, entity_id, details FROM audit_log"
                " WHERE entity IN (?, ?) AND entity_id = ? ORDER BY id",
                (entity, entity + "s", entity_id),
            ):
                if e["id"] not in seen:
                    entries.append(e)
                    seen.add(e["id"])
    entries.sort(key=lambda e: e["id"])
    for e in entries:
        e["details"] = audit.parse_details(e["details"])
    named = _named_sections(db, customer_id, customer.get("company_id"))
    extra: dict[str, Any] = {}
    for table in _other_customer_tables(db):
        if table not in EXPORTED_BY_NAME:
            extra[table] = db.query(
                f'SELECT * FROM "{table}" WHERE customer_id = ?', (customer_id,)
            )
    from crmcli.core.clock import now_iso

    return {
        "exported_at": now_iso(),
        "customer": customer,
        "tags": customer.get("tags", []),
        **named,
        "communications": communications,
        "tickets": tickets,
        "campaign_memberships": members,
        "orders": orders,
        "audit_entries": entries,
        "other_records": extra,
    }


# Tables with a customer_id that the subject access export shows under their own name.
EXPORTED_BY_NAME = ("customer_contacts", "deals")


def _named_sections(db: Database, customer_id: int, company_id: int | None) -> dict[str, Any]:
    """The custom field values, the other contact points a merge kept, the company the
    customer belongs to, and the deals with their stage history."""
    from crmcli.db.database import table_exists
    from crmcli.db.fields import values_for

    out: dict[str, Any] = {"custom": {}, "contact_points": [], "company": None, "deals": []}
    if table_exists(db, "custom_values"):
        out["custom"] = values_for(db, "customer", [customer_id])[customer_id]
    if table_exists(db, "customer_contacts"):
        out["contact_points"] = db.query(
            "SELECT kind, value, merged_from, created_at FROM customer_contacts"
            " WHERE customer_id = ? ORDER BY id",
            (customer_id,),
        )
    if company_id is not None and table_exists(db, "companies"):
        out["company"] = db.query_one(
            "SELECT id, name, domain FROM companies WHERE id = ?", (company_id,)
        )
    if table_exists(db, "deals"):
        deals = db.query("SELECT * FROM deals WHERE customer_id = ? ORDER BY id", (customer_id,))
        from crmcli.core.validate import money

        for deal in deals:
            deal["events"] = db.query(
                "SELECT * FROM deal_events WHERE deal_id = ? ORDER BY at, id", (deal["id"],)
            )
            for row in (deal, *deal["events"]):
                if isinstance(row.get("amount"), int):
                    row["amount"] = money(row["amount"])
        out["deals"] = deals
    return out


def _other_customer_tables(db: Database) -> list[str]:
    out = []
    for (table,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
    ).fetchall():
        if table in KNOWN_TABLES:
            continue
        if any(name == "customer_id" for name, _ in _columns(db, table)):
            out.append(table)
    return out


def purge_free_space(db: Database) -> dict[str, Any]:
    """After an erasure: no old page may survive in the file, the WAL or free pages."""
    first = db.checkpoint()
    db.execute("VACUUM")
    second = db.checkpoint()
    return {"wal_truncated": first["busy"] == 0 and second["busy"] == 0}
