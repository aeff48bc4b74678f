"""Finishing an erasure outside the database (the pending purges `customer forget` commits).

`customer forget` commits, in the erasure's own transaction, a pending-purge record: the
erased customer's ticket ids and the hashes of their identifiers (email, phones, ids), the
rejects files imports wrote and the warehouse export folders. `finish_pending` then:

- deletes auto-reply e-mails in the outbox for those tickets or addressed to those emails;
- rewrites each rejects file without the rows holding one of those identifiers (through
  core.files: atomically, 0600);
- removes temporary files killed exports left in the warehouse folders;

and marks the purge done (dropping the hashes). It runs right after the commit, again on
`customer forget` of an already erased customer, and from `crm db check --repair`, so a kill
at any moment leaves work that the next run finishes.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from crmcli.db import Database, privacy

_ADDRESS = re.compile(rb"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TICKET = re.compile(rb"^X-CRM-Ticket: *(\d+)", re.MULTILINE)


def _outbox(db: Database, tickets: set[str], hashes: set[str]) -> int:
    from crmcli.tickets.autoreply import outbox_dir

    folder = outbox_dir(db.path)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.glob("*.eml"):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        header = _TICKET.search(data)
        mine = bool(header and header.group(1).decode() in tickets) or any(
            privacy.identifier_hash(m.decode("utf-8", "replace")) in hashes
            for m in _ADDRESS.findall(data)
        )
        if mine:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _rejects(paths: list[str], hashes: set[str]) -> int:
    """Rows removed from rejects files (a row goes when one of its cells is an identifier)."""
    from crmcli.core.files import write_file
    from crmcli.core.sanitize import uncsv_cell

    removed = 0
    for name in paths:
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
        rows = list(csv.reader(io.StringIO(text, newline="")))
        kept = [
            r
            for r in rows
            if not any(privacy.identifier_hash(uncsv_cell(c)) in hashes for c in r if c.strip())
        ]
        if len(kept) == len(rows):
            continue
        removed += len(rows) - len(kept)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows(kept)
        write_file(path, buf.getvalue(), encoding="utf-8-sig")
    return removed


def _warehouse(dirs: list[str]) -> int:
    from crmcli.core.files import sweep

    return sum(len(sweep(Path(d), legacy=True)) for d in dirs)


def finish_pending(db: Database) -> dict[str, Any]:
    """Finish every pending purge; returns what was done."""
    done = {"purges": 0, "outbox_files_removed": 0, "rejects_rows_removed": 0,
            "temp_files_removed": 0}  # fmt: skip
    for purge in privacy.pending_purges(db):
        work = purge["work"]
        hashes = set(work.get("hashes", []))
        result = {
            "outbox_files_removed": _outbox(
                db, {str(t) for t in work.get("ticket_ids", [])}, hashes
            ),
            "rejects_rows_removed": _rejects(work.get("rejects_files", []), hashes),
            "temp_files_removed": _warehouse(work.get("warehouse_dirs", [])),
        }
        privacy.finish_purge(db, int(purge["id"]), result)
        done["purges"] += 1
        for key, value in result.items():
            done[key] += value
    return done


def repair(db: Database) -> dict[str, Any]:
    """`crm db check --repair`: finish pending purges, and remove temporary files killed
    runs left beside the database, in its backups and outbox folders and in the warehouse
    export folders (files of a process still running are left alone)."""
    from crmcli.core.files import sweep
    from crmcli.db.maintenance import backup_dir
    from crmcli.tickets.autoreply import outbox_dir

    done = finish_pending(db)
    folders: list[Path] = []
    if db.path is not None:
        folders += [db.path.parent, backup_dir(db.path)]
    folders.append(outbox_dir(db.path))
    folders += [Path(d) for d in privacy.warehouse_targets(db)]
    removed: list[str] = []
    for folder in folders:
        removed += sweep(folder, legacy=True)
    return {**done, "leftovers_removed": removed}
