"""Progress of long work (imports, exports) as a rich bar on stderr: only on a terminal,
never on a pipe or with --quiet."""

from __future__ import annotations

from typing import Any


class Progress:
    """A rich progress bar on a terminal (stderr), nothing on a pipe or with --quiet.
    step() names the work after the last row (merging, index building)."""

    def __init__(self, description: str, enabled: bool | None = None) -> None:
        import sys

        from crmcli.core.config import settings

        self.enabled = (sys.stderr.isatty() and not settings.quiet) if enabled is None else enabled
        self.description = description
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.progress import Progress as RichProgress

            from crmcli.output.emit import console

            self._progress = RichProgress(console=console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=1.0)
        return self

    def update(self, fraction: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=min(fraction, 0.99))

    def step(self, name: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=name, completed=0.99)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=1.0)
            self._progress.stop()
