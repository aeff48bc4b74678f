"""The import write lock (#12): an import stages its rows without a lock and merges them in
one write transaction, so another process's write goes ahead during staging, waits (and
then succeeds) during the merge, and a kill anywhere leaves the database as it was and no
file behind. Real processes, real SQLite files; the pause and kill points are
core/faults.py's (`CRM_PAUSE=<point>:<file>`, `CRM_FAULT=<point>`)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dbstate import snapshot


def _env(db: Path, tmp: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "CRM_DB": str(db), "TMPDIR": str(tmp), "SQLITE_TMPDIR": str(tmp)}
    for name in ("CRM_FAULT", "CRM_PAUSE", "CRM_IMPORT_STAGE_HOOK"):
        env.pop(name, None)
    env.update(extra)
    return env


def crm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crmcli", *args], env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crmcli", *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(marker: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the import never reached its pause point"
        time.sleep(0.02)


def customers_csv(path: Path, rows: int, bad_every: int = 0) -> Path:
    lines = ["external_id,name,email"]
    for i in range(rows):
        name = "" if bad_every and i % bad_every == 0 else f"Person {i}"
        lines.append(f"IMP{i},{name},person{i}@example.com")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    db = tmp_path / "crm.db"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = _env(db, tmp)
    assert crm(env, "customer", "add", "--name", "Ann Lee", "--external-id", "ANN").returncode == 0
    logged = crm(env, "comm", "log", "--external-id", "ANN", "--channel", "phone", "--subject", "a")
    assert logged.returncode == 0, logged.stderr
    return db, tmp, env


def comm_subjects(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT subject FROM communications ORDER BY id")]


def imported(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT count(*) FROM customers WHERE external_id LIKE 'IMP%'")
                   .fetchone()[0])  # fmt: skip


def staging_files_open(pid: int, tmp: Path) -> list[str]:
    """The files in `tmp` process `pid` has open (an unlinked one ends in '(deleted)')."""
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(tmp)):
            out.append(target)
    return out


def test_a_writer_goes_ahead_while_an_import_stages(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, tmp, env = setup
    source = customers_csv(tmp_path / "big.csv", 6000)
    marker = tmp_path / "paused"
    proc = start(
        {**env, "CRM_PAUSE": f"import.staging:{marker}"}, "customer", "import", str(source)
    )
    try:
        wait_for(marker, proc)  # the import has staged its first batch and holds no lock
        if Path("/proc").is_dir():
            files = staging_files_open(proc.pid, tmp)
            assert all(f.endswith("(deleted)") for f in files), files
        assert list(tmp.iterdir()) == []  # the staging file is already unlinked
        logged = crm(env, "comm", "log", "--external-id", "ANN", "--channel", "email",
                     "--subject", "during staging")  # fmt: skip
        assert logged.returncode == 0, logged.stderr
        assert proc.poll() is None  # the import is still paused in staging
    finally:
        marker.unlink(missing_ok=True)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert comm_subjects(db) == ["a", "during staging"]
    assert imported(db) == 6000
    assert list(tmp.iterdir()) == []


def test_a_writer_waits_for_the_merge_and_then_succeeds(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, tmp, env = setup
    source = customers_csv(tmp_path / "big.csv", 6000)
    marker = tmp_path / "paused"
    proc = start({**env, "CRM_PAUSE": f"import.merge:{marker}"}, "customer", "import", str(source))
    try:
        wait_for(marker, proc)  # inside the import's write transaction
        said = tmp_path / "writer.err"
        with open(said, "w", encoding="utf-8") as err_file:
            writer = subprocess.Popen(
                [sys.executable, "-m", "crmcli", "comm", "log", "--external-id", "ANN",
                 "--channel", "email", "--subject", "during the merge"],
                env=env, stdout=subprocess.PIPE, stderr=err_file, text=True,
            )  # fmt: skip
        # past the quiet wait it says what it waits for, and keeps waiting
        deadline = time.monotonic() + 120
        while "Waiting for another crm process" not in said.read_text(encoding="utf-8"):
            assert writer.poll() is None, said.read_text(encoding="utf-8")
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert writer.poll() is None  # it cannot finish while the import holds the lock
    finally:
        marker.unlink(missing_ok=True)
    writer.communicate(timeout=120)
    assert writer.returncode == 0, said.read_text(encoding="utf-8")  # then it wrote
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert comm_subjects(db) == ["a", "during the merge"]
    assert imported(db) == 6000
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize(
    "point",
    ["import.staging", "import.staged", "import.planned", "import.merge",
     "import.rejects_written", "import.before_commit"],
)  # fmt: skip
def test_a_kill_leaves_the_database_unchanged_and_no_files(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path, point: str
) -> None:
    db, tmp, env = setup
    inbox = tmp_path / "in"
    inbox.mkdir()
    source = customers_csv(inbox / "list.csv", 6000 if point == "import.staging" else 40, 7)
    before = snapshot(db)
    killed = crm({**env, "CRM_FAULT": point}, "customer", "import", str(source))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert snapshot(db) == before
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert list(tmp.iterdir()) == []  # no staging file
    left = sorted(p.name for p in inbox.iterdir())
    # made durable before the commit (a customer import: after its plan, before it takes
    # the lock): the rejects of the attempt (a rerun replaces it)
    if point in ("import.merge", "import.rejects_written", "import.before_commit"):
        assert left == ["list.csv", "list.rejects.csv"]
    else:
        assert left == ["list.csv"]  # no temporary rejects file either
    # the next run imports the file as if nothing had happened
    again = crm(env, "customer", "import", str(source))
    assert again.returncode == 0, again.stderr
    assert imported(db) == (6000 if point == "import.staging" else 40) - (
        len(range(0, 6000 if point == "import.staging" else 40, 7))
    )


# -------------------------------------------------------------- planned outside the lock
# The merge plans every row against a read snapshot without the lock, then applies the plan
# in the write transaction, unless something it rests on changed meanwhile: then it plans
# again under the lock. `import.planned` is the point between the two.


def _import_after_a_write(
    env: dict[str, str], tmp_path: Path, source: Path, write: list[str], *args: str
) -> tuple[dict[str, object], subprocess.CompletedProcess[str]]:
    """Import `source`; between its plan and its write transaction another process runs
    `crm *write`. Returns the import's JSON summary and the writer's result."""
    import json

    marker = tmp_path / "planned"
    proc = start(
        {**env, "CRM_PAUSE": f"import.planned:{marker}"},
        "customer", "import", str(source), "--format", "json", *args,
    )  # fmt: skip
    try:
        wait_for(marker, proc)  # planned, no lock held
        writer = crm(env, *write)
    finally:
        marker.unlink(missing_ok=True)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return json.loads(out), writer


def test_a_customer_added_after_the_plan_is_a_duplicate_of_the_import_row(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, _tmp, env = setup
    source = customers_csv(tmp_path / "list.csv", 300)
    summary, writer = _import_after_a_write(
        env, tmp_path, source,
        ["customer", "add", "--name", "Early Bird", "--email", "person7@example.com"],
    )  # fmt: skip
    assert writer.returncode == 0, writer.stderr
    with sqlite3.connect(db) as con:
        bird = con.execute("SELECT id, name, external_id FROM customers WHERE email = ?",
                           ("person7@example.com",)).fetchone()  # fmt: skip
        total = con.execute("SELECT count(*) FROM customers").fetchone()[0]
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert bird[1:] == ("Early Bird", None)  # not overwritten by row IMP7
    assert (summary["inserted"], summary["duplicates"]) == (299, 1)
    assert total == 1 + 1 + 299  # Ann, the early bird, the file without its duplicate
    rejects = (tmp_path / "list.rejects.csv").read_text(encoding="utf-8-sig")
    assert f"duplicate of customer {bird[0]} (same email)" in rejects


def test_an_upsert_updates_a_customer_added_after_the_plan(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, _tmp, env = setup
    source = customers_csv(tmp_path / "list.csv", 300)
    summary, writer = _import_after_a_write(
        env, tmp_path, source,
        ["customer", "add", "--name", "Old Name", "--external-id", "IMP9"],
        "--key", "external_id",
    )  # fmt: skip
    assert writer.returncode == 0, writer.stderr
    assert (summary["inserted"], summary["updated"], summary["duplicates"]) == (299, 1, 0)
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT name, email FROM customers WHERE external_id = 'IMP9'")
        assert rows.fetchall() == [("Person 9", "person9@example.com")]
    assert imported(db) == 300


def test_an_unrelated_write_after_the_plan_keeps_the_plan(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, _tmp, env = setup
    source = customers_csv(tmp_path / "list.csv", 300)
    summary, writer = _import_after_a_write(
        env, tmp_path, source,
        ["comm", "log", "--external-id", "ANN", "--channel", "email", "--subject", "b"],
    )  # fmt: skip
    assert writer.returncode == 0, writer.stderr
    assert summary["inserted"] == 300
    assert comm_subjects(db) == ["a", "b"]
    assert imported(db) == 300


# -------------------------------------------------------------- search index after commit
# A big import commits its customers as pending for the search index and indexes them in
# short transactions afterwards ($CRM_SEARCH_INDEX_CHUNK makes the chunks small here).


def _search(env: dict[str, str], term: str) -> list[str]:
    import json

    listed = crm(env, "customer", "list", "--search", term, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return sorted(r["name"] for r in json.loads(listed.stdout))


def _pending(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute(
            "SELECT coalesce(sum(hi - lo + 1), 0) FROM customers_fts_pending").fetchone()[0])  # fmt: skip


def _fts_matches_content(db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO customers_fts(customers_fts, rank) VALUES ('integrity-check', 1)")
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _named_csv(path: Path, rows: int) -> Path:
    lines = ["external_id,name,email"]
    for i in range(rows):
        name = "Jürgen Müller" if i == rows - 5 else f"Person {i}"
        lines.append(f"IMP{i},{name},person{i}@example.com")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_search_finds_customers_whose_index_entries_are_pending(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, _tmp, env = setup
    source = _named_csv(tmp_path / "list.csv", 500)
    marker = tmp_path / "chunk"
    proc = start(
        {**env, "CRM_SEARCH_INDEX_CHUNK": "100", "CRM_PAUSE": f"search_index.chunk:{marker}"},
        "customer", "import", str(source),
    )  # fmt: skip
    wait_for(marker, proc)  # committed, the first 100 ids indexed, the rest pending
    try:
        assert imported(db) == 500
        assert 0 < _pending(db) < 500
        # indexed, pending, pending with a non-ASCII case difference, the old customer
        assert _search(env, "person12@") == ["Person 12"]
        assert _search(env, "person480@") == ["Person 480"]
        assert _search(env, "MÜLLER") == ["Jürgen Müller"]
        assert _search(env, "Ann Lee") == ["Ann Lee"]
        # one id indexed (49), the others pending
        assert _search(env, "person49") == sorted(
            ["Person 49", "Jürgen Müller", *(f"Person {i}" for i in range(490, 500) if i != 495)]
        )
        # writers go ahead between the chunks: rename and delete pending customers
        with sqlite3.connect(db) as con:
            ids = dict(con.execute("SELECT external_id, id FROM customers"
                                   " WHERE external_id IN ('IMP470', 'IMP480')"))  # fmt: skip
        renamed = crm(env, "customer", "update", str(ids["IMP480"]), "--name", "Zed Q")
        assert renamed.returncode == 0, renamed.stderr
        deleted = crm(env, "customer", "delete", str(ids["IMP470"]), "--yes")
        assert deleted.returncode == 0, deleted.stderr
        assert _search(env, "Zed Q") == ["Zed Q"]
        assert _search(env, "person480@") == ["Zed Q"]
        assert _search(env, "person470@") == []
        checked = crm(env, "db", "check")
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        marker.unlink(missing_ok=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None:  # the point comes once per chunk
        marker.unlink(missing_ok=True)
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert proc.returncode == 0, proc.communicate()
    assert _pending(db) == 0
    _fts_matches_content(db)
    assert _search(env, "Zed Q") == ["Zed Q"]
    assert _search(env, "person470@") == []
    assert _search(env, "Person 480") == []
    assert _search(env, "MÜLLER") == ["Jürgen Müller"]


def _import_killed_during_the_build(env: dict[str, str], tmp_path: Path, rows: int) -> None:
    """Import `rows` named customers and SIGKILL the import in its first search-index chunk
    after the commit (chunks of 100 ids)."""
    source = _named_csv(tmp_path / "list.csv", rows)
    small = {**env, "CRM_SEARCH_INDEX_CHUNK": "100"}
    killed = crm({**small, "CRM_FAULT": "search_index.chunk"}, "customer", "import", str(source))
    assert killed.returncode == -signal.SIGKILL, killed.stderr


def test_a_kill_during_the_search_index_build_keeps_the_import_and_search(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, _tmp, env = setup
    _import_killed_during_the_build(env, tmp_path, 500)
    assert imported(db) == 500  # committed before the build
    left = _pending(db)
    assert 0 < left < 500
    assert _search(env, "person450@") == ["Person 450"]
    assert _search(env, "MÜLLER") == ["Jürgen Müller"]
    checked = crm(env, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert _pending(db) == left  # a check does not build
    # the next customer import finishes the build (a small one indexes its own rows inline)
    more = customers_csv(tmp_path / "more.csv", 3)
    again = crm(env, "customer", "import", str(more), "--key", "external_id")
    assert again.returncode == 0, again.stderr
    assert _pending(db) == 0
    _fts_matches_content(db)
    assert _search(env, "person450@") == ["Person 450"]


def test_db_optimize_finishes_a_cut_search_index_build(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, _tmp, env = setup
    _import_killed_during_the_build(env, tmp_path, 300)
    assert _pending(db) > 0
    optimized = crm(env, "db", "optimize")
    assert optimized.returncode == 0, optimized.stderr
    assert _pending(db) == 0
    _fts_matches_content(db)
    assert _search(env, "person250@") == ["Person 250"]


# -------------------------------------------------------------- secondary indexes after commit
# A big import drops the customers' secondary indexes (not the UNIQUE ones) in its
# transaction and builds them after the commit, one short transaction each (db/indexes.py).


def _index_names(db: Path) -> set[str]:
    with sqlite3.connect(db) as con:
        return {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers'"
            " AND sql IS NOT NULL")}  # fmt: skip


def _defer_indexes(db: Path) -> set[str]:
    """What a big import's transaction does to the indexes (then it is killed)."""
    from crmcli.db import connect, indexes

    before = _index_names(db)
    con = connect(db)
    try:
        with con.transaction():
            assert indexes.defer_secondary_indexes(con, "customers") > 0
    finally:
        con.close()
    return before


def test_deferred_indexes_are_built_after_a_kill_by_the_next_import(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, _tmp, env = setup
    crm(env, "customer", "import", str(customers_csv(tmp_path / "a.csv", 50)))
    before = _defer_indexes(db)
    after = _index_names(db)
    assert "customers_email" in after  # UNIQUE: it enforces the data, never deferred
    assert "customers_name" not in after and "customers_phone" not in after
    # without them queries are slower, not wrong
    assert _search(env, "Ann Lee") == ["Ann Lee"]
    shown = crm(env, "customer", "list", "--lifecycle", "lead", "--format", "json")
    assert shown.returncode == 0 and len(__import__("json").loads(shown.stdout)) == 51
    # a first build is cut after one index: the rest is left for the next import
    cut = crm({**env, "CRM_FAULT": "indexes.deferred_built"}, "db", "optimize")
    assert cut.returncode == -signal.SIGKILL
    assert len(before) > len(_index_names(db)) > len(after)
    again = crm(env, "customer", "import", str(customers_csv(tmp_path / "b.csv", 3)),
                "--key", "external_id")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert _index_names(db) == before
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM deferred_indexes").fetchone()[0] == 0
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_db_optimize_builds_deferred_indexes(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, _tmp, env = setup
    before = _defer_indexes(db)
    checked = crm(env, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    optimized = crm(env, "db", "optimize")
    assert optimized.returncode == 0, optimized.stderr
    assert _index_names(db) == before


def test_a_big_import_builds_its_indexes_after_the_commit(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, _tmp, env = setup
    before = _index_names(db)
    big = {**env, "CRM_IMPORT_BIG_ROWS": "100", "CRM_SEARCH_INDEX_CHUNK": "100"}
    source = customers_csv(tmp_path / "list.csv", 300)
    killed = crm({**big, "CRM_FAULT": "indexes.deferred_built"}, "customer", "import", str(source))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert imported(db) == 300  # committed, then cut after its first index
    # the UNIQUE indexes come first (email, then external_id): cut after the first one,
    # external_id's is still to be built and m331's trigger keeps it unique meanwhile
    assert "customers_email" in _index_names(db)
    assert "customers_external_id" not in _index_names(db)
    assert len(_index_names(db)) < len(before)
    # the constraints hold: the same email or external id again is refused
    taken = crm(env, "customer", "add", "--name", "Copy", "--email", "person5@example.com")
    assert taken.returncode == 4, taken.stderr
    taken = crm(env, "customer", "add", "--name", "Copy", "--external-id", "IMP7")
    assert taken.returncode == 4 and "external" in taken.stderr, taken.stderr
    ann = crm(env, "customer", "update", "1", "--external-id", "IMP8")
    assert ann.returncode == 4, ann.stderr
    assert crm(env, "customer", "add", "--name", "New", "--external-id", "NEW1").returncode == 0
    assert _search(env, "person250@") == ["Person 250"]
    again = crm(big, "customer", "import", str(customers_csv(tmp_path / "b.csv", 400)),
                "--key", "external_id")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert _index_names(db) == before
    assert imported(db) == 400
    assert _pending(db) == 0
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM deferred_indexes").fetchone()[0] == 0
    _fts_matches_content(db)


# ------------------------------------------------------------ the transfer of new customers
# A big import copies its new customers into a TEMP table laid out as customers is, after
# the plan, and appends them under the lock with `INSERT INTO customers SELECT *` (SQLite's
# transfer optimisation: foreign keys off, the table's triggers set aside for the one
# statement). The database must come out exactly as the row-by-row INSERT leaves it.


def _companies_csv(path: Path, rows: int) -> Path:
    lines = ["external_id,name,email,company,tags,lifecycle"]
    for i in range(rows):
        company = ("Acme", "Globex", "")[i % 3]
        tags = "vip;wholesale" if i % 4 == 0 else ""
        lines.append(f"IMP{i},Person {i},person{i}@example.com,{company},{tags},customer")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _content(db: Path) -> dict[str, object]:
    """What an import leaves, bar its timestamps: customers, tags, companies, triggers,
    change_log entries per entity and key, custom values."""
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        return {
            "customers": con.execute(
                "SELECT id, external_id, name, phone, email, company, company_id, lifecycle,"
                " phone_suspect, erased_at, updated_at = created_at FROM customers ORDER BY id"
            ).fetchall(),
            "tags": con.execute("SELECT * FROM customer_tags ORDER BY 1, 2").fetchall(),
            "companies": con.execute("SELECT id, name FROM companies ORDER BY id").fetchall(),
            "triggers": con.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
            ).fetchall(),
            "log": con.execute(
                "SELECT entity, key1, key2, count(*) FROM change_log GROUP BY 1, 2, 3"
            ).fetchall(),
            "search": con.execute(
                "SELECT rowid FROM customers_fts WHERE customers_fts MATCH 'person' ORDER BY 1"
            ).fetchall(),
        }


def _phases(hook: Path) -> list[str]:
    return [line.split()[0] for line in hook.read_text(encoding="utf-8").splitlines()]


def test_a_big_import_appends_by_transfer_what_the_row_insert_would(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    db, tmp, env = setup
    source = _companies_csv(tmp_path / "list.csv", 400)
    # the same file, the same starting database, imported row by row (a small import)
    plain_db = tmp_path / "plain.db"
    plain_env = _env(plain_db, tmp)
    assert (
        crm(plain_env, "customer", "add", "--name", "Ann Lee", "--external-id", "ANN").returncode
        == 0
    )
    assert crm(plain_env, "comm", "log", "--external-id", "ANN", "--channel", "phone",
               "--subject", "a").returncode == 0  # fmt: skip
    hooks = []
    for target, extra in ((plain_env, {}), (env, {"CRM_IMPORT_BIG_ROWS": "100"})):
        hook = tmp_path / f"hook{len(hooks)}.txt"
        hooks.append(hook)
        done = crm({**target, **extra, "CRM_IMPORT_STAGE_HOOK": str(hook)}, "customer",
                   "import", str(source), "--create-company")  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert "apply.inserts" in _phases(hooks[0])
    assert "apply.inserts.transfer" in _phases(hooks[1])
    assert _content(db) == _content(plain_db)
    with sqlite3.connect(db) as con:
        linked = con.execute("SELECT count(company_id) FROM customers").fetchone()[0]
    assert linked == 267  # two rows in three name a company
    # foreign keys are enforced again after the import (the pragma is per connection,
    # so check what the next writer meets): a link to no company is refused
    bad = crm(env, "customer", "update", "2", "--company-id", "999")
    assert bad.returncode != 0


def test_a_company_deleted_after_the_plan_is_not_linked_by_a_big_import(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """The plan rests on the companies it linked: deleted meanwhile, the import plans again
    under the lock (foreign keys still off for that transaction, the references checked by
    hand) and stores the rows without the link, with a warning."""
    db, _tmp, env = setup
    for name in ("Acme", "Globex"):
        assert crm(env, "company", "add", "--name", name).returncode == 0
    source = _companies_csv(tmp_path / "list.csv", 300)
    hook = tmp_path / "hook.txt"
    summary, writer = _import_after_a_write(
        {**env, "CRM_IMPORT_BIG_ROWS": "100", "CRM_IMPORT_STAGE_HOOK": str(hook)},
        tmp_path, source, ["company", "delete", "1", "--yes"],
    )  # fmt: skip
    assert writer.returncode == 0, writer.stderr
    assert "apply.inserts.transfer" not in _phases(hook)  # planned again: the plain insert
    assert summary["inserted"] == 300 and summary["warnings"] == 100
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        links = con.execute(
            "SELECT company, company_id, count(*) FROM customers WHERE external_id LIKE 'IMP%'"
            " GROUP BY 1, 2 ORDER BY 3"
        ).fetchall()
    assert links == [("Globex", 2, 100), (None, None, 200)]
