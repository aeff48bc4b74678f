"""The audit trail: one row per mutation, append-only and hash-chained.

Design
------
Every mutation calls `record(...)` inside its transaction. A row holds `at, actor, action,
entity, entity_id, details` (JSON text), `details_sha256` (the SHA-256 of `details` as
written), `prev_hash` (the previous row's `hash`) and `hash` = SHA-256(prev_hash +
canonical(row)). The canonical text covers the *digest* of the details, not the details
themselves: that is what lets personal data be erased from the trail without breaking it.

Append-only: migration m050 adds triggers that refuse every DELETE on `audit_log` and every
UPDATE, with one exception: an UPDATE that changes nothing but `details`, to exactly the
text recorded for that row in `audit_redactions`. `audit_redactions` (itself append-only:
triggers refuse UPDATE and DELETE) is the controlled path used by `crm customer forget`:

1. the erasure is recorded first as an ordinary audit row (action `forget`, details hold
   counts only, never the erased values);
2. for each audit row whose details mention the customer, a redaction row is inserted
   (`audit_id`, `by_audit_id` = that `forget` row, the redacted details text);
3. the row's details are replaced by the redacted text; the trigger allows it because the
   matching redaction row exists. `hash`, `prev_hash` and `details_sha256` stay as they were.

`verify()` walks the chain: `prev_hash` must equal the previous row's hash (a removed or
reordered row breaks it), `hash` must equal the recomputed hash over the stored digest (an
edited field breaks it), and `details` must hash to `details_sha256` -- unless the row has a
redaction made by a `forget` row whose text equals the current details (anything else is
tampering). Removing rows from the end cannot be seen from inside the file; `verify` prints
the head hash so an operator can keep it elsewhere and pass it back with `--head`.

Rows written before m050 were chained over the details text (`legacy_row_hash`). m050
verifies that old chain, re-chains the rows over digests and records the outcome as a
`reseal` entry (`legacy_chain_intact`, `first_broken_id`); `verify` on a backup that predates
m050 checks the old chain as it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from crmcli.core.errors import InvalidInput

if TYPE_CHECKING:
    from crmcli.db.database import Database

REDACTED = "[erased]"


def details_digest(details: str | None) -> str | None:
    """SHA-256 of the details text as stored (None for no details)."""
    if details is None:
        return None
    return hashlib.sha256(details.encode("utf-8")).hexdigest()


def canonical(row: dict[str, Any]) -> str:
    """The text a row's hash covers: its fields and the digest of its details."""
    digest = row.get("details_sha256")
    if digest is None and row.get("details") is not None:
        digest = details_digest(row["details"])
    fields = [row["at"], row["actor"], row["action"], row["entity"], row["entity_id"], digest]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def row_hash(prev_hash: str | None, row: dict[str, Any]) -> str:
    return hashlib.sha256(((prev_hash or "") + canonical(row)).encode("utf-8")).hexdigest()


def encode_details(details: dict[str, Any] | None) -> str | None:
    if not details:
        return None
    return json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)


def record(
    db: Database,
    action: str,
    entity: str,
    entity_id: object = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one audit entry and return its id. Call inside the mutation's transaction
    (a call outside one opens its own, so the chain can never fork between processes)."""
    from crmcli.core.clock import now_iso

    with db.transaction():
        prev = db.scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        text = encode_details(details)
        row = {
            "at": now_iso(),
            "actor": db.actor,
            "action": action,
            "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "details": text,
            "details_sha256": details_digest(text),
        }
        cur = db.execute(
            "INSERT INTO audit_log(at, actor, action, entity, entity_id, details,"
            " details_sha256, prev_hash, hash) VALUES (:at, :actor, :action, :entity,"
            " :entity_id, :details, :details_sha256, :prev_hash, :hash)",
            {**row, "prev_hash": prev, "hash": row_hash(prev, row)},
        )
        return int(cur.lastrowid or 0)


def legacy_row_hash(prev_hash: str | None, row: dict[str, Any]) -> str:
    """The hash of rows written before m050: chained over the details text itself."""
    fields = [row["at"], row["actor"], row["action"], row["entity"], row["entity_id"]]
    text = json.dumps([*fields, row["details"]], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(((prev_hash or "") + text).encode("utf-8")).hexdigest()


def redact(db: Database, audit_id: int, new_details: str | None, by_audit_id: int) -> None:
    """Replace one row's details by a redacted text, through the path the trigger allows.

    Call inside the transaction that recorded `by_audit_id` (the `forget` entry)."""
    from crmcli.core.clock import now_iso

    db.execute(
        "INSERT INTO audit_redactions(audit_id, by_audit_id, at, details) VALUES (?, ?, ?, ?)",
        (audit_id, by_audit_id, now_iso(), new_details),
    )
    db.execute("UPDATE audit_log SET details = ? WHERE id = ?", (new_details, audit_id))


def _has_column(db: Database, table: str, column: str) -> bool:
    return any(r[1] == column for r in db.execute(f"PRAGMA table_info({table})"))


def _table_exists(db: Database, name: str) -> bool:
    return bool(db.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


def _iter_rows(db: Database, batch: int = 5000) -> Iterator[dict[str, Any]]:
    last = 0
    while True:
        rows = db.query("SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?", (last, batch))
        if not rows:
            return
        yield from rows
        last = rows[-1]["id"]


def verify(db: Database, head: str | None = None) -> dict[str, Any]:
    """Walk the hash chain. Returns {ok, rows, head, broken: None | {id, reason}}."""
    if not _table_exists(db, "audit_log"):
        return {"ok": True, "rows": 0, "head": None, "broken": None}
    legacy = not _has_column(db, "audit_log", "details_sha256")  # a backup from before m050
    redactions: dict[int, set[str | None]] = {}
    if _table_exists(db, "audit_redactions"):
        for audit_id, text, by_action in db.execute(
            "SELECT r.audit_id, r.details, f.action FROM audit_redactions r"
            " LEFT JOIN audit_log f ON f.id = r.by_audit_id"
        ):
            if by_action == "forget":
                redactions.setdefault(int(audit_id), set()).add(text)
    prev: str | None = None
    count = 0
    seen_head = head is None
    broken: dict[str, Any] | None = None
    for row in _iter_rows(db):
        count += 1
        reason = None
        if row["prev_hash"] != prev:
            reason = (
                "prev_hash does not match the previous row's hash (a row was removed or reordered)"
            )
        elif legacy:
            if row["hash"] != legacy_row_hash(prev, row):
                reason = "hash does not match the row's contents (the row was altered)"
        elif details_digest(row["details"]) != row["details_sha256"] and row[
            "details"
        ] not in redactions.get(int(row["id"]), set()):
            reason = "details were changed without a recorded redaction"
        elif row["hash"] != row_hash(prev, row):
            reason = "hash does not match the row's contents (the row was altered)"
        if reason:
            broken = {"id": row["id"], "at": row["at"], "action": row["action"], "reason": reason}
            break
        prev = row["hash"]
        if head is not None and prev == head:
            seen_head = True
    if broken is None and not seen_head:
        broken = {"id": None, "reason": f"the chain does not contain head {head} (rows removed)"}
    return {"ok": broken is None, "rows": count, "head": prev, "broken": broken}


# -- listing ---------------------------------------------------------------------------
def list_entries(
    db: Database,
    entity: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = 50,
) -> list[dict[str, Any]]:
    """Audit rows, newest first, filtered by bound parameters only."""
    if limit is not None and limit < 0:
        raise InvalidInput("--limit must not be negative")
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("entity", entity),
        ("entity_id", entity_id),
        ("actor", actor),
        ("action", action),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if since:
        clauses.append("at >= ?")
        params.append(since)
    if until:
        clauses.append("at < ?")
        params.append(until)
    sql = (
        "SELECT id, at, actor, action, entity, entity_id, details FROM audit_log"
        f" WHERE {' AND '.join(clauses) or '1'} ORDER BY id DESC"
    )
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    rows = db.query(sql, params)
    for r in rows:
        r["details"] = parse_details(r["details"])
    return rows


def parse_details(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
