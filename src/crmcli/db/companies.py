"""Repository functions for companies (accounts) and their tags."""

from __future__ import annotations

import sqlite3
from typing import Any

from crmcli.core.clock import now_iso
from crmcli.core.errors import Conflict, InvalidInput, NotFound
from crmcli.db import Database, audit, integrity_error_to_conflict

COMPANY_FIELDS = (
    "external_id",
    "name",
    "name_key",
    "domain",
    "industry",
    "size",
    "owner",
    "notes",
)
COLUMNS = "id, external_id, name, domain, industry, size, owner, notes, created_at, updated_at"


def _tags(db: Database, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        for cid, tag in db.execute(
            f"SELECT company_id, tag FROM company_tags WHERE company_id IN ({marks})"
            " ORDER BY company_id, tag",
            chunk,
        ):
            out[cid].append(tag)
    return out


def add_company(db: Database, values: dict[str, Any], tags: list[str] | None = None) -> int:
    """Insert one company (values normalized, name_key included) and return its id."""
    if not values.get("name") or not values.get("name_key"):
        raise InvalidInput("a company needs a name")
    now = now_iso()
    row = {k: values.get(k) for k in COMPANY_FIELDS}
    with db.transaction():
        existing = find_by_key(db, str(row["name_key"]))
        if existing is not None:
            raise Conflict(f"company {existing} already has the name {row['name']!r}")
        try:
            cur = db.execute(
                f"INSERT INTO companies({', '.join(COMPANY_FIELDS)}, created_at, updated_at)"
                f" VALUES ({', '.join(':' + k for k in COMPANY_FIELDS)}, :at, :at)",
                {**row, "at": now},
            )
        except sqlite3.IntegrityError as exc:
            raise integrity_error_to_conflict(exc, "cannot add company") from None
        company_id = int(cur.lastrowid or 0)
        for tag in tags or []:
            db.execute("INSERT OR IGNORE INTO company_tags VALUES (?, ?)", (company_id, tag))
        audit.record(
            db,
            "create",
            "company",
            company_id,
            {k: v for k, v in row.items() if v is not None} | {"tags": tags or []},
        )
    return company_id


def get_company(db: Database, company_id: int) -> dict[str, Any]:
    row = db.query_one(f"SELECT {COLUMNS} FROM companies WHERE id = ?", (company_id,))
    if row is None:
        raise NotFound(f"no company with id {company_id}")
    row["tags"] = _tags(db, [company_id])[company_id]
    return row


def find_by_key(db: Database, name_key: str) -> int | None:
    value = db.scalar("SELECT id FROM companies WHERE name_key = ?", (name_key,))
    return None if value is None else int(value)


def find_by_domain(db: Database, domain: str) -> int | None:
    value = db.scalar("SELECT id FROM companies WHERE domain = ?", (domain,))
    return None if value is None else int(value)


def company_name(db: Database, company_id: int) -> str:
    return str(get_company(db, company_id)["name"])


def list_companies(
    db: Database,
    search: str | None = None,
    tag: str | None = None,
    owner: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    clauses, params = _where(search, tag, owner)
    sql = (
        f"SELECT {COLUMNS}, (SELECT count(*) FROM customers c WHERE c.company_id = companies.id)"
        f" AS contacts FROM companies WHERE {clauses} ORDER BY id"
    )
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    rows = db.query(sql, params)
    tags = _tags(db, [r["id"] for r in rows])
    for r in rows:
        r["tags"] = tags[r["id"]]
    return rows


def count_companies(
    db: Database, search: str | None = None, tag: str | None = None, owner: str | None = None
) -> int:
    clauses, params = _where(search, tag, owner)
    return int(db.scalar(f"SELECT count(*) FROM companies WHERE {clauses}", params))


def _where(search: str | None, tag: str | None, owner: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            "(name LIKE ? ESCAPE '\\' OR domain LIKE ? ESCAPE '\\' OR industry LIKE ? ESCAPE '\\')"
        )
        params += [like] * 3
    if tag:
        clauses.append(
            "EXISTS (SELECT 1 FROM company_tags t WHERE t.company_id = companies.id AND t.tag = ?)"
        )
        params.append(tag)
    if owner:
        clauses.append("owner = ?")
        params.append(owner)
    return " AND ".join(clauses) or "1", params


def update_company(db: Database, company_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply normalized changes; returns {field: [old, new]}. A new name renames the company
    text of its linked customers too (they are found by it)."""
    unknown = set(changes) - set(COMPANY_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown company field(s): {', '.join(sorted(unknown))}")
    with db.transaction():
        current = db.query_one(
            f"SELECT {COLUMNS}, name_key FROM companies WHERE id = ?", (company_id,)
        )
        if current is None:
            raise NotFound(f"no company with id {company_id}")
        if "name_key" in changes and changes["name_key"] != current["name_key"]:
            other = find_by_key(db, changes["name_key"])
            if other is not None and other != company_id:
                raise Conflict(f"company {other} already has the name {changes.get('name')!r}")
        diff = {k: [current[k], v] for k, v in changes.items() if current[k] != v}
        if diff:
            sets = ", ".join(f"{k} = :{k}" for k in diff)
            try:
                db.execute(
                    f"UPDATE companies SET {sets}, updated_at = :at WHERE id = :id",
                    {**{k: v[1] for k, v in diff.items()}, "at": now_iso(), "id": company_id},
                )
            except sqlite3.IntegrityError as exc:
                raise integrity_error_to_conflict(
                    exc, f"cannot update company {company_id}"
                ) from None
            if "name" in diff:
                db.execute(
                    "UPDATE customers SET company = ?, updated_at = ? WHERE company_id = ?",
                    (diff["name"][1], now_iso(), company_id),
                )
            diff.pop("name_key", None)
            audit.record(db, "update", "company", company_id, {"changes": diff})
    return diff


def change_tags(db: Database, company_id: int, add: list[str], remove: list[str]) -> list[str]:
    with db.transaction():
        get_company(db, company_id)
        for tag in add:
            db.execute("INSERT OR IGNORE INTO company_tags VALUES (?, ?)", (company_id, tag))
        for tag in remove:
            db.execute(
                "DELETE FROM company_tags WHERE company_id = ? AND tag = ?", (company_id, tag)
            )
        audit.record(db, "tag", "company", company_id, {"added": add, "removed": remove})
    return _tags(db, [company_id])[company_id]


def related_counts(db: Database, company_id: int) -> dict[str, int]:
    return {
        "contacts": int(
            db.scalar("SELECT count(*) FROM customers WHERE company_id = ?", (company_id,))
        ),
        "deals": int(db.scalar("SELECT count(*) FROM deals WHERE company_id = ?", (company_id,))),
    }


def delete_company(db: Database, company_id: int, cascade: bool = False) -> dict[str, int]:
    """Delete a company. With contacts or deals it needs cascade=True: contacts and deals
    that also name a customer are unlinked; deals of the company alone are deleted."""
    with db.transaction():
        company = get_company(db, company_id)
        counts = related_counts(db, company_id)
        if any(counts.values()) and not cascade:
            held = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            raise Conflict(
                f"company {company_id} has {held}; use --cascade to unlink the contacts"
                " (and delete the deals that belong to the company alone)"
            )
        now = now_iso()
        unlinked = db.execute(
            "UPDATE customers SET company_id = NULL, updated_at = ? WHERE company_id = ?",
            (now, company_id),
        ).rowcount
        kept = db.execute(
            "UPDATE deals SET company_id = NULL, updated_at = ?"
            " WHERE company_id = ? AND customer_id IS NOT NULL",
            (now, company_id),
        ).rowcount
        dropped = db.execute("DELETE FROM deals WHERE company_id = ?", (company_id,)).rowcount
        db.execute("DELETE FROM companies WHERE id = ?", (company_id,))
        result = {"contacts_unlinked": unlinked, "deals_unlinked": kept, "deals_deleted": dropped}
        audit.record(db, "delete", "company", company_id, {"name": company["name"], **result})
    return result


def profile(db: Database, company_id: int) -> dict[str, Any]:
    """What `company show` adds: contacts, open deals, won amount, last contact, open tickets."""
    contacts = db.query(
        "SELECT id, name, email, phone, owner FROM customers WHERE company_id = ? ORDER BY id",
        (company_id,),
    )
    open_deals = db.query(
        "SELECT d.id, d.title, d.stage, d.amount, d.currency, d.close_date, d.owner"
        " FROM deals d JOIN deal_stages s ON s.name = d.stage"
        " WHERE s.kind = 'open' AND (d.company_id = ?"
        " OR d.customer_id IN (SELECT id FROM customers WHERE company_id = ?)) ORDER BY d.id",
        (company_id, company_id),
    )
    won = db.query(
        "SELECT currency, sum(amount) AS amount FROM deals d JOIN deal_stages s"
        " ON s.name = d.stage WHERE s.kind = 'won' AND (d.company_id = ?"
        " OR d.customer_id IN (SELECT id FROM customers WHERE company_id = ?))"
        " GROUP BY currency ORDER BY currency",
        (company_id, company_id),
    )
    last_contact = db.scalar(
        "SELECT max(m.occurred_at) FROM communications m JOIN customers c"
        " ON c.id = m.customer_id WHERE c.company_id = ?",
        (company_id,),
    )
    tickets = db.query(
        "SELECT t.id, t.subject, t.status, t.priority, t.customer_id FROM tickets t"
        " JOIN customers c ON c.id = t.customer_id WHERE c.company_id = ?"
        " AND t.status NOT IN ('resolved', 'closed') ORDER BY t.id",
        (company_id,),
    )
    return {
        "contacts": contacts,
        "open_deals": open_deals,
        "won": won,
        "last_contact_at": last_contact,
        "open_tickets": tickets,
    }


def iter_companies(db: Database) -> list[dict[str, Any]]:
    rows = db.query(f"SELECT {COLUMNS} FROM companies ORDER BY id")
    tags = _tags(db, [r["id"] for r in rows])
    for r in rows:
        r["tags"] = tags[r["id"]]
    return rows


# ---------------------------------------------------------------- imports
# Used by crmcli.importing.companies inside the import's one transaction (its audit entry
# covers every row).

IMPORT_COLUMNS = ("external_id", "name", "domain", "industry", "size", "owner", "notes")


def find_by_external_id(db: Database, external_id: str) -> int | None:
    value = db.scalar("SELECT id FROM companies WHERE external_id = ?", (external_id,))
    return None if value is None else int(value)


def max_company_id(db: Database) -> int:
    return int(db.scalar("SELECT coalesce(max(id), 0) FROM companies"))


def company_exists(db: Database, company_id: int) -> bool:
    return db.scalar("SELECT 1 FROM companies WHERE id = ?", (company_id,)) is not None


def fetch_for_import(db: Database, company_id: int) -> dict[str, Any]:
    """One company's importable columns and tags."""
    row = db.query_one(
        f"SELECT id, {', '.join(IMPORT_COLUMNS)} FROM companies WHERE id = ?", (company_id,)
    )
    if row is None:
        raise NotFound(f"no company with id {company_id}")
    row["tags"] = _tags(db, [company_id])[company_id]
    return row


def insert_for_import(
    db: Database,
    values: dict[str, Any],
    tags: list[str],
    created_at: str,
    now: str,
    company_id: int | None = None,
) -> int:
    """Insert one imported company (values normalized, name_key included); `company_id`:
    the id a planned import gave it (else the next one)."""
    row = {k: values.get(k) for k in COMPANY_FIELDS}
    try:
        cur = db.execute(
            f"INSERT INTO companies(id, {', '.join(COMPANY_FIELDS)}, created_at, updated_at)"
            f" VALUES (:id, {', '.join(':' + k for k in COMPANY_FIELDS)}, :created, :now)",
            {**row, "created": created_at, "now": now, "id": company_id},
        )
    except sqlite3.IntegrityError as exc:
        raise integrity_error_to_conflict(exc, "cannot add company") from None
    company_id = int(cur.lastrowid or 0)
    db.executemany(
        "INSERT OR IGNORE INTO company_tags VALUES (?, ?)", [(company_id, t) for t in tags]
    )
    return company_id


def update_for_import(
    db: Database, company_id: int, changes: dict[str, Any], tags: list[str] | None, now: str
) -> None:
    """Apply an imported row's changes (and replace the tags when given); a new name renames
    the company text of its linked customers too."""
    if changes:
        unknown = set(changes) - set(COMPANY_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown company field(s): {', '.join(sorted(unknown))}")
        sets = ", ".join(f"{k} = :{k}" for k in changes)
        try:
            db.execute(
                f"UPDATE companies SET {sets}, updated_at = :now WHERE id = :id",
                {**changes, "now": now, "id": company_id},
            )
        except sqlite3.IntegrityError as exc:
            raise integrity_error_to_conflict(exc, f"cannot update company {company_id}") from None
        if "name" in changes:
            db.execute(
                "UPDATE customers SET company = ?, updated_at = ? WHERE company_id = ?",
                (changes["name"], now, company_id),
            )
    if tags is not None:
        db.execute("DELETE FROM company_tags WHERE company_id = ?", (company_id,))
        db.executemany(
            "INSERT OR IGNORE INTO company_tags VALUES (?, ?)", [(company_id, t) for t in tags]
        )
        if not changes:
            db.execute("UPDATE companies SET updated_at = ? WHERE id = ?", (now, company_id))
