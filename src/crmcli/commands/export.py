"""`crm export ...`: Exports for other systems: data warehouse star schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmcli.commands.options import DbOption, open_db
from crmcli.core import config
from crmcli.core.errors import InvalidInput
from crmcli.output import emit as output

app = typer.Typer(
    help="Exports for other systems: data warehouse star schema.", no_args_is_help=True
)


@app.command("warehouse")
def warehouse(
    directory: Annotated[
        Path, typer.Argument(help="Target directory (created if missing).", show_default=False)
    ],
    file_format: Annotated[
        str,
        typer.Option(
            "--file-format",
            help="File format: parquet or csv. (--format is the summary's format, as on "
            "every command.)",
        ),
    ] = "parquet",
    since: Annotated[
        int | None,
        typer.Option(
            "--since",
            help="Only rows changed after this watermark (from a previous manifest.json).",
            show_default=False,
        ),
    ] = None,
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental",
            help="Only rows changed since the previous export to DIR (full if there was none).",
        ),
    ] = False,
    include_pii: Annotated[
        bool,
        typer.Option(
            "--include-pii",
            help="Keep names, phones, emails, addresses and free text (default: masked/dropped).",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Export a star schema (dimensions, facts, manifest.json) for a data warehouse.

    Tables: dim_customer, dim_agent, dim_campaign, dim_date, fact_communication,
    fact_ticket, fact_ticket_event, fact_campaign_member, fact_order, deleted_rows.
    manifest.json (written last) holds row counts, column types, sha256 checksums and the
    watermark for the next --incremental run.

    Example: crm export warehouse /data/crm --incremental
    """
    from crmcli.output.progress import Progress
    from crmcli.warehouse.export import FILE_FORMATS, STAR_TABLES, export_warehouse

    fmt = (config.settings.format or "table").lower()
    if file_format.lower() not in FILE_FORMATS:
        raise InvalidInput(f"--file-format must be parquet or csv, not {file_format!r}")
    with open_db(db) as database, Progress("Exporting") as progress:
        done: list[str] = []

        def step(table: str, rows: int) -> None:
            done.append(table)
            progress.update(len(done) / len(STAR_TABLES))

        manifest = export_warehouse(
            database,
            directory,
            file_format,
            since=since,
            incremental=incremental,
            include_pii=include_pii,
            on_table=step,
        )
    if incremental and manifest["mode"] == "full":
        output.info(f"No previous export to {manifest['directory']}: made a full export.")
    rows = [
        {"table": name, "rows": t["rows"], "file": t["file"], "sha256": t["sha256"][:12]}
        for name, t in manifest["tables"].items()
    ]
    if fmt in ("json", "jsonl"):
        output.emit_json(manifest)
        return
    output.emit_rows(rows, output.check_format(fmt), columns=["table", "rows", "file", "sha256"])
    output.info(
        f"{manifest['mode'].capitalize()} export to {manifest['directory']}"
        f" (watermark {manifest['watermark']}, personal data {manifest['pii']})."
    )
