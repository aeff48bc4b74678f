"""Simple commands start fast: they do not import the heavy libraries (issue #8).

An assertion on module names, not on time: `python -X importtime` lists every module the
process imported, on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("pandas", "numpy", "statsmodels", "sklearn", "scipy", "matplotlib")


def _imported_modules(args: list[str], env: dict[str, str]) -> tuple[int, str, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "crmcli", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
    return proc.returncode, proc.stdout, modules


def test_customer_show_json_imports_no_heavy_library(tmp_path: Path) -> None:
    env = {**os.environ, "CRM_DB": str(tmp_path / "crm.db"), "CRM_TZ": "Asia/Shanghai"}
    added = subprocess.run(
        [sys.executable, "-m", "crmcli", "customer", "add", "--name", "张伟"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert added.returncode == 0, added.stderr
    code, stdout, modules = _imported_modules(["customer", "show", "1", "--format", "json"], env)
    assert code == 0
    assert '"name": "张伟"' in stdout
    assert "crmcli.commands.customer.records" in modules  # the list of modules is really there
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []
    # JSON output needs no rich, and the other command groups are not loaded.
    assert not any(m.split(".")[0] == "rich" for m in modules)
    for other in ("comm", "ticket", "campaign", "order", "report"):
        assert f"crmcli.commands.{other}" not in modules


def test_lazy_groups_are_all_reachable() -> None:
    """Every registered group loads on demand with its commands."""
    from typer.main import get_command

    from crmcli.cli import GROUPS, ROOT_COMMANDS, app

    root = get_command(app)
    names = list(root.commands)  # type: ignore[attr-defined]
    assert names == [*GROUPS, *ROOT_COMMANDS]
    assert "show" in root.commands["customer"].commands  # type: ignore[attr-defined]
    assert root.commands["demo"].help  # type: ignore[attr-defined]


def test_model_reports_import_neither_scipy_nor_pandas_nor_statsmodels(tmp_path: Path) -> None:
    """report value / loyalty (BG/NBD, Gamma-Gamma) and comm --seasonality / --anomalies
    (STL) run on numpy alone (issue #18: the imports were most of their time)."""
    env = {**os.environ, "CRM_DB": str(tmp_path / "crm.db"), "CRM_TZ": "Asia/Shanghai"}
    as_of = ["--as-of", "2026-11-01T00:00:00Z"]
    made = subprocess.run(
        [sys.executable, "-m", "crmcli", *as_of, "demo", "--customers", "300", "--seed", "3"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert made.returncode == 0, made.stderr
    for args in (
        ["report", "value"],
        ["report", "loyalty"],
        ["report", "comm", "--by", "day", "--seasonality"],
        ["report", "comm", "--by", "day", "--anomalies"],
    ):
        code, stdout, modules = _imported_modules([*as_of, *args, "--format", "json"], env)
        assert code == 0, args
        assert stdout.lstrip().startswith("{"), args
        assert "numpy" in modules, args  # the models really ran
        heavy = sorted(
            {m.split(".")[0] for m in modules} & {"scipy", "pandas", "statsmodels", "sklearn"}
        )
        assert heavy == [], (args, heavy)
    # training the ticket classifier needs SciPy's L-BFGS-B and sparse matrices, not sklearn
    code, _, modules = _imported_modules([*as_of, "ticket", "classify", "--train"], env)
    assert code == 0
    assert "scipy.optimize" in modules and "sklearn" not in {m.split(".")[0] for m in modules}
