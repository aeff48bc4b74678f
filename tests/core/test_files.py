"""crmcli.core.files: private (0600), atomic writes whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crmcli.core.errors import OperationalError
from crmcli.core.files import make_private, private_temp, write_file


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_write_file_is_0600_under_any_umask(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "out.csv"
    old = os.umask(umask)
    try:
        write_file(target, "张伟,+8613800138000\n")
    finally:
        os.umask(old)
    assert target.read_text(encoding="utf-8") == "张伟,+8613800138000\n"
    assert mode(target) == 0o600


@pytest.mark.nodb  # lists or creates the database file itself
def test_replaces_a_world_readable_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    target.write_text("old")
    os.chmod(target, 0o644)
    write_file(target, b"new")
    assert target.read_bytes() == b"new"
    assert mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


@pytest.mark.nodb  # lists or creates the database file itself
def test_missing_directory_is_an_operational_error(tmp_path: Path) -> None:
    with pytest.raises(OperationalError, match="cannot write"):
        write_file(tmp_path / "no" / "x.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_private_temp_never_reuses_an_existing_name(tmp_path: Path) -> None:
    target = tmp_path / "x.eml"
    fd1, first = private_temp(target)
    fd2, second = private_temp(target)
    os.close(fd1)
    os.close(fd2)
    assert first != second and first.parent == second.parent == tmp_path
    assert first.name.startswith(".x.eml.") and mode(first) == mode(second) == 0o600


def test_make_private(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    path.write_bytes(b"x")
    os.chmod(path, 0o664)
    make_private(path)
    assert mode(path) == 0o600
