"""Report exports for cron: --out, --quiet, atomic files, errors; the HTML in Chromium."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-06-30T12:00:00Z"


@pytest.fixture
def demo(cli, db_path: Path) -> Path:  # type: ignore[no-untyped-def]
    cli.ok(
        "--quiet", "--as-of", AS_OF, "demo", "--customers", "150", "--seed", "3", "--format", "json"
    )
    return db_path


def test_out_infers_format_and_quiet_prints_nothing(cli, demo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name in ("dashboard", "customers", "quality"):
        for ext in ("html", "xlsx", "json", "jsonl", "csv", "md", "txt"):
            out = tmp_path / f"{name}.{ext}"
            result = cli("--quiet", "report", name, "--as-of", AS_OF, "--out", str(out))
            assert result.exit_code == 0, result.stderr
            assert result.stdout == "" and result.stderr == ""
            assert out.stat().st_size > 100
        assert json.loads((tmp_path / f"{name}.json").read_text()) == cli.json(
            "report", name, "--as-of", AS_OF
        )
    loud = cli("report", "dashboard", "--as-of", AS_OF, "--out", str(tmp_path / "x.html"))
    assert loud.stdout == "" and "Wrote html report" in loud.stderr


def test_export_errors_leave_nothing_behind(cli, demo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("report", "dashboard", "--format", "json", "--out", str(tmp_path / "a.html"))
    assert r.exit_code == 2 and "contradicts" in r.stderr
    r = cli("report", "dashboard", "--out", str(tmp_path / "a.weird"))
    assert r.exit_code == 2
    r = cli("report", "dashboard", "--out", str(tmp_path / "no" / "dir" / "a.html"))
    assert r.exit_code == 1 and r.stderr.startswith("Error: cannot write")
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("crm.db")] == []


def test_cron_line_end_to_end(demo: Path, tmp_path: Path) -> None:
    """What the README's crontab runs: a real process, absolute paths, --quiet."""
    env = {**os.environ, "CRM_DB": str(demo), "CRM_TZ": "Asia/Shanghai", "CRM_NOW": ""}
    out = tmp_path / "dashboard.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "crmcli",
            "--quiet",
            "report",
            "dashboard",
            "--as-of",
            AS_OF,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    assert "<svg" in out.read_text()


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium")
def test_html_opens_in_headless_chromium(cli, demo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("shot", ROOT / "scripts" / "screenshot_report.py")
    assert spec and spec.loader
    shot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shot)
    html = tmp_path / "dashboard.html"
    cli.ok("report", "dashboard", "--as-of", AS_OF, "--out", str(html))
    png = tmp_path / "dashboard.png"
    assert shot.main([str(html), str(png), "--chromium", "/usr/bin/chromium"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a rendered page, not a blank one
    shutil.rmtree(tmp_path / "unused", ignore_errors=True)
