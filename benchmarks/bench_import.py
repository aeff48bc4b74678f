"""Time `crm customer import` (or `crm order import`) of one CSV into fresh databases.

    .venv/bin/python benchmarks/bench_import.py FILE.csv [--reps 3] [--kind customer|order]

Prints CPU time (user + sys of the child, as /usr/bin/time reports it), wall time and
peak RSS of each run, then the medians. CPU time is the fairer number on a shared machine.
An order import needs its customers: --db-template copies a database to start from.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CRM = [sys.executable, "-m", "crmcli"]


def run_once(kind: str, csv: Path, template: Path | None) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "crm.db"
        if template is not None:
            shutil.copyfile(template, db)
        env = {**os.environ, "CRM_DB": str(db)}
        argv = [*CRM, kind, "import", str(csv), "--rejects", str(Path(tmp) / "rejects.csv")]
        start = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            sys.exit(f"import failed ({proc.returncode}): {proc.stderr.strip()}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return cpu, wall, after.ru_maxrss / 1024  # maxrss: the largest child so far


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--kind", choices=("customer", "order"), default="customer")
    parser.add_argument("--db-template", type=Path)
    args = parser.parse_args()
    runs = []
    for i in range(args.reps):
        cpu, wall, rss = run_once(args.kind, args.csv, args.db_template)
        print(f"run {i + 1}: cpu {cpu:.2f} s  wall {wall:.2f} s  peak RSS <= {rss:.0f} MB")
        runs.append((cpu, wall))
    cpus, walls = zip(*runs, strict=True)
    print(f"median: cpu {statistics.median(cpus):.2f} s  wall {statistics.median(walls):.2f} s")


if __name__ == "__main__":
    main()
