"""Seeded data for the benchmarks: a dirty customer CSV and a full CRM database.

    python benchmarks/generate.py --quick          # 100k customers (500k comms, ...)
    python benchmarks/generate.py                  # 1M customers, 5M comms, 200k tickets, 2M orders
    python benchmarks/generate.py --customers 20000 --out /tmp/bench

Writes into benchmarks/data/ (git-ignored):
  customers-<N>.csv   N dirty rows (~5% dirt: duplicates, malformed emails, missing and
                      impossible phones, stray spaces), Chinese and English, the columns of
                      `crm customer import` (external_id,name,phone,email,address,company,tags,
                      lifecycle,owner); --chinese-headers writes 客户编号,姓名,手机,... instead.
  orders-<N>.csv      2N order lines (`--only orders`) of about 0.8N orders, 1-4 lines each,
                      for `crm order import`: order_id, customer_external_id, order_date,
                      sku, product, quantity, unit_price, line_amount, currency; ~1% dirt
                      (unknown customers, impossible dates, missing amounts).
  crm-customers-<N>.db  the N customers only (`--only orders` too): what the order import
                      runs against.
  crm-<N>.db          a database made with crmcli's own schema (`crmcli.db.connect` applies
                      every migration, triggers included), filled by direct bulk inserts:
                      N customers (2% near-duplicates), 5N communications, N/5 tickets with
                      events, 2N orders, campaigns with members.

Speed: Faker (zh_CN + en_US) makes small pools of names, companies and addresses once;
numpy draws the combinations, so 1M rows cost seconds, not Faker's ~100 us per field.
Bulk load: indexes are dropped while rows go in and re-created afterwards (a sort is much
faster than a million random B-tree inserts); triggers stay, so aggregates and the
full-text index that other modules maintain through triggers are built exactly as in use.
The time each table took is printed, so a slow trigger shows up here.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE.parent / "src"))

# The data's "now": run reports with CRM_NOW set to this (run.py does).
NOW = np.datetime64("2026-11-01T00:00:00", "s")
HISTORY_DAYS = 3 * 365  # communications and orders span three years
CUSTOMER_DAYS = 5 * 365

HEADERS = ["external_id", "name", "phone", "email", "address", "company", "tags"]
HEADERS += ["lifecycle", "owner"]
CHINESE_HEADERS = ["客户编号", "姓名", "手机", "邮箱", "地址", "公司", "标签", "阶段", "负责人"]
LIFECYCLES = ["lead", "prospect", "customer", "churned"]
LIFECYCLE_P = [0.35, 0.2, 0.4, 0.05]
LIFECYCLE_ZH = ["潜在客户", "意向客户", "客户", "流失"]
TAGS = ["vip", "newsletter", "wholesale", "retail", "重点客户", "老客户", "trial", "partner"]
CHANNELS = ["phone", "email", "meeting", "chat", "sms", "visit", "social", "other"]
CHANNEL_P = [0.3, 0.3, 0.05, 0.15, 0.1, 0.04, 0.04, 0.02]
SUBJECTS = ["回访", "报价", "续约", "投诉处理", "需求沟通", "follow-up", "quote", "renewal"]
SUBJECTS += ["onboarding", "demo", "invoice question", "售后服务"]
CATEGORIES = ["billing", "technical", "delivery", "account", "complaint", "other"]
PRIORITIES = ["low", "normal", "high", "urgent"]
PRIORITY_P = [0.2, 0.55, 0.2, 0.05]
STATUSES = ["open", "in_progress", "waiting", "resolved", "closed"]
STATUS_P = [0.1, 0.08, 0.04, 0.18, 0.6]
CN_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151"]
CN_PREFIXES += ["152", "155", "157", "158", "159", "166", "176", "177", "180", "186", "189"]
US_AREAS = ["212", "415", "646", "310", "312", "617", "202", "305", "206", "713", "512", "404"]
DOMAINS_ZH = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "aliyun.com"]
DOMAINS_EN = ["gmail.com", "outlook.com", "yahoo.com", "example.com", "acme.io", "mail.com"]


def log(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


# ------------------------------------------------------------------------------ pools


class Pools:
    """Names, companies, addresses and agents drawn once with Faker (seeded)."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        zh = Faker("zh_CN")
        en = Faker("en_US")
        zh.seed_instance(seed)
        en.seed_instance(seed + 1)
        self.zh_names = sorted({zh.name() for _ in range(4000)})
        self.en_names = sorted({en.name() for _ in range(3000)})
        self.zh_user = sorted({zh.user_name() for _ in range(2000)})
        self.en_user = sorted({en.user_name() for _ in range(2000)})
        self.zh_companies = sorted({zh.company() for _ in range(1500)})
        self.en_companies = sorted({en.company() for _ in range(1500)})
        self.zh_addresses = [zh.address().replace("\n", " ") for _ in range(4000)]
        self.en_addresses = [en.address().replace("\n", ", ") for _ in range(3000)]
        self.agents = sorted({zh.name() for _ in range(20)} | {en.first_name() for _ in range(10)})


def _pick(rng: np.random.Generator, pool: Sequence[str], n: int) -> list[str]:
    return [pool[i] for i in rng.integers(0, len(pool), n).tolist()]


def _cn_mobiles(rng: np.random.Generator, n: int) -> list[str]:
    prefixes = _pick(rng, CN_PREFIXES, n)
    tails = rng.integers(0, 100_000_000, n).tolist()
    return [f"{p}{t:08d}" for p, t in zip(prefixes, tails, strict=True)]


def _us_phones(rng: np.random.Generator, n: int) -> list[str]:
    areas = _pick(rng, US_AREAS, n)
    exchanges = rng.integers(201, 999, n).tolist()
    lines = rng.integers(0, 10_000, n).tolist()
    return [
        f"{a}{e if e != 555 else 556}{ln:04d}"
        for a, e, ln in zip(areas, exchanges, lines, strict=True)
    ]


class People:
    """N clean customers (as stored): the common base of the CSV and the database."""

    def __init__(self, pools: Pools, n: int, rng: np.random.Generator) -> None:
        self.n = n
        zh = rng.random(n) < 0.7
        self.zh = zh
        n_zh = int(zh.sum())
        n_en = n - n_zh
        idx_zh = np.flatnonzero(zh)
        idx_en = np.flatnonzero(~zh)

        def merge(a: list[str], b: list[str]) -> list[str]:
            out: list[Any] = [None] * n
            for i, v in zip(idx_zh.tolist(), a, strict=True):
                out[i] = v
            for i, v in zip(idx_en.tolist(), b, strict=True):
                out[i] = v
            return out

        self.name = merge(_pick(rng, pools.zh_names, n_zh), _pick(rng, pools.en_names, n_en))
        mobiles = _cn_mobiles(rng, n_zh)
        us = _us_phones(rng, n_en)
        self.phone_digits = merge(mobiles, us)
        self.phone = merge(["+86" + m for m in mobiles], ["+1" + u for u in us])
        users = merge(_pick(rng, pools.zh_user, n_zh), _pick(rng, pools.en_user, n_en))
        domains = merge(_pick(rng, DOMAINS_ZH, n_zh), _pick(rng, DOMAINS_EN, n_en))
        # The row number makes every email unique.
        self.email = [f"{u}{i}@{d}" for i, (u, d) in enumerate(zip(users, domains, strict=True))]
        self.address = merge(
            _pick(rng, pools.zh_addresses, n_zh), _pick(rng, pools.en_addresses, n_en)
        )
        self.company = merge(
            _pick(rng, pools.zh_companies, n_zh), _pick(rng, pools.en_companies, n_en)
        )
        self.lifecycle_idx = rng.choice(4, n, p=LIFECYCLE_P)
        self.owner = _pick(rng, pools.agents, n)
        n_tags = rng.choice(3, n, p=[0.6, 0.3, 0.1])
        t1 = rng.integers(0, len(TAGS), n)
        t2 = (t1 + rng.integers(1, len(TAGS), n)) % len(TAGS)
        self.tags: list[list[str]] = [
            [] if k == 0 else [TAGS[a]] if k == 1 else [TAGS[a], TAGS[b]]
            for k, a, b in zip(n_tags.tolist(), t1.tolist(), t2.tolist(), strict=True)
        ]


# ------------------------------------------------------------------------------ CSV


def _phone_variant(digits: str, zh: bool, style: int) -> str:
    """The ways people type the same phone number."""
    if zh:
        if style == 0:
            return digits
        if style == 1:
            return f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
        if style == 2:
            return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
        return f"0086{digits}"
    if style in (0, 1):
        return f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return f"+1-{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def write_customers_csv(
    path: Path, n: int, seed: int, pools: Pools, chinese_headers: bool = False
) -> dict[str, int]:
    """Write n dirty customer rows; returns the counts of each kind of dirt."""
    rng = np.random.default_rng(seed)
    people = People(pools, n, rng)
    dirt = rng.random(n)
    # ~5% of rows carry dirt; the kinds are exclusive so the counts are exact.
    is_dup = dirt < 0.015
    bad_email = (dirt >= 0.015) & (dirt < 0.025)
    no_phone = (dirt >= 0.025) & (dirt < 0.035)
    bad_phone = (dirt >= 0.035) & (dirt < 0.040)
    spaces = (dirt >= 0.040) & (dirt < 0.050)
    styles = rng.integers(0, 4, n).tolist()
    dup_of = (rng.random(n) * np.arange(n)).astype(np.int64).tolist()  # an earlier row
    zh_lifecycle = rng.random(n) < 0.1
    counts = {
        "rows": n,
        "duplicates": int(is_dup.sum()),
        "malformed_emails": int(bad_email.sum()),
        "missing_phones": int(no_phone.sum()),
        "impossible_phones": int(bad_phone.sum()),
        "stray_spaces": int(spaces.sum()),
    }
    flags = zip(
        is_dup.tolist(),
        bad_email.tolist(),
        no_phone.tolist(),
        bad_phone.tolist(),
        spaces.tolist(),
        strict=True,
    )

    def rows() -> Iterator[list[str]]:
        for i, (dup, bemail, nophone, bphone, space) in enumerate(flags):
            j = dup_of[i] if dup and i else i
            zh = bool(people.zh[j])
            name = people.name[j]
            email = people.email[j]
            phone = _phone_variant(people.phone_digits[j], zh, styles[i])
            if dup:
                # The same person again: other spelling of the phone, email in capitals.
                email = email.upper() if i % 2 else email
                name = f" {name} " if i % 3 == 0 else name
            elif bemail:
                email = email.replace("@", "@@") if i % 2 else email.replace("@", " at ")
            elif nophone:
                phone = ""
            elif bphone:
                phone = people.phone_digits[j][:5]
            elif space:
                name = f"  {name} "
                email = f" {email}  "
            lc = int(people.lifecycle_idx[j])
            yield [
                f"C{i + 1:07d}",
                name,
                phone,
                email,
                people.address[j],
                people.company[j] + (" " if space else ""),
                ";".join(people.tags[j]),
                LIFECYCLE_ZH[lc] if zh_lifecycle[i] and zh else LIFECYCLES[lc],
                people.owner[j],
            ]

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CHINESE_HEADERS if chinese_headers else HEADERS)
        writer.writerows(rows())
    tmp.replace(path)
    return counts


# ------------------------------------------------------------------------------ database


def _iso(seconds: np.ndarray) -> list[str]:
    """Seconds before NOW -> stored-form UTC times ('YYYY-MM-DDTHH:MM:SSZ')."""
    stamps = NOW - seconds.astype("timedelta64[s]")
    return [s + "Z" for s in np.datetime_as_string(stamps, unit="s").tolist()]


def _chunks(n: int, size: int = 200_000) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


class Loader:
    """Bulk inserts into a crmcli database; indexes dropped during the load, triggers kept."""

    def __init__(self, path: Path) -> None:
        from crmcli.db import connect

        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        self.db = connect(path, actor="benchmark")
        self.conn = self.db._conn  # the generator bulk-loads below the Database API
        self.conn.execute("PRAGMA journal_mode = DELETE")
        self.conn.execute("PRAGMA journal_mode = OFF")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -524288")  # 512 MB
        self.conn.execute("PRAGMA foreign_keys = OFF")  # ids are made consistent here
        self.indexes = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name NOT LIKE '%fts%'"
        ).fetchall()
        self.timings: dict[str, float] = {}

    def drop_indexes(self) -> None:
        for name, _sql in self.indexes:
            self.conn.execute(f'DROP INDEX "{name}"')

    def without_fts_trigger(self) -> list[str]:
        """Drop the full-text insert trigger(s) on customers; returns their SQL.

        Row-by-row trigram indexing costs ~65 us a row (65 s at 1M); one 'rebuild' after
        the load makes the same index in about a third of that.
        """
        found = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
            " AND tbl_name = 'customers' AND sql LIKE '%customers_fts%'"
            " AND sql LIKE '%AFTER INSERT%'"
        ).fetchall()
        for name, _sql in found:
            self.conn.execute(f'DROP TRIGGER "{name}"')
        return [sql for _name, sql in found]

    def rebuild_fts(self, triggers: list[str]) -> None:
        t0 = time.perf_counter()
        self.conn.execute("BEGIN")
        self.conn.execute("INSERT INTO customers_fts(customers_fts) VALUES ('rebuild')")
        for sql in triggers:
            self.conn.execute(sql)
        self.conn.execute("COMMIT")
        self.timings["customers_fts"] = time.perf_counter() - t0

    def create_indexes(self) -> None:
        t0 = time.perf_counter()
        self.conn.execute("BEGIN")
        for _name, sql in self.indexes:
            self.conn.execute(sql)
        self.conn.execute("COMMIT")
        self.timings["indexes"] = time.perf_counter() - t0

    def columns(self, table: str) -> set[str]:
        return {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}

    def insert(self, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]) -> None:
        t0 = time.perf_counter()
        marks = ", ".join("?" * len(columns))
        self.conn.execute("BEGIN")
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        self.conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        self.timings[table] = self.timings.get(table, 0.0) + elapsed

    def finish(self) -> None:
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.db.close()


def build_database(path: Path, n: int, seed: int, pools: Pools) -> dict[str, Any]:
    """Create crm-<n>.db: n customers, 5n communications, n/5 tickets, 2n orders."""
    rng = np.random.default_rng(seed + 100)
    started = time.perf_counter()
    loader = Loader(path)
    loader.drop_indexes()
    fts_triggers = loader.without_fts_trigger()
    counts: dict[str, int] = {}

    # customers: the last 2% repeat an earlier customer (same phone, name, company) with
    # another email: what `customer duplicates` should find.
    people = People(pools, n, rng)
    n_dup = n // 50
    dup_src = rng.integers(0, n - n_dup, n_dup).tolist()
    created = _iso(rng.integers(0, CUSTOMER_DAYS * 86400, n))
    updated = created
    phones = list(people.phone)
    names = list(people.name)
    companies = list(people.company)
    emails, addresses, owners = people.email, people.address, people.owner
    lifecycles = [LIFECYCLES[k] for k in people.lifecycle_idx.tolist()]
    tags = people.tags
    del people
    for k, src in enumerate(dup_src):
        i = n - n_dup + k
        phones[i] = phones[src] if k % 2 == 0 else None
        names[i] = names[src]
        companies[i] = companies[src]

    def customer_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            yield (
                i + 1,
                f"C{i + 1:07d}",
                names[i],
                phones[i],
                emails[i],
                addresses[i],
                companies[i],
                lifecycles[i],
                owners[i],
                created[i],
                updated[i],
            )

    loader.insert(
        "customers",
        [
            "id",
            "external_id",
            "name",
            "phone",
            "email",
            "address",
            "company",
            "lifecycle",
            "owner",
            "created_at",
            "updated_at",
        ],
        customer_rows(),
    )
    counts["customers"] = n
    tag_rows = [(i + 1, t) for i in range(n) for t in tags[i]]
    loader.insert("customer_tags", ["customer_id", "tag"], iter(tag_rows))
    counts["customer_tags"] = len(tag_rows)
    del tag_rows
    loader.rebuild_fts(fts_triggers)
    log(
        f"  customers: {loader.timings['customers']:.1f} s + full-text rebuild"
        f" {loader.timings['customers_fts']:.1f} s"
    )

    agents = pools.agents
    loader.insert(
        "agents",
        ["name", "active", "created_at"],
        iter([(a, 1, "2020-01-01T00:00:00Z") for a in agents]),
    )

    # communications: 5 per customer on average over three years.
    n_comm = 5 * n
    for lo, hi in _chunks(n_comm):
        m = hi - lo
        occurred = _iso(np.sort(rng.integers(0, HISTORY_DAYS * 86400, m))[::-1])
        cust = rng.integers(1, n + 1, m).tolist()
        chan = rng.choice(len(CHANNELS), m, p=CHANNEL_P).tolist()
        inbound = (rng.random(m) < 0.35).tolist()
        subj = rng.integers(0, len(SUBJECTS), m).tolist()
        agent = rng.integers(0, len(agents), m).tolist()
        dur = rng.integers(30, 1800, m).tolist()
        follow = rng.random(m) < 0.05
        follow_at = _iso(rng.integers(-30 * 86400, 60 * 86400, m))
        done = (rng.random(m) < 0.5).tolist()
        rows = (
            (
                cust[k],
                CHANNELS[chan[k]],
                "inbound" if inbound[k] else "outbound",
                occurred[k],
                SUBJECTS[subj[k]],
                agents[agent[k]],
                dur[k] if chan[k] == 0 else None,
                follow_at[k] if follow[k] else None,
                occurred[k] if follow[k] and done[k] else None,
                occurred[k],
                occurred[k],
            )
            for k in range(m)
        )
        loader.insert(
            "communications",
            [
                "customer_id",
                "channel",
                "direction",
                "occurred_at",
                "subject",
                "agent",
                "duration_s",
                "follow_up_at",
                "done_at",
                "created_at",
                "updated_at",
            ],
            rows,
        )
    counts["communications"] = n_comm
    log(f"  communications: {loader.timings['communications']:.1f} s")

    # tickets (n/5) and their events.
    n_tickets = n // 5
    t_created_s = rng.integers(0, HISTORY_DAYS * 86400, n_tickets)
    t_created = _iso(t_created_s)
    first = _iso(np.maximum(t_created_s - rng.integers(60, 4 * 3600, n_tickets), 0))
    resolved = _iso(np.maximum(t_created_s - rng.integers(3600, 5 * 86400, n_tickets), 0))
    due = _iso(t_created_s - 3 * 86400)
    status = rng.choice(5, n_tickets, p=STATUS_P).tolist()
    prio = rng.choice(4, n_tickets, p=PRIORITY_P).tolist()
    cat = rng.integers(0, len(CATEGORIES), n_tickets).tolist()
    t_cust = rng.integers(1, n + 1, n_tickets).tolist()
    t_agent = rng.integers(0, len(agents), n_tickets).tolist()
    sat = rng.integers(1, 6, n_tickets).tolist()
    ticket_rows = (
        (
            k + 1,
            t_cust[k],
            f"{SUBJECTS[k % len(SUBJECTS)]} #{k + 1}",
            CATEGORIES[cat[k]],
            PRIORITIES[prio[k]],
            STATUSES[status[k]],
            agents[t_agent[k]],
            t_created[k],
            t_created[k],
            first[k] if status[k] != 0 else None,
            resolved[k] if status[k] >= 3 else None,
            resolved[k] if status[k] == 4 else None,
            due[k],
            sat[k] if status[k] >= 3 and k % 3 == 0 else None,
        )
        for k in range(n_tickets)
    )
    loader.insert(
        "tickets",
        [
            "id",
            "customer_id",
            "subject",
            "category",
            "priority",
            "status",
            "assignee",
            "created_at",
            "updated_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "due_at",
            "satisfaction",
        ],
        ticket_rows,
    )
    event_rows = []
    for k in range(n_tickets):
        event_rows.append((k + 1, t_created[k], "customer", "created", None, "open"))
        if status[k] >= 3:
            event_rows.append(
                (k + 1, resolved[k], agents[t_agent[k]], "status", "open", STATUSES[status[k]])
            )
    loader.insert(
        "ticket_events",
        ["ticket_id", "at", "actor", "kind", "from_status", "to_status"],
        iter(event_rows),
    )
    counts["tickets"] = n_tickets
    counts["ticket_events"] = len(event_rows)
    del event_rows
    log(f"  tickets: {loader.timings['tickets'] + loader.timings['ticket_events']:.1f} s")

    # orders: 40% of customers buy, a geometric number of times (mean 5): 2n orders.
    n_orders = 2 * n
    buyers = rng.choice(np.arange(1, n + 1), size=int(n * 0.4), replace=False)
    per = rng.geometric(0.2, buyers.size)
    o_cust = np.repeat(buyers, per)
    if o_cust.size < n_orders:
        o_cust = np.concatenate([o_cust, rng.choice(buyers, n_orders - o_cust.size)])
    o_cust = rng.permutation(o_cust[:n_orders])
    for lo, hi in _chunks(n_orders):
        m = hi - lo
        when = _iso(rng.integers(0, HISTORY_DAYS * 86400, m))
        amount = np.round(rng.lognormal(10.0, 1.0, m)).astype(np.int64).tolist()
        cust = o_cust[lo:hi].tolist()
        rows = (
            (f"O{lo + k + 1:08d}", cust[k], when[k], amount[k], "CNY", when[k], when[k])
            for k in range(m)
        )
        loader.insert(
            "orders",
            [
                "external_id",
                "customer_id",
                "ordered_at",
                "amount",
                "currency",
                "created_at",
                "updated_at",
            ],
            rows,
        )
    counts["orders"] = n_orders
    log(f"  orders: {loader.timings['orders']:.1f} s")

    # campaigns: 20, each with 2.5% of the customers as members (A / B / control).
    n_campaigns = 20
    members_per = max(10, n // 40)
    camp_rows = []
    member_rows: list[tuple[Any, ...]] = []
    for c in range(n_campaigns):
        start = NOW - np.timedelta64(int((c + 1) * 45 * 86400), "s")
        starts = str(start) + "Z"
        ends = str(start + np.timedelta64(30 * 86400, "s")) + "Z"
        camp_rows.append(
            (c + 1, f"Campaign {c + 1}", ["email", "sms", "phone"][c % 3], starts, ends)
            + (int(rng.integers(100_000, 5_000_000)), "closed", starts, starts)
        )
        who = rng.choice(np.arange(1, n + 1), size=members_per, replace=False).tolist()
        variant = rng.choice(3, members_per, p=[0.45, 0.45, 0.1]).tolist()
        success = (rng.random(members_per) < 0.06).tolist()
        revenue = np.round(rng.lognormal(9.5, 0.8, members_per)).astype(np.int64).tolist()
        for k in range(members_per):
            member_rows.append(
                (
                    c + 1,
                    who[k],
                    ["A", "B", "control"][variant[k]],
                    starts,
                    "success" if success[k] else "failure",
                    revenue[k] if success[k] else None,
                )
            )
    loader.insert(
        "campaigns",
        [
            "id",
            "name",
            "channel",
            "starts_at",
            "ends_at",
            "cost",
            "status",
            "created_at",
            "updated_at",
        ],
        iter(camp_rows),
    )
    loader.insert(
        "campaign_members",
        ["campaign_id", "customer_id", "variant", "contacted_at", "result", "revenue"],
        iter(member_rows),
    )
    counts["campaigns"] = n_campaigns
    counts["campaign_members"] = len(member_rows)

    log("  creating indexes ...")
    loader.create_indexes()
    loader.finish()
    elapsed = time.perf_counter() - started
    return {"counts": counts, "seconds": round(elapsed, 1), "timings": loader.timings}


# ------------------------------------------------------------------------------ orders

PRODUCTS = ["笔记本电脑", "显示器", "键盘", "鼠标", "耳机", "路由器", "Laptop", "Monitor"]
PRODUCTS += ["Keyboard", "Headset", "Desk lamp", "USB-C hub", "打印机", "摄像头"]


def write_orders_csv(path: Path, n: int, seed: int) -> dict[str, int]:
    """2n order lines for customers C0000001..C<n>: orders of 1-4 lines, ISO times,
    point decimals, CNY; ~1% dirt. Returns the counts."""
    rng = np.random.default_rng(seed + 200)
    n_lines = 2 * n
    per_order = rng.choice([1, 2, 3, 4], size=n_lines, p=[0.45, 0.3, 0.15, 0.1])
    per_order = per_order[np.cumsum(per_order) <= n_lines]
    if per_order.sum() < n_lines:
        per_order = np.append(per_order, n_lines - per_order.sum())
    order_of_line = np.repeat(np.arange(per_order.size), per_order).tolist()
    n_orders = int(per_order.size)
    cust = rng.integers(1, n + 1, n_orders).tolist()
    when = rng.integers(0, HISTORY_DAYS * 86400, n_orders)
    stamps = [
        s.replace("T", " ")
        for s in np.datetime_as_string(NOW - when.astype("timedelta64[s]"), unit="s").tolist()
    ]
    sku = rng.integers(0, 5000, n_lines).tolist()
    qty = rng.choice([1, 1, 1, 2, 2, 3, 5, 10], size=n_lines).tolist()
    price = np.round(rng.lognormal(5.0, 1.0, n_lines), 2).tolist()
    dirt = rng.random(n_orders)
    unknown = (dirt < 0.005).tolist()
    bad_date = ((dirt >= 0.005) & (dirt < 0.008)).tolist()
    no_amount = (rng.random(n_lines) < 0.002).tolist()
    counts = {"lines": n_lines, "orders": n_orders, "unknown_customer_orders": sum(unknown)}
    counts["bad_date_orders"] = sum(bad_date)
    counts["lines_without_amount"] = sum(no_amount)

    def rows() -> Iterator[list[str]]:
        for k in range(n_lines):
            o = order_of_line[k]
            customer = f"C{cust[o]:07d}" if not unknown[o] else f"X{cust[o]:07d}"
            stamp = stamps[o] if not bad_date[o] else "2025-13-45 10:00:00"
            unit = price[k]
            line_amount = "" if no_amount[k] else f"{qty[k] * unit:.2f}"
            yield [
                f"S{o + 1:08d}",
                customer,
                stamp,
                f"SKU-{sku[k]:05d}",
                PRODUCTS[sku[k] % len(PRODUCTS)],
                str(qty[k]),
                f"{unit:.2f}",
                line_amount,
                "CNY",
            ]

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["order_id", "customer_external_id", "order_date", "sku", "product"]
                        + ["quantity", "unit_price", "line_amount", "currency"])  # fmt: skip
        writer.writerows(rows())
    tmp.replace(path)
    return counts


def build_customers_db(path: Path, n: int, seed: int, pools: Pools) -> None:
    """A crmcli database with n customers (external ids C0000001...) and nothing else."""
    rng = np.random.default_rng(seed + 100)
    loader = Loader(path)
    loader.drop_indexes()
    fts_triggers = loader.without_fts_trigger()
    people = People(pools, n, rng)
    stamp = "2024-01-01T00:00:00Z"
    rows = (
        (i + 1, f"C{i + 1:07d}", people.name[i], people.phone[i], people.email[i], "customer",
         stamp, stamp)
        for i in range(n)
    )  # fmt: skip
    loader.insert(
        "customers",
        ["id", "external_id", "name", "phone", "email", "lifecycle", "created_at", "updated_at"],
        rows,
    )
    loader.rebuild_fts(fts_triggers)
    loader.create_indexes()
    loader.finish()


def orders_csv_path(n: int, out: Path = DATA) -> Path:
    return out / f"orders-{n}.csv"


def customers_db_path(n: int, out: Path = DATA) -> Path:
    return out / f"crm-customers-{n}.db"


# ------------------------------------------------------------------------------ main


def csv_path(n: int, out: Path = DATA) -> Path:
    return out / f"customers-{n}.csv"


def db_path(n: int, out: Path = DATA) -> Path:
    return out / f"crm-{n}.db"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k customers instead of 1M")
    parser.add_argument("--customers", type=int, help="customer count (overrides --quick)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=DATA, help="output folder")
    parser.add_argument(
        "--only",
        choices=["csv", "db", "orders"],
        help="build only the customer CSV, the database, or the order lines CSV and its"
        " customers-only database",
    )
    parser.add_argument("--chinese-headers", action="store_true", help="CSV with 姓名,手机,...")
    args = parser.parse_args(argv)
    n = args.customers or (100_000 if args.quick else 1_000_000)

    t0 = time.perf_counter()
    pools = Pools(args.seed)
    log(f"pools: {time.perf_counter() - t0:.1f} s")
    if args.only == "orders":
        t1 = time.perf_counter()
        path = orders_csv_path(n, args.out)
        counts = write_orders_csv(path, n, args.seed)
        size = path.stat().st_size / 1e6
        log(f"{path}: {size:.0f} MB in {time.perf_counter() - t1:.1f} s; {counts}")
        t1 = time.perf_counter()
        build_customers_db(customers_db_path(n, args.out), n, args.seed, pools)
        log(f"{customers_db_path(n, args.out)}: {time.perf_counter() - t1:.1f} s")
        log(f"total {time.perf_counter() - t0:.1f} s")
        return 0
    if args.only != "db":
        t1 = time.perf_counter()
        path = csv_path(n, args.out)
        counts = write_customers_csv(path, n, args.seed, pools, args.chinese_headers)
        size = path.stat().st_size / 1e6
        log(f"{path}: {size:.0f} MB in {time.perf_counter() - t1:.1f} s; {counts}")
    if args.only != "csv":
        path = db_path(n, args.out)
        log(f"{path}: building ...")
        info = build_database(path, n, args.seed, pools)
        size = path.stat().st_size / 1e6
        log(f"{path}: {size:.0f} MB in {info['seconds']} s; {info['counts']}")
    log(f"total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
