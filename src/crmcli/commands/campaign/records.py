"""`crm campaign ...`: Marketing campaigns: target segments, A/B and control groups, results, evaluation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmcli.commands.options import (
    ColumnsOption,
    DbOption,
    FormatOption,
    LimitOption,
    ModeOption,
    WideOption,
    db_path,
    import_command,
    note_shown,
    open_db,
    out_format,
    row_limit,
)
from crmcli.core.clock import to_iso
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import (
    CAMPAIGN_CHANNELS,
    CAMPAIGN_RESULTS,
    clean_text,
    history_datetime,
    money,
    normalize_currency,
    normalize_enum,
    parse_datetime,
    parse_money,
)
from crmcli.db import campaigns as repo
from crmcli.output import emit as output
from crmcli.output.report import (
    OutOption,
    ReportFormatOption,
    default_meta,
    emit_report,
    report_format,
)

if TYPE_CHECKING:
    from crmcli.importing.pipeline import ImportOptions

app = typer.Typer()  # its commands join the group's app in __init__

IdArg = Annotated[int, typer.Argument(help="Campaign id.")]
LIST_COLUMNS = [
    "id",
    "name",
    "channel",
    "status",
    "starts_at",
    "ends_at",
    "cost",
    "currency",
    "members",
]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"cost": money(row["cost"])}


def _time(value: str | None, field: str) -> str | None:
    return to_iso(parse_datetime(value, field)) if value else None


_DATE_ONLY = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日?)\s*$")


def _end_time(value: str | None, field: str) -> str | None:
    """An end given as a bare date includes that whole (local) day: '--ends 2024-04-30'
    ends at 23:59:59 on 30 April, not at its first second."""
    if not value:
        return None
    moment = parse_datetime(value, field)
    if _DATE_ONLY.match(value):
        from datetime import timedelta

        from crmcli.core.clock import local_zone

        local = moment.astimezone(local_zone())
        next_day = (local.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=local_zone())
        moment = next_day - timedelta(seconds=1)
    return to_iso(moment)


def _fields(
    name: str | None,
    channel: str | None,
    starts: str | None,
    ends: str | None,
    cost: str | None,
    currency: str | None,
    description: str | None,
    default_currency: str | None = None,
) -> dict[str, Any]:
    """User-given campaign fields. --cost is checked against --currency, else
    `default_currency` (a new campaign's), else (an update) a currency sign in it is
    refused: the campaign's stored currency applies."""
    values: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise InvalidInput("a campaign's name cannot be empty")
        values["name"] = clean_text(name)
    if channel is not None:
        values["channel"] = normalize_enum(channel, CAMPAIGN_CHANNELS, "channel")
    if starts is not None:
        values["starts_at"] = _time(starts, "--starts")
    if ends is not None:
        values["ends_at"] = _end_time(ends, "--ends")
    if cost is not None:
        in_currency = normalize_currency(currency) if currency else default_currency
        values["cost"] = parse_money(cost, "--cost", in_currency)
        if values["cost"] < 0:
            raise InvalidInput("--cost must not be negative")
    if currency is not None:
        values["currency"] = normalize_currency(currency)
    if description is not None:
        values["description"] = clean_text(description)
    if (
        values.get("starts_at")
        and values.get("ends_at")
        and values["ends_at"] < values["starts_at"]
    ):
        raise InvalidInput("--ends is before --starts")
    return values


ChannelOpt = Annotated[
    str | None, typer.Option("--channel", help="email, sms, phone, event, social or ads.")
]
StartsOpt = Annotated[str | None, typer.Option("--starts", help="Start time.", show_default=False)]
EndsOpt = Annotated[str | None, typer.Option("--ends", help="End time.", show_default=False)]
CostOpt = Annotated[
    str | None, typer.Option("--cost", help="Total cost (decimal).", show_default=False)
]
CurrencyOpt = Annotated[
    str | None, typer.Option("--currency", help="Currency of the cost (default CNY).")
]
DescriptionOpt = Annotated[
    str | None, typer.Option("--description", help="What the campaign is.", show_default=False)
]


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Campaign name.")],
    channel: ChannelOpt = None,
    starts: StartsOpt = None,
    ends: EndsOpt = None,
    cost: CostOpt = None,
    currency: CurrencyOpt = None,
    description: DescriptionOpt = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Add a campaign (status draft) and print its id (`create` is an old name for it).

    Example: crm campaign add "Spring sale" --channel email --starts 2024-03-01 --cost 1200.00
    """
    fmt = out_format(format)
    if channel is None:
        raise InvalidInput("give --channel: email, sms, phone, event, social or ads")
    values = _fields(name, channel, starts, ends, cost, currency, description, "CNY")
    with open_db(db, write=True) as database:
        new_id = repo.create_campaign(database, values)
    output.emit_id(new_id, fmt)


# Every other group says `add`; scripts written for `campaign create` keep working.
app.command("create", hidden=True)(add)


@app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option("--status", help="draft, active or closed.", show_default=False)
    ] = None,
    columns: ColumnsOption = None,
    wide: WideOption = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """List campaigns with their member counts.

    Example: crm campaign list --status active --format json
    """
    fmt = out_format(format)
    if status is not None:
        status = normalize_enum(status, ("draft", "active", "closed"), "status")
    with open_db(db) as database:
        rows = repo.list_campaigns(database, status)
    output.emit_rows([_shown(r) for r in rows], fmt, columns=LIST_COLUMNS)


@app.command("show")
def show(
    campaign_id: IdArg,
    members: Annotated[
        int | None,
        typer.Option(
            "--members",
            help="Show at most this many members (0 = all). Default: all in json, jsonl and"
            " csv; 20 in a table.",
            min=0,
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Show a campaign with its arms (variants, control) and members; `members_total` says
    how many there are (`crm campaign members` lists and filters them).

    Example: crm campaign show 3 --members 0 --format json
    """
    fmt = out_format(format)
    cap = row_limit(members, fmt, default=20)
    with open_db(db) as database:
        record = _shown(repo.get_campaign(database, campaign_id))
        record["arms"] = [
            a | {"revenue": money(a["revenue"])} for a in repo.arm_counts(database, campaign_id)
        ]
        record["members_total"] = repo.count_members(database, campaign_id)
        record["members"] = [
            m | {"revenue": money(m["revenue"])} for m in repo.members(database, campaign_id, cap)
        ]
    note_shown(len(record["members"]), record["members_total"], cap, fmt)
    output.emit_object(record, fmt, title=f"campaign {campaign_id}")


@app.command("members")
def members_(
    campaign_id: IdArg,
    variant: Annotated[
        str | None,
        typer.Option("--variant", help="Only this variant (or control).", show_default=False),
    ] = None,
    result: Annotated[
        str | None,
        typer.Option(
            "--result", help="Only this result: success, failure or pending.", show_default=False
        ),
    ] = None,
    limit: LimitOption = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """List a campaign's members with their variant, result and revenue.

    Example: crm campaign members 3 --variant B --result success --format csv
    """
    fmt = out_format(format)
    outcome = (
        normalize_enum(result, CAMPAIGN_RESULTS, "result", "campaign_result")
        if result is not None
        else None
    )
    arm = variant.strip() if variant is not None else None
    cap = row_limit(limit, fmt)
    with open_db(db) as database:
        repo.get_campaign(database, campaign_id)
        rows = repo.members(database, campaign_id, cap, arm, outcome)
        note_shown(
            len(rows), lambda: repo.count_members(database, campaign_id, arm, outcome), cap, fmt
        )
    output.emit_rows(
        [r | {"revenue": money(r["revenue"])} for r in rows],
        fmt,
        columns=[
            "customer_id",
            "name",
            "variant",
            "result",
            "revenue",
            "contacted_at",
            "responded_at",
        ],
    )


@app.command("update")
def update(
    campaign_id: IdArg,
    name: Annotated[
        str | None, typer.Option("--name", help="New name.", show_default=False)
    ] = None,
    channel: ChannelOpt = None,
    starts: StartsOpt = None,
    ends: EndsOpt = None,
    cost: CostOpt = None,
    currency: CurrencyOpt = None,
    description: DescriptionOpt = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="draft or active (use `close` to close).", show_default=False
        ),
    ] = None,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Change a campaign's fields; prints what changed. Closed campaigns cannot change.

    Example: crm campaign update 3 --cost 1500 --ends 2024-04-30
    """
    fmt = out_format(format)
    changes = _fields(name, channel, starts, ends, cost, currency, description)
    if status is not None:
        changes["status"] = normalize_enum(status, ("draft", "active", "closed"), "status")
    if not changes:
        raise InvalidInput("nothing to update; give at least one --field value")
    with open_db(db, write=True) as database:
        diff = repo.update_campaign(database, campaign_id, changes)
    output.emit_changes(diff, fmt)


@app.command("close")
def close(campaign_id: IdArg, db: DbOption = None, format: FormatOption = None) -> None:
    """Close a campaign: results are final and its pending members count as non-responses
    in the response model.

    Example: crm campaign close 3
    """
    fmt = out_format(format)
    with open_db(db, write=True) as database:
        record = repo.close_campaign(database, campaign_id)
    output.emit_object(_shown(record), fmt, title=f"campaign {campaign_id}")


@app.command("target")
def target(
    campaign_id: IdArg,
    segment: Annotated[
        str, typer.Option("--segment", help="Segment expression, e.g. 'tag=vip and orders>=2'.")
    ],
    sample: Annotated[
        int | None,
        typer.Option("--sample", help="Draw at most N of the matching customers.", min=1),
    ] = None,
    variants: Annotated[
        str, typer.Option("--variants", help="Comma-separated variant names, e.g. A,B.")
    ] = "A",
    control: Annotated[
        float,
        typer.Option("--control", help="Share held out as the control group (0 to 0.9).", min=0.0),
    ] = 0.0,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Random seed (printed when not given) for a reproducible split."
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace existing members (only before any result).")
    ] = False,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Add a segment's customers as members, randomly split into variants and a hold-out
    control group; the same --seed gives the same split.

    Example: crm campaign target 3 --segment 'tag=vip and last_contact>30d' --variants A,B --control 0.1 --seed 42
    """
    fmt = out_format(format)
    names = [v.strip() for v in variants.split(",") if v.strip()]
    if not names:
        raise InvalidInput("--variants needs at least one name, e.g. A,B")
    if len(set(names)) != len(names):
        raise InvalidInput("--variants has a name twice")
    if repo.CONTROL in names:
        raise InvalidInput("'control' is the hold-out group; use --control for it")
    if control >= 0.9:
        raise InvalidInput("--control is the held-out share, between 0 and 0.9")
    plan = repo.TargetPlan(segment, names, control, sample, seed, replace)
    with open_db(db, write=True) as database:
        summary = repo.target(database, campaign_id, plan)
    if fmt in ("json", "jsonl"):
        output.emit_json(summary)
        return
    output.emit_rows([{"variant": k, "members": v} for k, v in summary["arms"].items()], fmt)
    output.info(f"{summary['members']} members (seed {summary['seed']}).")


@app.command("result")
def result(
    campaign_id: IdArg,
    customer: Annotated[int, typer.Argument(help="Customer id (a member of the campaign).")],
    outcome: Annotated[str, typer.Argument(help="success or failure (成功 / 失败), or pending.")],
    revenue: Annotated[
        str | None, typer.Option("--revenue", help="Revenue won (decimal).", show_default=False)
    ] = None,
    at: Annotated[str, typer.Option("--at", help="When the customer responded.")] = "now",
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Record a member's response.

    Example: crm campaign result 3 42 success --revenue 299.00
    """
    fmt = out_format(format)
    value = normalize_enum(outcome, CAMPAIGN_RESULTS, "result", "campaign_result")
    cents = parse_money(revenue, "--revenue", None) if revenue is not None else None
    if cents is not None and cents < 0:
        raise InvalidInput("--revenue must not be negative")
    when = to_iso(history_datetime(at, "--at"))
    with open_db(db, write=True) as database:
        record = repo.record_result(database, campaign_id, customer, value, cents, when)
    if fmt in ("json", "jsonl"):
        output.emit_json(record)
    else:
        output.info(f"Recorded {value} for customer {customer} in campaign {campaign_id}.")


@app.command("import-results")
@import_command(customer_key=True)
def import_results(
    campaign_id: IdArg,
    file: Annotated[
        Path,
        typer.Argument(help="CSV: customer reference, result, revenue, responded_at (- = stdin)."),
    ],
    options: ImportOptions,
    db: DbOption = None,
    format: FormatOption = None,
) -> None:
    """Record many responses from a CSV in one transaction (成功/失败 accepted).

    Example: crm campaign import-results 3 responses.csv --customer-key external_id
    """
    from crmcli.importing.campaigns import import_results as run

    fmt = out_format(format)
    with open_db(db, write=True) as database:
        summary = run(database, campaign_id, str(file), options)
    output.emit_import_summary(summary, fmt)


def _probability(value: float, option: str) -> float:
    if not 0 < value < 1:
        raise InvalidInput(f"{option} must be between 0 and 1")
    return value


@app.command("evaluate")
def evaluate(
    campaign_id: IdArg,
    confidence: Annotated[
        float, typer.Option("--confidence", help="Confidence level for intervals and tests.")
    ] = 0.95,
    power: Annotated[
        float, typer.Option("--power", help="Power for the 'members still needed' estimate.")
    ] = 0.8,
    out: OutOption = None,
    mode: ModeOption = None,
    db: DbOption = None,
    format: ReportFormatOption = None,
) -> None:
    """Evaluate a campaign: per arm members, responses, conversion with Wilson interval, lift
    over control with interval, z-test and chi-square p-values, a verdict, revenue, cost, ROI.

    Example: crm campaign evaluate 3 --confidence 0.95 --format json
    """
    from crmcli.analytics.stats import Arm, evaluate_arms

    fmt = report_format(format, out)
    _probability(confidence, "--confidence")
    _probability(power, "--power")
    with open_db(db) as database:
        from crmcli.db.deals import campaign_deals

        campaign = repo.get_campaign(database, campaign_id)
        counts = repo.arm_counts(database, campaign_id)
        deals = campaign_deals(database, campaign_id)
    if not counts:
        raise InvalidInput(f"campaign {campaign_id} has no members; run `crm campaign target`")
    arms = [
        Arm(
            str(c["variant"]),
            int(c["members"]),
            int(c["responses"] or 0),
            int(c["failures"] or 0),
            int(c["pending"] or 0),
            (money(int(c["revenue"] or 0)) or 0.0),
        )
        for c in counts
    ]
    result = evaluate_arms(arms, money(campaign["cost"]) or 0.0, confidence, power)
    report = {
        "campaign": {
            k: campaign[k] for k in ("id", "name", "channel", "status", "segment", "currency")
        },
        **result,
        "deals": _deal_roi(deals, campaign["currency"], result["summary"]),  # type: ignore[arg-type]
    }
    if fmt in ("table", "markdown", "html", "xlsx"):
        report = _rounded(report)  # JSON / CSV keep full precision
    emit_report(
        report,
        fmt,
        f"Campaign {campaign_id}: {campaign['name']}",
        out=out,
        mode=mode,
        meta=default_meta(db_path(db)),
    )


def _deal_roi(deals: dict[str, Any], currency: str, summary: dict[str, Any]) -> dict[str, Any]:
    """Won deals attributed to the campaign next to the members' revenue: ROI counting both.
    Deals in another currency than the campaign's are counted apart, never added."""
    same = [r for r in deals["won"] if r["currency"] == currency]
    won_deals = sum(int(r["deals"]) for r in same)
    won_amount = money(sum(int(r["amount"]) for r in same)) or 0.0
    cost = float(summary["cost"] or 0)
    revenue = float(summary["revenue"] or 0) + won_amount
    return {
        "currency": currency,
        "won_deals": won_deals,
        "won_amount": won_amount,
        "open_deals": deals["open"],
        "won_deals_other_currency": sum(int(r["deals"]) for r in deals["won"] if r not in same),
        "revenue_with_deals": round(revenue, 2),
        "roi_with_deals": round((revenue - cost) / cost, 4) if cost > 0 else None,
    }


def _rounded(value: Any) -> Any:
    """Floats to 4 significant decimals for people; the data formats keep full precision."""
    if isinstance(value, float):
        return float(f"{value:.4g}") if abs(value) < 1 else round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


@app.command("plan")
def plan(
    baseline: Annotated[
        float, typer.Option("--baseline", help="Expected control conversion rate.")
    ],
    lift: Annotated[
        str,
        typer.Option(
            "--lift", help="Smallest lift worth detecting: absolute (0.01) or relative (20%)."
        ),
    ],
    power: Annotated[float, typer.Option("--power", help="Probability of detecting it.")] = 0.8,
    alpha: Annotated[float, typer.Option("--alpha", help="Two-sided significance level.")] = 0.05,
    format: ReportFormatOption = None,
) -> None:
    """Members needed per arm to detect a lift in conversion (two-sided two-proportion test;
    Cohen's h effect size, as statsmodels NormalIndPower).

    Example: crm campaign plan --baseline 0.05 --lift 0.01 --power 0.8
    """
    import math

    from crmcli.analytics.stats import cohens_h, sample_size_per_arm

    fmt = report_format(format)
    _probability(baseline, "--baseline")
    _probability(power, "--power")
    _probability(alpha, "--alpha")
    text = lift.strip()
    try:
        delta = baseline * float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise InvalidInput(f"invalid --lift {lift!r}; use 0.01 or 20%") from None
    target_rate = baseline + delta
    if delta == 0 or not 0 < target_rate < 1:
        raise InvalidInput("--lift must be non-zero and keep the rate between 0 and 1")
    effect = cohens_h(target_rate, baseline)
    per_arm = math.ceil(sample_size_per_arm(effect, alpha, power))
    emit_report(
        {
            "plan": {
                "baseline": baseline,
                "target_rate": round(target_rate, 10),
                "absolute_lift": round(delta, 10),
                "relative_lift": round(delta / baseline, 6),
                "effect_size_h": effect,
                "alpha": alpha,
                "power": power,
                "per_arm": per_arm,
                "total_two_arms": 2 * per_arm,
            }
        },
        fmt,
        "Campaign sample size",
    )


@app.command("suggest")
def suggest(
    segment: Annotated[str, typer.Option("--segment", help="Whom to rank (segment expression).")],
    top: Annotated[int, typer.Option("--top", help="How many customers to list.", min=1)] = 20,
    channel: Annotated[
        str, typer.Option("--channel", help="Channel of the planned campaign.")
    ] = "email",
    force: Annotated[
        bool,
        typer.Option("--force", help="Rank even when the model is no better than chance."),
    ] = False,
    db: DbOption = None,
    format: ReportFormatOption = None,
) -> None:
    """Rank a segment's customers by predicted response, learned from past campaign results
    (logistic regression on RFM, tags and campaign history). Prints the model's
    cross-validated AUC with a verdict (0.5 = chance); below AUC 0.6 it refuses (exit 1)
    unless --force.

    Example: crm campaign suggest --segment 'lifecycle=customer and not tag=unsubscribed' --top 50
    """
    from crmcli.core.errors import OperationalError
    from crmcli.reports.value import suggest_report

    fmt = report_format(format)
    chan = normalize_enum(channel, CAMPAIGN_CHANNELS, "channel")
    with open_db(db) as database:
        report = suggest_report(database, segment, chan, top)
    verdict, folds = report["verdict"], report["model"]["folds"]
    line = f"Cross-validated AUC {verdict['score']:.3f} over {folds} folds: {verdict['text']}."
    if not verdict["ok"]:
        if not force:
            # Nothing on stdout: a ranking no better than chance must not feed a campaign.
            raise OperationalError(
                f"{line[:-1]}; the ranking would be a guess",
                hint="record more campaign results, or give --force to rank anyway",
            )
        output.warn(f"{line} The ranking below is a guess (--force).")
    else:
        output.info(line)
    emit_report(report, fmt, "Suggested customers", meta=default_meta(db_path(db)))
