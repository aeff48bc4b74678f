"""How long an import holds the write lock, and how long a concurrent `crm comm log` waits.

    .venv/bin/python benchmarks/bench_lock.py FILE.csv [--kind customer|order] [--db-template DB]

Runs `crm <kind> import FILE` in a child process with $CRM_IMPORT_STAGE_HOOK set: the import
writes one line per phase (staging, merge, committed) with its wall and CPU clock. As soon
as the merge begins (the write transaction is open), a `crm comm log` is started in another
process; it waits on the busy timeout and must succeed. Prints the staging, planning (no lock),
merge (lock hold) and post-commit (deferred indexes, search index) times, wall and CPU, the comm log's wall time and that of a comm log on an idle
database (the difference is its wait).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CRM = [sys.executable, "-m", "crmcli"]


def _crm(env: dict[str, str], *args: str, must: bool = True) -> float:
    """Wall time of one crm command; a failure exits (or, must=False, is printed and the
    time returned negative)."""
    start = time.perf_counter()
    proc = subprocess.run([*CRM, *args], env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        message = f"crm {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}"
        if must:
            sys.exit(message)
        print(message)
        return -took
    return took


def _phases(hook: Path) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for line in hook.read_text(encoding="utf-8").splitlines():
        name, wall, cpu = line.split()
        out.setdefault(name, (float(wall), float(cpu)))
    return out


def run_once(
    kind: str,
    csv: Path,
    template: Path | None,
    extra: tuple[str, ...] = (),
    base_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "crm.db"
        hook = Path(tmp) / "hook.txt"
        env = {**(base_env or os.environ), "CRM_DB": str(db)}
        env.pop("CRM_IMPORT_STAGE_HOOK", None)
        if template is not None:
            shutil.copyfile(template, db)
        _crm(env, "customer", "add", "--name", "Lock Probe", "--external-id", "LOCK-PROBE")
        probe = _crm(env, "comm", "log", "--external-id", "LOCK-PROBE", "--channel", "phone",
                     "--subject", "idle probe")  # fmt: skip
        argv = [*CRM, kind, "import", str(csv), "--rejects", str(Path(tmp) / "rejects.csv"),
                *extra]  # fmt: skip
        started = time.time()
        proc = subprocess.Popen(
            argv,
            env={**env, "CRM_IMPORT_STAGE_HOOK": str(hook)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        while proc.poll() is None and "merge" not in (
            hook.read_text(encoding="utf-8") if hook.exists() else ""
        ):
            time.sleep(0.01)
        comm_started = time.time()
        wait = _crm(env, "comm", "log", "--external-id", "LOCK-PROBE", "--channel", "phone",
                    "--subject", "during the merge", must=False)  # fmt: skip
        comm_done = time.time()
        _, err = proc.communicate()
        if proc.returncode not in (0, 1):
            sys.exit(f"import failed ({proc.returncode}): {err.strip()}")
        phases = _phases(hook)
        merge_wall, merge_cpu = phases["merge"]
        plan_wall, plan_cpu = phases.get("plan", phases["merge"])
        done_wall, done_cpu = phases["committed"]
        end_wall, end_cpu = phases.get("done", phases["committed"])
        marks = [(n, w, c) for n, (w, c) in phases.items() if merge_wall <= w <= done_wall]
        steps = "  ".join(
            f"{n} {w - pw:.2f}s/{c - pc:.2f}cpu"
            for (_, pw, pc), (n, w, c) in zip(marks, marks[1:], strict=False)
        )
        return {
            "_steps": steps,  # type: ignore[dict-item]
            "staging_wall": plan_wall - started,
            "staging_cpu": plan_cpu,
            "plan_wall": merge_wall - plan_wall,
            "plan_cpu": merge_cpu - plan_cpu,
            "lock_wall": done_wall - merge_wall,
            "lock_cpu": done_cpu - merge_cpu,
            "post_commit_wall": end_wall - done_wall,
            "post_commit_cpu": end_cpu - done_cpu,
            "comm_log_wall": wait,
            "comm_log_idle_wall": probe,
            "comm_log_started_after_merge": comm_started - merge_wall,
            "comm_log_done_after_commit": comm_done - done_wall,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--kind", choices=("customer", "order", "comm"), default="customer")
    parser.add_argument("--db-template", type=Path)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("import_args", nargs="*", help="more import options (after --)")
    args = parser.parse_args()
    for i in range(args.reps):
        result = run_once(args.kind, args.csv, args.db_template, tuple(args.import_args))
        steps = result.pop("_steps", None)
        print(f"run {i + 1}: " + "  ".join(f"{k} {v:.2f}" for k, v in result.items()))
        if steps:
            print("  under the lock: " + steps)


if __name__ == "__main__":
    main()
