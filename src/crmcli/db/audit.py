"""The audit trail: one row per mutation, hash-chained so tampering can be detected."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmcli.db import Database


def canonical(row: dict[str, Any]) -> str:
    """The text a row's hash covers (everything but the hashes themselves)."""
    fields = [row["at"], row["actor"], row["action"], row["entity"], row["entity_id"]]
    return json.dumps([*fields, row["details"]], ensure_ascii=False, separators=(",", ":"))


def row_hash(prev_hash: str | None, row: dict[str, Any]) -> str:
    return hashlib.sha256(((prev_hash or "") + canonical(row)).encode("utf-8")).hexdigest()


def record(
    db: Database,
    action: str,
    entity: str,
    entity_id: object = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry. Call inside the mutation's transaction."""
    from crmcli.config import now_iso

    prev = db.scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
    row = {
        "at": now_iso(),
        "actor": db.actor,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "details": json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)
        if details
        else None,
    }
    digest = row_hash(prev, row)
    db.execute(
        "INSERT INTO audit_log(at, actor, action, entity, entity_id, details, prev_hash, hash)"
        " VALUES (:at, :actor, :action, :entity, :entity_id, :details, :prev_hash, :hash)",
        {**row, "prev_hash": prev, "hash": digest},
    )
