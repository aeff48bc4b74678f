"""`crm ticket agent ...`: the helpdesk agents, their skills and open-ticket limits."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands.options import DbOption, FormatOption, MaskOption, open_db, out_format
from crmcli.output import emit as output

app = typer.Typer(
    help="Helpdesk agents: add, list, enable, disable, skills and limits.", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="Agent name.")]
SkillOpt = Annotated[
    list[str] | None,
    typer.Option("--skill", help="A category the agent handles (repeatable).", show_default=False),
]
MaxOpenOpt = Annotated[
    int | None,
    typer.Option(
        "--max-open",
        help="Most open tickets at once (default: no limit).",
        min=1,
        show_default=False,
    ),
]
COLUMNS = ["id", "name", "active", "skills", "open_tickets", "max_open", "email"]


@app.command("add")
def add(
    name: NameArg,
    skill: SkillOpt = None,
    max_open: MaxOpenOpt = None,
    email: Annotated[str | None, typer.Option(help="Agent's email.", show_default=False)] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Add an agent; prints the id.

    Example: crm ticket agent add alice --skill billing --skill 退款 --max-open 20
    """
    from crmcli.core.validate import normalize_email
    from crmcli.db.agents import add_agent

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        new_id = add_agent(database, name, skill, max_open, normalize_email(email))
    output.emit_id(new_id, fmt)


@app.command("list")
def list_(mask: MaskOption = None, db: DbOption = None, format: FormatOption = None) -> None:
    """List agents with skills, current open tickets and limits (--mask hides their emails).

    Example: crm ticket agent list --mask --format json
    """
    from crmcli.core.masking import mask_personal, should_mask
    from crmcli.db.agents import list_agents

    fmt = out_format(format)
    with open_db(db) as database:
        rows = list_agents(database)
    if should_mask(mask):
        rows = mask_personal(rows)
    output.emit_rows(rows, fmt, columns=COLUMNS)


def _set_active(name: str, active: bool, db: DbOption, fmt: str) -> None:
    from crmcli.db.agents import get_agent, set_active

    with open_db(db, write=True) as database:
        changed = set_active(database, name, active)
        agent = get_agent(database, name)
    if not changed:
        output.info(f"Agent {name} was already {'enabled' if active else 'disabled'}.")
    output.emit_object({k: agent[k] for k in COLUMNS}, fmt)


@app.command("disable")
def disable(name: NameArg, db: DbOption = None, format: FormatOption = None) -> None:
    """Disable an agent: no new tickets are assigned to them (their tickets stay).

    Example: crm ticket agent disable alice
    """
    _set_active(name, False, db, out_format(format))


@app.command("enable")
def enable(name: NameArg, db: DbOption = None, format: FormatOption = None) -> None:
    """Enable a disabled agent again.

    Example: crm ticket agent enable alice
    """
    _set_active(name, True, db, out_format(format))


@app.command("update")
def update(
    name: NameArg,
    skill: SkillOpt = None,
    max_open: MaxOpenOpt = None,
    no_limit: Annotated[
        bool, typer.Option("--no-limit", help="Remove the open-ticket limit.")
    ] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Replace an agent's skills (--skill ...) and/or change the open-ticket limit.

    Example: crm ticket agent update alice --skill billing --skill shipping --max-open 30
    """
    from crmcli.core.errors import InvalidInput
    from crmcli.db.agents import update_agent

    fmt = out_format(format)
    if skill is None and max_open is None and not no_limit:
        raise InvalidInput("nothing to update; give --skill, --max-open or --no-limit")
    if max_open is not None and no_limit:
        raise InvalidInput("--max-open and --no-limit contradict each other")
    with open_db(db, write=True) as database:
        agent = update_agent(database, name, skill, max_open, clear_max_open=no_limit)
    output.emit_object({k: agent[k] for k in COLUMNS}, fmt)
