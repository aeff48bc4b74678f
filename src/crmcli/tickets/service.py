"""Ticket operations: each one a single transaction over the repository functions.

Opening a ticket classifies it, assigns it, sets its SLA due times and writes the
auto-reply, each recorded as a ticket event; the other operations move it through the
workflow, keep the SLA clock (pauses included) and record what happened.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from crmcli.core import clock
from crmcli.core.clock import from_iso, to_iso
from crmcli.core.errors import Conflict, InvalidInput, NotEnoughData
from crmcli.db import Database, audit
from crmcli.db import agents as agents_repo
from crmcli.db import tickets as repo
from crmcli.tickets import autoreply, workflow
from crmcli.tickets.assignment import CURSOR_PREFIX, Choice, choose_agent
from crmcli.tickets.policy import TicketPolicy, load_policy
from crmcli.tickets.sla import STOPPED, Calendar

MODEL_KEY = "tickets.classifier.model"
MODEL_META_KEY = "tickets.classifier.meta"


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment is not None else None


def _when(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


# ---------------------------------------------------------------- classification


def classify_text(db: Database, text: str, policy: TicketPolicy) -> dict[str, Any]:
    """Rules first (first match wins), else the trained model above the threshold."""
    from crmcli.analytics.classify import match_rules

    hit = match_rules(text, policy.rules)
    if hit:
        return {"category": hit[0], "source": "rule", "keyword": hit[1]}
    stored = agents_repo.read_settings(db, MODEL_KEY)
    if MODEL_KEY not in stored:
        return {"category": None, "source": "none", "reason": "no rule matched and no model"}
    from crmcli.analytics.classify import ModelRefused, loads, predict

    try:
        guess = predict(loads(stored[MODEL_KEY]), text, top=5)
    except ModelRefused as exc:  # a refused model must not stop a ticket opening
        return {
            "category": None,
            "source": "none",
            "reason": f"{exc}; retrain it with `crm ticket classify --train`",
        }
    confident = guess["confidence"] >= policy.threshold
    return {
        "category": guess["category"] if confident else None,
        "source": "model" if confident else "none",
        "predicted": guess["category"],
        "confidence": round(guess["confidence"], 4),
        "threshold": policy.threshold,
        "top_terms": [t["term"] for t in guess["top_terms"]],
    }


# ---------------------------------------------------------------- assignment


def _choose(db: Database, category: str | None, policy: TicketPolicy) -> Choice:
    return choose_agent(
        agents_repo.list_agents(db),
        category,
        policy.assignment_for(category),
        agents_repo.read_settings(db, CURSOR_PREFIX),
    )


def _record_assignment(db: Database, ticket_id: int, choice: Choice, at: str) -> None:
    if choice.cursor_key and choice.cursor_value:
        agents_repo.write_setting(db, choice.cursor_key, choice.cursor_value)
    repo.add_event(
        db,
        ticket_id,
        "assigned" if choice.agent else "unassigned",
        body=choice.agent,
        details={"policy": choice.policy, "reasons": choice.reasons},
        at=at,
    )


# ---------------------------------------------------------------- open


def open_ticket(
    db: Database,
    customer_id: int,
    subject: str,
    description: str | None = None,
    priority: str = "normal",
    category: str | None = None,
    channel: str | None = None,
    reply: bool = True,
) -> dict[str, Any]:
    """Open a ticket: classify, assign, set due times, auto-reply. Returns what happened."""
    subject = subject.strip()
    if not subject:
        raise InvalidInput("a ticket needs a --subject")
    policy = load_policy()
    now = clock.now()
    at = to_iso(now)
    target = policy.target(priority)
    written: Path | None = None
    try:
        with db.transaction():
            customer = repo.customer_contact(db, customer_id)
            if category:
                classified: dict[str, Any] = {"category": category, "source": "given"}
            else:
                classified = classify_text(db, f"{subject} {description or ''}", policy)
            chosen = classified["category"]
            choice = _choose(db, chosen, policy)
            response_due = target.calendar.add(now, target.response_seconds)
            due = target.calendar.add(now, target.resolution_seconds)
            ticket_id = repo.insert_ticket(
                db,
                {
                    "customer_id": customer_id,
                    "subject": subject,
                    "description": description,
                    "category": chosen,
                    "priority": priority,
                    "status": "open",
                    "channel": channel,
                    "assignee": choice.agent,
                    "created_at": at,
                    "response_due_at": to_iso(response_due),
                    "due_at": to_iso(due),
                },
            )
            repo.add_event(
                db,
                ticket_id,
                "opened",
                body=description,
                to_status="open",
                details={"subject": subject, "priority": priority, "channel": channel},
                at=at,
            )
            repo.add_event(db, ticket_id, "classified", body=chosen, details=classified, at=at)
            _record_assignment(db, ticket_id, choice, at)
            repo.add_event(
                db,
                ticket_id,
                "sla",
                details={
                    "response_due_at": to_iso(response_due),
                    "due_at": to_iso(due),
                    "response_minutes": target.response_seconds // 60,
                    "resolution_minutes": target.resolution_seconds // 60,
                    "business_hours": not target.calendar.continuous,
                },
                at=at,
            )
            reply_info = None
            if reply and policy.autoreply:
                reply_info = _auto_reply(
                    db, ticket_id, customer, subject, description, chosen,
                    {"due": response_due, "resolution_due": due}, policy, now,
                )  # fmt: skip
                written = Path(reply_info["file"])
            audit.record(
                db,
                "create",
                "ticket",
                ticket_id,
                {"customer_id": customer_id, "subject": subject, "category": chosen},
            )
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)
        raise
    return {
        "id": ticket_id,
        "category": chosen,
        "classification": classified,
        "assignee": choice.agent,
        "assignment": choice.explain(),
        "response_due_at": to_iso(response_due),
        "due_at": to_iso(due),
        "auto_reply": reply_info,
    }


def _auto_reply(
    db: Database,
    ticket_id: int,
    customer: dict[str, Any],
    subject: str,
    description: str | None,
    category: str | None,
    dues: dict[str, datetime],
    policy: TicketPolicy,
    now: datetime,
) -> dict[str, Any]:
    """Render, write and record the auto-reply. {due} is the first-response due time."""
    language = autoreply.language_for(policy.language, customer["name"], subject, description)
    template = autoreply.pick_template(policy.templates, language, category)
    zone = clock.local_zone()
    fields: dict[str, Any] = {
        k: v.astimezone(zone).strftime("%Y-%m-%d %H:%M") for k, v in dues.items()
    }
    fields |= {
        "name": customer["name"],
        "ticket_id": ticket_id,
        "subject": subject,
        "category": category or "",
    }
    title = autoreply.render(template["subject"], fields)
    body = autoreply.render(template["body"], fields)
    msg = autoreply.build_message(policy.sender, customer.get("email"), title, body, ticket_id, now)
    name = f"ticket-{ticket_id}-autoreply-{now.strftime('%Y%m%dT%H%M%SZ')}.eml"
    path = autoreply.write_eml(autoreply.outbox_dir(db.path), name, msg)
    info = {"file": str(path), "to": customer.get("email"), "subject": title, "language": language}
    repo.add_event(db, ticket_id, "auto_reply", body=body, details=info, at=to_iso(now))
    return info


# ---------------------------------------------------------------- workflow


def shift_dues(
    ticket: dict[str, Any], calendar: Calendar, now: datetime, changes: dict[str, Any]
) -> int:
    """Leaving a stopped status: add the business time it was stopped to the due times."""
    paused_at = _when(ticket["sla_paused_at"])
    if paused_at is None:
        return 0
    paused = calendar.seconds_between(paused_at, now)
    changes["sla_paused_seconds"] = int(ticket["sla_paused_seconds"] or 0) + paused
    changes["sla_paused_at"] = None
    if ticket["response_due_at"] and not ticket["first_response_at"]:
        changes["response_due_at"] = to_iso(
            calendar.add(from_iso(ticket["response_due_at"]), paused)
        )
    if ticket["due_at"]:
        changes["due_at"] = to_iso(calendar.add(from_iso(ticket["due_at"]), paused))
    return paused


def transition(
    db: Database, ticket_id: int, action: str, note: str | None = None
) -> dict[str, Any]:
    """Move a ticket by `action` (start, wait, resolve, close, reopen)."""
    policy = load_policy()
    now = clock.now()
    at = to_iso(now)
    with db.transaction():
        ticket = repo.get_ticket(db, ticket_id)
        before = ticket["status"]
        after = workflow.next_status(ticket_id, before, action)
        calendar = policy.target(ticket["priority"]).calendar
        changes: dict[str, Any] = {"status": after}
        paused = 0
        if before in STOPPED:
            paused = shift_dues(ticket, calendar, now, changes)
        if after in STOPPED:
            changes["sla_paused_at"] = at
        if action in workflow.RESPONDING_ACTIONS and not ticket["first_response_at"]:
            changes["first_response_at"] = at
        if action == "resolve":
            changes["resolved_at"] = at
        elif action == "close":
            changes["closed_at"] = at
        elif action == "reopen":
            changes.update(resolved_at=None, closed_at=None)
        repo.update_fields(db, ticket_id, changes)
        details: dict[str, Any] = {"action": action}
        if paused:
            details["clock_stopped_minutes"] = paused // 60
        repo.add_event(
            db, ticket_id, "status", body=note, from_status=before, to_status=after,
            details=details, at=at,
        )  # fmt: skip
        audit.record(db, action, "ticket", ticket_id, {"from": before, "to": after})
    return {"id": ticket_id, "from": before, "status": after, "at": at}


def assign(
    db: Database, ticket_id: int, agent: str | None, auto: bool = False, force: bool = False
) -> dict[str, Any]:
    """Assign by hand (checks the agent is active and has room) or by the policy."""
    if bool(agent) == auto:
        raise InvalidInput("give either an AGENT or --auto")
    policy = load_policy()
    at = clock.now_iso()
    with db.transaction():
        ticket = repo.get_ticket(db, ticket_id)
        if ticket["status"] == "closed":
            raise Conflict(f"ticket {ticket_id} is closed; reopen it first")
        if auto:
            choice = _choose(db, ticket["category"], policy)
            if choice.agent is None:
                raise Conflict(
                    f"no agent available for ticket {ticket_id}: " + "; ".join(choice.reasons)
                )
        else:
            found = agents_repo.get_agent(db, str(agent))
            if not found["active"]:
                raise Conflict(f"agent {agent!r} is disabled; enable them first")
            room = found["max_open"] is None or found["open_tickets"] < found["max_open"]
            if not room and ticket["assignee"] != agent and not force:
                raise Conflict(
                    f"agent {agent!r} is full ({found['open_tickets']}/{found['max_open']}"
                    " open tickets); use --force to assign anyway"
                )
            choice = Choice(agent=str(agent), policy="manual", reasons=["assigned by hand"])
        previous = ticket["assignee"]
        if previous != choice.agent:
            repo.update_fields(db, ticket_id, {"assignee": choice.agent})
            _record_assignment(db, ticket_id, choice, at)
            audit.record(db, "assign", "ticket", ticket_id, {"from": previous, "to": choice.agent})
        else:
            choice.reasons.append(f"already assigned to {previous}: nothing changed")
    return {"id": ticket_id, "assignee": choice.agent, "previous": previous, **choice.explain()}


def comment(db: Database, ticket_id: int, text: str, internal: bool = False) -> dict[str, Any]:
    """Add a comment; the first public one is the first response if none was given yet."""
    text = text.strip()
    if not text:
        raise InvalidInput("the comment is empty")
    at = clock.now_iso()
    with db.transaction():
        ticket = repo.get_ticket(db, ticket_id)
        changes: dict[str, Any] = {}
        if not internal and not ticket["first_response_at"]:
            changes["first_response_at"] = at
        repo.update_fields(db, ticket_id, changes)
        repo.add_event(db, ticket_id, "comment", body=text, internal=internal, at=at)
        audit.record(db, "comment", "ticket", ticket_id, {"internal": internal})
    return {"id": ticket_id, "internal": internal, "first_response": bool(changes)}


def update(db: Database, ticket_id: int, changes: dict[str, Any]) -> dict[str, list[Any]]:
    """Change subject, description, category, priority, channel (and status via its action)."""
    status = changes.pop("status", None)
    policy = load_policy()
    diff: dict[str, list[Any]] = {}
    with db.transaction():
        if status is not None:
            ticket = repo.get_ticket(db, ticket_id)
            action = workflow.action_for(ticket_id, ticket["status"], status)
            transition(db, ticket_id, action)
            diff["status"] = [ticket["status"], status]
        ticket = repo.get_ticket(db, ticket_id)
        real = {k: v for k, v in changes.items() if ticket[k] != v}
        if "priority" in real:
            real.update(due_for_priority(ticket, real["priority"], policy))
        if real:
            repo.update_fields(db, ticket_id, real)
            fields = {k: [ticket[k], v] for k, v in real.items()}
            repo.add_event(db, ticket_id, "updated", details=fields)
            audit.record(db, "update", "ticket", ticket_id, {"changes": fields})
            diff.update(fields)
    return diff


def due_for_priority(ticket: dict[str, Any], priority: str, policy: TicketPolicy) -> dict[str, Any]:
    """Due times under another priority's targets, the stopped time so far included."""
    target = policy.target(priority)
    created = from_iso(ticket["created_at"])
    paused = int(ticket["sla_paused_seconds"] or 0)
    out: dict[str, Any] = {}
    if not ticket["first_response_at"]:
        out["response_due_at"] = to_iso(
            target.calendar.add(created, target.response_seconds + paused)
        )
    if ticket["status"] not in ("resolved", "closed"):
        out["due_at"] = to_iso(target.calendar.add(created, target.resolution_seconds + paused))
    return out


def rate(db: Database, ticket_id: int, score: int, remark: str | None = None) -> dict[str, Any]:
    """Record customer satisfaction (1..5) on a resolved or closed ticket."""
    if not 1 <= score <= 5:
        raise InvalidInput(f"a rating is 1..5, got {score}")
    at = clock.now_iso()
    with db.transaction():
        ticket = repo.get_ticket(db, ticket_id)
        if ticket["status"] not in ("resolved", "closed"):
            raise Conflict(
                f"ticket {ticket_id} is {ticket['status']}; only resolved or closed tickets "
                "can be rated"
            )
        repo.update_fields(
            db, ticket_id, {"satisfaction": score, "satisfaction_comment": remark, "rated_at": at}
        )
        repo.add_event(
            db, ticket_id, "rated", body=remark,
            details={"satisfaction": score, "previous": ticket["satisfaction"]}, at=at,
        )  # fmt: skip
        audit.record(db, "rate", "ticket", ticket_id, {"satisfaction": score})
    return {"id": ticket_id, "satisfaction": score, "previous": ticket["satisfaction"]}


# ---------------------------------------------------------------- views


def show(db: Database, ticket_id: int) -> dict[str, Any]:
    """The ticket, its customer, SLA state and the full timeline under `events`."""
    from crmcli.tickets.sla import sla_state

    policy = load_policy()
    ticket = repo.get_ticket(db, ticket_id)
    customer = repo.customer_contact(db, ticket["customer_id"])
    state = sla_state(ticket, policy.target(ticket["priority"]).calendar, clock.now())
    out = dict(ticket)
    out["customer"] = customer["name"]
    out["allowed_actions"] = workflow.allowed_actions(ticket["status"])
    out["sla"] = state
    from crmcli.core.clock import display_time

    out["events"] = [e | {"at": display_time(e["at"])} for e in repo.events(db, ticket_id)]
    return out


def list_with_sla(db: Database, flt: Any, limit: int | None) -> list[dict[str, Any]]:
    """`ticket list`: the matching tickets, each with its SLA state under `sla` (both
    clocks, and the minutes each has used)."""
    from crmcli.db.tickets import list_tickets
    from crmcli.tickets.sla import sla_state

    policy = load_policy()
    now = clock.now()
    rows = list_tickets(db, flt, clock.to_iso(now), limit=limit)
    calendars: dict[str, Any] = {}
    for row in rows:
        priority = row["priority"]
        if priority not in calendars:
            calendars[priority] = policy.target(priority).calendar
        row["sla"] = sla_state(row, calendars[priority], now)
    return rows


def flat_sla(record: dict[str, Any]) -> dict[str, Any]:
    """A record's `sla` object as flat columns (for tables and CSV)."""
    sla = record.pop("sla")
    for name in ("response", "resolution"):
        record[f"sla_{name}"] = sla[name]["state"]
        record[f"sla_{name}_minutes_left"] = sla[name]["remaining_minutes"]
        record[f"sla_{name}_minutes_used"] = sla[f"{name}_minutes_used"]
    return record


def sla_listing(
    db: Database, at_risk_seconds: int | None = None, breached_only: bool = False
) -> list[dict[str, Any]]:
    """Active tickets with both clocks; filtered to at-risk and/or breached ones."""
    from crmcli.tickets.sla import sla_state

    policy = load_policy()
    now = clock.now()
    rows = repo.list_tickets(
        db, repo.TicketFilter(statuses=list(workflow.ACTIVE_STATUSES)), to_iso(now), limit=None
    )
    out: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: (r["due_at"] or "", r["id"])):
        state = sla_state(row, policy.target(row["priority"]).calendar, now)
        clocks = [state["response"], state["resolution"]]
        breached = any(c["state"] == "breached" for c in clocks)
        ticking = [c["remaining_minutes"] for c in clocks if c["state"] in ("running", "paused")]
        left = min(ticking) if ticking else None
        # A stopped clock (waiting on the customer) cannot run out: not at risk.
        at_risk = (
            at_risk_seconds is not None
            and not breached
            and any(
                c["state"] == "running" and c["remaining_minutes"] * 60 <= at_risk_seconds
                for c in clocks
            )
        )
        if (breached_only or at_risk_seconds is not None) and not (
            (breached_only and breached) or at_risk
        ):
            continue
        out.append(
            {
                "id": row["id"],
                "subject": row["subject"],
                "priority": row["priority"],
                "status": row["status"],
                "assignee": row["assignee"],
                "response": state["response"]["state"],
                "response_due_at": row["response_due_at"],
                "resolution": state["resolution"]["state"],
                "due_at": row["due_at"],
                "minutes_left": left,
                "breached": breached,
            }
        )
    return out


def model_meta(db: Database) -> dict[str, Any] | None:
    stored = agents_repo.read_settings(db, MODEL_META_KEY)
    return json.loads(stored[MODEL_META_KEY]) if MODEL_META_KEY in stored else None


def load_model(db: Database) -> Any:
    """The stored classifier (plain data only; anything else raises ModelRefused)."""
    from crmcli.analytics.classify import loads

    stored = agents_repo.read_settings(db, MODEL_KEY)
    if MODEL_KEY not in stored:
        raise NotEnoughData("no classifier trained yet; run `crm ticket classify --train`")
    return loads(stored[MODEL_KEY])


def save_model(db: Database, model: Any, meta: dict[str, Any]) -> None:
    from crmcli.analytics.classify import dumps

    with db.transaction():
        agents_repo.write_setting(db, MODEL_KEY, dumps(model))
        agents_repo.write_setting(db, MODEL_META_KEY, json.dumps(meta, ensure_ascii=False))
        audit.record(db, "train", "ticket_classifier", None, meta)
