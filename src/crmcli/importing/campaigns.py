"""Campaign-result field rules for the import pipeline (`crm campaign import-results`).

Each row records one member's result (成功/失败 accepted), revenue and response time. Rows
naming a customer who is not a member are rejected, and a second row for the same member is
a duplicate (which one is meant is not guessed); a bad revenue (one written in another
currency than the campaign's too) or responded_at is a field-level warning, and the result
is stored without it (no response time is invented). A closed campaign refuses the whole
file (exit 4).
"""

from __future__ import annotations

from typing import Any

from crmcli.core.errors import Conflict, InvalidInput, NotFound
from crmcli.core.validate import (
    CAMPAIGN_RESULTS,
    check_amount_currency,
    check_minor_units,
    normalize_enum,
)
from crmcli.db import campaigns as repo
from crmcli.importing.pipeline import (
    Context,
    Entity,
    ImportOptions,
    Reject,
    Staged,
    run_import,
)

RESULT_FIELDS = (
    "customer_id",
    "customer_external_id",
    "customer_email",
    "customer_phone",
    "result",
    "revenue",
    "responded_at",
)
RESULT_ALIASES = {
    "result": "result",
    "outcome": "result",
    "response": "result",
    "结果": "result",
    "revenue": "revenue",
    "amount": "revenue",
    "收入": "revenue",
    "金额": "revenue",
    "respondedat": "responded_at",
    "at": "responded_at",
    "date": "responded_at",
    "time": "responded_at",
    "时间": "responded_at",
}


def _result(raw: str) -> str:
    return normalize_enum(raw, CAMPAIGN_RESULTS, "result", "campaign_result")


class CampaignResultImport(Entity):
    name = "campaign"
    audit_entity = "campaign"
    audit_action = "import_results"
    fields = RESULT_FIELDS
    aliases = RESULT_ALIASES
    money_fields = ("revenue",)
    date_fields = ("responded_at",)

    def __init__(self, ctx: Context, campaign_id: int) -> None:
        super().__init__(ctx)
        self.campaign_id = campaign_id
        self.currency = str(repo.get_campaign(ctx.db, campaign_id)["currency"])
        self.members: dict[int, int] = {}  # customer id -> the line that set its result

    def check_columns(self, present: set[str]) -> None:
        if "result" not in present:
            raise InvalidInput("the file has no result column (use --map SRC=result)")

    def precheck(self) -> None:
        self.start()  # a closed campaign refuses the file before it is read

    def start(self) -> None:
        status = repo.campaign_status(self.ctx.db, self.campaign_id)
        if status == "closed":
            raise Conflict(f"campaign {self.campaign_id} is closed; results can no longer change")

    def row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        """STAGING: result, revenue, response time and the customer reference."""
        ctx = self.ctx
        result = ctx.required("result", record.get("result"), _result)
        raw = (record.get("revenue") or "").strip()
        revenue = ctx.optional(line, cells, "revenue", raw, self._revenue) if raw else None
        raw = (record.get("responded_at") or "").strip()
        at = (
            ctx.optional(line, cells, "responded_at", raw, lambda t: ctx.time("responded_at", t))
            if raw
            else None
        )
        assert ctx.resolver is not None
        return [result, revenue, at, ctx.resolver.reference(record)]

    def _revenue(self, raw: str) -> int:
        """A revenue cell in the campaign's currency (`$299.00` is no CNY amount)."""
        try:
            check_amount_currency(raw, self.currency)
        except InvalidInput:
            raise InvalidInput(
                f"revenue {raw.strip()!r} is not in {self.currency}, the campaign's currency"
            ) from None
        cents = self.ctx.money("revenue", raw)
        check_minor_units(cents, self.currency, "revenue")
        return cents

    def merge(self, rows: list[Staged]) -> None:
        ctx = self.ctx
        assert ctx.resolver is not None
        ctx.resolver.prefetch([r.data[3] for r in rows])
        for staged in rows:
            result, revenue, at, ref = staged.data
            try:
                customer_id = ctx.resolver.lookup(ref)
                first = self.members.get(customer_id)
                if first is not None:
                    ctx.reject(
                        staged.line, staged.cells,
                        Reject(f"duplicate of line {first} (the same member, customer {customer_id})"),
                        duplicate=True,
                    )  # fmt: skip
                    continue
                self.members[customer_id] = staged.line
                try:
                    changed = repo.set_result(
                        ctx.db, self.campaign_id, customer_id, result, revenue, at
                    )
                except NotFound as exc:
                    raise Reject(exc.message, "customer", str(customer_id)) from None
            except (Reject, InvalidInput) as exc:
                ctx.reject(staged.line, staged.cells, exc)
                continue
            if changed:
                ctx.summary.updated += 1
            else:
                ctx.summary.unchanged += 1

    def audit_id(self) -> int | None:
        return self.campaign_id


def import_results(db: Any, campaign_id: int, path: str, options: ImportOptions) -> Any:
    """Record many campaign responses from a CSV in one transaction (the pipeline)."""
    repo.get_campaign(db, campaign_id)  # NotFound (exit 3) before reading the file
    return run_import(db, path, CampaignResultImport, options, campaign_id=campaign_id)
