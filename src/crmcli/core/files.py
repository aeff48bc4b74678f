"""Files that may hold personal data are created 0600, like the database.

Every writer of such a file (import rejects, ICS follow-ups, ticket auto-reply .eml files,
report --out files, customer exports, warehouse exports) goes through one of these helpers:

- `atomic_write_private(path, data)`: the whole content at once, via a private temporary file
  in the same directory and `os.replace` (a reader sees the old file or the new one).
- `private_temp(target)`: the private temporary file for writers that stream (open it with
  `open(fd, ...)`), renamed into place by the caller.
- `make_private(path)`: for files a library creates by name (pyarrow writers), chmod 0600.

The mode is set with `fchmod`/`chmod` as well as at creation, so a restrictive umask can only
remove bits and a permissive one adds none.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from crmcli.core.errors import OperationalError

PRIVATE_MODE = 0o600


def private_temp(target: Path, mode: int = PRIVATE_MODE) -> tuple[int, Path]:
    """Create a new empty 0600 temporary file beside `target`; returns (fd, path).

    The name is hidden (leading dot) and unique per process; O_EXCL refuses to reuse a file
    someone else created (a symlink planted there included).
    """
    directory = target.parent if str(target.parent) else Path(".")
    for attempt in range(100):
        tmp = directory / f".{target.name}.{os.getpid()}.{attempt}.part"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
        except FileExistsError:
            continue
        os.fchmod(fd, mode)
        return fd, tmp
    raise FileExistsError(f"no free temporary name beside {target}")


def make_private(path: Path | str) -> None:
    """chmod 0600 (for a file a library created by name)."""
    os.chmod(path, PRIVATE_MODE)


def atomic_write_private(
    path: Path, data: bytes | str, encoding: str = "utf-8", mode: int = PRIVATE_MODE
) -> Path:
    """Write `data` to `path` as a 0600 file (or `mode`, e.g. 0o644 for a report a web
    server publishes), atomically (fsynced temp file + os.replace).

    Raises OperationalError (one line, exit code of an operational failure) when the file
    cannot be written; the temporary file is removed then.
    """
    target = path.expanduser()
    payload = data.encode(encoding) if isinstance(data, str) else data
    tmp: Path | None = None
    try:
        fd, tmp = private_temp(target, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise OperationalError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
    return target
