"""Time `crm customer import` (or `crm order import`) of one CSV into fresh databases, next
to its baselines in the same run (issue #12: <= 4x the CPU of `sqlite3 .import`, >= 5x
faster than `sqlite-utils insert --csv`, peak <= 250 MB).

    .venv/bin/python benchmarks/bench_import.py FILE.csv [--reps 3] [--kind customer|order]
        [--crm-args "--create-company"] [--no-baselines] [--json OUT.json]

Every command runs as a child process; CPU time is user + sys of the child (what
/usr/bin/time reports), next to wall time, and the child's own peak RSS (os.wait4). CPU is
the fairer number on a shared machine: the load average is printed with the results. The
crm runs also report where their CPU went, from $CRM_IMPORT_STAGE_HOOK (pipeline._touch):
start-up and staging (read, normalize, validate), planning, the write transaction and the
work after the commit. An order import needs its customers: --db-template copies a database
to start from.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CRM = [sys.executable, "-m", "crmcli"]
BIN = Path(sys.executable).parent
SQLITE3 = shutil.which("sqlite3")
SQLITE_UTILS = str(BIN / "sqlite-utils")


def run_child(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """(CPU user+sys, wall, peak RSS MB, exit code) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode not in (0, 1):
        sys.exit(f"{argv[0]} failed ({proc.returncode}): {err.strip()[-500:]}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, proc.returncode


def phases(hook: Path, total_cpu: float) -> dict[str, float]:
    """CPU seconds per phase from the hook file (lines `what wall cpu`, written when the
    phase starts: staging at the first staged batch, then plan, merge, committed, done)."""
    cpus: dict[str, float] = {}
    for text in hook.read_text().splitlines():
        what, _, cpu = text.split()
        cpus.setdefault(what, float(cpu))
    spans = [
        ("startup_and_staging", None, "plan" if "plan" in cpus else "merge"),
        ("plan", "plan", "merge"),
        ("write_transaction", "merge", "committed"),
        ("after_commit", "committed", "done"),
    ]
    out: dict[str, float] = {}
    for name, start, end in spans:
        if end in cpus and (start is None or start in cpus):
            out[name] = cpus[end] - (cpus[start] if start else 0.0)
    if cpus:
        out["exit"] = total_cpu - max(cpus.values())  # shutdown, and sys time not yet seen
    return out


def crm_once(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "crm.db"
        hook = Path(tmp) / "hook.txt"
        if args.db_template is not None:
            shutil.copyfile(args.db_template, db)
        env = {**os.environ, "CRM_DB": str(db), "CRM_IMPORT_STAGE_HOOK": str(hook)}
        argv = [*CRM, args.kind, "import", str(args.csv), "--rejects", str(Path(tmp) / "r.csv")]
        argv += shlex.split(args.crm_args)
        cpu, wall, rss, _ = run_child(argv, env)
        out = {"cpu": cpu, "wall": wall, "rss_mb": rss, "phases": phases(hook, cpu)}
        if args.floor and args.kind == "customer" and SQLITE3:
            out["schema_floor"] = schema_floor(db)
        return out


def schema_floor(db: Path) -> dict[str, float]:
    """What SQLite alone (the sqlite3 shell, no Python) spends building the indexes and the
    trigram search index of the customers this import stored: a floor under any import
    into this schema. The imported database is copied, its customers' secondary indexes and
    search index emptied (not timed), then the shell builds them again (timed)."""
    import sqlite3

    work = db.with_name("floor.db")
    shutil.copyfile(db, work)
    con = sqlite3.connect(work, isolation_level=None)
    sqls = [
        r[0]
        for r in con.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers'"
            " AND sql IS NOT NULL"
        )
    ]
    names = [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers'"
            " AND sql IS NOT NULL"
        )
    ]
    for name in names:
        con.execute(f'DROP INDEX "{name}"')
    con.execute("INSERT INTO customers_fts(customers_fts) VALUES ('delete-all')")
    con.execute("VACUUM")
    con.close()
    out = {}
    for what, script in (
        ("indexes", ";\n".join(sqls) + ";\n"),
        ("search_index", "INSERT INTO customers_fts(customers_fts) VALUES ('rebuild');\n"),
    ):
        path = db.with_name(f"{what}.sql")
        path.write_text("PRAGMA synchronous = NORMAL;\n" + script, encoding="utf-8")
        cpu, _, _, _ = run_child([str(SQLITE3), str(work), f".read {path}"], dict(os.environ))
        out[what] = cpu
    work.unlink()
    return out


def baseline_once(name: str, csv: Path) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "b.db"
        if name == "sqlite3 .import":
            if not SQLITE3:
                return None
            argv = [SQLITE3, str(target), f".import --csv {csv} t"]
        else:
            if not Path(SQLITE_UTILS).exists():
                return None
            argv = [SQLITE_UTILS, "insert", str(target), "t", str(csv), "--csv"]
        cpu, wall, rss, _ = run_child(argv, dict(os.environ))
        return {"cpu": cpu, "wall": wall, "rss_mb": rss}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = {k: statistics.median(r[k] for r in runs) for k in ("cpu", "wall")}
    out["rss_mb"] = max(r["rss_mb"] for r in runs)
    if runs and "phases" in runs[0]:
        keys = runs[0]["phases"].keys()
        out["phases"] = {k: statistics.median(r["phases"].get(k, 0.0) for r in runs) for k in keys}
    if runs and "schema_floor" in runs[0]:
        parts = runs[0]["schema_floor"].keys()
        out["schema_floor"] = {
            k: statistics.median(r["schema_floor"][k] for r in runs) for k in parts
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--kind", choices=("customer", "order"), default="customer")
    parser.add_argument("--db-template", type=Path)
    parser.add_argument("--crm-args", default="", help='e.g. "--create-company"')
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time the sqlite3 shell building this schema's indexes and search index"
        " on the imported customers (a floor under any import into it)",
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    args.csv = args.csv.resolve()
    load_before = os.getloadavg()
    names = [] if args.no_baselines else ["sqlite3 .import", "sqlite-utils insert --csv"]
    runs: dict[str, list[dict[str, Any]]] = {"crm": [], **{n: [] for n in names}}
    for i in range(args.reps):  # interleaved: a change of load hits every command alike
        got = crm_once(args)
        runs["crm"].append(got)
        print(
            f"run {i + 1}: crm cpu {got['cpu']:.2f} s  wall {got['wall']:.2f} s  "
            f"peak RSS {got['rss_mb']:.0f} MB  phases (CPU s) "
            + ", ".join(f"{k} {v:.2f}" for k, v in got["phases"].items()),
            flush=True,
        )
        for name in names:
            base = baseline_once(name, args.csv)
            if base is not None:
                runs[name].append(base)
    medians = {name: median_of(r) for name, r in runs.items() if r}
    crm = medians["crm"]
    print(
        f"\n{args.csv.name}, {args.kind} import {args.crm_args}".rstrip()
        + f", median of {args.reps}"
    )
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    for name, m in medians.items():
        print(
            f"  {name:28s} cpu {m['cpu']:7.2f} s  wall {m['wall']:7.2f} s  peak {m['rss_mb']:5.0f} MB"
        )
    ratios = {}
    if "sqlite3 .import" in medians:
        ratios["crm_cpu_over_sqlite3_import"] = crm["cpu"] / medians["sqlite3 .import"]["cpu"]
        print(
            f"  crm / sqlite3 .import (CPU)           {ratios['crm_cpu_over_sqlite3_import']:.1f}x  (target <= 4x)"
        )
    if "sqlite-utils insert --csv" in medians:
        ratios["sqlite_utils_cpu_over_crm"] = (
            medians["sqlite-utils insert --csv"]["cpu"] / crm["cpu"]
        )
        print(
            f"  sqlite-utils / crm (CPU)              {ratios['sqlite_utils_cpu_over_crm']:.2f}x  (target >= 5x)"
        )
    print("  crm phases (CPU s): " + ", ".join(f"{k} {v:.2f}" for k, v in crm["phases"].items()))
    if "schema_floor" in crm:
        floor = crm["schema_floor"]
        total = sum(floor.values())
        ratios["schema_floor_cpu_over_sqlite3_import"] = (
            total / medians["sqlite3 .import"]["cpu"] if "sqlite3 .import" in medians else None
        )
        print(
            "  sqlite3 shell, this schema's indexes + search index on the same customers:"
            f" {total:.2f} s CPU ("
            + ", ".join(f"{k} {v:.2f}" for k, v in floor.items())
            + ")"
            + (
                f" = {ratios['schema_floor_cpu_over_sqlite3_import']:.1f}x .import"
                if ratios["schema_floor_cpu_over_sqlite3_import"]
                else ""
            )
        )
    if args.json:
        result = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "file": args.csv.name,
            "kind": args.kind,
            "crm_args": args.crm_args,
            "reps": args.reps,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
            "medians": medians,
            "ratios": ratios,
            "runs": runs,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
