"""Repository functions for customers and their tags."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from crmcli.core.clock import now_iso
from crmcli.core.errors import Conflict, InvalidInput, NotFound
from crmcli.db import audit, change_log
from crmcli.db.database import Database, integrity_error_to_conflict
from crmcli.db.staging import TEMP_NOT_ZEROED

CUSTOMER_FIELDS = (
    "external_id",
    "name",
    "phone",
    "email",
    "address",
    "company",
    "lifecycle",
    "owner",
    "notes",
)
# What add_customer / update_customer store: the fields plus the company link, and the
# columns a phone comes with (customers/rules.phone_fields).
STORED_FIELDS = (*CUSTOMER_FIELDS, "company_id")
PHONE_COLUMNS = ("phone_ext", "phone_suspect")
# Columns a listing may be sorted by (allow-list: never interpolate user text into SQL).
SORTABLE = {
    "id": "c.id",
    "name": "c.name",
    "email": "c.email",
    "phone": "c.phone",
    "company": "c.company",
    "lifecycle": "c.lifecycle",
    "owner": "c.owner",
    "created_at": "c.created_at",
    "created": "c.created_at",
    "updated_at": "c.updated_at",
    "updated": "c.updated_at",
    "external_id": "c.external_id",
}
COLUMNS = "c.id, c.external_id, c.name, c.phone, c.phone_ext, c.email, c.address, c.company, c.company_id, c.lifecycle, c.owner, c.notes, c.created_at, c.updated_at, c.erased_at"  # noqa: E501


@dataclass
class CustomerFilter:
    """Criteria shared by `customer list`, `customer export` and segment targeting."""

    search: str | None = None
    tags: list[str] = field(default_factory=list)
    lifecycle: str | None = None
    company: str | None = None
    owner: str | None = None
    created_since: str | None = None  # stored-form UTC time
    changed_since: str | None = None  # stored-form UTC time
    segment_sql: tuple[str, list[Any]] | None = None  # from crmcli.db.segments

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.search:
            term = self.search.strip()
            like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            # secondary contact points (kept by merges) match too
            contacts = (
                "c.id IN (SELECT customer_id FROM customer_contacts WHERE value LIKE ? ESCAPE '\\')"
            )
            if len(term) >= 3:
                # The search guard: customers a big import committed whose index entries
                # are still being built (db/search_index.py) are scanned with LIKE.
                fold = "crm_fold" if not term.isascii() else ""
                like_p = like.lower() if fold else like
                pending = " OR ".join(
                    f"{fold}(p.{col}) LIKE ? ESCAPE '\\'"
                    for col in ("name", "email", "phone", "company")
                )
                clauses.append(
                    "(c.id IN (SELECT rowid FROM customers_fts WHERE customers_fts MATCH ?)"
                    " OR c.id IN (SELECT p.id FROM customers_fts_pending r"
                    f" JOIN customers p ON p.id BETWEEN r.lo AND r.hi WHERE {pending})"
                    f" OR {contacts})"
                )
                params += ['"' + term.replace('"', '""') + '"', *[like_p] * 4, like]
            else:
                clauses.append(
                    "(c.name LIKE ? ESCAPE '\\' OR c.email LIKE ? ESCAPE '\\'"
                    f" OR c.phone LIKE ? ESCAPE '\\' OR c.company LIKE ? ESCAPE '\\' OR {contacts})"
                )
                params += [like] * 5
        for tag in self.tags:
            clauses.append(
                "EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = ?)"
            )
            params.append(tag)
        if self.lifecycle:
            clauses.append("c.lifecycle = ?")
            params.append(self.lifecycle)
        if self.company:
            like = (
                "%"
                + self.company.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + "%"
            )
            clauses.append("c.company LIKE ? ESCAPE '\\'")
            params.append(like)
        if self.owner:
            clauses.append("c.owner = ?")
            params.append(self.owner)
        if self.created_since:
            clauses.append("c.created_at >= ?")
            params.append(self.created_since)
        if self.changed_since:
            clauses.append("c.updated_at >= ?")
            params.append(self.changed_since)
        if self.segment_sql:
            clauses.append("(" + self.segment_sql[0] + ")")
            params += list(self.segment_sql[1])
        return (" AND ".join(clauses) or "1"), params


def _tags_for(db: Database, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        for cid, tag in db.execute(
            f"SELECT customer_id, tag FROM customer_tags WHERE customer_id IN ({marks})"
            " ORDER BY customer_id, tag",
            chunk,
        ):
            out[cid].append(tag)
    return out


# ---------------------------------------------------------------- creating a customer
# Every new customer is made here, whoever creates it: `customer add` (add_customer), an
# order import's --create-customers (add_customer_for_import), a mail import's
# --create-leads (db/office.insert_lead), the demo (insert_new_customers) and the customer
# import (bulk_insert, with the same columns and NEW_CUSTOMER_DEFAULTS).
# (`customer unmerge` restores a deleted record as it was: db/merge.py.)

# The columns a new customer is stored with, and the defaults for those not given.
NEW_CUSTOMER_COLUMNS = (*CUSTOMER_FIELDS, "phone_ext", "phone_suspect", "company_id")
NEW_CUSTOMER_DEFAULTS: dict[str, Any] = {"lifecycle": "lead", "phone_suspect": 0}


def new_customer_row(values: dict[str, Any], stamp: str) -> dict[str, Any]:
    """A new customer's stored columns: `values` (already normalized), the defaults for the
    columns not given; created_at defaults to `stamp`, updated_at is `stamp` unless given."""
    if not values.get("name"):
        raise InvalidInput("a customer needs a name")
    row = {k: values.get(k) for k in NEW_CUSTOMER_COLUMNS}
    for k, default in NEW_CUSTOMER_DEFAULTS.items():
        if row[k] is None:
            row[k] = default
    row["created_at"] = values.get("created_at") or stamp
    row["updated_at"] = values.get("updated_at") or stamp
    return row


def _insert_new(with_id: bool = False) -> str:
    names = ["id"] * with_id + [*NEW_CUSTOMER_COLUMNS, "created_at", "updated_at"]
    return f"INSERT INTO customers({', '.join(names)}) VALUES (:{', :'.join(names)})"


def insert_customer(db: Database, values: dict[str, Any], stamp: str | None = None) -> int:
    """Insert one new customer (new_customer_row of `values`) in the caller's transaction,
    without an audit row of its own; returns its id. A taken email or external id: exit 4."""
    row = new_customer_row(values, stamp or now_iso())
    try:
        return db.insert_id(_insert_new(), row)
    except sqlite3.IntegrityError as exc:
        raise integrity_error_to_conflict(exc, "cannot add customer") from None


def insert_new_customers(db: Database, records: list[dict[str, Any]], stamp: str) -> None:
    """Many new customers whose ids are given (`id` in each record), in one executemany."""
    db.executemany(
        _insert_new(with_id=True),
        [{**new_customer_row(r, stamp), "id": r["id"]} for r in records],
    )


def add_customer(db: Database, values: dict[str, Any], tags: list[str] | None = None) -> int:
    """`customer add`: insert one customer (values already normalized) with its tags and an
    audit row, in one transaction; returns its id."""
    with db.transaction():
        cid = insert_customer(db, values)
        for tag in tags or []:
            db.execute(
                "INSERT OR IGNORE INTO customer_tags(customer_id, tag) VALUES (?, ?)", (cid, tag)
            )
        row = {k: values.get(k) for k in (*STORED_FIELDS, "phone_ext")}
        row["lifecycle"] = row["lifecycle"] or NEW_CUSTOMER_DEFAULTS["lifecycle"]
        audit.record(
            db,
            "create",
            "customer",
            cid,
            {k: v for k, v in row.items() if v is not None} | {"tags": tags or []},
        )
    return cid


def find_customer_id(
    db: Database,
    customer_id: int | None = None,
    external_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> int:
    """Resolve exactly one way of naming a customer to its id, or raise NotFound."""
    given = [
        (k, v)
        for k, v in (
            ("id", customer_id),
            ("external_id", external_id),
            ("email", email),
            ("phone", phone),
        )
        if v is not None
    ]
    if len(given) != 1:
        raise InvalidInput(
            "name the customer by exactly one of: ID, --external-id, --email, --phone"
        )
    key, value = given[0]
    if key == "email":
        value = str(value).strip().lower()
    column = {"id": "id", "external_id": "external_id", "email": "email", "phone": "phone"}[key]
    row = db.execute(
        f"SELECT id FROM customers WHERE {column} = ? ORDER BY id LIMIT 1", (value,)
    ).fetchone()
    if row is None and key in CONTACT_KINDS:
        row = db.execute(
            "SELECT min(customer_id) FROM customer_contacts WHERE kind = ? AND value = ?"
            " HAVING count(*) > 0",
            (key, value),
        ).fetchone()
    if row is None:
        raise NotFound(f"no customer with {key} {value}")
    return int(row[0])


def customer_id_by(db: Database, kind: str, value: str) -> int | None:
    """The customer whose primary email / phone is `value`, else the one holding it as a
    secondary contact point (lowest id), else None. Import and mail matching call this."""
    if kind not in ("email", "phone"):
        raise InvalidInput(f"cannot look customers up by {kind!r}")
    found = lookup_ids(db, kind, [value])
    return found.get(value)


# ---------------------------------------------------------------- contact points
# A customer's other emails, phones and addresses (kept by `customer merge`).

CONTACT_KINDS = ("email", "phone", "address")


def contact_points(db: Database, customer_id: int) -> list[dict[str, Any]]:
    """[{kind, value, merged_from, created_at}] of one customer, by kind and value."""
    return db.query(
        "SELECT kind, value, merged_from, created_at FROM customer_contacts"
        " WHERE customer_id = ? ORDER BY kind, value",
        (customer_id,),
    )


def contact_points_for(db: Database, ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """{id: {"email": [...], "phone": [...], "address": [...]}} for the ids that have any."""
    out: dict[int, dict[str, list[str]]] = {}
    if not ids or not db.scalar("SELECT 1 FROM customer_contacts LIMIT 1"):
        return out
    for cid, kind, value in db.execute(
        "SELECT customer_id, kind, value FROM customer_contacts"
        " WHERE customer_id IN (SELECT value FROM json_each(?)) ORDER BY customer_id, kind, value",
        (json.dumps(ids),),
    ):
        out.setdefault(cid, {k: [] for k in CONTACT_KINDS})[kind].append(value)
    return out


def get_customer(db: Database, customer_id: int) -> dict[str, Any]:
    row = db.query_one(f"SELECT {COLUMNS} FROM customers c WHERE c.id = ?", (customer_id,))
    if row is None:
        raise NotFound(f"no customer with id {customer_id}")
    row["tags"] = _tags_for(db, [customer_id])[customer_id]
    return row


def related_counts(db: Database, customer_id: int) -> dict[str, int]:
    """How many records of each kind belong to a customer."""
    return {
        "communications": int(
            db.scalar("SELECT count(*) FROM communications WHERE customer_id = ?", (customer_id,))
        ),
        "tickets": int(
            db.scalar("SELECT count(*) FROM tickets WHERE customer_id = ?", (customer_id,))
        ),
        "campaigns": int(
            db.scalar("SELECT count(*) FROM campaign_members WHERE customer_id = ?", (customer_id,))
        ),
        "orders": int(
            db.scalar("SELECT count(*) FROM orders WHERE customer_id = ?", (customer_id,))
        ),
    }


def list_customers(
    db: Database,
    flt: CustomerFilter,
    sort: str = "id",
    desc: bool = False,
    limit: int | None = 50,
    offset: int = 0,
    with_tags: bool = True,
) -> list[dict[str, Any]]:
    if sort not in SORTABLE:
        raise InvalidInput(f"cannot sort by {sort!r}; choose one of: {', '.join(sorted(SORTABLE))}")
    if limit is not None and limit < 0 or offset < 0:
        raise InvalidInput("--limit and --offset must not be negative")
    where, params = flt.where()
    order = f"{SORTABLE[sort]} {'DESC' if desc else 'ASC'}, c.id {'DESC' if desc else 'ASC'}"
    sql = f"SELECT {COLUMNS} FROM customers c WHERE {where} ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params = [*params, limit, offset]
    rows = db.query(sql, params)
    if with_tags and rows:
        tags = _tags_for(db, [r["id"] for r in rows])
        for r in rows:
            r["tags"] = tags[r["id"]]
    return rows


def iter_customers(db: Database, flt: CustomerFilter, batch: int = 5000):  # type: ignore[no-untyped-def]
    """Stream matching customers (with tags, and whether the phone is suspect) in id order,
    in constant memory."""
    where, params = flt.where()
    last = 0
    while True:
        rows = db.query(
            f"SELECT {COLUMNS}, c.phone_suspect FROM customers c WHERE ({where}) AND c.id > ?"
            " ORDER BY c.id LIMIT ?",
            [*params, last, batch],
        )
        if not rows:
            return
        tags = _tags_for(db, [r["id"] for r in rows])
        for r in rows:
            r["tags"] = tags[r["id"]]
            yield r
        last = rows[-1]["id"]


def count_customers(db: Database, flt: CustomerFilter) -> int:
    where, params = flt.where()
    return int(db.scalar(f"SELECT count(*) FROM customers c WHERE {where}", params))


def update_customer(db: Database, customer_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply field changes (already normalized); returns {field: [old, new]} of real changes."""
    unknown = set(changes) - {*STORED_FIELDS, *PHONE_COLUMNS}
    if unknown:
        raise InvalidInput(f"unknown customer field(s): {', '.join(sorted(unknown))}")
    if "name" in changes and not changes["name"]:
        raise InvalidInput("a customer's name cannot be empty")
    with db.transaction():
        current = get_customer(db, customer_id)
        if "phone_suspect" in changes:
            current["phone_suspect"] = db.scalar(
                "SELECT phone_suspect FROM customers WHERE id = ?", (customer_id,)
            )
        diff = {k: [current[k], v] for k, v in changes.items() if current[k] != v}
        if diff:
            sets = ", ".join(f"{k} = :{k}" for k in diff)
            try:
                db.execute(
                    f"UPDATE customers SET {sets}, updated_at = :updated_at WHERE id = :id",
                    {
                        **{k: v[1] for k, v in diff.items()},
                        "updated_at": now_iso(),
                        "id": customer_id,
                    },
                )
            except sqlite3.IntegrityError as exc:
                raise integrity_error_to_conflict(
                    exc, f"cannot update customer {customer_id}"
                ) from None
            audit.record(db, "update", "customer", customer_id, {"changes": diff})
    return diff


def change_tags(db: Database, customer_id: int, add: list[str], remove: list[str]) -> list[str]:
    """Add and remove tags; returns the customer's tags afterwards."""
    both = set(add) & set(remove)
    if both:
        raise InvalidInput(f"tag(s) both added and removed: {', '.join(sorted(both))}")
    with db.transaction():
        get_customer(db, customer_id)
        added = [
            t
            for t in add
            if db.execute(
                "INSERT OR IGNORE INTO customer_tags VALUES (?, ?)", (customer_id, t)
            ).rowcount
        ]
        removed = [
            t
            for t in remove
            if db.execute(
                "DELETE FROM customer_tags WHERE customer_id = ? AND tag = ?", (customer_id, t)
            ).rowcount
        ]
        if added or removed:
            db.execute("UPDATE customers SET updated_at = ? WHERE id = ?", (now_iso(), customer_id))
            audit.record(db, "tag", "customer", customer_id, {"added": added, "removed": removed})
    return _tags_for(db, [customer_id])[customer_id]


def delete_customer(db: Database, customer_id: int, cascade: bool = False) -> dict[str, int]:
    """Delete a customer. With history (communications, tickets, ...) it needs cascade=True,
    which deletes that history too; returns the counts of what went with it."""
    with db.transaction():
        customer = get_customer(db, customer_id)
        counts = related_counts(db, customer_id)
        deals = int(db.scalar("SELECT count(*) FROM deals WHERE customer_id = ?", (customer_id,)))
        if deals:  # (deals cascade with the customer, like the rest of its history)
            counts["deals"] = deals
        if any(counts.values()) and not cascade:
            held = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            raise Conflict(
                f"customer {customer_id} has history ({held}); "
                "use --cascade to delete it too, `customer merge` to keep it under another "
                "customer, or `customer forget` to erase only the personal data"
            )
        db.execute("DELETE FROM customers WHERE id = ?", (customer_id,))
        audit.record(
            db, "delete", "customer", customer_id, {"name": customer["name"], "cascade": counts}
        )
    return counts


# ---------------------------------------------------------------- bulk import
# Used by crmcli.importing.customers inside ONE transaction per import: lookups per batch
# (json_each instead of one SELECT per row), executemany writes, ids assigned by the
# importer (it holds the write lock, so max(id) + 1 ... is safe and lets later rows of the
# same file point at earlier ones).

LOOKUP_COLUMNS = ("external_id", "email", "phone")
# What an import stores per customer: the fields, the phone's extension and NANP-suspect flag,
# and the company it links to.
IMPORT_FIELDS = (*CUSTOMER_FIELDS, "phone_ext", "phone_suspect", "company_id")
IMPORT_COLUMNS = (*IMPORT_FIELDS, "created_at")


def import_customer_id(db: Database, key: str, value: Any) -> int | None:
    """The customer an import row names by `key` (id, external_id, email, phone): emails and
    phones through customer_id_by (secondary contact points included)."""
    if key == "id":
        found = db.scalar("SELECT id FROM customers WHERE id = ?", (int(value),))
        return None if found is None else int(found)
    if key in ("email", "phone"):
        return customer_id_by(db, key, value)
    return lookup_ids(db, key, [value]).get(value)


# import_customer_id() as SQL over a column of references (the set-based order merge):
# the keys whose lookup is one indexed column; emails and phones (contact points too) go
# through import_customer_ids().
IMPORT_ID_SQL = {
    "id": "(SELECT c.id FROM main.customers c WHERE c.id = {value})",
    "external_id": "(SELECT min(c.id) FROM main.customers c WHERE c.external_id = {value})",
}


def import_customer_ids(db: Database, key: str, values: list[Any]) -> dict[Any, int]:
    """import_customer_id() for many values of one key at once: {value: id} of those found."""
    if key == "id":
        cur = db.execute(
            "SELECT id FROM customers WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([int(v) for v in values]),),
        )
        return {int(cid): int(cid) for (cid,) in cur}
    return lookup_ids(db, key, values)


def add_customer_for_import(db: Database, key: str, value: Any, name: str, stamp: str) -> int:
    """A customer an order import names but the database lacks (--create-customers): it
    has bought, so its lifecycle is `customer`; the import's audit row lists it."""
    if key not in LOOKUP_COLUMNS:
        raise InvalidInput(f"cannot create customers by {key!r}")
    return insert_customer(db, {"name": name, key: value, "lifecycle": "customer"}, stamp)


def lookup_ids(db: Database, column: str, values: list[str]) -> dict[str, int]:
    """{value: lowest customer id having it} for the values that exist.

    Emails and phones are looked up in the primary fields first, then among the secondary
    contact points a merge kept (so an import row or a mail naming a merged-away address
    finds the survivor)."""
    if column not in LOOKUP_COLUMNS:
        raise InvalidInput(f"cannot look customers up by {column!r}")
    if not values:
        return {}
    cur = db.execute(
        f"SELECT {column}, min(id) FROM customers"
        f" WHERE {column} IN (SELECT value FROM json_each(?)) GROUP BY {column}",
        (json.dumps(values, ensure_ascii=False),),
    )
    found = {value: int(cid) for value, cid in cur}
    rest = [v for v in values if v not in found]
    if column in CONTACT_KINDS and rest and db.scalar("SELECT 1 FROM customer_contacts LIMIT 1"):
        cur = db.execute(
            "SELECT value, min(customer_id) FROM customer_contacts WHERE kind = ?"
            " AND value IN (SELECT value FROM json_each(?)) GROUP BY value",
            (column, json.dumps(rest, ensure_ascii=False)),
        )
        found.update({value: int(cid) for value, cid in cur})
    return found


def existing_ids(db: Database, ids: list[int]) -> dict[int, int]:
    """{id: id} of the customer ids that exist (an import's --key id)."""
    if not ids:
        return {}
    cur = db.execute(
        "SELECT id FROM customers WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
    )
    return {int(cid): int(cid) for (cid,) in cur}


def shared_values(db: Database, column: str, values: list[str]) -> dict[str, str]:
    """{value: "id1, id2, ..."} of the values more than one customer has as `column`
    (phones: not unique)."""
    if column not in LOOKUP_COLUMNS or not values:
        return {}
    cur = db.execute(
        f"SELECT {column}, group_concat(id, ', ') FROM (SELECT {column}, id FROM customers"
        f" WHERE {column} IN (SELECT value FROM json_each(?)) ORDER BY id)"
        f" GROUP BY {column} HAVING count(*) > 1",
        (json.dumps(values, ensure_ascii=False),),
    )
    return {value: str(ids) for value, ids in cur}


def fetch_for_import(db: Database, ids: list[int], columns: list[str]) -> dict[int, dict[str, Any]]:
    """{id: {column: value, ..., "tags": [...]}} for existing customers an import touches."""
    if not ids:
        return {}
    bad = set(columns) - set(IMPORT_COLUMNS)
    if bad:
        raise InvalidInput(f"unknown customer column(s): {', '.join(sorted(bad))}")
    select = ", ".join(["id", *columns]) if columns else "id"
    param = (json.dumps(ids),)
    cur = db.execute(
        f"SELECT {select} FROM customers WHERE id IN (SELECT value FROM json_each(?))", param
    )
    names = [d[0] for d in cur.description]
    out = {row[0]: dict(zip(names, row, strict=True)) for row in cur}
    for row in out.values():
        row["tags"] = []
    for cid, tag in db.execute(
        "SELECT customer_id, tag FROM customer_tags"
        " WHERE customer_id IN (SELECT value FROM json_each(?)) ORDER BY customer_id, tag",
        param,
    ):
        out[cid]["tags"].append(tag)
    return out


def max_customer_id(db: Database) -> int:
    return int(db.scalar("SELECT coalesce(max(id), 0) FROM customers"))


def bulk_insert(
    db: Database,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    tags: list[tuple[int, str]],
    log_changes: bool = False,
) -> None:
    """Insert rows (id first, then `columns`, then created_at, updated_at) and their tags.

    `log_changes`: the change_log insert triggers are suspended (suspend_change_log());
    write the rows they would have written, in the same order.
    """
    bad = set(columns) - set(IMPORT_COLUMNS)
    if bad:
        raise InvalidInput(f"unknown customer column(s): {', '.join(sorted(bad))}")
    names = ["id", *columns, "created_at", "updated_at"]
    db.executemany(
        f"INSERT INTO customers({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows
    )
    if log_changes:
        change_log.log_inserts(db, "customers", [row[0] for row in rows])
    if tags:
        db.executemany("INSERT OR IGNORE INTO customer_tags VALUES (?, ?)", tags)
        if log_changes:
            change_log.log_inserts(db, "customers", change_log.inserted_pair_owners(tags))


# The change_log triggers (m070) a bulk import replaces with one INSERT ... SELECT per batch.
CHANGE_LOG_INSERT_TRIGGERS = ("change_log_customers_insert", "change_log_customer_tags_insert")


def suspend_change_log(db: Database) -> list[str]:
    """Drop the change_log insert triggers of customers and customer_tags for the rest of
    the transaction; returns their SQL for resume_change_log(). When it is not empty,
    bulk_insert() and bulk_update() must be called with log_changes=True."""
    return change_log.suspend(db, CHANGE_LOG_INSERT_TRIGGERS)


def resume_change_log(db: Database, saved: list[str]) -> None:
    change_log.resume(db, saved)


def bulk_update(
    db: Database,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    tags: dict[int, list[str]] | None = None,
    log_changes: bool = False,
) -> None:
    """UPDATE rows given as (*values of columns, updated_at, id); replace tags of `tags` ids.

    `log_changes`: as for bulk_insert() (the UPDATE and DELETE triggers stay in place)."""
    bad = set(columns) - set(IMPORT_FIELDS)
    if bad:
        raise InvalidInput(f"unknown customer column(s): {', '.join(sorted(bad))}")
    if rows:
        sets = ", ".join(f"{c} = ?" for c in [*columns, "updated_at"])
        db.executemany(f"UPDATE customers SET {sets} WHERE id = ?", rows)
    if tags:
        db.execute(
            "DELETE FROM customer_tags WHERE customer_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(tags)),),
        )
        pairs = [(cid, t) for cid, ts in tags.items() for t in ts]
        db.executemany("INSERT OR IGNORE INTO customer_tags VALUES (?, ?)", pairs)
        if log_changes:  # their old tags were just deleted: the tag sets are empty
            change_log.log_inserts(db, "customers", change_log.inserted_pair_owners(pairs))


def count_all_customers(db: Database) -> int:
    return int(db.scalar("SELECT count(*) FROM customers"))


# ---------------------------------------------------------------- duplicates and merge


def iter_match_records(db: Database) -> Iterator[tuple[Any, ...]]:
    """Every live (not erased) customer's matching fields, streamed in id order as plain
    tuples (id, name, email, phone, company, address): `customer duplicates` reads them all."""
    return iter(
        db.execute(
            "SELECT id, name, email, phone, company, address FROM customers"
            " WHERE erased_at IS NULL ORDER BY id"
        )
    )


def customer_references(db: Database) -> list[tuple[str, str]]:
    """(table, column) of every column that points at a customer: foreign keys to
    customers(id) plus any `customer_id` column (tables other groups add later included)."""
    refs: set[tuple[str, str]] = set()
    tables = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
            " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'customers_fts%'"
            " AND name NOT IN ('customers', 'audit_log')"
        )
    ]
    for table in tables:
        quoted = table.replace('"', '""')
        for fk in db.execute(f'PRAGMA foreign_key_list("{quoted}")'):
            if fk[2] == "customers" and fk[4] in (None, "id"):
                refs.add((table, fk[3]))
        for col in db.execute(f'PRAGMA table_info("{quoted}")'):
            if col[1] == "customer_id":
                refs.add((table, col[1]))
    return sorted(refs)


# ---------------------------------------------------------------- planned import
# The customer import plans without the write lock (#12): every customer it would insert
# (with the id it will get) or update (with the columns it sets) is a row of a TEMP table of
# the import's connection, and so is every custom value; applied under the lock with
# set-based statements, after checking that nothing the plan rests on changed.

_PLAN = "temp.import_plan"
_PLAN_CUSTOM = "temp.import_plan_custom"
_PLAN_CONTACTS = "temp.import_plan_contacts"  # secondary contact points (other_* columns)
_NEW = "import_new_customers"  # (temp) the new customers, laid out as customers is
# A foreign key clause of a column definition (the copy of the customers DDL has none).
_REFERENCES = re.compile(
    r"\s+REFERENCES\s+\w+\s*\(\s*\w+\s*\)"
    r"(\s+ON\s+(DELETE|UPDATE)\s+(SET\s+NULL|SET\s+DEFAULT|CASCADE|RESTRICT|NO\s+ACTION))*",
    re.IGNORECASE,
)
# The INSERT triggers of customers that do nothing for an import's new rows: the search
# index skips the ids the import holds pending (search_index.open_pending).
_NO_OP_INSERT_TRIGGERS = ("customers_fts_ai",)
# change_log entities a customer import's plan reads (keys, duplicates, companies, values)
PLAN_ENTITIES = ("customers", "companies", "custom_values")


def import_snapshot(db: Database) -> tuple[Any, ...]:
    """What a customer import's plan rests on, read in its snapshot: the last change_log id,
    the highest customer and company ids, the secondary contact points and the customer
    custom fields (neither of which change_log covers)."""
    row = db.execute(
        "SELECT (SELECT coalesce(max(seq), 0) FROM change_log),"
        " (SELECT coalesce(max(id), 0) FROM customers),"
        " (SELECT coalesce(max(id), 0) FROM companies),"
        " (SELECT count(*) || ':' || coalesce(max(rowid), 0) FROM customer_contacts),"
        " (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(group_concat(name), '')"
        "  FROM custom_fields WHERE entity = 'customer')"
    ).fetchone()
    return tuple(row)


def changed_since(db: Database, token: tuple[Any, ...]) -> bool:
    """Whether anything import_snapshot() describes changed since it gave `token`."""
    last_log = int(token[0])
    if import_snapshot(db)[1:] != tuple(token[1:]):
        return True
    return bool(
        db.scalar(
            "SELECT 1 FROM change_log WHERE seq > ? AND entity IN (SELECT value FROM json_each(?))"
            " LIMIT 1",
            (last_log, json.dumps(PLAN_ENTITIES)),
        )
    )


class ImportPlan:
    """The TEMP tables of one customer import's plan: customers to insert (op 'i', with
    their ids) or update (op 'u': the columns an update sets, `changed`, `retag`), each with
    its tags as JSON, and the custom values to store."""

    COLUMNS = IMPORT_COLUMNS  # the fields, then created_at

    def __init__(self, db: Database) -> None:
        self.db = db
        self.updated: set[int] = set()  # existing customers the plan updates
        self.updates = False  # whether it updates any customer (inserted ones included)
        self.fast = False  # the new customers are staged for the transfer (stage_inserts)

    def open(self) -> None:
        db = self.db
        db.execute("PRAGMA temp_store = FILE")
        db.execute(TEMP_NOT_ZEROED)  # the plan is the file's rows too (db/staging.py)
        self.drop()
        cols = ", ".join(self.COLUMNS)
        db.execute(
            f"CREATE TABLE {_PLAN}(id INTEGER PRIMARY KEY, op TEXT NOT NULL,"
            f" changed INTEGER NOT NULL DEFAULT 0, retag INTEGER NOT NULL DEFAULT 0,"
            f" tags TEXT NOT NULL DEFAULT '[]', {cols})"
        )
        db.execute(
            f"CREATE TABLE {_PLAN_CUSTOM}(field_id INTEGER NOT NULL, entity_id INTEGER NOT NULL,"
            " value_text, value_num, PRIMARY KEY (field_id, entity_id)) WITHOUT ROWID"
        )
        db.execute(
            f"CREATE TABLE {_PLAN_CONTACTS}(customer_id INTEGER NOT NULL, kind TEXT NOT NULL,"
            " value TEXT NOT NULL, PRIMARY KEY (customer_id, kind, value)) WITHOUT ROWID"
        )
        self.updated = set()
        self.updates = False

    def drop(self) -> None:
        self.db.execute(f"DROP TABLE IF EXISTS {_PLAN}")
        self.db.execute(f"DROP TABLE IF EXISTS {_PLAN_CUSTOM}")
        self.db.execute(f"DROP TABLE IF EXISTS {_PLAN_CONTACTS}")
        self.db.execute(f"DROP TABLE IF EXISTS temp.{_NEW}")
        self.fast = False

    def stage_inserts(self, now: str) -> bool:
        """PLAN, after the last batch (no write lock): copy the new customers into a TEMP
        table made from the customers table's own DDL (its foreign key clause left out),
        with their updated_at, so that apply() can append them with SQLite's transfer
        optimisation: `INSERT INTO customers SELECT * FROM` a table of the same layout
        copies whole records, with no per-row decoding, constraint or trigger work, when
        foreign keys are off and customers has no index or trigger at that moment (#12,
        the write lock: 3.1 s of a million-row import's lock hold, 1.3 s this way).
        Returns whether it did: False (the plain INSERT then) when the layouts differ."""
        db = self.db
        db.execute(f"DROP TABLE IF EXISTS temp.{_NEW}")
        self.fast = False
        sql = str(
            db.scalar(
                "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = 'customers'"
            )
        )
        ddl, found = re.subn(r'^CREATE TABLE "?customers"?', f"CREATE TEMP TABLE {_NEW}", sql)
        columns = [r[1] for r in db.execute("SELECT * FROM pragma_table_xinfo('customers')")]
        values = {c: c for c in ("id", *self.COLUMNS)} | {"updated_at": "?", "erased_at": "NULL"}
        if found != 1 or not set(columns) <= set(values):
            return False
        db.execute(_REFERENCES.sub("", ddl))
        same = db.query("SELECT * FROM pragma_table_xinfo('customers')") == db.query(
            f"SELECT * FROM pragma_table_xinfo('{_NEW}')"
        )
        if not same or db.scalar(f"SELECT count(*) FROM pragma_foreign_key_list('{_NEW}')"):
            db.execute(f"DROP TABLE temp.{_NEW}")
            return False
        select = ", ".join(values[c] for c in columns)
        db.execute(
            f"INSERT INTO temp.{_NEW} SELECT {select} FROM {_PLAN} WHERE op = 'i' ORDER BY id",
            (now,),
        )
        self.fast = True
        return True

    def _transfer_inserts(self) -> bool:
        """APPLY: the staged new customers appended by the transfer optimisation, when it
        applies (see stage_inserts): every trigger of customers is dropped for the one
        statement and made again from its SQL, which is only safe while the INSERT
        triggers left are ones that do nothing for these rows. Returns whether it did."""
        db = self.db
        if not self.fast or db.scalar("PRAGMA foreign_keys"):
            return False
        if db.scalar("SELECT count(*) FROM pragma_index_list('customers')"):
            return False
        triggers = db.execute(
            "SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger'"
            " AND tbl_name = 'customers' ORDER BY rowid"
        ).fetchall()
        inserting = {
            name
            for name, sql in triggers
            if re.search(r"\b(BEFORE|AFTER|INSTEAD\s+OF)\s+INSERT\b", sql, re.IGNORECASE)
        }
        if not inserting <= set(_NO_OP_INSERT_TRIGGERS):
            return False
        for name, _sql in triggers:
            quoted = name.replace('"', '""')
            db.execute(f'DROP TRIGGER "{quoted}"')
        db.execute(f"INSERT INTO main.customers SELECT * FROM temp.{_NEW}")
        for _name, sql in triggers:
            db.execute(sql)
        return True

    def check_references(self) -> None:
        """APPLY with foreign keys off (the transfer): what the foreign keys would have
        refused, refused here (the plan's company links and custom fields exist)."""
        db = self.db
        missing = db.scalar(
            f"SELECT p.company_id FROM {_PLAN} p WHERE p.company_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM companies c WHERE c.id = p.company_id) LIMIT 1"
        )
        if missing is None:
            missing = db.scalar(
                f"SELECT p.field_id FROM {_PLAN_CUSTOM} p"
                " WHERE NOT EXISTS (SELECT 1 FROM custom_fields f WHERE f.id = p.field_id) LIMIT 1"
            )
        if missing is not None:
            raise sqlite3.IntegrityError("FOREIGN KEY constraint failed")

    # -- planning ------------------------------------------------------------------------
    def put_inserts(self, rows: list[tuple[Any, ...]]) -> None:
        """(id, tags JSON, *COLUMNS) of new customers."""
        if rows:
            names = ["id", "op", "tags", *self.COLUMNS]
            marks = ", ".join(["?", "'i'", *["?"] * (len(names) - 2)])
            self.db.executemany(f"INSERT INTO {_PLAN}({', '.join(names)}) VALUES ({marks})", rows)

    def put_updates(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        """(id, changed, retag, tags JSON, *values of columns) of updated customers: a
        customer planned before (inserted or updated earlier in the file) keeps its op."""
        if not rows:
            return
        self.updates = True
        names = ["id", "changed", "retag", "tags", *columns]
        sets = ", ".join(f"{c} = excluded.{c}" for c in columns)
        self.db.executemany(
            f"INSERT INTO {_PLAN}(op, {', '.join(names)}) VALUES ('u', {', '.join('?' * len(names))})"
            f" ON CONFLICT(id) DO UPDATE SET changed = changed OR excluded.changed,"
            f" retag = retag OR excluded.retag,"
            f" tags = CASE WHEN excluded.retag THEN excluded.tags ELSE tags END"
            + (f", {sets}" if sets else ""),
            rows,
        )

    def fetch(self, ids: list[int], columns: list[str]) -> dict[int, dict[str, Any]]:
        """fetch_for_import() of customers as planned: the plan's rows for the ids it has,
        the database's for the others."""
        if not ids:
            return {}
        bad = set(columns) - set(IMPORT_COLUMNS)
        if bad:
            raise InvalidInput(f"unknown customer column(s): {', '.join(sorted(bad))}")
        select = ", ".join(["id", "tags", *columns])
        cur = self.db.execute(
            f"SELECT {select} FROM {_PLAN} WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
        names = [d[0] for d in cur.description]
        out: dict[int, dict[str, Any]] = {}
        for row in cur:
            record = dict(zip(names, row, strict=True))
            record["tags"] = sorted(json.loads(record["tags"]))
            out[row[0]] = record
        rest = [i for i in ids if i not in out]
        out.update(fetch_for_import(self.db, rest, columns))
        return out

    def stored_values(
        self, field_ids: list[int], entity_ids: list[int]
    ) -> dict[tuple[int, int], tuple[str | None, float | None]]:
        """The custom values of these records as planned (the database's, overlaid by the
        plan's)."""
        from crmcli.db.fields import stored_values

        out = stored_values(self.db, field_ids, entity_ids)
        for fid, eid, text, num in self.db.execute(
            f"SELECT field_id, entity_id, value_text, value_num FROM {_PLAN_CUSTOM}"
            " WHERE field_id IN (SELECT value FROM json_each(?))"
            " AND entity_id IN (SELECT value FROM json_each(?))",
            (json.dumps(field_ids), json.dumps(entity_ids)),
        ):
            out[(fid, eid)] = (text, num)
        return out

    def put_values(self, rows: list[tuple[int, int, str | None, float | None]]) -> None:
        if rows:
            self.db.executemany(
                f"INSERT OR REPLACE INTO {_PLAN_CUSTOM}(field_id, entity_id, value_text,"
                " value_num) VALUES (?, ?, ?, ?)",
                rows,
            )

    def contacts_for(self, ids: list[int]) -> set[tuple[int, str, str]]:
        """(customer id, kind, value) of the secondary contact points these customers have
        as planned: the database's and the plan's."""
        out: set[tuple[int, str, str]] = set()
        if not ids:
            return out
        for cid, points in contact_points_for(self.db, ids).items():
            out.update((cid, kind, value) for kind, values in points.items() for value in values)
        out.update(
            self.db.execute(
                f"SELECT customer_id, kind, value FROM {_PLAN_CONTACTS}"
                " WHERE customer_id IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            ).fetchall()
        )
        return out

    def put_contacts(self, rows: list[tuple[int, str, str]]) -> None:
        """(customer id, kind, value) secondary contact points to add."""
        if rows:
            self.db.executemany(
                f"INSERT OR IGNORE INTO {_PLAN_CONTACTS}(customer_id, kind, value) VALUES (?, ?, ?)",
                rows,
            )

    # -- applying (inside the write transaction) -------------------------------------------
    def apply(
        self,
        columns: list[str],
        now: str,
        first_new_id: int,
        log: bool,
        mark: Callable[[str], None] = lambda step: None,
    ) -> None:
        """Write the plan: updates of `columns` (first: a customer the file moves off an
        email frees it for a new one), inserts (ids as planned), tags, custom values; `log`: the change_log insert triggers are suspended, write their rows."""
        db = self.db
        if self.updates:  # (an import of new customers only skips these scans)
            if columns:
                sets = ", ".join(f"{c} = p.{c}" for c in columns)
                db.execute(
                    f"UPDATE customers SET {sets}, updated_at = ? FROM {_PLAN} p"
                    " WHERE p.id = customers.id AND p.op = 'u' AND (p.changed OR p.retag)",
                    (now,),
                )
            else:
                db.execute(
                    f"UPDATE customers SET updated_at = ? FROM {_PLAN} p"
                    " WHERE p.id = customers.id AND p.op = 'u' AND p.retag",
                    (now,),
                )
            mark("apply.updates")
            retagged = f"SELECT id FROM {_PLAN} WHERE op = 'u' AND retag"
            db.execute(f"DELETE FROM customer_tags WHERE customer_id IN ({retagged})")
            db.execute(
                "INSERT OR IGNORE INTO customer_tags(customer_id, tag) SELECT p.id, j.value"
                f" FROM {_PLAN} p, json_each(p.tags) j WHERE p.op = 'u' AND p.retag"
                " ORDER BY p.id, j.value"
            )
            if log:
                db.execute(
                    "INSERT INTO change_log(entity, key1, key2) SELECT 'customers', customer_id, 0"
                    f" FROM customer_tags WHERE customer_id IN ({retagged}) ORDER BY customer_id, tag"
                )
        mark("apply.retags")
        if not db.scalar("PRAGMA foreign_keys"):
            self.check_references()
        if self._transfer_inserts():
            mark("apply.inserts.transfer")
        else:
            names = ", ".join(self.COLUMNS)
            db.execute(
                f"INSERT INTO customers(id, {names}, updated_at) SELECT id, {names}, ?"
                f" FROM {_PLAN} WHERE op = 'i' ORDER BY id",
                (now,),
            )
            mark("apply.inserts")
        if log:
            db.execute(
                "INSERT INTO change_log(entity, key1, key2)"
                f" SELECT 'customers', id, 0 FROM {_PLAN} WHERE op = 'i' ORDER BY id"
            )
        mark("apply.change_log")
        db.execute(
            "INSERT OR IGNORE INTO customer_tags(customer_id, tag) SELECT p.id, j.value"
            f" FROM {_PLAN} p, json_each(p.tags) j WHERE p.op = 'i' AND p.tags <> '[]'"
        )  # (the plan is read in id order: no sort)
        if log:
            db.execute(
                "INSERT INTO change_log(entity, key1, key2) SELECT 'customers', customer_id, 0"
                " FROM customer_tags WHERE customer_id >= ? ORDER BY customer_id, tag",
                (first_new_id,),
            )
        mark("apply.tags")
        db.execute(
            "INSERT OR IGNORE INTO customer_contacts(customer_id, kind, value, merged_from,"
            f" created_at) SELECT customer_id, kind, value, NULL, ? FROM {_PLAN_CONTACTS}"
            " ORDER BY customer_id, kind, value",
            (now,),
        )
        db.execute(
            "INSERT INTO custom_values(field_id, entity_id, value_text, value_num)"
            f" SELECT field_id, entity_id, value_text, value_num FROM {_PLAN_CUSTOM} WHERE true"
            " ON CONFLICT(field_id, entity_id) DO UPDATE SET"
            " value_text = excluded.value_text, value_num = excluded.value_num"
        )
