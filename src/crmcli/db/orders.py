"""Repository functions for orders (from ERP systems): import, add, list, and the per-customer
aggregates the value models need (RFM inputs, BG/NBD summaries), computed in SQL."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from crmcli.config import now_iso
from crmcli.db import Database, audit, integrity_error_to_conflict
from crmcli.errors import CrmError, InvalidInput, NotFound
from crmcli.importing import (
    CsvSource,
    ImportSummary,
    Progress,
    RejectWriter,
    default_rejects_path,
    open_csv,
)
from crmcli.validate import (
    normalize_currency,
    normalize_email,
    normalize_phone,
    parse_datetime,
    parse_money,
    to_iso,
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


def import_orders(
    db: Database,
    path: Path,
    options: OrderImportOptions,
    progress: Callable[[float], None] | None = None,
) -> ImportSummary:
    """Import (upsert by order external id) orders from a CSV file in one transaction."""
    from crmcli.config import local_zone

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
        stored: dict[str, tuple[Any, ...]] = {}
        keys = list(keyed)
        for start in range(0, len(keys), 900):
            chunk = keys[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for ext, *values in db.execute(
                "SELECT external_id, customer_id, ordered_at, amount, currency FROM orders"
                f" WHERE external_id IN ({marks})",
                chunk,
            ):
                stored[ext] = tuple(values)
        writes = list(unkeyed)
        summary.inserted += len(unkeyed)
        for ext, row in keyed.items():
            old = stored.get(ext)
            if old is None:
                summary.inserted += 1
            elif old == row[1:5]:
                summary.unchanged += 1
                continue
            else:
                summary.updated += 1
            writes.append(row)
        if writes:
            db.conn.executemany(_UPSERT, writes)
        keyed.clear()
        unkeyed.clear()

    try:
        with db.transaction():
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
            if options.dry_run:
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


# ------------------------------------------------------------------- aggregates for models


def local_day_modifier(moment: datetime | None = None) -> str:
    """An SQLite date modifier ('+480 minutes') turning stored UTC times into local dates.

    One offset for the whole history (the zone's offset at `moment`): exact for zones without
    daylight saving time (Asia/Shanghai); elsewhere, orders within an hour of midnight around
    a DST change may be given the neighbouring day.
    """
    from crmcli.config import local_zone, now

    at = (moment or now()).astimezone(local_zone())
    offset = at.utcoffset() or timedelta(0)
    return f"{int(offset.total_seconds() // 60):+d} minutes"


def day_shift(modifier: str) -> float:
    """What to add to julianday(stored UTC time) so that its integer part is the local day
    number (JDN) of the time: +0.5 (JDN days start at noon), the zone offset, and 1e-6 days
    (0.09 s) against rounding just below a local midnight."""
    minutes = int(modifier.split()[0])
    return 0.5 + minutes / 1440.0 + 1e-6


# First-day amounts ride along with the day in one integer so that a single min() finds both:
# day * 2**40 + (amount + 2**39), valid for |amount| < 2**39 minor units (5.4e9 in major).
_PACK = 1 << 40
_AMOUNT_OFFSET = 1 << 39


def customer_transactions(
    db: Database, until: str, currency: str, modifier: str, since: str | None = None
) -> list[tuple[int, str | None, int, int, int, int, int]]:
    """Per customer with orders before `until` (stored UTC form), in local calendar days:
    (customer_id, external_id, x = repeat days, first day, last day (day numbers, JDN),
    total amount of repeat days (cents), amount of the first day (cents)).

    Same-day orders are one transaction: the day's amounts are added up. One pass over the
    orders plus one sort (the GROUP BY); no join back.
    """
    sql = f"""
        WITH days AS (
            SELECT customer_id, CAST(julianday(ordered_at) + :shift AS INTEGER) AS day,
                   sum(amount) AS amount
            FROM orders
            WHERE ordered_at < :until AND currency = :currency
              AND (:since IS NULL OR ordered_at >= :since)
            GROUP BY customer_id, day
        ), per AS (
            SELECT customer_id, count(*) - 1 AS x, min(day) AS first_day, max(day) AS last_day,
                   sum(amount) AS total, min(day * {_PACK} + amount + {_AMOUNT_OFFSET}) AS packed
            FROM days GROUP BY customer_id
        )
        SELECT per.customer_id, c.external_id, per.x, per.first_day, per.last_day,
               per.total, per.packed - per.first_day * {_PACK} - {_AMOUNT_OFFSET} AS first_amount
        FROM per JOIN customers c ON c.id = per.customer_id
        ORDER BY per.customer_id
    """
    params = {
        "shift": day_shift(modifier),
        "until": until,
        "currency": currency,
        "since": since,
    }
    return [
        (cid, ext, x, first, last, total - first_amount, first_amount)
        for cid, ext, x, first, last, total, first_amount in db.execute(sql, params)
    ]


def holdout_transactions(
    db: Database, since: str, until: str, currency: str, modifier: str
) -> dict[int, int]:
    """Transaction days per customer in [since, until) (for holdout validation)."""
    rows = db.execute(
        "SELECT customer_id, count(DISTINCT date(ordered_at, ?)) FROM orders"
        " WHERE ordered_at >= ? AND ordered_at < ? AND currency = ? GROUP BY customer_id",
        (modifier, since, until, currency),
    )
    return {int(cid): int(n) for cid, n in rows}


def order_totals(db: Database, since: str | None, until: str) -> dict[str, Any]:
    """Revenue (cents, per currency), order and customer counts in [since, until)."""
    rows = db.query(
        "SELECT currency, count(*) AS orders, sum(amount) AS amount,"
        " count(DISTINCT customer_id) AS customers FROM orders"
        " WHERE (? IS NULL OR ordered_at >= ?) AND ordered_at < ? GROUP BY currency"
        " ORDER BY amount DESC",
        (since, since, until),
    )
    customers = db.scalar(
        "SELECT count(DISTINCT customer_id) FROM orders"
        " WHERE (? IS NULL OR ordered_at >= ?) AND ordered_at < ?",
        (since, since, until),
    )
    return {"by_currency": rows, "customers": int(customers or 0)}


def rfm_sql(until_param: str = ":rfm_until") -> str:
    """SQL yielding (customer_id, recency_days... ) RFM scores and segment per customer with
    orders up to the bound parameter `until_param`. See crmcli.analytics.rfm for the rules."""
    from crmcli.analytics.rfm import segment_case_sql

    case = segment_case_sql("r_score", "f_score", "m_score")
    return f"""
        SELECT customer_id, last_at, orders, monetary, r_score, f_score, m_score,
               {case} AS segment
        FROM (
            SELECT customer_id, last_at, orders, monetary,
                1 + (5 * (RANK() OVER (ORDER BY last_at) - 1)) / n AS r_score,
                1 + (5 * (RANK() OVER (ORDER BY orders) - 1)) / n AS f_score,
                1 + (5 * (RANK() OVER (ORDER BY monetary) - 1)) / n AS m_score
            FROM (
                SELECT customer_id, max(ordered_at) AS last_at, count(*) AS orders,
                       sum(amount) AS monetary, count(*) OVER () AS n
                FROM orders WHERE ordered_at <= {until_param}
                GROUP BY customer_id
            )
        )
    """


def rfm_scores(db: Database, until: str) -> list[dict[str, Any]]:
    """RFM scores and segment of every customer with orders up to `until`."""
    sql = (
        "SELECT r.*, c.external_id, c.name FROM (" + rfm_sql() + ") r"
        " JOIN customers c ON c.id = r.customer_id ORDER BY r.customer_id"
    )
    return db.query(sql, {"rfm_until": until})


def rfm_segment_revenue(db: Database, until: str) -> list[dict[str, Any]]:
    """Customers and revenue (cents) per RFM segment, for orders up to `until`."""
    return db.query(
        "SELECT segment, count(*) AS customers, sum(monetary) AS revenue FROM ("
        + rfm_sql()
        + ") GROUP BY segment ORDER BY revenue DESC",
        {"rfm_until": until},
    )


# ------------------------------------------------------------------- loyalty


def cohort_activity(db: Database, until: str, modifier: str) -> list[dict[str, Any]]:
    """(cohort month, months since the first order, active customers) for orders before
    `until`; months are local calendar months."""
    return db.query(
        """
        WITH om AS (
            SELECT DISTINCT customer_id, strftime('%Y-%m', ordered_at, :mod) AS month
            FROM orders WHERE ordered_at < :until
        ), firsts AS (
            SELECT customer_id, min(month) AS cohort FROM om GROUP BY customer_id
        )
        SELECT f.cohort,
               (CAST(substr(om.month, 1, 4) AS INTEGER) * 12 + CAST(substr(om.month, 6, 2) AS INTEGER))
             - (CAST(substr(f.cohort, 1, 4) AS INTEGER) * 12 + CAST(substr(f.cohort, 6, 2) AS INTEGER))
               AS months_since, count(*) AS customers
        FROM om JOIN firsts f ON f.customer_id = om.customer_id
        GROUP BY f.cohort, months_since ORDER BY f.cohort, months_since
        """,
        {"mod": modifier, "until": until},
    )


def repeat_counts(db: Database, until: str, modifier: str) -> dict[str, int]:
    """Customers with orders, and those with orders on two or more local days."""
    row = db.query_one(
        "SELECT count(*) AS customers, coalesce(sum(days >= 2), 0) AS repeaters FROM ("
        " SELECT customer_id, count(DISTINCT date(ordered_at, ?)) AS days FROM orders"
        " WHERE ordered_at < ? GROUP BY customer_id)",
        (modifier, until),
    )
    return {k: int(v or 0) for k, v in (row or {}).items()}


def retained(db: Database, start: str, middle: str, end: str) -> dict[str, int]:
    """Customers who ordered in [start, middle), and how many of them ordered in [middle, end)."""
    row = db.query_one(
        "SELECT count(*) AS base, coalesce(sum(EXISTS (SELECT 1 FROM orders o2"
        " WHERE o2.customer_id = b.customer_id AND o2.ordered_at >= ? AND o2.ordered_at < ?)), 0)"
        " AS retained FROM (SELECT DISTINCT customer_id FROM orders"
        " WHERE ordered_at >= ? AND ordered_at < ?) b",
        (middle, end, start, middle),
    )
    return {k: int(v or 0) for k, v in (row or {}).items()}


def customer_names(db: Database, ids: list[int]) -> dict[int, dict[str, Any]]:
    """id -> {name, external_id, last_order_at} for the given customers."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        for row in db.query(
            "SELECT c.id, c.name, c.external_id, (SELECT max(o.ordered_at) FROM orders o"
            f" WHERE o.customer_id = c.id) AS last_order_at FROM customers c WHERE c.id IN ({marks})",
            chunk,
        ):
            out[int(row.pop("id"))] = row
    return out


def satisfaction_figures(db: Database, since: str | None, until: str) -> dict[str, Any]:
    """Ticket satisfaction (1..5) ratings: count, average, CSAT (share of 4 and 5)."""
    row = db.query_one(
        "SELECT count(satisfaction) AS responses, avg(satisfaction) AS average,"
        " avg(CASE WHEN satisfaction >= 4 THEN 1.0 ELSE 0.0 END) AS csat"
        " FROM tickets WHERE satisfaction IS NOT NULL AND created_at < ?"
        " AND (? IS NULL OR created_at >= ?)",
        (until, since, since),
    )
    return dict(row or {})


def to_stored(value: str, field: str) -> str:
    return to_iso(parse_datetime(value, field))
