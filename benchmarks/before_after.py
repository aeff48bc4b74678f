"""Issue #18 (render): a tree before these changes against the current one, interleaved.

    python benchmarks/before_after.py OLD_SRC --reps 5 --json results/x.json

OLD_SRC is the `src` folder of an older checkout (e.g. `git archive 28d3e66 src | tar -x -C
/tmp/old`). Each case runs old, new, old, new ... as child processes (the same Python, the
old tree first on sys.path), so both see the same load; the medians of CPU time (user +
system, os.wait4) and wall time are reported with the load average. Reports read the demo
database (benchmarks/data/demo.db; an older tree opens a newer schema read-only, which
reports do not mind); `comm log` writes to a small database made by the old tree (a copy
for the new one).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import DEMO_REPORTS, NOW  # noqa: E402


def child(src: str | None, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    entry = "crmcli.cli" if src else "crmcli.launch"
    path = f"sys.path.insert(0, {src!r}); " if src else ""
    code = f"import sys; {path}sys.argv[0] = 'crm'; from {entry} import main; main()"
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execve(sys.executable, [sys.executable, "-c", code, *args], env)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {args}")
    return usage.ru_utime + usage.ru_stime, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old_src")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    work = Path(tempfile.mkdtemp(prefix="crm-ba-"))
    demo = {**env, "CRM_DB": str(HERE / "data" / "demo.db")}
    cases: list[tuple[str, list[str], dict[str, str], dict[str, str]]] = []
    for name, extra in DEMO_REPORTS:
        for fmt in ("table", "json", "html"):
            tail = ["--out", str(work / "r.html")] if fmt == "html" else ["--format", fmt]
            label = f"report {name} {' '.join(extra)} {fmt}".replace("  ", " ")
            cases.append((label, ["--as-of", NOW, "report", name, *extra, *tail], demo, demo))
    old_db, new_db = work / "old.db", work / "new.db"
    subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {args.old_src!r}); "
         "sys.argv[0]='crm'; from crmcli.cli import main; main()", "db", "init", str(old_db)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    for n in range(5):
        child(args.old_src, ["customer", "add", "--name", f"c{n}"], {**env, "CRM_DB": str(old_db)})
    shutil.copyfile(old_db, new_db)
    child(None, ["customer", "show", "1", "-f", "json"], {**env, "CRM_DB": str(new_db)})  # migrate
    log = ["--as-of", NOW, "comm", "log", "3", "--channel", "phone", "--subject", "benchmark"]
    cases.append(("comm log", log, {**env, "CRM_DB": str(old_db)}, {**env, "CRM_DB": str(new_db)}))
    results = []
    for label, argv_, old_env, new_env in cases:
        runs: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
        loads = []
        for _ in range(args.reps):
            runs["old"].append(child(args.old_src, argv_, old_env))
            runs["new"].append(child(None, argv_, new_env))
            loads.append(os.getloadavg()[0])
        row = {"case": label, "load": round(statistics.median(loads), 1)}
        for side, values in runs.items():
            row[f"{side}_cpu_s"] = round(statistics.median(v[0] for v in values), 3)
            row[f"{side}_wall_s"] = round(statistics.median(v[1] for v in values), 3)
        results.append(row)
        print(
            f"| {label} | {row['old_cpu_s']:.3f} / {row['old_wall_s']:.2f} "
            f"| {row['new_cpu_s']:.3f} / {row['new_wall_s']:.2f} | {row['load']} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps({"reps": args.reps, "results": results}, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
