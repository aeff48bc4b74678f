#!/usr/bin/env python3
"""Make the README's report screenshots: the dashboard and the value report of the demo
database, rendered as HTML by `crm` and photographed in headless Chromium.

Usage: scripts/readme_screenshots.py [--out docs/img] [--crm .venv/bin/crm] [--chromium PATH]

Reproducible: a fresh demo database (seed 7, 600 customers) with the clock pinned
(CRM_NOW=2026-06-30T12:00:00Z, CRM_TZ=Asia/Shanghai), in a temporary directory. Chromium runs
headless with no network and a throw-away profile (see scripts/screenshot_report.py); the PNGs
are cut to the top of the page and, when Pillow is installed, reduced to a small palette so
that they stay small in the repository. Exit 0 when both PNGs were written, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-06-30T12:00:00Z"
SHOTS = {
    "dashboard.png": (["report", "dashboard"], 1280, 1500),
    "value.png": (["report", "value", "--top", "8"], 1280, 1350),
}


def _shooter():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("shot", ROOT / "scripts" / "screenshot_report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shrink(png: Path, width: int) -> None:
    """Scale to `width` pixels and quantize to 64 colours (text stays sharp, files small)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(png) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--crm", default=str(ROOT / ".venv" / "bin" / "crm"))
    parser.add_argument("--chromium", default=None)
    parser.add_argument("--width", type=int, default=960, help="Width of the saved PNGs.")
    args = parser.parse_args(argv)
    shot = _shooter()
    chromium = shot.find_chromium(args.chromium)
    if chromium is None:
        print("chromium not found (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crm-shots-") as tmp:
        env = dict(os.environ, CRM_DB=str(Path(tmp) / "demo.db"), CRM_NOW=AS_OF)
        env.update(CRM_TZ="Asia/Shanghai", CRM_MASK="1", CRM_LANG="en")
        demo = [args.crm, "--quiet", "demo", "--customers", "600", "--seed", "7"]
        subprocess.run([*demo, "--format", "json"], env=env, check=True, stdout=subprocess.DEVNULL)
        for name, (command, width, height) in SHOTS.items():
            html = Path(tmp) / name.replace(".png", ".html")
            subprocess.run([args.crm, "--quiet", *command, "--out", str(html)], env=env, check=True)
            png = args.out / name
            done = shot.screenshot(html, png, chromium, width, height)
            if done.returncode != 0 or not png.is_file():
                sys.stderr.write(done.stderr)
                print(f"chromium failed on {html.name} (exit {done.returncode})", file=sys.stderr)
                return 1
            shrink(png, args.width)
            print(f"{png} ({png.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
