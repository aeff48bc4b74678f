"""Named, append-only schema migrations, applied every time a database is opened.

Each migration is a function taking the Database, registered by `@migration` in the order
of this file (which is the order they are applied in), run inside one transaction and
recorded in `_migrations`; `PRAGMA user_version` holds the count of applied migrations.

Rules: add a new migration at the END of this file; never edit, rename or reorder one that
has shipped; a migration never calls live application code (it is frozen: what it does must
not change when the code around it changes), so helpers it needs are copied into it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmcli.core.errors import OperationalError

if TYPE_CHECKING:
    from crmcli.db.database import Database

Migration = Callable[["Database"], None]

MIGRATIONS: list[Migration] = []


def migration(function: Migration) -> Migration:
    """Register a migration; the order of registration (file order) is the applied order."""
    MIGRATIONS.append(function)
    return function


def rebuilds_tables(function: Migration) -> Migration:
    """Mark a migration that rebuilds a table (SQLite's 12-step procedure: create the new
    table, copy, drop the old one, rename): it runs with foreign key enforcement off, so that
    dropping the old table does not cascade into the rows that point at it, and must leave
    `PRAGMA foreign_key_check` empty, else it rolls back."""
    function.rebuilds_tables = True  # type: ignore[attr-defined]
    return function


def all_migrations() -> list[Migration]:
    return list(MIGRATIONS)


def pending(db: Database) -> list[Migration]:
    """The migrations this database has not had yet (reads only)."""
    if not db.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"):
        return all_migrations()
    done = {row["name"] for row in db.query("SELECT name FROM _migrations")}
    return [m for m in all_migrations() if m.__name__ not in done]


def is_new(db: Database) -> bool:
    """True for a database no migration has touched yet (nothing to back up)."""
    if not db.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"):
        return True
    return not db.scalar("SELECT count(*) FROM _migrations")


def apply_migrations(db: Database) -> list[str]:
    """Apply every pending migration, each in its own transaction. Returns their names."""
    from crmcli.core.clock import now_iso

    todo = pending(db)
    if not todo:
        return []
    with db.transaction():
        db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations"
            " (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
    applied: list[str] = []
    for migration in todo:
        rebuild = getattr(migration, "rebuilds_tables", False)
        try:
            if rebuild:  # (a no-op inside a transaction: set before it begins)
                db.execute("PRAGMA foreign_keys = OFF")
            with db.transaction():
                if db.scalar(
                    "SELECT 1 FROM _migrations WHERE name = ?", (migration.__name__,)
                ):  # another process applied it while we waited for the lock
                    continue
                migration(db)
                if rebuild:
                    broken = db.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise OperationalError(
                            f"it would break {len(broken)} foreign key(s), first in {broken[0][0]}"
                        )
                db.execute(
                    "INSERT INTO _migrations(name, applied_at) VALUES (?, ?)",
                    (migration.__name__, now_iso()),
                )
                count = db.scalar("SELECT count(*) FROM _migrations")
                db.execute(f"PRAGMA user_version = {int(count)}")
        except Exception as exc:
            raise OperationalError(f"migration {migration.__name__} failed: {exc}") from exc
        finally:
            if rebuild:
                db.execute("PRAGMA foreign_keys = ON")
        applied.append(migration.__name__)
    return applied


# -- the migrations, in the order they are applied; append new ones at the end ---------


@migration
def m001_initial(db: Database) -> None:
    db.script(
        """
        CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            external_id TEXT UNIQUE,
            name TEXT NOT NULL,
            phone TEXT,
            email TEXT,
            address TEXT,
            company TEXT,
            lifecycle TEXT NOT NULL DEFAULT 'lead'
                CHECK (lifecycle IN ('lead', 'prospect', 'customer', 'churned')),
            owner TEXT,
            notes TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            erased_at TEXT
        );
        CREATE UNIQUE INDEX customers_email ON customers(email) WHERE email IS NOT NULL;
        CREATE INDEX customers_phone ON customers(phone) WHERE phone IS NOT NULL;
        CREATE INDEX customers_created ON customers(created_at);
        CREATE INDEX customers_lifecycle ON customers(lifecycle);
        CREATE INDEX customers_company ON customers(company COLLATE NOCASE);
        CREATE INDEX customers_name ON customers(name);
        CREATE INDEX customers_owner ON customers(owner);

        CREATE TABLE customer_tags (
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (customer_id, tag)
        ) WITHOUT ROWID;
        CREATE INDEX customer_tags_tag ON customer_tags(tag, customer_id);

        -- Substring search over name/email/phone/company, Chinese included (trigram).
        CREATE VIRTUAL TABLE customers_fts USING fts5(
            name, email, phone, company,
            content='customers', content_rowid='id', tokenize='trigram'
        );
        CREATE TRIGGER customers_fts_ai AFTER INSERT ON customers BEGIN
            INSERT INTO customers_fts(rowid, name, email, phone, company)
            VALUES (new.id, new.name, new.email, new.phone, new.company);
        END;
        CREATE TRIGGER customers_fts_ad AFTER DELETE ON customers BEGIN
            INSERT INTO customers_fts(customers_fts, rowid, name, email, phone, company)
            VALUES ('delete', old.id, old.name, old.email, old.phone, old.company);
        END;
        CREATE TRIGGER customers_fts_au AFTER UPDATE OF name, email, phone, company ON customers
        BEGIN
            INSERT INTO customers_fts(customers_fts, rowid, name, email, phone, company)
            VALUES ('delete', old.id, old.name, old.email, old.phone, old.company);
            INSERT INTO customers_fts(rowid, name, email, phone, company)
            VALUES (new.id, new.name, new.email, new.phone, new.company);
        END;

        CREATE TABLE communications (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            channel TEXT NOT NULL CHECK (channel IN
                ('phone', 'email', 'meeting', 'chat', 'sms', 'visit', 'social', 'other')),
            direction TEXT NOT NULL DEFAULT 'outbound'
                CHECK (direction IN ('inbound', 'outbound')),
            occurred_at TEXT NOT NULL,
            subject TEXT,
            content TEXT,
            agent TEXT,
            duration_s INTEGER,
            follow_up_at TEXT,
            done_at TEXT,
            external_id TEXT UNIQUE,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX communications_customer ON communications(customer_id, occurred_at);
        CREATE INDEX communications_occurred ON communications(occurred_at);
        CREATE INDEX communications_agent ON communications(agent, occurred_at);
        CREATE INDEX communications_due ON communications(follow_up_at)
            WHERE follow_up_at IS NOT NULL AND done_at IS NULL;

        CREATE TABLE agents (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            email TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            max_open INTEGER,
            created_at TEXT NOT NULL
        );
        CREATE TABLE agent_skills (
            agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
            category TEXT NOT NULL,
            PRIMARY KEY (agent_id, category)
        ) WITHOUT ROWID;

        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            external_id TEXT UNIQUE,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            subject TEXT NOT NULL,
            description TEXT,
            category TEXT,
            priority TEXT NOT NULL DEFAULT 'normal'
                CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
            status TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'in_progress', 'waiting', 'resolved', 'closed')),
            channel TEXT,
            assignee TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            first_response_at TEXT,
            resolved_at TEXT,
            closed_at TEXT,
            response_due_at TEXT,
            due_at TEXT,
            satisfaction INTEGER CHECK (satisfaction BETWEEN 1 AND 5),
            satisfaction_comment TEXT
        );
        CREATE INDEX tickets_customer ON tickets(customer_id);
        CREATE INDEX tickets_status ON tickets(status, priority);
        CREATE INDEX tickets_assignee ON tickets(assignee, status);
        CREATE INDEX tickets_created ON tickets(created_at);
        CREATE INDEX tickets_category ON tickets(category);

        CREATE TABLE ticket_events (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT,
            kind TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT,
            body TEXT,
            internal INTEGER NOT NULL DEFAULT 0,
            details TEXT
        );
        CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, at);

        CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            channel TEXT NOT NULL,
            description TEXT,
            starts_at TEXT,
            ends_at TEXT,
            cost INTEGER NOT NULL DEFAULT 0,
            currency TEXT NOT NULL DEFAULT 'CNY',
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'active', 'closed')),
            segment TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE campaign_members (
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            variant TEXT NOT NULL,
            contacted_at TEXT,
            result TEXT NOT NULL DEFAULT 'pending'
                CHECK (result IN ('pending', 'success', 'failure')),
            responded_at TEXT,
            revenue INTEGER,
            PRIMARY KEY (campaign_id, customer_id)
        ) WITHOUT ROWID;
        CREATE INDEX campaign_members_customer ON campaign_members(customer_id);

        CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            external_id TEXT UNIQUE,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            ordered_at TEXT NOT NULL,
            amount INTEGER NOT NULL,
            currency TEXT NOT NULL DEFAULT 'CNY',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX orders_customer ON orders(customer_id, ordered_at);
        CREATE INDEX orders_ordered ON orders(ordered_at);

        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT,
            details TEXT,
            prev_hash TEXT,
            hash TEXT
        );
        CREATE INDEX audit_log_entity ON audit_log(entity, entity_id);
        CREATE INDEX audit_log_at ON audit_log(at);

        -- Small key/value store: assignment cursors, export watermarks, policies.
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )


@migration
def m020_ticket_sla_clock(db: Database) -> None:
    """Tickets: the paused SLA clock (waiting/resolved stop it), when CSAT was given."""
    db.script(
        """
        ALTER TABLE tickets ADD COLUMN sla_paused_at TEXT;
        ALTER TABLE tickets ADD COLUMN sla_paused_seconds INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE tickets ADD COLUMN rated_at TEXT;
        CREATE INDEX tickets_due ON tickets(due_at);
        CREATE INDEX tickets_resolved ON tickets(resolved_at);
        CREATE INDEX ticket_events_kind ON ticket_events(kind, at);
        """
    )


@migration
def m070_change_log(db: Database) -> None:
    """Change tracking for incremental warehouse exports (`crm export warehouse --incremental`).

    Triggers append (entity, key) to change_log on every insert, update and delete; `seq`
    (AUTOINCREMENT, never reused) is the export watermark. A key whose row no longer exists
    is exported as a deletion. Tags and skills count as changes of their customer / agent.
    """
    db.script(
        """
        CREATE TABLE change_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            entity TEXT NOT NULL,
            key1 INTEGER NOT NULL,
            key2 INTEGER NOT NULL DEFAULT 0
        );
        """
    )
    tracked = {
        # table: (entity logged, key1 column, key2 column or None)
        "customers": ("customers", "id", None),
        "customer_tags": ("customers", "customer_id", None),
        "agents": ("agents", "id", None),
        "agent_skills": ("agents", "agent_id", None),
        "campaigns": ("campaigns", "id", None),
        "communications": ("communications", "id", None),
        "tickets": ("tickets", "id", None),
        "ticket_events": ("ticket_events", "id", None),
        "campaign_members": ("campaign_members", "campaign_id", "customer_id"),
        "orders": ("orders", "id", None),
    }
    for table, (entity, k1, k2) in tracked.items():
        for event, ref in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old")):
            key2 = f"{ref}.{k2}" if k2 else "0"
            extra = ""
            if event == "UPDATE":
                # A changed key is a deletion of the old key as well.
                old2 = f"old.{k2}" if k2 else "0"
                extra = (
                    f" INSERT INTO change_log(entity, key1, key2) SELECT '{entity}', old.{k1},"
                    f" {old2} WHERE old.{k1} IS NOT new.{k1}"
                    + (f" OR old.{k2} IS NOT new.{k2}" if k2 else "")
                    + ";"
                )
            db.execute(
                f"CREATE TRIGGER change_log_{table}_{event.lower()} AFTER {event} ON {table}"
                f" BEGIN INSERT INTO change_log(entity, key1, key2)"
                f" VALUES ('{entity}', {ref}.{k1}, {key2});{extra} END"
            )


@migration
def m050_audit_append_only(db: Database) -> None:
    """Audit log: digest column, redaction ledger, append-only triggers (see db/audit.py).

    Rows written before this migration were chained over their details text and had no
    protection; they are re-sealed over the digest once, then the triggers take over.
    """
    db.script(
        """
        ALTER TABLE audit_log ADD COLUMN details_sha256 TEXT;
        CREATE TABLE audit_redactions (
            id INTEGER PRIMARY KEY,
            audit_id INTEGER NOT NULL REFERENCES audit_log(id),
            by_audit_id INTEGER NOT NULL REFERENCES audit_log(id),
            at TEXT NOT NULL,
            details TEXT
        );
        CREATE INDEX audit_redactions_audit ON audit_redactions(audit_id);
        CREATE INDEX audit_log_action ON audit_log(action, id);
        """
    )
    _m050_reseal(db)
    db.script(
        """
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted');
        END;
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        WHEN NOT (
            new.id IS old.id AND new.at IS old.at AND new.actor IS old.actor
            AND new.action IS old.action AND new.entity IS old.entity
            AND new.entity_id IS old.entity_id AND new.prev_hash IS old.prev_hash
            AND new.hash IS old.hash AND new.details_sha256 IS old.details_sha256
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
        CREATE TRIGGER audit_redactions_no_delete BEFORE DELETE ON audit_redactions
        BEGIN
            SELECT RAISE(ABORT, 'audit_redactions is append-only');
        END;
        """
    )


# -- frozen helpers of m050 (copies: a shipped migration must not follow live code) ----------
def _m050_digest(details: str | None) -> str | None:
    return None if details is None else hashlib.sha256(details.encode("utf-8")).hexdigest()


def _m050_row_hash(prev_hash: str | None, row: dict[str, Any]) -> str:
    fields = [row["at"], row["actor"], row["action"], row["entity"], row["entity_id"]]
    text = json.dumps([*fields, row["details_sha256"]], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(((prev_hash or "") + text).encode("utf-8")).hexdigest()


def _m050_legacy_hash(prev_hash: str | None, row: dict[str, Any]) -> str:
    fields = [row["at"], row["actor"], row["action"], row["entity"], row["entity_id"]]
    text = json.dumps([*fields, row["details"]], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(((prev_hash or "") + text).encode("utf-8")).hexdigest()


def _m050_reseal(db: Database) -> None:
    """Re-chain rows written before m050 over their details' digests, once.

    The old chain is verified first and the outcome recorded as a `reseal` entry, so a
    chain that was already broken is not silently laundered."""
    from crmcli.core.clock import now_iso

    prev: str | None = None
    new_prev: str | None = None
    first_broken: int | None = None
    count = 0
    for row in db.query("SELECT * FROM audit_log ORDER BY id"):
        if first_broken is None and (
            row["prev_hash"] != prev or row["hash"] != _m050_legacy_hash(prev, row)
        ):
            first_broken = int(row["id"])
        prev = row["hash"]
        row["details_sha256"] = _m050_digest(row["details"])
        digest = _m050_row_hash(new_prev, row)
        db.execute(
            "UPDATE audit_log SET details_sha256 = ?, prev_hash = ?, hash = ? WHERE id = ?",
            (row["details_sha256"], new_prev, digest, row["id"]),
        )
        new_prev = digest
        count += 1
    if not count:
        return
    details = json.dumps(
        {
            "first_broken_id": first_broken,
            "legacy_chain_intact": first_broken is None,
            "rows": count,
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    row = {
        "at": now_iso(),
        "actor": db.actor,
        "action": "reseal",
        "entity": "audit_log",
        "entity_id": None,
        "details": details,
        "details_sha256": _m050_digest(details),
    }
    db.execute(
        "INSERT INTO audit_log(at, actor, action, entity, entity_id, details,"
        " details_sha256, prev_hash, hash) VALUES (:at, :actor, :action, :entity,"
        " :entity_id, :details, :details_sha256, :prev_hash, :hash)",
        {**row, "prev_hash": new_prev, "hash": _m050_row_hash(new_prev, row)},
    )


@migration
def m010_comm_hourly(db: Database) -> None:
    """Communications counted per UTC hour, channel and direction, kept in sync by triggers.

    `crm report comm` aggregates these few rows per hour (not millions of communications)
    into local days, weeks and months. The key is the stored time's first 13 characters
    ('YYYY-MM-DDTHH'); rows whose count falls to zero are removed.
    """
    db.script(
        """
        CREATE TABLE comm_hourly (
            hour_utc TEXT NOT NULL,
            channel TEXT NOT NULL,
            direction TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (hour_utc, channel, direction)
        ) WITHOUT ROWID;
        INSERT INTO comm_hourly(hour_utc, channel, direction, n)
            SELECT substr(occurred_at, 1, 13), channel, direction, count(*)
            FROM communications GROUP BY 1, 2, 3;
        CREATE TRIGGER comm_hourly_ai AFTER INSERT ON communications BEGIN
            INSERT INTO comm_hourly(hour_utc, channel, direction, n)
            VALUES (substr(new.occurred_at, 1, 13), new.channel, new.direction, 1)
            ON CONFLICT(hour_utc, channel, direction) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER comm_hourly_ad AFTER DELETE ON communications BEGIN
            UPDATE comm_hourly SET n = n - 1
            WHERE hour_utc = substr(old.occurred_at, 1, 13)
              AND channel = old.channel AND direction = old.direction;
            DELETE FROM comm_hourly
            WHERE hour_utc = substr(old.occurred_at, 1, 13)
              AND channel = old.channel AND direction = old.direction AND n <= 0;
        END;
        CREATE TRIGGER comm_hourly_au AFTER UPDATE OF occurred_at, channel, direction
        ON communications BEGIN
            UPDATE comm_hourly SET n = n - 1
            WHERE hour_utc = substr(old.occurred_at, 1, 13)
              AND channel = old.channel AND direction = old.direction;
            DELETE FROM comm_hourly
            WHERE hour_utc = substr(old.occurred_at, 1, 13)
              AND channel = old.channel AND direction = old.direction AND n <= 0;
            INSERT INTO comm_hourly(hour_utc, channel, direction, n)
            VALUES (substr(new.occurred_at, 1, 13), new.channel, new.direction, 1)
            ON CONFLICT(hour_utc, channel, direction) DO UPDATE SET n = n + 1;
        END;
        """
    )


@migration
def m040_reporting_indexes(db: Database) -> None:
    """Covering indexes for the dashboard's aggregates (reports issue #6).

    orders(ordered_at, currency, amount): revenue per window without a table lookup per
    order; customers(lifecycle, created_at, erased_at): the customer base by lifecycle at two
    points in time from the index alone.
    """
    db.script(
        """
        CREATE INDEX IF NOT EXISTS orders_report ON orders(ordered_at, currency, amount);
        CREATE INDEX IF NOT EXISTS customers_report
            ON customers(lifecycle, created_at, erased_at);
        """
    )


# ---------------------------------------------------------------- sales (#15): m200-m239

_DEFAULT_STAGES = (
    # name, alias, position, probability, kind
    ("lead", "线索", 1, 10, "open"),
    ("qualified", "商机确认", 2, 25, "open"),
    ("proposal", "方案报价", 3, 50, "open"),
    ("negotiation", "谈判", 4, 75, "open"),
    ("won", "赢单", 90, 100, "won"),
    ("lost", "输单", 91, 0, "lost"),
)


def _m200_company_key(text: str) -> str:
    """The normalised company name as of m200 (NFKC, whitespace folded, case-folded).

    A frozen copy: migrations never call live application code."""
    import unicodedata

    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


@migration
def m200_companies(db: Database) -> None:
    """Companies (accounts), customers.company_id, and the free-text customers.company moved
    into one company per distinct normalised name.

    The company's name is the spelling most customers used (ties: the earliest customer's).
    customers.company keeps its text, so search, `--company` and `company~` find the same
    customers as before.
    """
    db.script(
        """
        CREATE TABLE companies (
            id INTEGER PRIMARY KEY,
            external_id TEXT UNIQUE,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            domain TEXT UNIQUE,
            industry TEXT,
            size INTEGER CHECK (size IS NULL OR size >= 0),
            owner TEXT,
            notes TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX companies_industry ON companies(industry);
        CREATE INDEX companies_owner ON companies(owner);
        CREATE INDEX companies_size ON companies(size);
        CREATE TABLE company_tags (
            company_id INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (company_id, tag)
        ) WITHOUT ROWID;
        CREATE INDEX company_tags_tag ON company_tags(tag, company_id);
        ALTER TABLE customers ADD COLUMN company_id INTEGER
            REFERENCES companies(id) ON DELETE SET NULL;
        CREATE INDEX customers_company_id ON customers(company_id);
        CREATE TEMP TABLE _m200_map (spelling TEXT PRIMARY KEY, company_id INTEGER NOT NULL);
        """
    )
    from datetime import UTC, datetime

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    best: dict[str, tuple[int, int, str]] = {}  # key -> (-customers, first id, name)
    spellings: dict[str, str] = {}  # stored text -> key
    for text, n, first in db.execute(
        "SELECT company, count(*), min(id) FROM customers"
        " WHERE company IS NOT NULL GROUP BY company"
    ).fetchall():
        key = _m200_company_key(text)
        if not key:
            continue
        spellings[text] = key
        name = " ".join(str(text).split())
        candidate = (-int(n), int(first), name)
        if key not in best or candidate < best[key]:
            best[key] = candidate
    ids: dict[str, int] = {}
    for key, (_, _, name) in sorted(best.items(), key=lambda kv: kv[1][1]):
        cur = db.execute(
            "INSERT INTO companies(name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (name, key, now, now),
        )
        ids[key] = int(cur.lastrowid or 0)
    db.executemany(
        "INSERT INTO _m200_map(spelling, company_id) VALUES (?, ?)",
        [(text, ids[key]) for text, key in spellings.items()],
    )
    db.execute(
        "UPDATE customers SET company_id ="
        " (SELECT m.company_id FROM _m200_map m WHERE m.spelling = customers.company)"
        " WHERE company IN (SELECT spelling FROM _m200_map)"
    )
    db.execute("DROP TABLE _m200_map")


@migration
def m201_deals(db: Database) -> None:
    """Deals (opportunities), their configurable stages and their history; deal links on
    communications and tickets."""
    db.script(
        """
        CREATE TABLE deal_stages (
            name TEXT PRIMARY KEY,
            alias TEXT UNIQUE,
            position INTEGER NOT NULL,
            probability INTEGER NOT NULL CHECK (probability BETWEEN 0 AND 100),
            kind TEXT NOT NULL DEFAULT 'open' CHECK (kind IN ('open', 'won', 'lost'))
        );
        CREATE TABLE deals (
            id INTEGER PRIMARY KEY,
            external_id TEXT UNIQUE,
            customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE,
            company_id INTEGER REFERENCES companies(id),
            title TEXT NOT NULL,
            amount INTEGER NOT NULL,
            currency TEXT NOT NULL DEFAULT 'CNY',
            stage TEXT NOT NULL REFERENCES deal_stages(name) ON UPDATE CASCADE,
            probability INTEGER CHECK (probability IS NULL OR probability BETWEEN 0 AND 100),
            close_date TEXT,
            owner TEXT,
            source TEXT,
            campaign_id INTEGER REFERENCES campaigns(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            stage_changed_at TEXT NOT NULL,
            won_at TEXT,
            lost_at TEXT,
            lost_reason TEXT,
            CHECK (customer_id IS NOT NULL OR company_id IS NOT NULL)
        );
        CREATE INDEX deals_stage ON deals(stage, stage_changed_at);
        CREATE INDEX deals_owner ON deals(owner, stage);
        CREATE INDEX deals_customer ON deals(customer_id);
        CREATE INDEX deals_company ON deals(company_id);
        CREATE INDEX deals_close ON deals(close_date);
        CREATE INDEX deals_campaign ON deals(campaign_id) WHERE campaign_id IS NOT NULL;
        CREATE INDEX deals_created ON deals(created_at);
        CREATE INDEX deals_won ON deals(won_at) WHERE won_at IS NOT NULL;
        CREATE INDEX deals_lost ON deals(lost_at) WHERE lost_at IS NOT NULL;
        CREATE TABLE deal_events (
            id INTEGER PRIMARY KEY,
            deal_id INTEGER NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT,
            kind TEXT NOT NULL,
            from_stage TEXT,
            to_stage TEXT,
            amount INTEGER,
            close_date TEXT,
            probability INTEGER,
            note TEXT
        );
        CREATE INDEX deal_events_deal ON deal_events(deal_id, at);
        CREATE INDEX deal_events_at ON deal_events(at);
        ALTER TABLE communications ADD COLUMN deal_id INTEGER
            REFERENCES deals(id) ON DELETE SET NULL;
        CREATE INDEX communications_deal ON communications(deal_id, occurred_at)
            WHERE deal_id IS NOT NULL;
        ALTER TABLE tickets ADD COLUMN deal_id INTEGER REFERENCES deals(id) ON DELETE SET NULL;
        CREATE INDEX tickets_deal ON tickets(deal_id) WHERE deal_id IS NOT NULL;
        """
    )
    db.executemany(
        "INSERT INTO deal_stages(name, alias, position, probability, kind) VALUES (?, ?, ?, ?, ?)",
        _DEFAULT_STAGES,
    )
    for table, entity in (("companies", "companies"), ("company_tags", "companies"),
                          ("deals", "deals"), ("deal_events", "deal_events")):  # fmt: skip
        key = "company_id" if table == "company_tags" else "id"
        for event, ref in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old")):
            db.execute(
                f"CREATE TRIGGER change_log_{table}_{event.lower()} AFTER {event} ON {table}"
                f" BEGIN INSERT INTO change_log(entity, key1, key2)"
                f" VALUES ('{entity}', {ref}.{key}, 0); END"
            )


@migration
def m202_custom_fields(db: Database) -> None:
    """Custom fields: definitions per entity and one typed, indexed values table.

    Numbers and booleans sit in value_num, text, choices and dates (YYYY-MM-DD) in
    value_text; (field_id, value) indexes make a segment on one field an index range scan.
    Deleting a record deletes its values.
    """
    db.script(
        """
        CREATE TABLE custom_fields (
            id INTEGER PRIMARY KEY,
            entity TEXT NOT NULL CHECK (entity IN ('customer', 'company', 'deal', 'ticket')),
            name TEXT NOT NULL,
            type TEXT NOT NULL CHECK (type IN ('text', 'number', 'date', 'bool', 'choice')),
            choices TEXT,
            label TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (entity, name)
        );
        CREATE TABLE custom_values (
            field_id INTEGER NOT NULL REFERENCES custom_fields(id) ON DELETE CASCADE,
            entity_id INTEGER NOT NULL,
            value_text TEXT,
            value_num REAL,
            PRIMARY KEY (field_id, entity_id)
        ) WITHOUT ROWID;
        CREATE INDEX custom_values_text ON custom_values(field_id, value_text)
            WHERE value_text IS NOT NULL;
        CREATE INDEX custom_values_num ON custom_values(field_id, value_num)
            WHERE value_num IS NOT NULL;
        CREATE INDEX custom_values_entity ON custom_values(entity_id, field_id);
        """
    )
    for table, entity in (("customers", "customer"), ("companies", "company"),
                          ("deals", "deal"), ("tickets", "ticket")):  # fmt: skip
        db.execute(
            f"CREATE TRIGGER custom_values_{table}_ad AFTER DELETE ON {table} BEGIN"
            f" DELETE FROM custom_values WHERE entity_id = old.id AND field_id IN"
            f" (SELECT id FROM custom_fields WHERE entity = '{entity}'); END"
        )
    for event, ref in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old")):
        db.execute(
            f"CREATE TRIGGER change_log_custom_values_{event.lower()} AFTER {event}"
            f" ON custom_values BEGIN INSERT INTO change_log(entity, key1, key2)"
            f" VALUES ('custom_values', {ref}.field_id, {ref}.entity_id); END"
        )


@migration
def m180_drop_pickled_classifier(db: Database) -> None:
    """Drop a ticket classifier stored as a pickle (issue #14: unpickling data from the
    database runs code). The classifier is now plain data (JSON with base64 float arrays);
    an old model is never loaded, so it is removed with its metadata and the user retrains
    with `crm ticket classify --train`.
    """
    db.execute(
        "DELETE FROM settings WHERE key IN ('tickets.classifier.model', 'tickets.classifier.meta')"
        " AND NOT EXISTS (SELECT 1 FROM settings WHERE key = 'tickets.classifier.model'"
        ' AND substr(value, 1, 36) = \'{"format":"crmcli.ticket-classifier"\')'
    )


@migration
def m150_keyed_audit_chain(db: Database) -> None:
    """Audit log keyed (security #14): an HMAC chain under a per-database secret kept
    outside the database (core/keys.py), over audit_log and audit_redactions.

    Adds `mac` to both tables and `audit_seal` (the database's random id and its row count).
    The existing SHA-256 chain is verified first and the outcome recorded in a `seal` entry
    (so a chain that was already broken is not laundered); then every row is MACed.
    """
    import secrets as _secrets

    from crmcli.core.clock import now_iso

    db.script(
        """
        ALTER TABLE audit_log ADD COLUMN mac TEXT;
        ALTER TABLE audit_redactions ADD COLUMN mac TEXT;
        CREATE TABLE audit_seal (
            db_id TEXT NOT NULL,
            rows INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        DROP TRIGGER IF EXISTS audit_log_no_update;
        DROP TRIGGER IF EXISTS audit_redactions_no_update;
        """
    )
    db_id = _secrets.token_hex(16)
    key = _m150_create_key(db_id)
    # The unkeyed chain as it stands (frozen copy of the m050 formulas).
    prev: str | None = None
    first_broken: int | None = None
    rows = db.query("SELECT * FROM audit_log ORDER BY id")
    for row in rows:
        if first_broken is None and (
            row["prev_hash"] != prev
            or row["hash"] != _m050_row_hash(prev, row)
            or (
                _m050_digest(row["details"]) != row["details_sha256"]
                and not db.scalar(
                    "SELECT 1 FROM audit_redactions WHERE audit_id = ? AND details IS ?",
                    (row["id"], row["details"]),
                )
            )
        ):
            first_broken = int(row["id"])
        prev = row["hash"]
    prev_mac: str | None = None
    for row in rows:
        prev_mac = _m150_mac_row(key, prev_mac, row)
        db.execute("UPDATE audit_log SET mac = ? WHERE id = ?", (prev_mac, row["id"]))
    prev_mac_r: str | None = None
    for r in db.query("SELECT * FROM audit_redactions ORDER BY id"):
        prev_mac_r = _m150_mac_redaction(key, prev_mac_r, r)
        db.execute("UPDATE audit_redactions SET mac = ? WHERE id = ?", (prev_mac_r, r["id"]))
    at = now_iso()
    db.execute(
        "INSERT INTO audit_seal(db_id, rows, created_at) VALUES (?, ?, ?)", (db_id, len(rows), at)
    )
    if rows:
        last = rows[-1]
        details = json.dumps(
            {"rows": len(rows), "sha_chain_intact": first_broken is None,
             "first_broken_id": first_broken},
            ensure_ascii=False, sort_keys=True,
        )  # fmt: skip
        row = {
            "id": int(last["id"]) + 1, "at": at, "actor": db.actor, "action": "seal",
            "entity": "audit_log", "entity_id": None, "details": details,
            "details_sha256": _m050_digest(details),
        }  # fmt: skip
        prev_mac = _m150_mac_row(key, prev_mac, row)
        db.execute(
            "INSERT INTO audit_log(id, at, actor, action, entity, entity_id, details,"
            " details_sha256, prev_hash, hash, mac) VALUES (:id, :at, :actor, :action, :entity,"
            " :entity_id, :details, :details_sha256, :prev_hash, :hash, :mac)",
            {**row, "prev_hash": last["hash"], "hash": _m050_row_hash(last["hash"], row),
             "mac": prev_mac},
        )  # fmt: skip
        db.execute("UPDATE audit_seal SET rows = rows + 1")
    db.script(
        """
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
        CREATE TRIGGER audit_seal_no_delete BEFORE DELETE ON audit_seal
        BEGIN
            SELECT RAISE(ABORT, 'audit_seal cannot be deleted');
        END;
        """
    )
    count = db.scalar("SELECT rows FROM audit_seal")
    last_row = db.query_one("SELECT id, mac FROM audit_log ORDER BY id DESC LIMIT 1")
    head = {"rows": int(count), "id": last_row["id"] if last_row else None,
            "mac": last_row["mac"] if last_row else None}  # fmt: skip
    db.after_commit(lambda: _m150_write_head(db_id, head))


# -- frozen helpers of m150 ---------------------------------------------------------------
def _m150_key_dir() -> Path:
    env = os.environ.get("CRM_KEY_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("crmcli", appauthor=False)) / "keys"


def _m150_create_key(db_id: str) -> bytes:
    import secrets as _secrets

    folder = _m150_key_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    key = _secrets.token_bytes(32)
    fd = os.open(
        folder / f"{db_id}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600
    )
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (key.hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def _m150_write_head(db_id: str, head: dict[str, Any]) -> None:
    import contextlib

    with contextlib.suppress(OSError):
        path = _m150_key_dir() / f"{db_id}.head"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, json.dumps(head, sort_keys=True).encode("utf-8") + b"\n")
        finally:
            os.close(fd)


def _m150_mac_row(key: bytes, prev_mac: str | None, row: dict[str, Any]) -> str:
    import hmac

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


def _m150_mac_redaction(key: bytes, prev_mac: str | None, row: dict[str, Any]) -> str:
    import hmac

    fields = [row["id"], row["audit_id"], row["by_audit_id"], row["at"], row["details"]]
    text = (
        "redaction/v1\n"
        + (prev_mac or "")
        + "\n"
        + json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    )
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


@migration
def m151_pending_purges(db: Database) -> None:
    """Erasure that completes (security #14): `customer forget` commits, with the erasure,
    what is left to remove outside the database (outbox e-mails, rejects files, warehouse
    temporary files); the same or a later run, or `crm db check --repair`, finishes it."""
    db.script(
        """
        CREATE TABLE pending_purges (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            work TEXT NOT NULL,
            done_at TEXT,
            result TEXT
        );
        CREATE INDEX pending_purges_open ON pending_purges(done_at);
        """
    )


@migration
def m203_deal_events_covering(db: Database) -> None:
    """deal_events(deal_id, at, kind, to_stage) replaces deal_events(deal_id, at): the
    pipeline report's per-deal lookups (the last event up to T, the last stage change, the
    stages a deal was moved into) read the index alone."""
    db.script(
        """
        CREATE INDEX deal_events_deal_state ON deal_events(deal_id, at, kind, to_stage);
        DROP INDEX deal_events_deal;
        """
    )


@migration
def m130_application_id(db: Database) -> None:
    """Mark the file as a crmcli database (`PRAGMA application_id` = 0x43524D31, "CRM1"):
    every command refuses an SQLite file holding other tables without it (db/__init__.py)."""
    db.execute("PRAGMA application_id = 1129467185")


@migration
def m131_customer_contacts(db: Database) -> None:
    """A customer's secondary contact points: the other emails, phones and addresses a merge
    kept (`merged_from` names the merged customer). Searched, shown, exported and used for
    matching next to the primary fields (db/customers.py)."""
    db.script(
        """
        CREATE TABLE customer_contacts (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('email', 'phone', 'address')),
            value TEXT NOT NULL,
            merged_from INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (customer_id, kind, value)
        );
        CREATE INDEX customer_contacts_value ON customer_contacts(kind, value);
        """
    )


@migration
def m100_customer_phone_ext(db: Database) -> None:
    """Phones keep their extension (`ext. 123`, `x123`, `转123`) and a flag for numbers that
    are valid only read in the default region but written in NANP grouping (import #12)."""
    db.script(
        """
        ALTER TABLE customers ADD COLUMN phone_ext TEXT;
        ALTER TABLE customers ADD COLUMN phone_suspect INTEGER NOT NULL DEFAULT 0
            CHECK (phone_suspect IN (0, 1));
        """
    )


@migration
def m101_order_lines(db: Database) -> None:
    """Rows of an ERP export sharing an order id are lines of one order (import #12): the
    order's amount is the sum of its lines."""
    db.script(
        """
        CREATE TABLE order_lines (
            order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            line_no INTEGER NOT NULL,
            sku TEXT,
            product TEXT,
            quantity REAL,
            unit_price INTEGER,
            amount INTEGER NOT NULL,
            PRIMARY KEY (order_id, line_no)
        ) WITHOUT ROWID;
        """
    )


@migration
def m270_orders_customer_value(db: Database) -> None:
    """orders(customer_id, ordered_at, amount, currency): `report value` and the dashboard
    read every order's amount and currency in customer order (crmcli.db.order_stats.
    customer_summaries) from the index alone, with no table lookup per order and no sort.
    It replaces orders_customer (customer_id, ordered_at), a prefix of it: every query that
    used that one can use this one, and an import maintains one index instead of two."""
    db.script(
        """
        CREATE INDEX IF NOT EXISTS orders_customer_value
            ON orders(customer_id, ordered_at, amount, currency);
        DROP INDEX IF EXISTS orders_customer;
        """
    )


@migration
def m280_search_index_pending(db: Database) -> None:
    """Customer search indexed after a big import commits (#12, the write lock): the ranges of
    customer ids not in customers_fts yet. The search index triggers skip them (an FTS5
    'delete' of a row never indexed corrupts the index), search also scans them with LIKE
    (db/customers.py), and db/search_index.py indexes them in short transactions."""
    db.script(
        """
        CREATE TABLE customers_fts_pending (
            lo INTEGER PRIMARY KEY,
            hi INTEGER NOT NULL CHECK (hi >= lo)
        );
        DROP TRIGGER customers_fts_ai;
        DROP TRIGGER customers_fts_ad;
        DROP TRIGGER customers_fts_au;
        CREATE TRIGGER customers_fts_ai AFTER INSERT ON customers
        WHEN NOT EXISTS (SELECT 1 FROM customers_fts_pending p
                         WHERE p.lo <= new.id AND p.hi >= new.id)
        BEGIN
            INSERT INTO customers_fts(rowid, name, email, phone, company)
            VALUES (new.id, new.name, new.email, new.phone, new.company);
        END;
        CREATE TRIGGER customers_fts_ad AFTER DELETE ON customers
        WHEN NOT EXISTS (SELECT 1 FROM customers_fts_pending p
                         WHERE p.lo <= old.id AND p.hi >= old.id)
        BEGIN
            INSERT INTO customers_fts(customers_fts, rowid, name, email, phone, company)
            VALUES ('delete', old.id, old.name, old.email, old.phone, old.company);
        END;
        CREATE TRIGGER customers_fts_au AFTER UPDATE OF name, email, phone, company ON customers
        WHEN NOT EXISTS (SELECT 1 FROM customers_fts_pending p
                         WHERE p.lo <= old.id AND p.hi >= old.id)
        BEGIN
            INSERT INTO customers_fts(customers_fts, rowid, name, email, phone, company)
            VALUES ('delete', old.id, old.name, old.email, old.phone, old.company);
            INSERT INTO customers_fts(rowid, name, email, phone, company)
            VALUES (new.id, new.name, new.email, new.phone, new.company);
        END;
        """
    )


@migration
def m281_deferred_indexes(db: Database) -> None:
    """Secondary indexes a big import dropped and builds again after its commit, one short
    transaction each (#12, the write lock; db/indexes.py). A migration that drops an index
    for good also deletes its row here."""
    db.script(
        """
        CREATE TABLE deferred_indexes (
            name TEXT PRIMARY KEY,
            tbl TEXT NOT NULL,
            sql TEXT NOT NULL
        );
        """
    )


@migration
@rebuilds_tables
def m330_customers_external_id_index(db: Database) -> None:
    """customers.external_id's uniqueness becomes a separate index (customers_external_id)
    instead of a constraint of the table (#12, the write lock): a big customer import can
    then drop it and build it once by sorting, as it does the email index, instead of
    inserting a million keys into it at random places while other writers wait. The table is
    rebuilt with the same columns in the same order; its indexes and triggers are made again
    from their SQL."""
    saved = [
        str(r[0])
        for r in db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'customers'"
            " AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
        )
    ]
    db.execute("PRAGMA legacy_alter_table = ON")  # (the rename leaves other SQL alone)
    try:
        db.script(
            """
            CREATE TABLE customers_m330 (
                id INTEGER PRIMARY KEY,
                external_id TEXT,
                name TEXT NOT NULL,
                phone TEXT,
                email TEXT,
                address TEXT,
                company TEXT,
                lifecycle TEXT NOT NULL DEFAULT 'lead'
                    CHECK (lifecycle IN ('lead', 'prospect', 'customer', 'churned')),
                owner TEXT,
                notes TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                erased_at TEXT,
                company_id INTEGER REFERENCES companies(id) ON DELETE SET NULL,
                phone_ext TEXT,
                phone_suspect INTEGER NOT NULL DEFAULT 0 CHECK (phone_suspect IN (0, 1))
            );
            INSERT INTO customers_m330(id, external_id, name, phone, email, address, company,
                lifecycle, owner, notes, created_at, updated_at, erased_at, company_id,
                phone_ext, phone_suspect)
            SELECT id, external_id, name, phone, email, address, company, lifecycle, owner,
                notes, created_at, updated_at, erased_at, company_id, phone_ext, phone_suspect
            FROM customers ORDER BY id;
            DROP TABLE customers;
            ALTER TABLE customers_m330 RENAME TO customers;
            """
        )
    finally:
        db.execute("PRAGMA legacy_alter_table = OFF")
    for sql in saved:
        db.execute(sql)
    db.execute(
        "CREATE UNIQUE INDEX customers_external_id ON customers(external_id)"
        " WHERE external_id IS NOT NULL"
    )


@migration
def m331_customers_unique_guard(db: Database) -> None:
    """A big customer import builds the UNIQUE indexes of email and external_id after its
    commit, in short transactions of their own (#12, the write lock; db/indexes.py), like its
    other indexes. Until each is built (its row in deferred_indexes), these triggers enforce
    its uniqueness: a write that would give a second customer the same email or external id
    fails as the index would have failed it."""
    db.script(
        """
        CREATE TRIGGER customers_unique_guard_insert BEFORE INSERT ON customers
        WHEN EXISTS (SELECT 1 FROM deferred_indexes
                     WHERE name IN ('customers_email', 'customers_external_id'))
        BEGIN
            SELECT RAISE(ABORT, 'UNIQUE constraint failed: customers.email')
            WHERE new.email IS NOT NULL
              AND EXISTS (SELECT 1 FROM deferred_indexes WHERE name = 'customers_email')
              AND EXISTS (SELECT 1 FROM customers WHERE email = new.email);
            SELECT RAISE(ABORT, 'UNIQUE constraint failed: customers.external_id')
            WHERE new.external_id IS NOT NULL
              AND EXISTS (SELECT 1 FROM deferred_indexes WHERE name = 'customers_external_id')
              AND EXISTS (SELECT 1 FROM customers WHERE external_id = new.external_id);
        END;
        CREATE TRIGGER customers_unique_guard_update BEFORE UPDATE OF email, external_id
        ON customers
        WHEN EXISTS (SELECT 1 FROM deferred_indexes
                     WHERE name IN ('customers_email', 'customers_external_id'))
        BEGIN
            SELECT RAISE(ABORT, 'UNIQUE constraint failed: customers.email')
            WHERE new.email IS NOT NULL AND new.email IS NOT old.email
              AND EXISTS (SELECT 1 FROM deferred_indexes WHERE name = 'customers_email')
              AND EXISTS (SELECT 1 FROM customers WHERE email = new.email AND id <> old.id);
            SELECT RAISE(ABORT, 'UNIQUE constraint failed: customers.external_id')
            WHERE new.external_id IS NOT NULL AND new.external_id IS NOT old.external_id
              AND EXISTS (SELECT 1 FROM deferred_indexes WHERE name = 'customers_external_id')
              AND EXISTS (SELECT 1 FROM customers
                          WHERE external_id = new.external_id AND id <> old.id);
        END;
        """
    )
