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
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmcli.core.errors import InvalidInput

if TYPE_CHECKING:
    from crmcli.db.database import Database

REDACTED = "[erased]"
M150 = "m150_keyed_audit_chain"


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


# -- the keyed chain (m150) -------------------------------------------------------------
def mac_row(key: bytes, prev_mac: str | None, row: dict[str, Any]) -> str:
    """HMAC-SHA256 over the previous row's MAC and this row's id, fields and details digest."""
    fields = [
        row["id"], row["at"], row["actor"], row["action"], row["entity"], row["entity_id"],
        row["details_sha256"],
    ]  # fmt: skip
    text = (
        "audit/v1\n"
        + (prev_mac or "")
        + "\n"
        + json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    )
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def mac_redaction(key: bytes, prev_mac: str | None, row: dict[str, Any]) -> str:
    """HMAC-SHA256 chaining the redaction ledger: id, audit row, forget row, time, text."""
    fields = [row["id"], row["audit_id"], row["by_audit_id"], row["at"], row["details"]]
    text = (
        "redaction/v1\n"
        + (prev_mac or "")
        + "\n"
        + json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    )
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def seal(db: Database) -> tuple[str | None, bytes | None]:
    """(database id, key) of the keyed chain; (None, None) before m150; key None if the key
    file is missing (entries are then written without a MAC, and verify fails)."""
    cached = db.memo.get("audit_seal")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    if not _table_exists(db, "audit_seal"):
        return None, None
    from crmcli.core import keys

    db_id = db.scalar("SELECT db_id FROM audit_seal LIMIT 1")
    value = (str(db_id), keys.load_key(str(db_id))) if db_id else (None, None)
    db.memo["audit_seal"] = value
    return value


def forget_seal(db: Database) -> None:
    """Drop the cached seal (after `db restore` replaced the contents)."""
    db.memo.pop("audit_seal", None)


def _note_head(db: Database, db_id: str, head: dict[str, Any], force: bool = False) -> None:
    from crmcli.core import keys

    # The head belongs to the file at this path: a copy of the database opened elsewhere (a
    # backup checked on its own) is older by design; an older file copied over this path
    # is a rollback.
    head = {**head, "path": _where(db)}
    db.after_commit(lambda: keys.write_head(db_id, head, force=force))


def _where(db: Database) -> str | None:
    return str(db.path.resolve()) if db.path is not None else None


def record_head(db: Database, force: bool = False) -> dict[str, Any] | None:
    """Write the current last entry as the head outside the database (after commit)."""
    db_id, _key = seal(db)
    if db_id is None:
        return None
    last = db.query_one("SELECT id, mac FROM audit_log ORDER BY id DESC LIMIT 1")
    rows = int(db.scalar("SELECT count(*) FROM audit_log"))
    head = {"rows": rows, "id": last["id"] if last else None, "mac": last["mac"] if last else None}
    _note_head(db, db_id, head, force)
    return head


_UPDATE_TRIGGERS = """
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (
    new.id IS old.id AND new.at IS old.at AND new.actor IS old.actor
    AND new.action IS old.action AND new.entity IS old.entity
    AND new.entity_id IS old.entity_id AND new.prev_hash IS old.prev_hash
    AND new.hash IS old.hash AND new.details_sha256 IS old.details_sha256
    AND new.mac IS old.mac
    AND EXISTS (SELECT 1 FROM audit_redactions r
                WHERE r.audit_id = old.id AND r.details IS new.details)
)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: only a recorded redaction may change details');
END;
CREATE TRIGGER audit_redactions_no_update BEFORE UPDATE ON audit_redactions
BEGIN
    SELECT RAISE(ABORT, 'audit_redactions is append-only');
END;
"""


def adopt(db: Database, current_id: str | None, current_rows: int = 1) -> dict[str, Any] | None:
    """After `db restore`: the restored entries continue under the live database's id and
    key. A backup of this same database needs nothing; one from another database (another
    id) is verified under its own key when that key is here, then re-MACed under this
    one, and a `reseal` entry records where it came from and whether it verified. A new,
    empty database (a lost disk) takes the backup's identity instead: it had no history."""
    forget_seal(db)
    source_id, source_key = seal(db)
    if current_id is None or source_id is None or source_id == current_id:
        return None
    if current_rows == 0 and source_key is not None:
        return None
    from crmcli.core import keys

    db.memo["audit_copy"] = True
    try:
        checked = verify(db) if source_key is not None else None
    finally:
        db.memo.pop("audit_copy", None)
    key = keys.load_key(current_id)
    if key is None:
        return None
    with db.transaction():
        db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_redactions_no_update")
        prev: str | None = None
        for row in db.query("SELECT * FROM audit_log ORDER BY id"):
            prev = mac_row(key, prev, row)
            db.execute("UPDATE audit_log SET mac = ? WHERE id = ?", (prev, row["id"]))
        prev = None
        for r in db.query("SELECT * FROM audit_redactions ORDER BY id"):
            prev = mac_redaction(key, prev, r)
            db.execute("UPDATE audit_redactions SET mac = ? WHERE id = ?", (prev, r["id"]))
        db.script(_UPDATE_TRIGGERS)
        db.execute("UPDATE audit_seal SET db_id = ?", (current_id,))
        forget_seal(db)
        outcome = {
            "from_db_id": source_id,
            "source_key_found": source_key is not None,
            "source_chain_ok": None if checked is None else checked["ok"],
            "first_broken_id": None
            if checked is None or checked["ok"]
            else checked["broken"]["id"],
        }
        record(db, "reseal", "audit_log", None, outcome)
    return outcome


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
        db_id, key = seal(db)
        keyed = db_id is not None
        last = db.query_one(
            f"SELECT id, hash{', mac' if keyed else ''} FROM audit_log ORDER BY id DESC LIMIT 1"
        )
        prev = last["hash"] if last else None
        text = encode_details(details)
        new_id = (int(last["id"]) + 1) if last else 1
        row: dict[str, Any] = {
            "id": new_id,
            "at": now_iso(),
            "actor": db.actor,
            "action": action,
            "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "details": text,
            "details_sha256": details_digest(text),
        }
        values = {**row, "prev_hash": prev, "hash": row_hash(prev, row)}
        if not keyed:
            db.execute(
                "INSERT INTO audit_log(id, at, actor, action, entity, entity_id, details,"
                " details_sha256, prev_hash, hash) VALUES (:id, :at, :actor, :action, :entity,"
                " :entity_id, :details, :details_sha256, :prev_hash, :hash)",
                values,
            )
            return new_id
        mac = mac_row(key, last["mac"] if last else None, row) if key else None
        db.execute(
            "INSERT INTO audit_log(id, at, actor, action, entity, entity_id, details,"
            " details_sha256, prev_hash, hash, mac) VALUES (:id, :at, :actor, :action,"
            " :entity, :entity_id, :details, :details_sha256, :prev_hash, :hash, :mac)",
            {**values, "mac": mac},
        )
        rows = db.execute("UPDATE audit_seal SET rows = rows + 1 RETURNING rows").fetchone()
        if key and db_id:
            _note_head(db, db_id, {"rows": int(rows[0]), "id": new_id, "mac": mac})
        return new_id


def legacy_row_hash(prev_hash: str | None, row: dict[str, Any]) -> str:
    """The hash of rows written before m050: chained over the details text itself."""
    fields = [row["at"], row["actor"], row["action"], row["entity"], row["entity_id"]]
    text = json.dumps([*fields, row["details"]], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(((prev_hash or "") + text).encode("utf-8")).hexdigest()


def redact(db: Database, audit_id: int, new_details: str | None, by_audit_id: int) -> None:
    """Replace one row's details by a redacted text, through the path the trigger allows.

    Call inside the transaction that recorded `by_audit_id` (the `forget` entry)."""
    from crmcli.core.clock import now_iso

    db_id, key = seal(db)
    if db_id is None:
        db.execute(
            "INSERT INTO audit_redactions(audit_id, by_audit_id, at, details) VALUES (?, ?, ?, ?)",
            (audit_id, by_audit_id, now_iso(), new_details),
        )
    else:
        last = db.query_one("SELECT id, mac FROM audit_redactions ORDER BY id DESC LIMIT 1")
        row = {
            "id": (int(last["id"]) + 1) if last else 1,
            "audit_id": audit_id,
            "by_audit_id": by_audit_id,
            "at": now_iso(),
            "details": new_details,
        }
        mac = mac_redaction(key, last["mac"] if last else None, row) if key else None
        db.execute(
            "INSERT INTO audit_redactions(id, audit_id, by_audit_id, at, details, mac)"
            " VALUES (:id, :audit_id, :by_audit_id, :at, :details, :mac)",
            {**row, "mac": mac},
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


def _applied(db: Database, name: str) -> bool:
    if not _table_exists(db, "_migrations"):
        return False
    return bool(db.scalar("SELECT 1 FROM _migrations WHERE name = ?", (name,)))


def _broken(reason: str, row: dict[str, Any] | None = None, rows: int = 0) -> dict[str, Any]:
    where = {"id": None} if row is None else {k: row.get(k) for k in ("id", "at", "action")}
    return {"ok": False, "rows": rows, "head": None, "broken": {**where, "reason": reason}}


def _valid_redactions(
    db: Database, key: bytes | None
) -> tuple[dict[int, set[str | None]], dict[str, Any] | None]:
    """Redaction texts per audit row made by a `forget` entry (and, keyed, with a valid MAC
    chain); plus the first forged or altered redaction, if any."""
    redactions: dict[int, set[str | None]] = {}
    if not _table_exists(db, "audit_redactions"):
        return redactions, None
    keyed = key is not None and _has_column(db, "audit_redactions", "mac")
    prev: str | None = None
    for r in db.query(
        "SELECT r.*, f.action AS by_action FROM audit_redactions r"
        " LEFT JOIN audit_log f ON f.id = r.by_audit_id ORDER BY r.id"
    ):
        if keyed and key is not None:
            if r["mac"] is None or not hmac.compare_digest(r["mac"], mac_redaction(key, prev, r)):
                return redactions, {
                    "id": r["audit_id"],
                    "reason": f"redaction {r['id']} of this row has no valid MAC"
                    " (a forged or altered redaction)",
                }
            prev = r["mac"]
        if r["by_action"] == "forget":
            redactions.setdefault(int(r["audit_id"]), set()).add(r["details"])
    return redactions, None


def verify(db: Database, head: str | None = None) -> dict[str, Any]:
    """Walk the chain. Returns {ok, rows, head, broken: None | {id, reason}, key}.

    Keyed databases (m150): every row's MAC under the key outside the database, the
    redaction ledger's MAC chain, and the head kept outside the database (entries deleted
    from the end, or the whole file rolled back to an older copy)."""
    if not _table_exists(db, "audit_log"):
        if _applied(db, "m001_initial"):
            return _broken("the audit_log table is missing (it was dropped)")
        return {"ok": True, "rows": 0, "head": None, "broken": None}
    keyed = _table_exists(db, "audit_seal")
    if not keyed and _applied(db, M150):
        return _broken("the audit_seal table is missing (it was dropped)")
    key: bytes | None = None
    db_id: str | None = None
    key_file: str | None = None
    if keyed:
        opened = _open_seal(db)
        if isinstance(opened, dict):
            return opened
        db_id, key, key_file = opened
    legacy = not _has_column(db, "audit_log", "details_sha256")  # a backup from before m050
    redactions, forged = _valid_redactions(db, key)
    if forged is not None:
        row = db.query_one("SELECT id, at, action FROM audit_log WHERE id = ?", (forged["id"],))
        return _broken(forged["reason"], row or {"id": forged["id"]})
    outside = _outside_head(db, db_id) if keyed else None
    wanted = outside.get("id") if outside else None
    walk = _walk_chain(db, head, legacy, redactions, key, wanted)
    broken = walk.broken
    if broken is None:
        broken = _head_fault(walk, head, outside, wanted)
    result: dict[str, Any] = {
        "ok": broken is None,
        "rows": walk.count,
        "head": walk.prev,
        "broken": broken,
    }
    if keyed:
        result["mac_head"] = walk.prev_mac
        result["key"] = key_file
    return result


def _open_seal(db: Database) -> tuple[str, bytes, str] | dict[str, Any]:
    """(database id, key, key file) of a keyed chain, or verify's result when the seal
    cannot be used: without its id or its key nothing can be verified."""
    from crmcli.core import keys

    forget_seal(db)  # re-read: the cached seal may predate a restore
    db_id, key = seal(db)
    if db_id is None:
        return _broken("audit_seal holds no database id (it was emptied)")
    key_file = str(keys.key_path(db_id))
    if key is None:
        return _broken(
            f"the audit key of this database is missing ({key_file}); restore it from"
            " its backup: without it the chain cannot be verified"
        )
    return db_id, key, key_file


def _outside_head(db: Database, db_id: str | None) -> dict[str, Any] | None:
    """The head recorded outside the database for this file, if it applies to it."""
    if not db_id or db.memo.get("audit_copy"):
        return None
    from crmcli.core import keys

    outside = keys.read_head(db_id)
    if outside is not None and outside.get("path") not in (None, _where(db)):
        return None  # a copy of the database at another path (a backup): older by design
    return outside


@dataclass
class _Walk:
    """Where the walk over audit_log stopped, and what it saw on the way."""

    count: int = 0
    prev: str | None = None
    prev_mac: str | None = None
    seen_head: bool = False
    macs_at: dict[int, str | None] = field(default_factory=dict)
    broken: dict[str, Any] | None = None


def _walk_chain(
    db: Database,
    head: str | None,
    legacy: bool,
    redactions: dict[int, set[str | None]],
    key: bytes | None,
    wanted: Any,
) -> _Walk:
    """Check every row against the one before it; stop at the first broken row."""
    walk = _Walk(seen_head=head is None)
    for row in _iter_rows(db):
        walk.count += 1
        reason = _row_fault(row, walk.prev, walk.prev_mac, legacy, redactions, key)
        if reason:
            walk.broken = {
                "id": row["id"],
                "at": row["at"],
                "action": row["action"],
                "reason": reason,
            }
            break
        walk.prev = row["hash"]
        if key is not None:
            walk.prev_mac = row["mac"]
            if wanted is not None and row["id"] == wanted:
                # kept to compare with the MAC of the head recorded outside
                walk.macs_at[int(row["id"])] = row["mac"]
        if head is not None and walk.prev == head:
            walk.seen_head = True
    return walk


def _row_fault(
    row: dict[str, Any],
    prev: str | None,
    prev_mac: str | None,
    legacy: bool,
    redactions: dict[int, set[str | None]],
    key: bytes | None,
) -> str | None:
    """Why this row breaks the chain (the first check that fails), or None."""
    if row["prev_hash"] != prev:
        return "prev_hash does not match the previous row's hash (a row was removed or reordered)"
    if legacy:
        # before m050 there is no details digest, and no MAC either
        if row["hash"] != legacy_row_hash(prev, row):
            return "hash does not match the row's contents (the row was altered)"
        return None
    if details_digest(row["details"]) != row["details_sha256"] and row[
        "details"
    ] not in redactions.get(int(row["id"]), set()):
        return "details were changed without a recorded redaction"
    if row["hash"] != row_hash(prev, row):
        return "hash does not match the row's contents (the row was altered)"
    if key is None:
        return None
    if row["mac"] is None:
        return "the row has no MAC (inserted by hand, or written without the key)"
    if not hmac.compare_digest(row["mac"], mac_row(key, prev_mac, row)):
        return (
            "the MAC does not match (the row was altered, inserted or re-chained"
            " without the audit key)"
        )
    return None


def _head_fault(
    walk: _Walk, head: str | None, outside: dict[str, Any] | None, wanted: Any
) -> dict[str, Any] | None:
    """An intact walk can still miss entries: fewer rows, or another last entry, than the
    head recorded outside the database; or no sign of the head the caller expects."""
    if outside is not None:
        if walk.count < int(outside["rows"]):
            return {
                "id": None,
                "reason": f"{walk.count} audit entries, but {outside['rows']} were recorded"
                " outside the database (entries were deleted, or the file was replaced by an"
                " older copy)",
            }
        if wanted is not None and walk.macs_at.get(int(wanted)) != outside.get("mac"):
            return {
                "id": wanted,
                "reason": "this entry differs from the head recorded outside the database"
                " (the file was replaced or rewritten)",
            }
    if not walk.seen_head:
        return {"id": None, "reason": f"the chain does not contain head {head} (rows removed)"}
    return None


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
    where, params = _entries_where(entity, entity_id, actor, action, since, until)
    sql = f"SELECT id, at, actor, action, entity, entity_id, details FROM audit_log WHERE {where}"
    sql += " ORDER BY id DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    rows = db.query(sql, params)
    for r in rows:
        r["details"] = parse_details(r["details"])
    return rows


def count_entries(
    db: Database,
    entity: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> int:
    """How many rows list_entries() would list without a limit."""
    where, params = _entries_where(entity, entity_id, actor, action, since, until)
    return int(db.scalar(f"SELECT count(*) FROM audit_log WHERE {where}", params))


def _entries_where(
    entity: str | None,
    entity_id: str | None,
    actor: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
) -> tuple[str, list[Any]]:
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
    return " AND ".join(clauses) or "1", params


def parse_details(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
