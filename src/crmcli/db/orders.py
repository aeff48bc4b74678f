"""Repository functions for orders (from ERP systems): import, add, list. The per-customer
aggregates of the value and loyalty models are in crmcli.db.order_stats."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from crmcli.core.clock import now_iso, to_iso
from crmcli.core.errors import CrmError, InvalidInput, NotFound
from crmcli.core.validate import (
    normalize_currency,
    normalize_email,
    normalize_phone,
    parse_datetime,
    parse_money,
)
from crmcli.db import audit, change_log
from crmcli.db.database import Database, integrity_error_to_conflict
from crmcli.importing.source import (
    CsvSource,
    ImportSummary,
    Progress,
    RejectWriter,
    default_rejects_path,
    open_csv,
)

ORDER_FIELDS = (
    "external_id",
    "customer_id",
    "customer_external_id",
    "customer_email",
    "customer_phone",
    "customer_name",
    "ordered_at",
    "amount",
    "currency",
)
ORDER_ALIASES = {
    "orderid": "external_id",
    "orderno": "external_id",
    "ordernumber": "external_id",
    "orderexternalid": "external_id",
    "订单号": "external_id",
    "订单编号": "external_id",
    "orderedat": "ordered_at",
    "orderdate": "ordered_at",
    "date": "ordered_at",
    "time": "ordered_at",
    "下单时间": "ordered_at",
    "订单日期": "ordered_at",
    "日期": "ordered_at",
    "amount": "amount",
    "total": "amount",
    "value": "amount",
    "price": "amount",
    "金额": "amount",
    "订单金额": "amount",
    "currency": "currency",
    "币种": "currency",
    "货币": "currency",
    "customer": "customer_name",
    "customername": "customer_name",
    "name": "customer_name",
    "客户": "customer_name",
    "客户名称": "customer_name",
    "姓名": "customer_name",
    "客户编号": "customer_external_id",
}
CUSTOMER_KEYS = ("id", "external_id", "email", "phone")
BATCH = 10_000
LIST_COLUMNS = "o.id, o.external_id, o.customer_id, c.name AS customer_name, o.ordered_at, o.amount, o.currency"  # noqa: E501


class _DryRun(Exception):
    """Raised inside the import transaction to roll a dry run back."""


# ------------------------------------------------------------------- fast time parsing

_ISO_TIME = re.compile(
    r"^(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


class TimeParser:
    """Stored form of order times: a regex fast path for the ISO-like forms ERP exports use
    (with the zone offset cached per local hour), the general parser for anything else."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self.offsets: dict[tuple[int, int, int, int], timedelta] = {}

    def offset(self, naive: datetime) -> timedelta:
        key = (naive.year, naive.month, naive.day, naive.hour)
        found = self.offsets.get(key)
        if found is None:
            found = naive.replace(minute=0, second=0, tzinfo=self.zone).utcoffset() or timedelta(0)
            self.offsets[key] = found
        return found

    def __call__(self, text: str) -> str:
        m = _ISO_TIME.match(text.strip())
        if m is None:
            return to_iso(parse_datetime(text, "ordered_at"))
        y, mo, d, h, mi, s, tz = m.groups()
        try:
            naive = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
        except ValueError:
            raise InvalidInput(f"invalid ordered_at {text!r}") from None
        if tz is None:
            offset = self.offset(naive)
        elif tz == "Z":
            offset = timedelta(0)
        else:
            sign = -1 if tz[0] == "-" else 1
            digits = tz[1:].replace(":", "")
            offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return (naive - offset).isoformat() + "Z"  # no microseconds: YYYY-MM-DDTHH:MM:SSZ


_PLAIN_MONEY = re.compile(r"^(-?)(\d{1,15})(?:\.(\d{1,2}))?$")


def fast_money(text: str) -> int:
    """Cents of a plain decimal ('1200', '99.5', '-3.25'); anything else (thousands
    separators, currency signs, more decimals) goes through validate.parse_money."""
    m = _PLAIN_MONEY.match(text)
    if m is None:
        return parse_money(text)
    sign, whole, frac = m.groups()
    cents = int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    return -cents if sign else cents


# ------------------------------------------------------------------- customer resolution


class CustomerResolver:
    """Finds (and with create=True, creates) the customer an order row names; memoised."""

    def __init__(self, db: Database, key: str | None, create: bool, region: str = "CN"):
        if key is not None and key not in CUSTOMER_KEYS:
            raise InvalidInput(
                f"invalid --customer-key {key!r}; choose one of: {', '.join(CUSTOMER_KEYS)}"
            )
        self.db = db
        self.key = key
        self.create = create
        self.region = region
        self.cache: dict[tuple[str, str], int] = {}
        self.created = 0
        self.stamp = now_iso()

    def _pick(self, record: dict[str, str]) -> tuple[str, str]:
        order = [self.key] if self.key else list(CUSTOMER_KEYS)
        for key in order:
            assert key is not None
            value = (record.get(f"customer_{key}") or "").strip()
            if value:
                return key, value
        if self.key:
            raise InvalidInput(f"no customer_{self.key}")
        raise InvalidInput("no customer reference (customer_id / _external_id / _email / _phone)")

    def resolve(self, record: dict[str, str]) -> int:
        key, raw = self._pick(record)
        if key == "email":
            value = normalize_email(raw) or ""
        elif key == "phone":
            value = normalize_phone(raw, self.region) or ""
        elif key == "id":
            if not raw.isdigit():
                raise InvalidInput(f"invalid customer_id {raw!r}")
            value = raw
        else:
            value = raw
        cached = self.cache.get((key, value))
        if cached is not None:
            return cached
        row = self.db.execute(
            f"SELECT id FROM customers WHERE {key} = ? ORDER BY id LIMIT 1",  # key: allow-listed
            (int(value) if key == "id" else value,),
        ).fetchone()
        if row is not None:
            cid = int(row[0])
        elif self.create and key != "id":
            name = (record.get("customer_name") or "").strip() or value
            stamp = self.stamp
            cur = self.db.execute(
                f"INSERT INTO customers(name, {key}, lifecycle, created_at, updated_at)"
                " VALUES (?, ?, 'customer', ?, ?)",
                (name, value, stamp, stamp),
            )
            cid = int(cur.lastrowid or 0)
            self.created += 1
        else:
            raise InvalidInput(f"no customer with {key} {value}")
        self.cache[(key, value)] = cid
        return cid


# ------------------------------------------------------------------- import


@dataclass
class OrderImportOptions:
    customer_key: str | None = None
    create_customers: bool = False
    currency: str = "CNY"
    encoding: str | None = None
    mapping: list[str] | None = None
    rejects: Path | None = None
    dry_run: bool = False
    region: str = "CN"
    strict: bool = False


_UPSERT = (
    "INSERT INTO orders(external_id, customer_id, ordered_at, amount, currency,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(external_id) DO UPDATE SET customer_id = excluded.customer_id,"
    " ordered_at = excluded.ordered_at, amount = excluded.amount,"
    " currency = excluded.currency, updated_at = excluded.updated_at"
    " WHERE orders.customer_id IS NOT excluded.customer_id"
    " OR orders.ordered_at IS NOT excluded.ordered_at OR orders.amount IS NOT excluded.amount"
    " OR orders.currency IS NOT excluded.currency"
)


# The per-row change_log triggers (m070) an import replaces with one INSERT per batch.
_CHANGE_LOG_TRIGGERS = ("change_log_orders_insert", "change_log_orders_update")


INDEX_REBUILD_MIN_ROWS = 50_000


def _count_orders(db: Database) -> int:
    return int(db.scalar("SELECT count(*) FROM orders"))


def _suspend_secondary_indexes(db: Database) -> list[str]:
    """Drop the non-unique indexes of orders (the import reads orders by external_id only);
    returns their SQL. Building an index once from the whole table is cheaper than growing
    it at random places row by row. DDL is transactional: a crash restores them."""
    saved = []
    for name, sql in db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders'"
        " AND sql IS NOT NULL"
    ).fetchall():
        unique = db.scalar(
            "SELECT \"unique\" FROM pragma_index_list('orders') WHERE name = ?", (name,)
        )
        if unique:
            continue
        quoted = name.replace('"', '""')
        db.execute(f'DROP INDEX "{quoted}"')
        saved.append(sql)
    return saved


def _max_order_id(db: Database) -> int:
    return int(db.scalar("SELECT coalesce(max(id), 0) FROM orders"))


def _log_upserts(db: Database, outcomes: list[int | None], top: int) -> None:
    """The change_log rows the insert and update triggers of orders would have written for
    an upsert batch: one ('orders', id) per write, in order. New rows got ascending ids
    above `top` (the largest id before the batch), in the order they were inserted."""
    new_ids = iter(
        [r[0] for r in db.execute("SELECT id FROM orders WHERE id > ? ORDER BY id", (top,))]
    )
    keys = [next(new_ids) if oid is None else oid for oid in outcomes]
    change_log.log_inserts(db, "orders", keys)


def import_orders(
    db: Database,
    path: Path,
    options: OrderImportOptions,
    progress: Callable[[float], None] | None = None,
) -> ImportSummary:
    """Import (upsert by order external id) orders from a CSV file in one transaction."""
    from crmcli.core.clock import local_zone

    default_currency = normalize_currency(options.currency)
    source: CsvSource = open_csv(
        path, ORDER_ALIASES, ORDER_FIELDS, encoding=options.encoding, mapping=options.mapping
    )
    summary = ImportSummary(
        file=str(path),
        encoding=source.encoding,
        delimiter=source.delimiter,
        unknown_columns=source.unknown_columns,
        dry_run=options.dry_run,
    )
    present = {f for f in source.fields if f}
    missing = [f for f in ("ordered_at", "amount") if f not in present]
    refs = present & {f"customer_{k}" for k in CUSTOMER_KEYS}
    if options.customer_key and f"customer_{options.customer_key}" not in present:
        missing.append(f"customer_{options.customer_key}")
    elif not refs:
        missing.append("a customer reference (customer_id, _external_id, _email or _phone)")
    if missing:
        source.close()
        raise InvalidInput(f"{path.name} has no column for: {', '.join(missing)}")
    rejects = RejectWriter(options.rejects or default_rejects_path(path), source.header)
    fast_time = TimeParser(local_zone())
    stamp = now_iso()
    resolver = CustomerResolver(db, options.customer_key, options.create_customers, options.region)
    currencies_seen: dict[str, str] = {}
    keyed: dict[str, tuple[Any, ...]] = {}
    unkeyed: list[tuple[Any, ...]] = []

    def flush() -> None:
        """Write the batch: compare keyed rows with what is stored to count the outcome."""
        stored: dict[str, tuple[int, tuple[Any, ...]]] = {}
        keys = list(keyed)
        for start in range(0, len(keys), 900):
            chunk = keys[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for ext, oid, *values in db.execute(
                "SELECT external_id, id, customer_id, ordered_at, amount, currency FROM orders"
                f" WHERE external_id IN ({marks})",
                chunk,
            ):
                stored[ext] = (oid, tuple(values))
        writes = list(unkeyed)
        summary.inserted += len(unkeyed)
        # What each write does, in order: None inserts a row, an id updates that order.
        outcomes: list[int | None] = [None] * len(unkeyed)
        for ext, row in keyed.items():
            old = stored.get(ext)
            if old is None:
                summary.inserted += 1
                outcomes.append(None)
            elif old[1] == row[1:5]:
                summary.unchanged += 1
                continue
            else:  # differs in a column the upsert's WHERE compares: it updates
                summary.updated += 1
                outcomes.append(old[0])
            writes.append(row)
        if writes:
            top = _max_order_id(db) if logged else 0
            db.executemany(_UPSERT, writes)
            if logged:
                _log_upserts(db, outcomes, top)
        keyed.clear()
        unkeyed.clear()

    try:
        with db.transaction():
            logged = change_log.suspend(db, _CHANGE_LOG_TRIGGERS)
            # A big import into a small table: build the secondary indexes once at the end.
            big = source.estimated_rows >= max(INDEX_REBUILD_MIN_ROWS, _count_orders(db))
            indexes = _suspend_secondary_indexes(db) if big else []
            for line, record, cells, problem in source.rows():
                summary.rows += 1
                try:
                    if problem:
                        raise InvalidInput(problem)
                    raw_when = (record.get("ordered_at") or "").strip()
                    if not raw_when:
                        raise InvalidInput("no ordered_at")
                    ordered_at = fast_time(raw_when)
                    raw_amount = (record.get("amount") or "").strip()
                    if not raw_amount:
                        raise InvalidInput("no amount")
                    amount = fast_money(raw_amount)
                    raw_currency = record.get("currency") or ""
                    currency = currencies_seen.get(raw_currency)
                    if currency is None:
                        currency = normalize_currency(raw_currency, default_currency)
                        currencies_seen[raw_currency] = currency
                    customer_id = resolver.resolve(record)
                except CrmError as exc:
                    rejects.add(line, exc.message, cells)
                    summary.rejected += 1
                    continue
                external_id = (record.get("external_id") or "").strip() or None
                row = (external_id, customer_id, ordered_at, amount, currency, stamp, stamp)
                if external_id is None:
                    unkeyed.append(row)
                else:
                    if external_id in keyed:
                        summary.duplicates += 1  # the later row of the file wins
                    keyed[external_id] = row
                if len(keyed) + len(unkeyed) >= BATCH:
                    flush()
                    if progress:
                        progress(source.progress_fraction())
            flush()
            change_log.resume(db, logged)
            for sql in indexes:
                db.execute(sql)
            summary.extra["customers_created"] = resolver.created
            audit.record(
                db,
                "import",
                "order",
                None,
                {
                    "file": path.name,
                    "inserted": summary.inserted,
                    "updated": summary.updated,
                    "rejected": summary.rejected,
                    "customers_created": resolver.created,
                },
            )
            if options.dry_run or (options.strict and summary.rejected):
                raise _DryRun
    except _DryRun:
        pass
    except BaseException:
        rejects.discard()
        raise
    finally:
        source.close()
    written = rejects.finish()
    summary.rejects_file = str(written) if written else None
    if options.strict and summary.rejected and not options.dry_run:
        raise InvalidInput(
            f"{summary.rejected} row(s) rejected (see {written}); --strict: nothing was imported"
        )
    if progress:
        progress(1.0)
    return summary


def import_with_progress(db: Database, path: Path, options: OrderImportOptions) -> ImportSummary:
    with Progress(f"Importing {path.name}") as bar:
        return import_orders(db, path, options, bar.update)


# ------------------------------------------------------------------- add, list


def add_order(
    db: Database,
    customer_id: int,
    amount: int,
    ordered_at: str,
    currency: str = "CNY",
    external_id: str | None = None,
) -> int:
    stamp = now_iso()
    with db.transaction():
        if db.scalar("SELECT 1 FROM customers WHERE id = ?", (customer_id,)) is None:
            raise NotFound(f"no customer with id {customer_id}")
        try:
            cur = db.execute(
                "INSERT INTO orders(external_id, customer_id, ordered_at, amount, currency,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (external_id, customer_id, ordered_at, amount, currency, stamp, stamp),
            )
        except sqlite3.IntegrityError as exc:
            raise integrity_error_to_conflict(exc, "cannot add order") from None
        oid = int(cur.lastrowid or 0)
        audit.record(
            db,
            "create",
            "order",
            oid,
            {
                "customer_id": customer_id,
                "amount": amount,
                "currency": currency,
                "ordered_at": ordered_at,
                "external_id": external_id,
            },
        )
    return oid


def list_orders(
    db: Database,
    customer_id: int | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = 100,
) -> list[dict[str, Any]]:
    clauses, params = _window(customer_id, since, until)
    sql = (
        f"SELECT {LIST_COLUMNS} FROM orders o JOIN customers c ON c.id = o.customer_id"
        f" WHERE {clauses} ORDER BY o.ordered_at DESC, o.id DESC"
    )
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return db.query(sql, params)


def count_orders(
    db: Database, customer_id: int | None = None, since: str | None = None, until: str | None = None
) -> int:
    """How many orders list_orders() would list without a limit."""
    clauses, params = _window(customer_id, since, until)
    return int(db.scalar(f"SELECT count(*) FROM orders o WHERE {clauses}", params))


def _window(customer_id: int | None, since: str | None, until: str | None) -> tuple[str, list[Any]]:
    clauses = ["1"]
    params: list[Any] = []
    if customer_id is not None:
        clauses.append("o.customer_id = ?")
        params.append(customer_id)
    if since:
        clauses.append("o.ordered_at >= ?")
        params.append(since)
    if until:
        clauses.append("o.ordered_at < ?")
        params.append(until)
    return " AND ".join(clauses), params


def currencies(db: Database, until: str | None = None) -> list[dict[str, Any]]:
    """Currencies in use with their order counts, most used first."""
    return db.query(
        "SELECT currency, count(*) AS orders FROM orders WHERE (? IS NULL OR ordered_at <= ?)"
        " GROUP BY currency ORDER BY orders DESC, currency",
        (until, until),
    )


def to_stored(value: str, field: str) -> str:
    return to_iso(parse_datetime(value, field))
