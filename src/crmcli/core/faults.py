"""Named crash points for the kill tests: `CRM_FAULT=<name>` makes the process SIGKILL itself
there, as an OOM killer or a power cut would at that unlucky moment (tests/security/
test_sec_kills.py). Without the variable a point costs one dictionary lookup."""

from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    if os.environ.get("CRM_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
