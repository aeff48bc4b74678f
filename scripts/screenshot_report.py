#!/usr/bin/env python3
"""Open an HTML report in headless Chromium and save a screenshot (a smoke test of the export).

Usage: scripts/screenshot_report.py REPORT.html SHOT.png [--chromium /usr/bin/chromium]

Exit 0 when Chromium rendered the page and wrote a non-empty PNG; 1 otherwise (Chromium's
stderr is shown). Runs with no network and a throw-away profile, so a report that needs
anything from the network shows up as missing content in the screenshot. Debian: apt-get
install chromium.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]


def find_chromium(explicit: str | None = None) -> str | None:
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(
    html: Path, png: Path, chromium: str, width: int = 1200, height: int = 2400, timeout: int = 90
) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on file://html and write png; returns the finished process."""
    with tempfile.TemporaryDirectory(prefix="crm-chromium-") as profile:
        cmd = [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}",
            html.resolve().as_uri(),
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--chromium", default=None)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("chromium not found (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    if not args.html.is_file():
        print(f"no such file: {args.html}", file=sys.stderr)
        return 1
    args.png.unlink(missing_ok=True)
    done = screenshot(args.html, args.png, chromium, args.width, args.height)
    if done.returncode != 0 or not args.png.is_file() or args.png.stat().st_size == 0:
        sys.stderr.write(done.stderr)
        print(f"chromium failed (exit {done.returncode})", file=sys.stderr)
        return 1
    print(f"{args.png} ({args.png.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
