"""Customer search index built after a big import commits (#12, the write lock).

Building the trigram index (customers_fts) of a million new customers takes longer than
any other part of their import. A big import therefore commits its customers with their
ids recorded as *pending* (customers_fts_pending: ranges lo..hi of ids not in the index
yet, migration m280) and indexes them afterwards in short write transactions of CHUNK ids,
pausing between them so another process's write gets in.

Meanwhile nothing is ever missing from search:
- the search index triggers skip pending ids (an FTS5 'delete' of a row that was never
  indexed corrupts the index, the #12 5,000-row crash), so an update or delete of a
  pending customer leaves the index alone and the build reads the customer as it is then;
- customer search (db/customers.CustomerFilter) also scans the pending customers with
  LIKE (the search guard);
- a build that is killed leaves its remaining ranges pending: the next customer import,
  `crm db optimize` or `crm db check --repair` continues it (build_pending is idempotent:
  each chunk is indexed and taken off the pending ranges in one transaction);
- `crm db check` compares the index with the customers only when nothing is pending.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from crmcli.core import faults
from crmcli.db.database import Database, table_exists

CHUNK = 25_000  # ids indexed per write transaction after the commit
PAUSE_S = 0.15  # between two chunks: a waiting writer polls at least every 100 ms
INLINE_MAX = 20_000  # an import with fewer new customers indexes them in its transaction
if os.environ.get("CRM_SEARCH_INDEX_CHUNK"):  # tests: small chunks, built after the commit
    CHUNK = INLINE_MAX = max(1, int(os.environ["CRM_SEARCH_INDEX_CHUNK"]))
_OPEN = 1 << 62  # hi of the range of a running import (closed by close_pending)


def open_pending(db: Database, first_id: int) -> None:
    """In an import's transaction, before it inserts customers from `first_id` on: their
    ids are pending (the insert trigger skips them)."""
    db.execute(
        "INSERT OR REPLACE INTO customers_fts_pending(lo, hi) VALUES (?, ?)", (first_id, _OPEN)
    )


def close_pending(db: Database, first_id: int, inline_max: int | None = None) -> int:
    """In the import's transaction, after its inserts: fix the range to the ids inserted;
    index them now when they are few (inline_max, default INLINE_MAX). Returns how many ids
    stay pending."""
    inline_max = INLINE_MAX if inline_max is None else inline_max
    last = int(db.scalar("SELECT coalesce(max(id), 0) FROM customers"))
    if last < first_id:
        db.execute("DELETE FROM customers_fts_pending WHERE lo = ?", (first_id,))
        return 0
    db.execute("UPDATE customers_fts_pending SET hi = ? WHERE lo = ?", (last, first_id))
    count = last - first_id + 1
    if count <= inline_max:
        _index_range(db, first_id, last)
        db.execute("DELETE FROM customers_fts_pending WHERE lo = ?", (first_id,))
        return 0
    return count


def pending_count(db: Database) -> int:
    """How many customer ids wait for the search index (0: the index is complete, or a
    database from before migration m280)."""
    if not table_exists(db, "customers_fts_pending"):
        return 0
    return int(db.scalar("SELECT coalesce(sum(hi - lo + 1), 0) FROM customers_fts_pending"))


def _index_range(db: Database, lo: int, hi: int) -> None:
    automerge = db.scalar("SELECT v FROM customers_fts_config WHERE k = 'automerge'")
    # FTS5's automerge off while the chunk is added (merging segments as they fill costs
    # about a fifth of a build; later writes merge them incrementally); restored in the
    # same transaction, so a kill cannot leave it off.
    db.execute("INSERT INTO customers_fts(customers_fts, rank) VALUES ('automerge', 0)")
    db.execute(
        "INSERT INTO customers_fts(rowid, name, email, phone, company)"
        " SELECT id, name, email, phone, company FROM customers WHERE id BETWEEN ? AND ?",
        (lo, hi),
    )
    db.execute(
        "INSERT INTO customers_fts(customers_fts, rank) VALUES ('automerge', ?)",
        (4 if automerge is None else int(automerge),),  # 4: FTS5's default
    )


def build_pending(
    db: Database,
    chunk: int | None = None,
    pause: float = PAUSE_S,
    after_chunk: Callable[[int], None] | None = None,
) -> int:
    """Index every pending customer, `chunk` ids (default CHUNK) per write transaction (the
    lowest range first), pausing `pause` seconds between transactions; returns the ids
    indexed. `after_chunk(left)` is called after each commit with the ids still pending."""
    chunk = CHUNK if chunk is None else chunk
    done = 0
    if not pending_count(db):
        return 0
    while True:
        with db.transaction():
            row = db.execute(
                "SELECT lo, hi FROM customers_fts_pending WHERE hi < ? ORDER BY lo LIMIT 1",
                (_OPEN,),
            ).fetchone()
            if row is None:
                return done
            lo, hi = int(row[0]), int(row[1])
            top = min(hi, lo + chunk - 1)
            _index_range(db, lo, top)
            if top == hi:
                db.execute("DELETE FROM customers_fts_pending WHERE lo = ?", (lo,))
            else:
                db.execute("UPDATE customers_fts_pending SET lo = ? WHERE lo = ?", (top + 1, lo))
            left = pending_count(db)
        done += top - lo + 1
        faults.point("search_index.chunk")
        if after_chunk is not None:
            after_chunk(left)
        if left and pause:
            time.sleep(pause)


def forget_pending(db: Database) -> None:
    """The whole index was rebuilt from the customers (FTS5 'rebuild'): nothing pending."""
    db.execute("DELETE FROM customers_fts_pending")
