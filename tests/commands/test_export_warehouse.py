"""`crm export warehouse`: the star schema read back in DuckDB, incremental deltas, masking."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest

from crmcli.db import connect

STAR = (
    "dim_customer",
    "dim_agent",
    "dim_campaign",
    "dim_date",
    "fact_communication",
    "fact_ticket",
    "fact_ticket_event",
    "fact_campaign_member",
    "fact_order",
    "dim_company",
    "fact_deal",
    "fact_deal_event",
    "fact_custom_value",
)
LIFECYCLES = ("lead", "prospect", "customer", "churned")
CHANNELS = ("phone", "email", "meeting", "chat", "sms", "visit")
STATUSES = ("open", "in_progress", "waiting", "resolved", "closed")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(path: Path, n_customers: int = 120, seed_value: int = 11) -> None:
    """A database with every star-schema source filled, times spread over two years
    (many of them near midnight in Asia/Shanghai, where the UTC and local days differ)."""
    rng = random.Random(seed_value)
    start = datetime(2024, 1, 1, tzinfo=UTC)

    def when() -> str:
        day = start + timedelta(days=rng.randrange(700))
        # 15:00-17:59 UTC is 23:00-01:59 in Shanghai: month ends fall on both sides.
        return iso(day + timedelta(hours=rng.choice([1, 9, 15, 16, 17]), minutes=rng.randrange(60)))

    db = connect(path, actor="seed")
    with db.transaction():
        for name in ("alice", "bob"):
            db.execute(
                "INSERT INTO agents(name, email, created_at) VALUES (?, ?, ?)",
                (name, f"{name}@ourco.example", iso(start)),
            )
        db.execute("INSERT INTO agent_skills VALUES (1, 'billing'), (1, 'tech')")
        for i in range(1, n_customers + 1):
            db.execute(
                "INSERT INTO customers(name, phone, email, address, company, lifecycle, notes,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    f"客户{i}" if i % 2 else f"Customer {i}",
                    f"+8613{i:09d}",
                    f"user{i}@example.cn",
                    f"上海市浦东新区世纪大道{i}号",
                    "Acme" if i % 3 else None,
                    LIFECYCLES[rng.randrange(4)],
                    "likes tea",
                    when(),
                    when(),
                ),
            )
            if i % 4 == 0:
                db.execute("INSERT INTO customer_tags VALUES (?, 'vip')", (i,))
        for c in range(1, 4):
            db.execute(
                "INSERT INTO campaigns(name, channel, cost, status, starts_at, created_at,"
                " updated_at) VALUES (?, 'email', ?, 'active', ?, ?, ?)",
                (f"Campaign {c}", 100000 * c + 55, when(), when(), when()),
            )
            for cid in rng.sample(range(1, n_customers + 1), min(30, n_customers)):
                result = rng.choice(["pending", "success", "failure"])
                db.execute(
                    "INSERT INTO campaign_members(campaign_id, customer_id, variant, contacted_at,"
                    " result, revenue) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        c,
                        cid,
                        rng.choice("AB"),
                        when(),
                        result,
                        rng.randrange(1, 99999) if result == "success" else None,
                    ),  # fmt: skip
                )
        for _ in range(600):
            db.execute(
                "INSERT INTO communications(customer_id, channel, direction, occurred_at, subject,"
                " content, agent, duration_s, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'hello', '电话沟通', ?, ?, ?, ?)",
                (
                    rng.randrange(1, n_customers + 1),
                    rng.choice(CHANNELS),
                    rng.choice(["inbound", "outbound"]),
                    when(),
                    rng.choice(["alice", "bob", "carol", None]),
                    rng.randrange(30, 900),
                    when(),
                    when(),
                ),
            )
        for t in range(1, 81):
            created = when()
            db.execute(
                "INSERT INTO tickets(customer_id, subject, description, status, priority,"
                " assignee, created_at, updated_at, first_response_at) VALUES"
                " (?, 'broken', 'it is broken', ?, 'normal', 'alice', ?, ?, ?)",
                (
                    rng.randrange(1, n_customers + 1),
                    rng.choice(STATUSES),
                    created,
                    created,
                    iso(datetime.fromisoformat(created) + timedelta(minutes=37)),
                ),
            )
            for _ in range(rng.randrange(1, 4)):
                db.execute(
                    "INSERT INTO ticket_events(ticket_id, at, actor, kind, body)"
                    " VALUES (?, ?, 'alice', 'comment', 'called the customer')",
                    (t, created),
                )
        for o in range(1, 401):
            db.execute(
                "INSERT INTO orders(external_id, customer_id, ordered_at, amount, currency,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 'CNY', ?, ?)",
                (
                    f"ERP-{o}",
                    rng.randrange(1, n_customers + 1),
                    when(),
                    rng.randrange(100, 500000),
                    when(),
                    when(),
                ),  # fmt: skip
            )
    db.close()


def export(cli: Any, target: Path, *args: str) -> dict[str, Any]:
    out = cli.ok("--format", "json", "export", "warehouse", str(target), *args)
    return json.loads(out)


DUCKDB_TYPES = {
    "int64": "BIGINT",
    "int32": "INTEGER",
    "float64": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "timestamp_utc": "TIMESTAMPTZ",
    "decimal(18,2)": "DECIMAL(18,2)",
    "date": "DATE",
}


def read(target: Path, table: str, fmt: str = "parquet") -> str:
    """A DuckDB table expression for one exported file; CSV typed from manifest.json."""
    path = target / f"{table}.{fmt}"
    if fmt == "parquet":
        return f"read_parquet('{path}')"
    manifest = json.loads((target / "manifest.json").read_text())
    columns = ", ".join(
        f"'{c['name']}': '{DUCKDB_TYPES[c['type']]}'" for c in manifest["tables"][table]["columns"]
    )
    return f"read_csv('{path}', header = true, columns = {{{columns}}})"


def sqlite_rows(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = connect(db_path)
    try:
        return [tuple(r) for r in db.execute(sql).fetchall()]
    finally:
        db.close()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_duckdb_reads_the_export_with_the_databases_aggregates(
    cli: Any, db_path: Path, tmp_path: Path, fmt: str
) -> None:
    seed(db_path)
    target = tmp_path / "wh"
    manifest = export(cli, target, "--file-format", fmt)
    con = duckdb.connect()

    def q(sql: str, *tables: str) -> list[tuple[Any, ...]]:
        return con.execute(sql.format(*(read(target, t, fmt) for t in tables))).fetchall()

    # Customers by lifecycle: the export against `crm customer list` output.
    listed = json.loads(cli.ok("customer", "list", "--limit", "0", "--format", "json"))
    expected_lifecycle = Counter(r["lifecycle"] for r in listed)
    got = dict(q("SELECT lifecycle, count(*) FROM {} GROUP BY 1", "dim_customer"))
    assert got == dict(expected_lifecycle) and sum(got.values()) == 120

    # Communications per channel.
    expected = dict(sqlite_rows(db_path, "SELECT channel, count(*) FROM communications GROUP BY 1"))
    assert dict(q("SELECT channel, count(*) FROM {} GROUP BY 1", "fact_communication")) == expected

    # Tickets by status.
    expected = dict(sqlite_rows(db_path, "SELECT status, count(*) FROM tickets GROUP BY 1"))
    assert dict(q("SELECT status, count(*) FROM {} GROUP BY 1", "fact_ticket")) == expected

    # Order revenue per month in the configured zone (Asia/Shanghai), computed independently
    # in Python from the stored UTC times, against fact_order joined to dim_date.
    zone = ZoneInfo("Asia/Shanghai")
    revenue: Counter[str] = Counter()
    for ordered_at, cents in sqlite_rows(db_path, "SELECT ordered_at, amount FROM orders"):
        local = datetime.fromisoformat(ordered_at).astimezone(zone)
        revenue[f"{local:%Y-%m}"] += cents
    got_revenue = q(
        "SELECT d.year_month, sum(o.amount), sum(o.amount_cents) FROM {} o"
        " JOIN {} d ON d.date_key = o.date_key GROUP BY 1",
        "fact_order",
        "dim_date",
    )
    assert {m: Decimal(str(a)) for m, a, _ in got_revenue} == {
        m: Decimal(c).scaleb(-2) for m, c in revenue.items()
    }
    assert {m: int(c) for m, _, c in got_revenue} == dict(revenue)
    # Some orders fall in another month in UTC than in Shanghai: the check has teeth.
    stored = [o for (o,) in sqlite_rows(db_path, "SELECT ordered_at FROM orders")]
    assert any(o[:7] != f"{datetime.fromisoformat(o).astimezone(zone):%Y-%m}" for o in stored)

    # Campaign revenue and members per result, and every fact key resolves to a dimension.
    expected = dict(
        sqlite_rows(db_path, "SELECT result, count(*) FROM campaign_members GROUP BY 1")
    )
    assert dict(q("SELECT result, count(*) FROM {} GROUP BY 1", "fact_campaign_member")) == expected
    orphans = q(
        "SELECT count(*) FROM {} f LEFT JOIN {} c USING (customer_id) WHERE c.customer_id IS NULL",
        "fact_communication",
        "dim_customer",
    )
    assert orphans == [(0,)]
    missing_dates = q(
        "SELECT count(*) FROM {} f LEFT JOIN {} d USING (date_key) WHERE d.date_key IS NULL",
        "fact_communication",
        "dim_date",
    )
    assert missing_dates == [(0,)]

    # Manifest: row counts and checksums describe the files next to it.
    for table in (*STAR, "deleted_rows"):
        entry = manifest["tables"][table]
        data = (target / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert q("SELECT count(*) FROM {}", table) == [(entry["rows"],)]
    on_disk = json.loads((target / "manifest.json").read_text())
    assert on_disk["watermark"] == manifest["watermark"] > 0
    assert on_disk["format"] == fmt and on_disk["mode"] == "full"


def test_parquet_types_money_and_times(cli: Any, db_path: Path, tmp_path: Path) -> None:
    seed(db_path, n_customers=10)
    target = tmp_path / "wh"
    export(cli, target)
    import pyarrow.parquet as pq

    orders = pq.read_table(target / "fact_order.parquet")
    assert str(orders.schema.field("amount").type) == "decimal128(18, 2)"
    assert str(orders.schema.field("ordered_at").type) == "timestamp[ms, tz=UTC]"
    first = orders.slice(0, 1).to_pylist()[0]
    stored = sqlite_rows(db_path, "SELECT amount, ordered_at FROM orders WHERE id = 1")[0]
    assert first["amount_cents"] == stored[0]
    assert first["amount"] == Decimal(stored[0]).scaleb(-2)
    assert first["ordered_at"] == datetime.fromisoformat(stored[1])


def test_incremental_twice_gives_an_empty_second_delta(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    seed(db_path, n_customers=30)
    target = tmp_path / "wh"
    full = export(cli, target, "--incremental")
    assert full["mode"] == "full" and full["tables"]["dim_customer"]["rows"] == 30
    first = export(cli, target, "--incremental")
    second = export(cli, target, "--incremental")
    for manifest in (first, second):
        assert manifest["mode"] == "incremental"
        assert {t: e["rows"] for t, e in manifest["tables"].items()} == dict.fromkeys(
            (*STAR, "deleted_rows"), 0
        )
    assert second["since_watermark"] == second["watermark"] == full["watermark"]


def test_incremental_delta_applied_to_the_full_export_equals_a_new_full_export(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    seed(db_path, n_customers=40)
    target, fresh = tmp_path / "wh", tmp_path / "fresh"
    full = export(cli, target)
    con = duckdb.connect()  # the "warehouse": loads the full export first
    for table in STAR:
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{target}/{table}.parquet')"
        )
    # Changes: an update, a tag, a new communication, deleted orders, a member's result.
    cli.ok("customer", "update", "3", "--owner", "zoe")
    cli.ok("customer", "tag", "5", "--add", "gold")
    db = connect(db_path)
    with db.transaction():
        db.execute(
            "INSERT INTO communications(customer_id, channel, direction, occurred_at, created_at,"
            " updated_at) VALUES (7, 'visit', 'outbound', '2026-01-31T16:30:00Z',"
            " '2026-01-31T16:30:00Z', '2026-01-31T16:30:00Z')"
        )
        db.execute("DELETE FROM orders WHERE id IN (10, 11)")
        db.execute(
            "UPDATE campaign_members SET result = 'success', revenue = 777"
            " WHERE (campaign_id, customer_id) = (SELECT campaign_id, customer_id"
            " FROM campaign_members ORDER BY 1, 2 LIMIT 1)"
        )
    db.close()
    delta = export(cli, target, "--incremental")
    rows = {t: e["rows"] for t, e in delta["tables"].items()}
    assert rows["dim_customer"] == 2 and rows["fact_communication"] == 1
    assert rows["fact_campaign_member"] == 1 and rows["deleted_rows"] == 2
    assert rows["fact_order"] == 0 and rows["fact_ticket"] == 0
    # dim_date grows contiguously up to 2026-02-01 (Shanghai), past the seeded range.
    old_max = str(full["date_range"]["max"])
    gap = date(2026, 2, 1) - date(int(old_max[:4]), int(old_max[4:6]), int(old_max[6:]))
    assert rows["dim_date"] == gap.days > 0 and delta["date_range"]["max"] == 20260201
    export(cli, fresh)

    # Apply the delta the way a warehouse loader would: delete by key, insert the new rows.
    deleted = con.execute(
        f"SELECT table_name, key1, key2 FROM read_parquet('{target}/deleted_rows.parquet')"
    ).fetchall()
    assert sorted(d[1] for d in deleted) == [10, 11] and {d[0] for d in deleted} == {"fact_order"}
    keys = {t: e["key"] for t, e in delta["tables"].items()}
    for table in STAR:
        src = f"read_parquet('{target}/{table}.parquet')"
        match = " AND ".join(f"t.{k} = s.{k}" for k in keys[table])
        con.execute(f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM {src} s WHERE {match})")
        con.execute(f"INSERT INTO {table} SELECT * FROM {src}")
    for table, key1, _ in deleted:
        con.execute(f"DELETE FROM {table} WHERE {keys[table][0]} = ?", [key1])
    for table in STAR:
        order = ", ".join(keys[table])
        merged = con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
        new = con.execute(
            f"SELECT * FROM read_parquet('{fresh}/{table}.parquet') ORDER BY {order}"
        ).fetchall()
        assert merged == new, table


def test_masked_by_default_and_include_pii(cli: Any, db_path: Path, tmp_path: Path) -> None:
    seed(db_path, n_customers=6)
    masked, plain = tmp_path / "masked", tmp_path / "plain"
    manifest = export(cli, masked, "--file-format", "csv")
    export(cli, plain, "--file-format", "csv", "--include-pii")
    con = duckdb.connect()
    m = con.execute(
        f"SELECT name, phone, email, address FROM read_csv('{masked}/dim_customer.csv')"
        " WHERE customer_id = 2"
    ).fetchone()
    p = con.execute(
        f"SELECT name, phone, email, address, notes FROM read_csv('{plain}/dim_customer.csv')"
        " WHERE customer_id = 2"
    ).fetchone()
    # CSV cells starting with + = - @ are neutralised with a leading apostrophe (#14: a
    # spreadsheet runs them as formulas); loaders strip it (manifest: csv_formula_prefix).
    assert p == (
        "Customer 2",
        "'+8613000000002",
        "user2@example.cn",
        "上海市浦东新区世纪大道2号",
        "likes tea",
    )
    assert m == ("C*********", "'+86130****0002", "u***2@example.cn", "上海市浦*********")
    text = "".join(f.read_text(encoding="utf-8") for f in masked.glob("*.csv"))
    assert "user2@example.cn" not in text and "likes tea" not in text and "电话沟通" not in text
    header = (masked / "fact_communication.csv").read_text().splitlines()[0].split(",")
    assert "content" not in header and "subject" not in header
    assert "content" in (plain / "fact_communication.csv").read_text().splitlines()[0]
    assert manifest["pii"] == "masked"
    email = next(c for c in manifest["tables"]["dim_customer"]["columns"] if c["name"] == "email")
    assert email["pii"] == "masked"


def test_watermark_from_the_manifest_when_the_database_has_none(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    seed(db_path, n_customers=5)
    target = tmp_path / "wh"
    export(cli, target)
    db = connect(db_path)
    with db.transaction():
        db.execute("DELETE FROM settings WHERE key LIKE 'export.warehouse:%'")
    db.close()
    again = export(cli, target, "--incremental")
    assert again["mode"] == "incremental" and again["tables"]["dim_customer"]["rows"] == 0


def test_export_is_audited_and_replaces_files_of_another_format(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    seed(db_path, n_customers=5)
    target = tmp_path / "wh"
    export(cli, target)
    export(cli, target, "--file-format", "csv")
    assert not list(target.glob("*.parquet")) and len(list(target.glob("*.csv"))) == 14
    assert not [p for p in target.iterdir() if p.name.startswith(".")]
    audit = sqlite_rows(db_path, "SELECT action, entity FROM audit_log WHERE entity = 'warehouse'")
    assert audit == [("export", "warehouse")] * 2


@pytest.mark.parametrize(
    "args",
    [
        ["--file-format", "json"],
        ["--since", "1", "--incremental"],
        ["--since", "999999"],
        ["--since", "-1"],
    ],
)
def test_bad_options_exit_2_and_write_nothing(
    cli: Any, db_path: Path, tmp_path: Path, args: list[str]
) -> None:
    seed(db_path, n_customers=3)
    target = tmp_path / "wh"
    result = cli("export", "warehouse", str(target), *args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("Error: ") and result.stdout == ""
    assert not (target / "manifest.json").exists()


def test_target_that_is_a_file_and_pii_switch_are_refused(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    seed(db_path, n_customers=3)
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    assert cli("export", "warehouse", str(afile)).exit_code == 2
    target = tmp_path / "wh"
    export(cli, target)
    result = cli("export", "warehouse", str(target), "--incremental", "--include-pii")
    assert result.exit_code == 2 and "personal data" in result.stderr


def change_log_size(db_path: Path) -> int:
    return int(sqlite_rows(db_path, "SELECT count(*) FROM change_log")[0][0])


def test_change_log_is_pruned_below_every_targets_watermark(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    seed(db_path, n_customers=5)
    assert change_log_size(db_path) > 100
    one, two = tmp_path / "one", tmp_path / "two"
    first = export(cli, one)
    assert first["change_log_pruned"] > 100 and change_log_size(db_path) == 0
    cli.ok("customer", "update", "2", "--owner", "zoe")
    export(cli, two)  # a second target; "one" still needs the change above
    assert change_log_size(db_path) == 1
    delta = export(cli, one, "--incremental")
    assert delta["tables"]["dim_customer"]["rows"] == 1
    assert delta["change_log_pruned"] == 1 and change_log_size(db_path) == 0
    # A watermark older than what is kept cannot be served: say so instead of a wrong delta.
    result = cli("export", "warehouse", str(tmp_path / "three"), "--since", "0")
    assert result.exit_code == 2 and "full export" in result.stderr
