"""Named crash and pause points for the kill and concurrency tests.

`CRM_FAULT=<name>` makes the process SIGKILL itself there, as an OOM killer or a power cut
would at that unlucky moment (tests/security/test_sec_kills.py, tests/reliability/
test_import_lock.py). `CRM_PAUSE=<name>:<file>` makes it stop there: it creates <file> and
waits (at most two minutes) until the test deletes it, so another process can act while
this one is at that point (an import staging, or inside its write transaction). Without
the variables a point costs two dictionary lookups.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PAUSE_LIMIT_S = 120.0


def point(name: str) -> None:
    if os.environ.get("CRM_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get("CRM_PAUSE")
    if pause and pause.partition(":")[0] == name:
        _pause(Path(pause.partition(":")[2]))


def _pause(marker: Path) -> None:
    marker.write_text(str(os.getpid()), encoding="utf-8")
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
