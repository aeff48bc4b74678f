"""The audit key and the audit head: kept outside the database, in the user config directory.

Each database has a random id (table `audit_seal`, written by migration m150). For it:

    <key dir>/<db id>.key    32 random bytes, hex: the HMAC key of the audit chain (0600)
    <key dir>/<db id>.head   JSON {"rows", "id", "mac"}: the last audit entry seen committed

The key dir is $CRM_KEY_DIR, else `keys/` in the user config directory (platformdirs, e.g.
~/.config/crmcli/keys), mode 0700. Someone who can write the database file but not this
folder cannot forge, edit, drop or roll back audit entries without `crm audit verify`
noticing. Back the key file up (it is small; without it the chain cannot be verified).

The head only moves forward (a file lock serialises writers; a process that commits row 10
after another committed row 11 leaves 11); `db restore` sets it explicitly.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

APP_NAME = "crmcli"


def key_dir() -> Path:
    env = os.environ.get("CRM_KEY_DIR")
    if env:
        return Path(env).expanduser()
    from crmcli.core.config import user_dir

    return user_dir("config") / "keys"


def key_path(db_id: str) -> Path:
    return key_dir() / f"{db_id}.key"


def head_path(db_id: str) -> Path:
    return key_dir() / f"{db_id}.head"


def _ensure_dir() -> Path:
    folder = key_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        os.chmod(folder, 0o700)
    return folder


_cache: dict[tuple[str, str], bytes] = {}


def load_key(db_id: str) -> bytes | None:
    """The database's key, or None when the key file is missing or unreadable."""
    path = key_path(db_id)
    cached = _cache.get((str(path), db_id))
    if cached is not None:
        return cached
    try:
        text = path.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, ValueError):
        return None
    if len(key) < 16:
        return None
    _cache[(str(path), db_id)] = key
    return key


def read_head(db_id: str) -> dict[str, Any] | None:
    try:
        value = json.loads(head_path(db_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("rows"), int):
        return None
    return value


def write_head(db_id: str, head: dict[str, Any], force: bool = False) -> None:
    """Record the head; only forward (more rows) unless force. Best effort: a failure here
    never fails the command that committed (the next write or `db restore` records it)."""
    import fcntl

    try:
        _ensure_dir()
        fd = os.open(head_path(db_id), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = b""
        while chunk := os.read(fd, 65536):
            raw += chunk
        try:
            old = json.loads(raw) if raw else None
        except ValueError:
            old = None
        if not force and isinstance(old, dict) and int(old.get("rows", 0)) >= head["rows"]:
            return
        data = json.dumps(head, sort_keys=True).encode("utf-8") + b"\n"
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
    except OSError:
        return
    finally:
        os.close(fd)
