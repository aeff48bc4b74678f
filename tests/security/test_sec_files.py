"""The one safe file writer, attacked through every command that writes a file.

A planted symlink at the destination is refused (unless --follow-symlinks) and its target
left untouched; a symlink planted at a guessable temporary name changes nothing; a FIFO or
a device node at the destination is written to, never replaced by a regular file; `-` is
stdout; files with personal data are 0600 and no temporary file is left behind.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

VICTIM_TEXT = "do not overwrite\n"


@pytest.fixture
def data(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    cid = cli.ok("customer", "add", "--name", "Ann Lee", "--email", "ann@example.com").strip()
    cli.ok("comm", "log", cid, "--channel", "phone", "--subject", "call", "--follow-up", "+1d")
    return cid


def writers(cid: str, out: Path) -> list[list[str]]:
    """Command lines that write `out` (one per file-writing command)."""
    return [
        ["customer", "export-data", cid, "--out", str(out)],
        ["customer", "export", "--out", str(out)],
        ["comm", "due", "--all", "--ics", str(out)],
        ["report", "customers", "--out", str(out), "--format", "json"],
    ]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("which", range(4))
def test_planted_symlink_is_refused(cli: Any, data: str, tmp_path: Path, which: int) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    link = tmp_path / "out.file"
    link.symlink_to(victim)
    args = writers(data, link)[which]
    result = cli(*args)
    assert result.exit_code in (1, 2), result.stdout
    assert "symlink" in result.stderr.lower() or "symbolic link" in result.stderr.lower()
    assert "unexpected" not in result.stderr
    assert victim.read_text() == VICTIM_TEXT
    assert link.is_symlink()
    assert leftovers(tmp_path) == []


def test_follow_symlinks_writes_through(cli: Any, data: str, tmp_path: Path) -> None:
    victim = tmp_path / "real.json"
    victim.write_text(VICTIM_TEXT)
    link = tmp_path / "sar.json"
    link.symlink_to(victim)
    cli.ok("customer", "export-data", data, "--out", str(link), "--follow-symlinks")
    assert link.is_symlink()
    assert '"Ann Lee"' in victim.read_text()


@pytest.mark.parametrize("which", range(4))
def test_written_files_are_private_and_leave_no_temp(
    cli: Any, data: str, tmp_path: Path, which: int
) -> None:
    out = tmp_path / "result.out"
    cli.ok(*writers(data, out)[which])
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []


def test_guessable_temp_names_are_not_followed(cli: Any, data: str, tmp_path: Path) -> None:
    """The old writers used `.NAME.part` and `.NAME.<pid>.part`: planting a symlink there
    redirected the personal data (CliRunner runs in this process, so the pid is ours)."""
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    pid = os.getpid()
    for name in ("rejects.csv", "export.csv"):
        for guess in (f"{name}.part", f".{name}.{pid}.part", f".{name}.{pid}.0.part"):
            (tmp_path / guess).symlink_to(victim)
    src = tmp_path / "in.csv"
    src.write_text("name,email\nBad Row,not-an-email\n", encoding="utf-8")
    cli("customer", "import", str(src), "--rejects", str(tmp_path / "rejects.csv"))
    cli.ok("customer", "export", "--out", str(tmp_path / "export.csv"))
    assert victim.read_text() == VICTIM_TEXT
    assert (tmp_path / "export.csv").is_file() and not (tmp_path / "export.csv").is_symlink()


def test_dash_is_stdout(cli: Any, data: str, tmp_path: Path) -> None:
    out = cli.ok("customer", "export-data", data, "--out", "-")
    assert '"Ann Lee"' in out
    assert not (tmp_path / "-").exists()


def _read_fifo(path: Path, sink: list[bytes]) -> None:
    with open(path, "rb") as fh:
        sink.append(fh.read())


@pytest.mark.parametrize("which", [0, 2])
def test_fifo_is_written_not_replaced(cli: Any, data: str, tmp_path: Path, which: int) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=_read_fifo, args=(fifo, got), daemon=True)
    reader.start()
    result = cli(*writers(data, fifo)[which])
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert got and got[0]
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="os.mknod of a character device needs root")
@pytest.mark.parametrize("which", [0, 2])
def test_device_node_is_written_not_replaced(
    cli: Any, data: str, tmp_path: Path, which: int
) -> None:
    dev = tmp_path / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # like /dev/null
    result = cli(*writers(data, dev)[which])
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISCHR(dev.stat().st_mode)
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="os.mknod of a character device needs root")
def test_full_device_says_disk_full(cli: Any, data: str, tmp_path: Path) -> None:
    dev = tmp_path / "full"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # like /dev/full
    result = cli("comm", "due", "--all", "--ics", str(dev))
    assert result.exit_code == 1
    assert stat.S_ISCHR(dev.stat().st_mode)
    assert "no space left" in result.stderr.lower()
    assert "unexpected" not in result.stderr
