"""`crm deal stage list|add|update|remove|reorder`: the configurable stages."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands.options import DbOption, FormatOption, open_db, out_format
from crmcli.db import deals as repo
from crmcli.output import emit as output
from crmcli.sales import stages as rules

app = typer.Typer(help="The deal stages: order, default probability, alias.", no_args_is_help=True)
ProbOpt = Annotated[
    int | None, typer.Option("--probability", help="Default win probability, 0-100.")
]
AliasOpt = Annotated[
    str | None, typer.Option("--alias", help="Another name accepted as input (e.g. 中文).")
]


@app.command("list")
def list_(db: DbOption = None, format: FormatOption = None) -> None:
    """List the stages in order with their default probability, alias and number of deals.

    Example: crm deal stage list --format json
    """
    fmt = out_format(format)
    with open_db(db) as database:
        rows = repo.list_stages(database)
    output.emit_rows(rows, fmt)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Stage name (lower-case, e.g. demo).")],
    probability: Annotated[
        int, typer.Option("--probability", help="Default win probability, 0-100.")
    ],
    alias: AliasOpt = None,
    after: Annotated[
        str | None, typer.Option("--after", help="Place it after this open stage (default: last).")
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Add an open stage.

    Example: crm deal stage add demo --probability 40 --after qualified --alias 演示
    """
    fmt = out_format(format)
    stage = rules.check_new_stage_name(name)
    rules.check_probability(probability)
    with open_db(db) as database:
        stages = repo.list_stages(database)
        anchor = None
        if after is not None:
            found = rules.resolve_stage(stages, after)
            if found["kind"] != "open":
                from crmcli.core.errors import InvalidInput

                raise InvalidInput("--after names an open stage (won and lost stay last)")
            anchor = found["name"]
        repo.add_stage(database, stage, probability, (alias or "").strip() or None, anchor)
        rows = repo.list_stages(database)
    if fmt == "table":
        output.info(f"Added stage {stage}")
    else:
        output.emit_rows(rows, fmt)


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="Stage name or alias.")],
    probability: ProbOpt = None,
    alias: AliasOpt = None,
    rename: Annotated[str | None, typer.Option("--rename", help="New name (deals follow).")] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Change a stage's default probability, alias or name.

    Example: crm deal stage update proposal --probability 55
    """
    from crmcli.core.errors import InvalidInput

    fmt = out_format(format)
    rules.check_probability(probability)
    changes: dict[str, object] = {}
    if probability is not None:
        changes["probability"] = probability
    if alias is not None:
        changes["alias"] = alias.strip() or None
    if rename is not None:
        changes["name"] = rules.check_new_stage_name(rename)
    if not changes:
        raise InvalidInput("nothing to update; give --probability, --alias or --rename")
    with open_db(db) as database:
        stage = rules.resolve_stage(repo.list_stages(database), name)
        diff = repo.update_stage(database, stage["name"], changes)
    output.emit_changes(diff, fmt)


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Stage name or alias.")],
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Remove an open stage no deal is in (won and lost are fixed).

    Example: crm deal stage remove demo
    """
    out_format(format)
    with open_db(db) as database:
        stage = rules.resolve_stage(repo.list_stages(database), name)
        repo.remove_stage(database, stage["name"])
    output.info(f"Removed stage {stage['name']}")


@app.command("reorder")
def reorder(
    names: Annotated[list[str], typer.Argument(help="Every open stage, in the new order.")],
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Put the open stages in a new order (won and lost stay last).

    Example: crm deal stage reorder lead qualified proposal negotiation
    """
    fmt = out_format(format)
    with open_db(db) as database:
        order = rules.new_order(repo.list_stages(database), names)
        repo.reorder_stages(database, order)
        rows = repo.list_stages(database)
    output.emit_rows(rows, fmt)
