"""Hostile input and a hostile environment: one `Error:` line and a documented exit code.

2 for bad input, 1 for the environment; never a traceback, never "unexpected ...".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LONG_NAME = "n" * 300


def assert_one_line(result: Any, code: int | tuple[int, ...]) -> None:
    codes = (code,) if isinstance(code, int) else code
    err = result.stderr
    assert result.exit_code in codes, f"exit {result.exit_code}: {err}{result.stdout}"
    assert "Traceback" not in err and "unexpected" not in err.lower(), err
    lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(lines) == (1 if result.exit_code else 0), err


@pytest.fixture
def one(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    cid = cli.ok("customer", "add", "--name", "Ann Lee", "--email", "ann@example.com").strip()
    cli.ok("comm", "log", cid, "--channel", "phone", "--subject", "hi", "--follow-up", "+1d")
    return cid


@pytest.mark.parametrize("encoding", ["base64", "rot13", "hex", "uu", "zlib", "no-such-codec"])
def test_non_text_encodings(cli: Any, tmp_path: Path, encoding: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text("name\nAnn\n", encoding="utf-8")
    assert_one_line(cli("customer", "import", str(src), "--encoding", encoding), 2)


def test_non_utf8_bytes_in_an_argument(cli: Any, one: str) -> None:
    undecodable = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")
    assert_one_line(cli("customer", "add", "--name", undecodable), 2)
    assert_one_line(cli("customer", "list", "--search", undecodable), 2)
    assert_one_line(cli("comm", "log", one, "--channel", "phone", "--subject", undecodable), 2)


@pytest.mark.parametrize(
    "args",
    [
        ["customer", "export", "--out", LONG_NAME + ".csv"],
        ["customer", "export-data", "1", "--out", LONG_NAME + ".json"],
        ["comm", "due", "--all", "--ics", LONG_NAME + ".ics"],
        ["db", "backup", LONG_NAME + ".db"],
        ["report", "customers", "--out", LONG_NAME + ".json"],
    ],
)
def test_names_too_long(cli: Any, one: str, args: list[str]) -> None:
    assert_one_line(cli(*args), 2)


@pytest.mark.parametrize(
    "segment",
    [
        "(" * 1000 + "tag=vip" + ")" * 1000,
        "(" * 101 + "tag=vip" + ")" * 101,
        "not " * 10_000 + "tag=vip",
        " or ".join([f"tag=t{i}" for i in range(2000)]),
        "name~" + "x" * 20_000,
    ],
)
def test_hostile_segments(cli: Any, one: str, segment: str) -> None:
    assert_one_line(cli("customer", "list", "--segment", segment), 2)


def test_moderate_segments_still_work(cli: Any, one: str) -> None:
    cli.ok("customer", "list", "--segment", "(" * 50 + "tag=vip" + ")" * 50)
    cli.ok("customer", "list", "--segment", " or ".join(["rfm=champions"] * 200))
    cli.ok("customer", "list", "--segment", " and ".join(["orders>=0"] * 300))


def test_huge_values(cli: Any, one: str) -> None:
    huge = "x" * 100_000
    assert_one_line(cli("customer", "list", "--search", huge), (0, 2))
    assert_one_line(cli("comm", "list", "--search", huge), (0, 2))
    result = cli("customer", "list", "--search", huge)
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


@pytest.mark.parametrize("value", ["1e30", "1e309", "-1e309", "NaN", "Infinity", "9" * 40])
def test_money_out_of_range(cli: Any, one: str, value: str) -> None:
    assert_one_line(cli("order", "add", one, "--amount", value), 2)
    campaign = cli.ok("campaign", "create", "Spring", "--channel", "email").strip()
    assert_one_line(cli("campaign", "update", campaign, "--cost", value), 2)
    assert_one_line(cli("campaign", "create", "Autumn", "--channel", "sms", "--cost", value), 2)
    assert_one_line(cli("campaign", "result", campaign, one, "success", "--revenue", value), (2, 3))


def test_ticket_subject_with_newline_and_auto_reply(
    cli: Any, one: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_OUTBOX", str(tmp_path / "box"))
    result = cli("ticket", "open", one, "--subject", "Hello\nBcc: victim@example.com")
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr.lower()
    assert result.exit_code in (0, 2), result.stderr
    for eml in (tmp_path / "box").glob("*.eml"):
        headers = eml.read_bytes().split(b"\r\n\r\n")[0].split(b"\n\n")[0]
        assert b"\nBcc:" not in headers


@pytest.mark.parametrize("report", ["value", "loyalty"])
def test_xlsx_report_on_a_small_dataset(cli: Any, one: str, tmp_path: Path, report: str) -> None:
    cli.ok("order", "add", one, "--amount", "10", "--at", "2024-01-05")
    result = cli("report", report, "--out", str(tmp_path / "x.xlsx"))
    assert "unexpected" not in result.stderr.lower(), result.stderr
    assert result.exit_code in (0, 1), result.stderr
    if result.exit_code:
        assert_one_line(result, 1)


# -- a hostile environment: read-only files and folders --------------------------------------
def run(args: list[str], db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_DB": str(db)}
    return subprocess.run(
        [sys.executable, "-m", "crmcli", *args], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def make_read_only(path: Path) -> None:
    """chmod for an ordinary user; root ignores modes, so root sets the immutable flag."""
    if os.geteuid() != 0:
        path.chmod(0o555 if path.is_dir() else 0o444)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a file read-only")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("this file system has no immutable flag")


def make_writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture
def readonly_db(cli: Any, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "crm.db"
    cli.ok("--db", str(db), "customer", "add", "--name", "Ann Lee")
    cli.ok("--db", str(db), "db", "vacuum")
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    yield db
    make_writable(db)
    make_writable(folder)


def test_read_only_file(readonly_db: Path, tmp_path: Path) -> None:
    make_read_only(readonly_db)
    listing = run(["customer", "list", "--format", "json"], readonly_db)
    assert listing.returncode == 0, listing.stderr
    assert "Ann Lee" in listing.stdout
    check = run(["db", "check"], readonly_db)
    assert "fts" not in (check.stdout + check.stderr).lower(), check.stdout + check.stderr
    assert check.returncode == 0, check.stdout + check.stderr
    backup = run(["db", "backup", str(tmp_path / "b.db")], readonly_db)
    assert backup.returncode == 0, backup.stderr
    assert (tmp_path / "b.db").is_file()
    write = run(["customer", "add", "--name", "Bo"], readonly_db)
    assert write.returncode == 1
    assert "read-only" in write.stderr.lower(), write.stderr
    assert "unexpected" not in write.stderr.lower()


def test_read_only_folder(readonly_db: Path) -> None:
    make_read_only(readonly_db.parent)
    listing = run(["customer", "list", "--format", "json"], readonly_db)
    assert "not a usable SQLite database" not in listing.stderr, listing.stderr
    assert "unexpected" not in listing.stderr.lower()
    if listing.returncode:
        assert listing.returncode == 1
        assert "read-only" in listing.stderr.lower(), listing.stderr
    else:
        assert "Ann Lee" in listing.stdout
