"""Repository functions for customers and their tags."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from crmcli.config import now_iso
from crmcli.db import Database, audit, integrity_error_to_conflict
from crmcli.errors import Conflict, InvalidInput, NotFound

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
COLUMNS = "c.id, c.external_id, c.name, c.phone, c.email, c.address, c.company, c.lifecycle, c.owner, c.notes, c.created_at, c.updated_at, c.erased_at"  # noqa: E501


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
            if len(term) >= 3:
                clauses.append(
                    "c.id IN (SELECT rowid FROM customers_fts WHERE customers_fts MATCH ?)"
                )
                params.append('"' + term.replace('"', '""') + '"')
            else:
                like = (
                    "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                )
                clauses.append(
                    "(c.name LIKE ? ESCAPE '\\' OR c.email LIKE ? ESCAPE '\\'"
                    " OR c.phone LIKE ? ESCAPE '\\' OR c.company LIKE ? ESCAPE '\\')"
                )
                params += [like] * 4
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


def add_customer(db: Database, values: dict[str, Any], tags: list[str] | None = None) -> int:
    """Insert one customer (values already normalised) and return its id."""
    if not values.get("name"):
        raise InvalidInput("a customer needs a name")
    now = now_iso()
    row = {k: values.get(k) for k in CUSTOMER_FIELDS}
    row["lifecycle"] = row["lifecycle"] or "lead"
    with db.transaction():
        try:
            cur = db.execute(
                f"INSERT INTO customers({', '.join(CUSTOMER_FIELDS)}, created_at, updated_at)"
                f" VALUES ({', '.join(':' + k for k in CUSTOMER_FIELDS)}, :created_at, :updated_at)",
                {**row, "created_at": values.get("created_at") or now, "updated_at": now},
            )
        except sqlite3.IntegrityError as exc:
            raise integrity_error_to_conflict(exc, "cannot add customer") from None
        cid = int(cur.lastrowid or 0)
        for tag in tags or []:
            db.execute(
                "INSERT OR IGNORE INTO customer_tags(customer_id, tag) VALUES (?, ?)", (cid, tag)
            )
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
    if row is None:
        raise NotFound(f"no customer with {key} {value}")
    return int(row[0])


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
    """Stream matching customers (with tags) in id order, in constant memory."""
    where, params = flt.where()
    last = 0
    while True:
        rows = db.query(
            f"SELECT {COLUMNS} FROM customers c WHERE ({where}) AND c.id > ? ORDER BY c.id LIMIT ?",
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
    """Apply field changes (already normalised); returns {field: [old, new]} of real changes."""
    unknown = set(changes) - set(CUSTOMER_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown customer field(s): {', '.join(sorted(unknown))}")
    if "name" in changes and not changes["name"]:
        raise InvalidInput("a customer's name cannot be empty")
    with db.transaction():
        current = get_customer(db, customer_id)
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
