"""SQL of `crm deal import` (the field rules are in importing/deals.py): lookups, and
writing an imported deal together with the deal_events that keep its history truthful."""

from __future__ import annotations

import sqlite3
from typing import Any

from crmcli.db import Database, integrity_error_to_conflict
from crmcli.db.deals import DEAL_FIELDS

EVENT_COLUMNS = (
    "deal_id, at, actor, kind, from_stage, to_stage, amount, close_date, probability, note"
)


def deal_by_external_id(db: Database, external_id: str) -> dict[str, Any] | None:
    return db.query_one("SELECT * FROM deals WHERE external_id = ?", (external_id,))


def campaign_ids(db: Database, ref: str) -> list[int]:
    """The campaigns a cell names: by id (digits) or by name (case-insensitive)."""
    if ref.isdigit():
        found = db.scalar("SELECT id FROM campaigns WHERE id = ?", (int(ref),))
        if found is not None:
            return [int(found)]
    return [
        int(r["id"])
        for r in db.query(
            "SELECT id FROM campaigns WHERE lower(name) = lower(?) ORDER BY id", (ref,)
        )
    ]


def _events(db: Database, deal_id: int, events: list[dict[str, Any]]) -> None:
    db.executemany(
        f"INSERT INTO deal_events({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (deal_id, e["at"], db.actor, e["kind"], e.get("from_stage"), e.get("to_stage"),
             e.get("amount"), e.get("close_date"), e.get("probability"), e.get("note"))
            for e in events
        ],
    )  # fmt: skip


def insert_imported(
    db: Database, values: dict[str, Any], times: dict[str, Any], events: list[dict[str, Any]]
) -> int:
    """Insert one imported deal (validated values; `times`: created_at, updated_at,
    stage_changed_at, won_at, lost_at) and its events."""
    row = {k: values.get(k) for k in (*DEAL_FIELDS, "lost_reason")}
    names = [*row, *times]
    try:
        cur = db.execute(
            f"INSERT INTO deals({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})",
            {**row, **times},
        )
    except sqlite3.IntegrityError as exc:
        raise integrity_error_to_conflict(exc, "cannot add deal") from None
    deal_id = int(cur.lastrowid or 0)
    _events(db, deal_id, events)
    return deal_id


def update_imported(
    db: Database, deal_id: int, sets: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    """Apply an imported row's changes (columns of deals) and append its events."""
    if sets:
        try:
            db.execute(
                f"UPDATE deals SET {', '.join(f'{k} = :{k}' for k in sets)} WHERE id = :id",
                {**sets, "id": deal_id},
            )
        except sqlite3.IntegrityError as exc:
            raise integrity_error_to_conflict(exc, f"cannot update deal {deal_id}") from None
    _events(db, deal_id, events)
