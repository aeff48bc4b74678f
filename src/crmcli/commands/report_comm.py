"""Commands registered onto another group's app (see cli._register)."""

from __future__ import annotations
