"""Worker processes for test_concurrency: each runs one kind of write many times.

Usage: python workers.py ROLE COUNT WORKDIR  (CRM_DB in the environment). Every operation is
a full `crm` invocation in this process (open, write in one transaction, close), like a
script calling the CLI in a loop. Prints one JSON line: {"role", "ops", "failures"}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fastcli import FastRunner

runner = FastRunner()
failures: list[dict[str, object]] = []
ops = 0


def crm(*args: str) -> str:
    global ops
    ops += 1
    result = runner.run(list(args))
    if result.exit_code != 0 or "Traceback" in result.output:
        failures.append({"args": list(args), "exit": result.exit_code, "out": result.output[-300:]})
    return result.stdout.strip()


def adds(count: int, workdir: Path) -> None:
    for i in range(count):
        new = crm("customer", "add", "--name", f"Add {i}", "--email", f"add{i}@example.com")
        if not new.isdigit():
            continue
        if i % 3 == 0:
            crm(
                "customer",
                "update",
                new,
                "--owner",
                "bob",
                "--company",
                f"Co {i}",
                "--create-company",
            )
        if i % 4 == 0:
            crm("customer", "tag", new, "--add", "busy")


def imports(count: int, workdir: Path) -> None:
    batches = count // 20
    for b in range(batches):
        path = workdir / f"batch{b}.csv"
        lines = ["external_id,name,email"] + [
            f"IMP-{b}-{j},Imported {b}-{j},imp{b}.{j}@example.com" for j in range(20)
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        crm("customer", "import", str(path), "--key", "external_id")
        if b % 2 == 0:  # the same file again: an upsert that must not duplicate anything
            crm("customer", "import", str(path), "--key", "external_id")


def comms(count: int, workdir: Path) -> None:
    for i in range(count):
        crm("comm", "log", str(1 + i % 10), "--channel", "phone", "--subject", f"call {i}")


def tickets(count: int, workdir: Path) -> None:
    for i in range(count // 4):
        new = crm(
            "ticket",
            "open",
            str(1 + i % 10),
            "--subject",
            f"issue {i}",
            "--category",
            "billing",
            "--no-reply",
        )
        if not new.isdigit():
            continue
        crm("ticket", "start", new)
        crm("ticket", "comment", new, f"looking at issue {i}")
        crm("ticket", "resolve", new)


def backups(count: int, workdir: Path) -> None:
    """Online backups taken while the others write (checked afterwards by the test)."""
    import time

    for i in range(count // 25):
        crm("db", "backup", str(workdir / f"backup{i:02d}.db"))
        time.sleep(0.2)


ROLES = {"add": adds, "import": imports, "comm": comms, "ticket": tickets, "backup": backups}

if __name__ == "__main__":
    role, count, workdir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    ROLES[role](count, workdir)
    print(json.dumps({"role": role, "ops": ops, "failures": failures}))
