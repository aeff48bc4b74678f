"""`crm order ...`: Orders from ERP systems: import, list, add."""

from __future__ import annotations

import typer

app = typer.Typer(help="Orders from ERP systems: import, list, add.", no_args_is_help=True)
