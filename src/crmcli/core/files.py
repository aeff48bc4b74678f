"""The one safe file writer: every command that writes a file goes through here.

`write_file(path, data)` writes a whole content at once; `open_atomic(path)` is the same for
writers that stream (a context manager: the file appears only if the block succeeds);
`AtomicFile` is the object behind both, for writers whose lifetime is not one block (the
import rejects file, warehouse sinks handed to pyarrow).

What "safe" means here:

- `-` is stdout.
- A destination that is a symlink is refused (someone may have planted it to redirect
  personal data), unless `follow_symlinks=True` (the commands' `--follow-symlinks`): then the
  link's target is written, atomically too.
- A destination that exists and is not a regular file (`/dev/stdout`, a FIFO, a device such
  as a printer or `/dev/null`) is opened and written directly, never replaced by a file.
- Anything else is written to a new temporary file in the destination's folder, created
  with O_CREAT|O_EXCL|O_NOFOLLOW (a file or symlink planted at that name is never opened),
  mode 0600 by default (`mode=`; set with fchmod so the umask cannot widen it), named
  `.<name>.crm-<pid>-<random>.tmp` (unguessable), fsynced and renamed over the destination
  (a reader sees the old file or the new one, never half of one). The folder is fsynced
  after the rename.
- On every failure path (an exception, Ctrl-C) the temporary file is removed. A process
  killed outright leaves it behind; `sweep(folder)` removes such leftovers once their
  process is gone: the next write to the same folder does it, and so does
  `crm db check --repair` for the folders the CRM writes to.
- OSErrors become one plain line (`describe`): "no space left on the device",
  "read-only file system", "permission denied", "file name too long" (input: exit 2).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from crmcli.core.errors import CrmError, InvalidInput, OperationalError

PRIVATE_MODE = 0o600
TEMP_RE = re.compile(r"^\.(?P<name>.+)\.crm-(?P<pid>\d+)-[0-9a-f]{16}\.tmp(?:-wal|-shm|-journal)?$")
# Names the writers before this module used (a kill could leave them): .NAME.PID.N.part,
# .NAME.PID.part, NAME.part, .NAME.PID.tmp, .crm-restoring-* staging copies.
LEGACY_RE = re.compile(
    r"^(?:\.(?P<a>.+)\.(?P<pid>\d+)(?:\.\d+)?\.(?:part|tmp)|(?P<b>.+)\.part"
    r"|\..+-restoring-\d{8}T\d{6}Z(?:-\d+)?\.db(?:-wal|-shm|-journal)?)$"
)
STALE_SECONDS = 24 * 3600


# -- errors -----------------------------------------------------------------------------------
def describe(exc: OSError, path: Path | str | None = None, verb: str = "write") -> CrmError:
    """One plain line for an OSError: InvalidInput for a bad name, else OperationalError."""
    where = f" {path}" if path is not None else ""
    code = exc.errno
    if code == errno.ENAMETOOLONG:
        return InvalidInput(f"cannot {verb}{where}: file name too long")
    if code == errno.ENOSPC or code == errno.EDQUOT:
        return OperationalError(f"cannot {verb}{where}: no space left on the device (disk full)")
    if code == errno.EROFS:
        return OperationalError(f"cannot {verb}{where}: the file system is read-only")
    if code in (errno.EACCES, errno.EPERM):
        return OperationalError(
            f"cannot {verb}{where}: permission denied (read-only file or folder)"
        )
    if code == errno.ENOENT:
        return OperationalError(f"cannot {verb}{where}: no such file or directory")
    if code == errno.ENOTDIR:
        return InvalidInput(f"cannot {verb}{where}: a part of the path is not a directory")
    if code == errno.EISDIR:
        return InvalidInput(f"cannot {verb}{where}: it is a directory; give a file name")
    if code == errno.ELOOP:
        return InvalidInput(f"cannot {verb}{where}: too many symbolic links")
    return OperationalError(f"cannot {verb}{where}: {exc.strerror or exc}")


# -- leftovers ---------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's live process
        return True
    return True


def is_leftover(path: Path, legacy: bool = False) -> bool:
    """A temporary file of ours whose writer is gone (or that is a day old)."""
    match = TEMP_RE.match(path.name) or (LEGACY_RE.match(path.name) if legacy else None)
    if not match:
        return False
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) and not stat.S_ISLNK(info.st_mode):
        return False
    pid = match.groupdict().get("pid")
    if pid is not None and not _alive(int(pid)):
        return True
    return time.time() - info.st_mtime > STALE_SECONDS


def sweep(folder: Path | str, legacy: bool = False) -> list[str]:
    """Remove leftover temporary files in `folder`; returns their paths."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        path = Path(entry.path)
        if is_leftover(path, legacy):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(str(path))
    return removed


# -- the writer --------------------------------------------------------------------------------
def follow_default(flag: bool = False) -> bool:
    """--follow-symlinks on the command, or `crm --follow-symlinks ...` for every writer."""
    from crmcli.core import config

    return bool(flag or config.settings.extra.get("follow_symlinks"))


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.crm-{os.getpid()}-{secrets.token_hex(8)}.tmp")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class AtomicFile:
    """One file being written safely; `commit()` puts it in place, `discard()` drops it.

    `fh` is the open file (text or binary); `tmp` is the temporary path (None when the
    destination is stdout or a non-regular file written directly)."""

    def __init__(
        self,
        path: Path | str,
        *,
        mode: int = PRIVATE_MODE,
        follow_symlinks: bool = False,
        text: bool = True,
        newline: str | None = None,
        encoding: str = "utf-8",
    ) -> None:
        self.path = Path(path) if str(path) == "-" else Path(path).expanduser()
        self.tmp: Path | None = None
        self.direct = False
        self._done = False
        self._fd: int | None = None
        self.target = self.path
        try:
            self.fh: IO[Any] = self._open(mode, follow_symlinks, text, newline, encoding)
        except OSError as exc:
            self._cleanup()
            raise describe(exc, self.path) from None
        except BaseException:
            self._cleanup()
            raise

    def _open(
        self, mode: int, follow: bool, text: bool, newline: str | None, encoding: str
    ) -> IO[Any]:
        if str(self.path) == "-":
            self.direct = True
            stream = sys.stdout if text else sys.stdout.buffer
            return _NoClose(stream)  # type: ignore[return-value]
        if len(self.path.name.encode("utf-8", "surrogateescape")) > 255:
            raise InvalidInput(f"cannot write {self.path}: file name too long")
        target = self.path
        try:
            info = os.lstat(target)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISLNK(info.st_mode):
            if not follow:
                raise InvalidInput(
                    f"{target} is a symbolic link; refusing to write through it"
                    " (pass --follow-symlinks to write to where it points)"
                )
            target = Path(os.path.realpath(target))
            try:
                info = os.stat(target)
            except FileNotFoundError:
                info = None
        self.target = target
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise InvalidInput(f"{self.path} is a directory; give a file name")
        if info is not None and not stat.S_ISREG(info.st_mode):
            # A FIFO, a device, a socket, /dev/stdout: write to it, never replace it.
            flags = os.O_WRONLY | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
            if not follow:
                flags |= os.O_NOFOLLOW
            self._fd = os.open(target, flags)
            self.direct = True
            return self._wrap(self._fd, text, newline, encoding)
        folder = target.parent if str(target.parent) else Path(".")
        sweep(folder)
        tmp = _temp_name(target)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(tmp, flags, mode)
        self.tmp = tmp
        os.fchmod(self._fd, mode)
        return self._wrap(self._fd, text, newline, encoding)

    def _wrap(self, fd: int, text: bool, newline: str | None, encoding: str) -> IO[Any]:
        self._fd = None  # owned by the file object from here
        if text:
            return open(fd, "w", encoding=encoding, newline=newline)  # noqa: SIM115
        return open(fd, "wb")  # noqa: SIM115

    def commit(self) -> Path:
        """Flush, fsync and rename into place (or just flush a direct destination)."""
        if self._done:
            return self.target
        try:
            if isinstance(self.fh, _NoClose):
                self.fh.flush()
            elif self.tmp is None:
                if not self.fh.closed:
                    self.fh.flush()
                    self.fh.close()
            else:
                if not self.fh.closed:
                    self.fh.flush()
                    os.fsync(self.fh.fileno())
                    self.fh.close()
                else:  # a library closed it: fsync by name
                    fd = os.open(self.tmp, os.O_RDONLY | os.O_NOFOLLOW)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                os.replace(self.tmp, self.target)
                self.tmp = None
                _fsync_dir(self.target.parent if str(self.target.parent) else Path("."))
        except OSError as exc:
            self.discard()
            raise describe(exc, self.path) from None
        except BaseException:
            self.discard()
            raise
        self._done = True
        return self.target

    def discard(self) -> None:
        """Close and remove the temporary file (nothing appears at the destination)."""
        self._done = True
        with contextlib.suppress(Exception):
            if not isinstance(self.fh, _NoClose) and not self.fh.closed:
                self.fh.close()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                self.tmp.unlink()
            self.tmp = None


class _NoClose:
    """stdout for `-`: written and flushed, never closed."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.closed = False

    def write(self, data: Any) -> int:
        return int(self._stream.write(data) or 0)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def open_atomic(
    path: Path | str,
    *,
    mode: int = PRIVATE_MODE,
    follow_symlinks: bool = False,
    text: bool = True,
    newline: str | None = None,
    encoding: str = "utf-8",
) -> Iterator[IO[Any]]:
    """Open `path` for writing the safe way; the file appears only if the block succeeds."""
    handle = AtomicFile(
        path, mode=mode, follow_symlinks=follow_symlinks, text=text, newline=newline,
        encoding=encoding,
    )  # fmt: skip
    try:
        yield handle.fh
    except OSError as exc:
        handle.discard()
        raise describe(exc, path) from None
    except BaseException:
        handle.discard()
        raise
    handle.commit()


def write_file(
    path: Path | str,
    data: str | bytes,
    *,
    mode: int = PRIVATE_MODE,
    follow_symlinks: bool = False,
    encoding: str = "utf-8",
) -> None:
    """Write all of `data` to `path` the safe way (see the module docstring)."""
    text = isinstance(data, str)
    with open_atomic(
        path, mode=mode, follow_symlinks=follow_symlinks, text=text, newline="" if text else None,
        encoding=encoding,
    ) as fh:  # fmt: skip
        fh.write(data)


def make_private(path: Path | str) -> None:
    """chmod 0600 (for a file a library created by name)."""
    os.chmod(path, PRIVATE_MODE)


def private_temp(target: Path, mode: int = PRIVATE_MODE) -> tuple[int, Path]:
    """A new empty temporary file (0600 unless `mode`) beside `target`, O_EXCL|O_NOFOLLOW;
    returns (fd, path)."""
    tmp = _temp_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    os.fchmod(fd, mode)
    return fd, tmp
