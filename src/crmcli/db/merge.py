"""Merging duplicate customers without losing anything, and undoing a merge.

`merge_customers(db, keep, drops)` moves every record pointing at a DROP to KEEP, fills
KEEP's empty fields from the DROPs (in the order given), keeps every other distinct email,
phone and address of the DROPs as KEEP's secondary contact points (`customer_contacts`),
moves every custom-field value of a DROP that KEEP lacks to KEEP (KEEP's own value wins
a conflict; the DROP's is kept in the audit entry, under `custom.conflicts`), and deletes
the DROPs, in one transaction. Its audit entry (action `merge`) holds the
before-images: KEEP's and every DROP's full record (tags included), and per table the keys
of the rows that moved and the full rows that were deleted because KEEP already had the
same one (a campaign membership, a tag). `unmerge(db, audit_id)` uses them to put every
DROP back with its id, fields, tags and history, and KEEP as it was.

`plan_merge(...)` computes the result field by field without writing (`merge --dry-run`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from crmcli.core.errors import Conflict, InvalidInput, NotFound
from crmcli.db import Database, audit, integrity_error_to_conflict
from crmcli.db.customers import (
    CONTACT_KINDS,
    STORED_FIELDS,
    contact_points,
    customer_references,
    get_customer,
)

# Stored before-images carry this version; unmerge refuses entries it does not understand.
IMAGE_VERSION = 1


def _check(keep: int, drops: list[int]) -> list[int]:
    if keep in drops:
        raise InvalidInput(f"customer {keep} cannot be merged into itself")
    drops = list(dict.fromkeys(drops))
    if not drops:
        raise InvalidInput("name at least one customer to merge into KEEP")
    return drops


def _external_id(
    kept: dict[str, Any], dropped: list[dict[str, Any]], chosen: str | None
) -> str | None:
    """The survivor's external id: the only one there is, or the one --keep-external-id names."""
    have = {
        r["id"]: r["external_id"]
        for r in [kept, *dropped]
        if r.get("external_id") not in (None, "")
    }
    distinct = list(dict.fromkeys(have.values()))
    if chosen is not None:
        if chosen not in distinct:
            raise InvalidInput(
                f"--keep-external-id {chosen!r} is none of the merged customers' external ids"
                f" ({', '.join(distinct) or 'none'})"
            )
        return chosen
    if len(distinct) > 1:
        listed = ", ".join(f"{cid}: {ext}" for cid, ext in have.items())
        raise Conflict(
            f"the customers have different external ids ({listed}); say which one the"
            " survivor keeps with --keep-external-id"
        )
    return distinct[0] if distinct else None


def plan_merge(
    db: Database, keep: int, drops: list[int], keep_external_id: str | None = None
) -> dict[str, Any]:
    """What merging would produce, field by field, without writing anything.

    {"keep", "dropped", "fields": [{field, result, from, values: {id: value}}],
    "filled": {field: value}, "contacts_added": [{kind, value, merged_from}],
    "moves": {table: rows}, "created_at"}.
    """
    drops = _check(keep, drops)
    kept = get_customer(db, keep)
    dropped = [get_customer(db, d) for d in drops]
    external_id = _external_id(kept, dropped, keep_external_id)
    fields = []
    filled: dict[str, Any] = {}
    for f in STORED_FIELDS:
        values = {str(r["id"]): r.get(f) for r in [kept, *dropped]}
        if f == "external_id":
            result = external_id
            source = next((r["id"] for r in [kept, *dropped] if r.get(f) == result), None)
        elif kept.get(f) not in (None, ""):
            result, source = kept[f], keep
        else:
            source = next((r["id"] for r in dropped if r.get(f) not in (None, "")), None)
            result = values[str(source)] if source is not None else kept.get(f)
        if result != kept.get(f):
            filled[f] = result
        fields.append({"field": f, "result": result, "from": source, "values": values})
    final = {f["field"]: f["result"] for f in fields}
    existing = {(c["kind"], c["value"]) for c in contact_points(db, keep)}
    added: list[dict[str, Any]] = []
    for other in dropped:
        mine = [(c["kind"], c["value"]) for c in contact_points(db, other["id"])]
        for kind in CONTACT_KINDS:
            value = other.get(kind)
            for k, v in [(kind, value), *[m for m in mine if m[0] == kind]]:
                if v in (None, "") or v == final.get(k) or (k, v) in existing:
                    continue
                existing.add((k, v))
                if (k, v) in mine:
                    continue  # already a contact point of the DROP: it moves with it
                added.append({"kind": k, "value": v, "merged_from": other["id"]})
    moves: dict[str, int] = {}
    for table, column in customer_references(db):
        t, c = table.replace('"', '""'), column.replace('"', '""')
        marks = ",".join("?" * len(drops))
        n = int(db.scalar(f'SELECT count(*) FROM "{t}" WHERE "{c}" IN ({marks})', drops))
        if n:
            moves[table] = n
    created = min([kept["created_at"], *(o["created_at"] for o in dropped)])
    custom = _custom_plan(db, keep, drops)
    return {
        "keep": keep,
        "dropped": drops,
        "fields": fields,
        "filled": filled,
        "contacts_added": added,
        "moves": moves,
        "created_at": created,
        "custom": {k: v for k, v in custom.items() if k != "values"},
        "_records": (kept, dropped),
        "_custom": custom,
    }


def _custom_plan(db: Database, keep: int, drops: list[int]) -> dict[str, Any]:
    """Which custom values of the DROPs move to KEEP (fields KEEP has no value for; the
    first DROP given wins between DROPs) and which conflict (KEEP's or an earlier DROP's
    value stays). `values`: every DROP's values as stored, for unmerge."""
    from crmcli.db.fields import entity_values

    held = {v["field_id"]: v for v in entity_values(db, "customer", keep)}
    moved: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    values: dict[str, list[dict[str, Any]]] = {}
    for d in drops:
        mine = entity_values(db, "customer", d)
        values[str(d)] = mine
        for v in mine:
            value = v["value_text"] if v["value_num"] is None else v["value_num"]
            other = held.get(v["field_id"])
            if other is None:
                held[v["field_id"]] = v
                moved.append({"field": v["name"], "field_id": v["field_id"], "from": d,
                              "value": value})  # fmt: skip
            elif (other["value_text"], other["value_num"]) != (v["value_text"], v["value_num"]):
                kept = other["value_text"] if other["value_num"] is None else other["value_num"]
                conflicts.append({"field": v["name"], "from": d, "value": value, "kept": kept})
    return {"moved": moved, "conflicts": conflicts, "values": values}


def _key_columns(db: Database, table: str) -> list[str]:
    """The columns naming one row: rowid, or the primary key of a WITHOUT ROWID table."""
    quoted = table.replace('"', '""')
    sql = db.scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    if sql and "WITHOUT ROWID" in sql.upper():
        info = db.query(f'SELECT name, pk FROM pragma_table_info("{quoted}") WHERE pk > 0')
        return [r["name"] for r in sorted(info, key=lambda r: r["pk"])]
    return ["rowid"]


def _rows_of(
    db: Database, table: str, column: str, cid: int, key: list[str]
) -> list[dict[str, Any]]:
    t, c = table.replace('"', '""'), column.replace('"', '""')
    rowid = 'rowid AS "__rowid", ' if key == ["rowid"] else ""
    return db.query(f'SELECT {rowid}* FROM "{t}" WHERE "{c}" = ?', (cid,))


def merge_customers(
    db: Database, keep: int, drops: list[int], keep_external_id: str | None = None
) -> dict[str, Any]:
    """Merge the `drops` customers into `keep` in one transaction (see the module doc).

    Returns {"keep", "dropped", "moved": {table: rows}, "filled": {field: value},
    "contacts_added": [...], "audit_id"}.
    """
    from crmcli.core.clock import now_iso

    with db.transaction():
        plan = plan_merge(db, keep, drops, keep_external_id)
        kept, dropped = plan.pop("_records")
        custom = plan.pop("_custom")
        drops = plan["dropped"]
        images: list[dict[str, Any]] = []
        moved: dict[str, int] = {}
        for table, column in customer_references(db):
            key = _key_columns(db, table)
            t, c = table.replace('"', '""'), column.replace('"', '""')
            for d in drops:
                before = _rows_of(db, table, column, d, key)
                if not before:
                    continue
                n = db.execute(
                    f'UPDATE OR IGNORE "{t}" SET "{c}" = ? WHERE "{c}" = ?', (keep, d)
                ).rowcount
                leftover = _rows_of(db, table, column, d, key)  # KEEP already had the same row
                db.execute(f'DELETE FROM "{t}" WHERE "{c}" = ?', (d,))
                gone = {_key_of(r, key) for r in leftover}
                images.append(
                    {
                        "table": table,
                        "column": column,
                        "from": d,
                        "key": key,
                        "moved": [_key_of(r, key) for r in before if _key_of(r, key) not in gone],
                        "deleted": [_image(r, key) for r in leftover],
                    }
                )
                if n:
                    moved[table] = moved.get(table, 0) + n
        for item in custom["moved"]:  # before the DROP's delete trigger takes its values
            db.execute(
                "UPDATE custom_values SET entity_id = ? WHERE field_id = ? AND entity_id = ?",
                (keep, item["field_id"], item["from"]),
            )
        for other in dropped:
            db.execute("DELETE FROM customers WHERE id = ?", (other["id"],))
        sets = {**plan["filled"], "created_at": plan["created_at"], "updated_at": now_iso()}
        try:
            db.execute(
                f"UPDATE customers SET {', '.join(f'{k} = :{k}' for k in sets)} WHERE id = :id",
                {**sets, "id": keep},
            )
        except sqlite3.IntegrityError as exc:
            raise integrity_error_to_conflict(exc, f"cannot merge into customer {keep}") from None
        added_ids = []
        now = now_iso()
        for contact in plan["contacts_added"]:
            cur = db.execute(
                "INSERT OR IGNORE INTO customer_contacts(customer_id, kind, value, merged_from,"
                " created_at) VALUES (?, ?, ?, ?, ?)",
                (keep, contact["kind"], contact["value"], contact["merged_from"], now),
            )
            if cur.rowcount:
                added_ids.append(int(cur.lastrowid or 0))
        result = {
            "keep": keep,
            "dropped": drops,
            "moved": moved,
            "filled": plan["filled"],
            "contacts_added": plan["contacts_added"],
            "custom": plan["custom"],
        }
        for other in dropped:
            # `record`: what `customer forget` of the survivor erases too (db/privacy.py)
            audit.record(
                db, "merged_into", "customer", other["id"], {"into": keep, "record": other}
            )
        result["audit_id"] = audit.record(
            db,
            "merge",
            "customer",
            keep,
            {
                **result,
                "before": {
                    "version": IMAGE_VERSION,
                    "keep": kept,
                    "dropped": dropped,
                    "rows": images,
                    "contact_ids": added_ids,
                    "custom": custom,
                },
            },
        )
    return result


def _restore_custom(db: Database, keep: int, image: dict[str, Any] | None) -> None:
    """Unmerge: KEEP loses the custom values the merge moved to it, and every DROP gets its
    own values back as they were (fields removed since are skipped)."""
    if not image:
        return
    for item in image.get("moved", []):
        db.execute(
            "DELETE FROM custom_values WHERE field_id = ? AND entity_id = ?",
            (item["field_id"], keep),
        )
    for cid, values in image.get("values", {}).items():
        for v in values:
            db.execute(
                "INSERT OR REPLACE INTO custom_values(field_id, entity_id, value_text, value_num)"
                " SELECT id, ?, ?, ? FROM custom_fields WHERE id = ?",
                (int(cid), v["value_text"], v["value_num"], v["field_id"]),
            )


def _key_of(row: dict[str, Any], key: list[str]) -> Any:
    if key == ["rowid"]:
        return row["__rowid"]
    return tuple(row[k] for k in key)


def _image(row: dict[str, Any], key: list[str]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "__rowid" or key == ["rowid"]}


def unmerge(db: Database, audit_id: int) -> dict[str, Any]:
    """Undo the merge recorded in audit entry `audit_id`: the merged customers come back
    with their ids, fields, tags and history; KEEP gets its fields back and loses the
    contact points the merge added. Refused when a merged id is taken again (Conflict)."""
    entry = db.query_one(
        "SELECT id, action, entity, entity_id, details FROM audit_log WHERE id = ?", (audit_id,)
    )
    if entry is None:
        raise NotFound(f"no audit entry {audit_id}")
    if entry["action"] != "merge" or entry["entity"] != "customer":
        raise InvalidInput(f"audit entry {audit_id} is not a merge (it is {entry['action']!r})")
    details = audit.parse_details(entry["details"])
    before = details.get("before") if isinstance(details, dict) else None
    if not isinstance(before, dict) or before.get("version") != IMAGE_VERSION:
        raise InvalidInput(
            f"audit entry {audit_id} was recorded without before-images (an older crmcli, or"
            " erased by `customer forget`); it cannot be undone"
        )
    keep = int(entry["entity_id"])
    with db.transaction():
        done = db.scalar(
            "SELECT id FROM audit_log WHERE action = 'unmerge' AND entity = 'customer'"
            " AND entity_id = ? AND json_extract(details, '$.merge_audit_id') = ?",
            (str(keep), audit_id),
        )
        if done:
            raise Conflict(f"the merge in audit entry {audit_id} was already undone (entry {done})")
        get_customer(db, keep)
        for image in before["dropped"]:
            if db.scalar("SELECT 1 FROM customers WHERE id = ?", (image["id"],)):
                raise Conflict(f"customer id {image['id']} is in use again; cannot restore it")
        # KEEP's own fields first: a filled email must be free before its owner returns.
        kept = before["keep"]
        restore = {f: kept.get(f) for f in details.get("filled", {})}
        restore["created_at"] = kept["created_at"]
        db.execute(
            f"UPDATE customers SET {', '.join(f'{k} = :{k}' for k in restore)} WHERE id = :id",
            {**restore, "id": keep},
        )
        for cid in before.get("contact_ids", []):
            db.execute(
                "DELETE FROM customer_contacts WHERE id = ? AND customer_id = ?", (cid, keep)
            )
        existing = {r["name"] for r in db.query("SELECT name FROM pragma_table_info('customers')")}
        for image in before["dropped"]:
            columns = [c for c in image if c in existing and c != "id"]
            try:
                db.execute(
                    f"INSERT INTO customers(id, {', '.join(columns)})"
                    f" VALUES (:id, {', '.join(':' + c for c in columns)})",
                    {c: image.get(c) for c in ["id", *columns]},
                )
            except sqlite3.IntegrityError as exc:
                raise integrity_error_to_conflict(
                    exc, f"cannot restore customer {image['id']}"
                ) from None
        _restore_custom(db, keep, before.get("custom"))
        returned: dict[str, int] = {}
        for part in before["rows"]:
            t = part["table"].replace('"', '""')
            c = part["column"].replace('"', '""')
            key = part["key"]
            exists = db.scalar(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (part["table"],)
            )
            if not exists:
                continue
            for value in part["moved"]:
                if key == ["rowid"]:
                    where, params = "rowid = ?", [value]
                else:
                    pairs = [
                        (k, keep if k == part["column"] else v)
                        for k, v in zip(key, value, strict=True)
                    ]
                    where = " AND ".join(f'"{k}" = ?' for k, _ in pairs)
                    params = [v for _, v in pairs]
                n = db.execute(
                    f'UPDATE OR IGNORE "{t}" SET "{c}" = ? WHERE {where} AND "{c}" = ?',
                    [part["from"], *params, keep],
                ).rowcount
                returned[part["table"]] = returned.get(part["table"], 0) + n
            for row in part["deleted"]:
                row = {k: v for k, v in row.items() if k != "__rowid"}
                names = ", ".join(f'"{k}"' for k in row)
                db.execute(
                    f'INSERT OR IGNORE INTO "{t}"({names}) VALUES ({", ".join("?" * len(row))})',
                    list(row.values()),
                )
                returned[part["table"]] = returned.get(part["table"], 0) + 1
        restored = [image["id"] for image in before["dropped"]]
        result = {"keep": keep, "restored": restored, "returned": returned}
        result["audit_id"] = audit.record(
            db, "unmerge", "customer", keep, {**result, "merge_audit_id": audit_id}
        )
    return result
