"""Sales benchmarks (issue #15): `deal list` and `report pipeline` over 100k deals, and a
custom-field segment over 1M customers. Targets: <= 1 s each.

    .venv/bin/python benchmarks/bench_sales.py                 # both data sets (1M: a few minutes)
    .venv/bin/python benchmarks/bench_sales.py --only deals    # 100k deals only
    .venv/bin/python benchmarks/bench_sales.py --reps 5 --json /tmp/sales.json

Data (seeded, built once into the git-ignored benchmarks/data/): a database made by crmcli's
migrations, bulk-filled with SQL. Deals: 20k customers, 100k deals created over two years
in the default stages, each with its history (create, moves, won or lost: about 3.5 events
a deal) and 50k communications linked to deals. Customers: 1M customers with two custom
fields (`score` number 0-100, `region` choice of 6), every customer having both (2M values).
Every command runs as a child process (`crm` of this venv), median of --reps; results go to
benchmarks/results/sales-latest.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
CRM = str(Path(sys.executable).parent / "crm")
NOW = datetime(2026, 11, 1, tzinfo=UTC)
AS_OF = "2026-11-01T00:00:00Z"
STAGES = ["lead", "qualified", "proposal", "negotiation"]
REGIONS = ["华东", "华北", "华南", "华中", "西南", "东北"]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_deals(path: Path, n_deals: int = 100_000, n_customers: int = 20_000) -> None:
    from crmcli.db import connect

    rng = random.Random(15)
    path.unlink(missing_ok=True)
    db = connect(path)
    stamp = iso(NOW - timedelta(days=800))
    with db.transaction():
        db.executemany(
            "INSERT INTO customers(id, name, owner, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            [
                (i, f"customer {i}", f"owner{i % 8}", stamp, stamp)
                for i in range(1, n_customers + 1)
            ],
        )
        deals, events, comms = [], [], []
        for d in range(1, n_deals + 1):
            created = NOW - timedelta(days=rng.random() * 730)
            amount = int(rng.lognormvariate(10, 0.8)) * 100
            close = (created + timedelta(days=rng.randint(20, 150))).date().isoformat()
            owner = f"owner{rng.randrange(8)}"
            at, stage, kind = created, "lead", "create"
            history = [(d, iso(at), owner, "create", None, "lead", amount, close)]
            for step in range(1, 5):
                at = at + timedelta(days=rng.expovariate(1 / 15) + 0.1)
                if at >= NOW:
                    break
                roll = rng.random()
                if roll < 0.25:
                    history.append((d, iso(at), owner, "lost", stage, "lost", amount, close))
                    stage, kind = "lost", "lost"
                    break
                if roll < 0.8:
                    new = "won" if step == 4 else STAGES[step]
                    history.append((d, iso(at), owner, "won" if new == "won" else "move", stage,
                                    new, amount, close))  # fmt: skip
                    stage, kind = new, new
                    if new == "won":
                        break
                else:
                    break
            events += history
            last = history[-1][1]
            deals.append(
                (d, rng.randint(1, n_customers), f"deal {d}", amount, stage, close, owner,
                 iso(created), last, last, last if kind == "won" else None,
                 last if kind == "lost" else None)
            )  # fmt: skip
            if rng.random() < 0.5:
                when = created + timedelta(days=rng.random() * 60)
                if when < NOW:
                    comms.append((deals[-1][1], iso(when), d, iso(when), iso(when)))
        db.executemany(
            "INSERT INTO deals(id, customer_id, title, amount, stage, close_date, owner,"
            " created_at, updated_at, stage_changed_at, won_at, lost_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            deals,
        )
        db.executemany(
            "INSERT INTO deal_events(deal_id, at, actor, kind, from_stage, to_stage, amount,"
            " close_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            events,
        )
        db.executemany(
            "INSERT INTO communications(customer_id, channel, occurred_at, deal_id, created_at,"
            " updated_at) VALUES (?, 'phone', ?, ?, ?, ?)",
            comms,
        )
    db.execute("ANALYZE")
    db.close()


def build_customers(path: Path, n: int = 1_000_000) -> None:
    from crmcli.db import connect

    rng = random.Random(16)
    path.unlink(missing_ok=True)
    db = connect(path)
    stamp = iso(NOW - timedelta(days=400))
    with db.transaction():
        db.execute("DROP TRIGGER customers_fts_ai")  # bulk load; the benchmark never searches
        db.execute(
            "INSERT INTO custom_fields(id, entity, name, type, created_at)"
            " VALUES (1, 'customer', 'score', 'number', ?)",
            (stamp,),
        )
        db.execute(
            "INSERT INTO custom_fields(id, entity, name, type, choices, created_at)"
            " VALUES (2, 'customer', 'region', 'choice', ?, ?)",
            (json.dumps(REGIONS, ensure_ascii=False), stamp),
        )
        for start in range(1, n + 1, 100_000):
            ids = range(start, min(n + 1, start + 100_000))
            db.executemany(
                "INSERT INTO customers(id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                [(i, f"customer {i}", stamp, stamp) for i in ids],
            )
            db.executemany(
                "INSERT INTO custom_values(field_id, entity_id, value_num) VALUES (1, ?, ?)",
                [(i, float(rng.randint(0, 100))) for i in ids],
            )
            db.executemany(
                "INSERT INTO custom_values(field_id, entity_id, value_text) VALUES (2, ?, ?)",
                [(i, rng.choice(REGIONS)) for i in ids],
            )
        db.execute("DELETE FROM change_log")
    db.execute("ANALYZE")
    db.close()


def measure(argv: list[str], reps: int) -> dict[str, object]:
    """Median wall and CPU (user + system, from wait4) seconds of `reps` runs of one child."""
    import os

    walls, cpus = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - t0)
        cpus.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status) != 0:
            err = proc.stderr.read().decode() if proc.stderr else ""
            return {"command": " ".join(argv[3:]), "error": err[-300:]}
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"  {wall:7.3f} s wall {cpu:7.3f} s cpu  {' '.join(argv[5:])}", flush=True)
    return {"command": " ".join(argv[5:]), "median_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "runs_s": [round(w, 3) for w in walls], "load": os.getloadavg()[0],
            "target_s": 1.0, "met": wall <= 1.0}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["deals", "customers"])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=RESULTS / "sales-latest.json")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    results = []
    if args.only in (None, "deals"):
        path = DATA / "sales-100k-deals.db"
        if not path.exists():
            print("building 100k deals ...", flush=True)
            build_deals(path)
        base = [CRM, "--db", str(path), "--as-of", AS_OF]
        for extra in (
            ["deal", "list"],
            ["deal", "list", "--open", "--owner", "owner3", "--format", "json"],
            ["deal", "list", "--stalled", "30d", "--format", "csv"],
            ["deal", "list", "--format", "json"],
            ["report", "pipeline", "--format", "json"],
            ["report", "pipeline"],
        ):
            results.append(measure(base + extra, args.reps))
    if args.only in (None, "customers"):
        path = DATA / "sales-1m-customers.db"
        if not path.exists():
            print("building 1M customers with custom fields ...", flush=True)
            build_customers(path)
        base = [CRM, "--db", str(path), "--as-of", AS_OF]
        for extra in (
            ["customer", "list", "--segment", "custom.score>=99"],
            ["customer", "list", "--segment", "custom.score>=99", "--limit", "0", "--format",
             "csv"],
            ["customer", "list", "--segment", "custom.region=华东 and custom.score<5", "--limit",
             "0", "--format", "json"],
        ):  # fmt: skip
            results.append(measure(base + extra, args.reps))
    args.json.parent.mkdir(exist_ok=True)
    old = json.loads(args.json.read_text()) if args.json.exists() else {}
    old.update({r["command"]: r for r in results})
    args.json.write_text(json.dumps(old, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
