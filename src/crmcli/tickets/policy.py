"""The helpdesk policy: SLA targets, assignment, classification rules and auto-reply settings.

Read from the `[tickets]` part of the TOML config file (`config.load_config()`), with
defaults for everything. Example:

    [tickets.sla]                      # optional business calendar (default: 24x7)
    business_hours = "09:00-18:00"
    workdays = ["mon", "tue", "wed", "thu", "fri"]
    holidays = ["2024-10-01", "2024-10-02"]
    [tickets.sla.urgent]               # per priority: targets, own calendar
    response = "30m"
    resolution = "4h"
    business_hours = false             # urgent tickets run around the clock

    [tickets.assignment]
    policy = "round_robin"             # round_robin | least_loaded | manual
    [tickets.assignment.categories]
    billing = "least_loaded"

    [[tickets.rules]]                  # first match wins
    category = "billing"
    keywords = ["invoice", "refund", "发票", "退款"]

    [tickets.classifier]
    threshold = 0.6

    [tickets.autoreply]
    enabled = true
    from = "support@example.com"
    language = "auto"                  # auto (Chinese text -> zh) | zh | en
    [tickets.autoreply.templates.en.billing]
    subject = "Re: {subject} [#{ticket_id}]"
    body = "Dear {name}, ..."
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from crmcli.core.errors import InvalidInput
from crmcli.core.validate import PRIORITIES
from crmcli.tickets.sla import Calendar, parse_hours, parse_target, parse_workdays

DEFAULT_TARGETS = {
    "urgent": ("1h", "4h"),
    "high": ("4h", "1d"),
    "normal": ("8h", "3d"),
    "low": ("1d", "5d"),
}
ASSIGNMENT_POLICIES = ("round_robin", "least_loaded", "manual")
LANGUAGES = ("auto", "zh", "en")


@dataclass(frozen=True)
class SlaTarget:
    """First-response and resolution targets (business seconds) on a calendar."""

    response_seconds: int
    resolution_seconds: int
    calendar: Calendar


@dataclass
class TicketPolicy:
    sla: dict[str, SlaTarget]
    assignment: str = "round_robin"
    assignment_by_category: dict[str, str] = field(default_factory=dict)
    rules: list[tuple[str, list[str]]] = field(default_factory=list)
    threshold: float = 0.6
    autoreply: bool = True
    sender: str = "support@localhost"
    language: str = "auto"
    templates: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def assignment_for(self, category: str | None) -> str:
        if category and category in self.assignment_by_category:
            return self.assignment_by_category[category]
        return self.assignment

    def target(self, priority: str) -> SlaTarget:
        return self.sla[priority]


def _table(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput(f"config: [{where}] must be a table")
    return raw


def _calendar(section: dict[str, Any], base: Calendar | None, where: str) -> Calendar:
    from crmcli.core.clock import local_zone
    from crmcli.core.validate import parse_date

    cal = base or Calendar(zone=local_zone())
    if "timezone" in section:
        from dateutil import tz as dateutil_tz

        zone = dateutil_tz.gettz(str(section["timezone"]))
        if zone is None:
            raise InvalidInput(f"config: unknown timezone {section['timezone']!r} in [{where}]")
        cal = replace(cal, zone=zone)
    if "business_hours" in section:
        hours = section["business_hours"]
        if hours is False:
            cal = replace(cal, opens=None, closes=None, workdays=frozenset(range(7)))
            cal = replace(cal, holidays=frozenset())
        else:
            opens, closes = parse_hours(str(hours))
            cal = replace(cal, opens=opens, closes=closes)
            if "workdays" not in section and base is None:
                cal = replace(cal, workdays=frozenset(range(5)))
    if "workdays" in section:
        cal = replace(cal, workdays=parse_workdays(section["workdays"]))
    if "holidays" in section:
        days = section["holidays"]
        if not isinstance(days, list):
            raise InvalidInput(f"config: holidays in [{where}] must be a list of dates")
        cal = replace(cal, holidays=frozenset(parse_date(str(d), "holiday") for d in days))
    return cal


def load_policy(raw: dict[str, Any] | None = None) -> TicketPolicy:
    """The policy from the config file (or `raw`, the parsed TOML), defaults filled in."""
    if raw is None:
        from crmcli.core.config import load_config

        raw = load_config()
    tickets = _table(raw.get("tickets"), "tickets")
    sla_raw = _table(tickets.get("sla"), "tickets.sla")
    base = _calendar(sla_raw, None, "tickets.sla")
    sla: dict[str, SlaTarget] = {}
    for priority in PRIORITIES:
        own = _table(sla_raw.get(priority), f"tickets.sla.{priority}")
        cal = _calendar(own, base, f"tickets.sla.{priority}")
        response, resolution = DEFAULT_TARGETS[priority]
        sla[priority] = SlaTarget(
            parse_target(own.get("response", response), cal, f"{priority} response target"),
            parse_target(own.get("resolution", resolution), cal, f"{priority} resolution target"),
            cal,
        )
    assign = _table(tickets.get("assignment"), "tickets.assignment")
    policy = str(assign.get("policy", "round_robin"))
    by_category = {
        str(k): str(v) for k, v in _table(assign.get("categories"), "assignment").items()
    }
    for name in [policy, *by_category.values()]:
        if name not in ASSIGNMENT_POLICIES:
            raise InvalidInput(
                f"config: unknown assignment policy {name!r}; "
                f"choose one of: {', '.join(ASSIGNMENT_POLICIES)}"
            )
    rules: list[tuple[str, list[str]]] = []
    for i, rule in enumerate(tickets.get("rules") or []):
        rule = _table(rule, f"tickets.rules #{i + 1}")
        words = rule.get("keywords")
        if not rule.get("category") or not isinstance(words, list) or not words:
            raise InvalidInput(f"config: [[tickets.rules]] #{i + 1} needs category and keywords")
        rules.append((str(rule["category"]), [str(w) for w in words if str(w).strip()]))
    classifier = _table(tickets.get("classifier"), "tickets.classifier")
    threshold = float(classifier.get("threshold", 0.6))
    if not 0 <= threshold <= 1:
        raise InvalidInput("config: classifier threshold must be between 0 and 1")
    reply = _table(tickets.get("autoreply"), "tickets.autoreply")
    language = str(reply.get("language", "auto"))
    if language not in LANGUAGES:
        raise InvalidInput(f"config: autoreply language must be one of {', '.join(LANGUAGES)}")
    templates: dict[str, dict[str, dict[str, str]]] = {}
    for lang, per_category in _table(reply.get("templates"), "autoreply.templates").items():
        for category, tpl in _table(per_category, f"autoreply.templates.{lang}").items():
            tpl = _table(tpl, f"autoreply.templates.{lang}.{category}")
            templates.setdefault(str(lang), {})[str(category)] = {
                k: str(v) for k, v in tpl.items() if k in ("subject", "body")
            }
    return TicketPolicy(
        sla=sla,
        assignment=policy,
        assignment_by_category=by_category,
        rules=rules,
        threshold=threshold,
        autoreply=bool(reply.get("enabled", True)),
        sender=str(reply.get("from", "support@localhost")),
        language=language,
        templates=templates,
    )
