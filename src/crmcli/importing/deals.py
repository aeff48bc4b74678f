"""Deal field rules for the import pipeline (`crm deal import`).

Row semantics (the README's "Deals" section says the same):
- A deal belongs to a customer and/or a company. The customer is named the way every
  import names one (customer_id, customer_external_id, customer_email, customer_phone;
  `--customer-key` picks); the company by company_id, company_external_id, company_domain
  or company (its normalized name, or its domain). A reference to nobody, or columns naming
  two different companies, rejects the row.
- Required: a title and an amount (the money parser, one decimal convention per column).
  The stage is a stage name or alias (线索, 赢单, "Closed Won" ...); an unknown stage
  rejects the row with the list of stages; an empty one is the first open stage.
- `--key external_id` upserts: a row whose external_id matches a deal updates it with the
  non-empty cells; `--key id` does so by this database's id (a `deal export` read back: an
  unknown id, or an id and an external_id naming two deals, rejects the row). Without `--key` the import only inserts, and a row with an existing
  deal's external_id is a duplicate of it.
- History (deal_events): a new deal gets a `create` event at its created_at (the file's,
  else the import time) in its stage. A deal imported already won or lost closed at
  `closed_at`, else its close_date (start of that day; in CRMs such as HubSpot and
  Salesforce the close date of a closed deal is when it closed); one with neither is
  rejected (its close time would be a guess); one without created_at is dated at its close,
  with a field-level warning (its sales cycle reads 0 days). Its create event records no stage (which
  open stages it went through is not in the file) and a `won`/`lost` event follows at the
  close time. An upsert that changes the stage writes the event a person's move would
  (`move`, `won`, `lost`, `reopen`) at the import time (at closed_at when the file gives
  one); a changed amount, close date or probability writes an `update` event.
- Probability: 60, 60% or, in a column of fractions (HubSpot's 0.6), a share of 1; the
  scale is decided from the whole column (fractions and percentages mixed: refused), and a
  1 in a column of only 0 and 1 is a warning (1% or 100% is not guessed). won_at / lost_at
  (as `deal export` writes them) are the close time of a won / lost deal.
- External ids a spreadsheet wrote in scientific notation (5.01235E+09) are refused.
- Bad optional fields (close_date, probability, created_at, closed_at, campaign, custom
  fields) are field-level warnings (`--strict-fields` rejects instead).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import datetime, time
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar

from crmcli.core import clock, validate
from crmcli.core.errors import Conflict, InvalidInput
from crmcli.db import deal_import as repo
from crmcli.db.deals import list_stages
from crmcli.importing.companies import COMPANY_REF_FIELDS, checked_external_id, company_reference
from crmcli.importing.custom import CustomColumns, with_custom_fields
from crmcli.importing.pipeline import (
    CUSTOMER_KEYS,
    Context,
    CustomerResolver,
    Entity,
    ImportOptions,
    Reject,
    Staged,
    run_import,
)
from crmcli.sales.stages import check_probability, resolve_stage

KEYS = ("external_id", "id")  # id: this database's, from its own `deal export`
DEAL_IMPORT_FIELDS = (
    "external_id", "title", "amount", "currency", "stage", "status", "probability",
    "close_date", "closed_at", "won_at", "lost_at", "created_at", "owner", "source", "campaign",
    "lost_reason",
    *(f"customer_{k}" for k in CUSTOMER_KEYS), *COMPANY_REF_FIELDS,
)  # fmt: skip
# Columns of `deal export` an import accepts but does not store.
IGNORED = ("id", "updated_at", "stage_changed_at")
ALIASES = {
    # HubSpot deals export, Salesforce opportunities, Chinese spreadsheets
    "recordid": "external_id",
    "dealid": "external_id",
    "opportunityid": "external_id",
    "商机编号": "external_id",
    "编号": "external_id",
    "title": "title",
    "dealname": "title",
    "deal": "title",
    "opportunityname": "title",
    "dealtitle": "title",  # Pipedrive ("Deal - Title")
    "opportunity": "title",
    "name": "title",
    "商机": "title",
    "商机名称": "title",
    "项目名称": "title",
    "名称": "title",
    "titel": "title",
    "amount": "amount",
    "value": "amount",
    "dealvalue": "amount",
    "betrag": "amount",
    "金额": "amount",
    "商机金额": "amount",
    "预计金额": "amount",
    "currency": "currency",
    "currencycode": "currency",
    "currencyisocode": "currency",  # Salesforce (multi-currency orgs)
    "opportunitycurrency": "currency",
    "dealcurrency": "currency",
    "dealcurrencycode": "currency",  # HubSpot
    "dealcurrencyofvalue": "currency",  # Pipedrive
    "currencyofvalue": "currency",
    "währung": "currency",
    "币种": "currency",
    "货币": "currency",
    "status": "status",  # Pipedrive: won / lost / open next to the stage it was in
    "dealstatus": "status",
    "商机状态": "status",
    "stage": "stage",
    "dealstage": "stage",
    "阶段": "stage",
    "销售阶段": "stage",
    "商机阶段": "stage",
    "probability": "probability",
    "probability(%)": "probability",
    "probability%": "probability",
    "dealprobability": "probability",
    "赢率": "probability",
    "成交概率": "probability",
    "概率": "probability",
    "closedate": "close_date",
    "expectedclosedate": "close_date",
    "dealexpectedclosedate": "close_date",
    "closingdate": "close_date",  # Zoho
    "预计成交日期": "close_date",
    "成交日期": "close_date",
    "closedat": "closed_at",
    "wontime": "won_at",
    "dealwontime": "won_at",
    "losttime": "lost_at",
    "deallosttime": "lost_at",
    "createdat": "created_at",
    "createdate": "created_at",
    "createddate": "created_at",
    "createdtime": "created_at",  # Zoho
    "dealcreated": "created_at",
    "dealdealcreated": "created_at",  # Pipedrive ("Deal - Deal created")
    "创建时间": "created_at",
    "创建日期": "created_at",
    "owner": "owner",
    "dealowner": "owner",
    "opportunityowner": "owner",
    "负责人": "owner",
    "销售": "owner",
    "source": "source",
    "leadsource": "source",
    "来源": "source",
    "线索来源": "source",
    "campaign": "campaign",
    "campaignid": "campaign",
    "primarycampaignsource": "campaign",
    "活动": "campaign",
    "lostreason": "lost_reason",
    "closedlostreason": "lost_reason",
    "deallostreason": "lost_reason",
    "输单原因": "lost_reason",
    "company": "company",
    "companyname": "company",
    "associatedcompany": "company",
    "account": "company",
    "accountname": "company",
    "dealorganization": "company",  # Pipedrive
    "organizationname": "company",  # Pipedrive ("Organization - Name")
    "personemail": "customer_email",  # Pipedrive ("Person - Email")
    "personphone": "customer_phone",
    "organization": "company",
    "firma": "company",
    "公司": "company",
    "公司名称": "company",
    "客户公司": "company",
    "companyid": "company_id",
    "companyexternalid": "company_external_id",
    "companydomain": "company_domain",
    "companydomainname": "company_domain",
    "客户编号": "customer_external_id",
    "客户代码": "customer_external_id",
    "customerno": "customer_external_id",
}
# What other CRMs call the closing stages (only won and lost: open stages differ per CRM).
# A status column (Pipedrive's `Deal - Status`): a won deal keeps the open stage it was won
# in, so the status, not the stage, says that it is won.
STATUS_KINDS = {
    "won": "won", "lost": "lost", "open": "open", "赢单": "won", "成交": "won",
    "输单": "lost", "丢单": "lost", "进行中": "open", "跟进中": "open",
}  # fmt: skip


def deal_status(raw: str) -> str:
    """A status cell -> won, lost or open (InvalidInput for anything else, such as
    Pipedrive's `deleted`)."""
    kind = STATUS_KINDS.get(" ".join(raw.split()).lower())
    if kind is None:
        raise InvalidInput(f"unknown deal status {raw.strip()!r}; won, lost or open")
    return kind


CLOSED_ALIASES = {
    "closedwon": "won", "closed won": "won", "closed-won": "won", "won": "won", "成交": "won",
    "closedlost": "lost", "closed lost": "lost", "closed-lost": "lost", "lost": "lost",
}  # fmt: skip


# A probability cell: 50, 50%, 50.0, 0.5 (a fraction, as HubSpot exports it), 0,5.
_PROBABILITY = re.compile(r"([0-9]{1,3})(?:([.,])([0-9]{1,6}))?\s*(%)?")


def _probability_parts(raw: str) -> tuple[Decimal, bool] | None:
    """(the number, whether it carries a % sign) of a probability cell; None for a cell
    that is no probability (its warning says why)."""
    found = _PROBABILITY.fullmatch(unicodedata.normalize("NFKC", raw).strip())
    if found is None:
        return None
    whole, sep, frac, percent = found.groups()
    if sep == "," and len(frac) == 3:
        return None  # 1,000: a thousand or one, depending on the convention
    return Decimal(f"{whole}.{frac or '0'}"), bool(percent)


def probability_evidence(raw: str) -> str | None:
    """What one cell says about its column's scale: "percent" (50, 50%), "fraction"
    (0.5: a share of 1, as HubSpot writes it) or None (0, 1 and what is no probability)."""
    parts = _probability_parts(raw)
    if parts is None:
        return None
    number, percent = parts
    if percent or number > 1:
        return "percent"
    return "fraction" if 0 < number < 1 else None


def decide_probability_scale(cells: Counter[str]) -> tuple[str | None, str]:
    """(scale, what decided it) of a probability column from all its cells: "percent",
    "fraction", or None when its values are 0 and 1 only (1 reads as 1% or as 100%).
    A column mixing both scales is refused (InvalidInput): which cells mean what would be
    a guess."""
    says: Counter[str] = Counter()
    for cell, n in cells.items():
        found = probability_evidence(cell) if cell.strip() else None
        if found:
            says[found] += n
    if says["percent"] and says["fraction"]:
        raise InvalidInput(
            f"column probability: {says['fraction']} value(s) written as a fraction (0.5) and"
            f" {says['percent']} as a percentage (50); fix the file (one scale per column)"
        )
    if says["fraction"]:
        return "fraction", "values"
    if says["percent"]:
        return "percent", "values"
    return None, "values"


def _probability(raw: str, scale: str | None = "percent") -> int:
    """A probability cell as a whole percentage under its column's scale."""
    text = raw.strip()
    parts = _probability_parts(text)
    if parts is None:
        raise InvalidInput(f"invalid probability {text!r}; expected 0-100 or 0%-100%")
    number, percent = parts
    if not percent and scale is None and number == 1:
        raise InvalidInput(
            f"probability {text!r} reads as 1% or as 100% (its column holds only 0 and 1);"
            " write 1% or 100%"
        )
    if scale == "fraction" and not percent:
        number *= 100
    if number != number.to_integral_value():
        raise InvalidInput(f"probability {text!r} is not a whole percentage")
    value = check_probability(int(number), "probability")
    assert value is not None
    return value


class DealImport(Entity):
    """Normalize one row, find its customer / company / stage, insert or update the deal."""

    name = "deal"
    audit_entity = "deal"
    fields = DEAL_IMPORT_FIELDS
    ignored_fields = IGNORED
    aliases = ALIASES
    money_fields = ("amount",)
    date_fields = ("close_date", "closed_at", "created_at")
    needs_customer = False
    custom_entity = "deal"
    custom_defs: ClassVar[list[dict[str, Any]]] = []
    probability_scale: str | None = "percent"
    fit_checks = {"status": deal_status}  # a status column of other words is no deal status

    def __init__(
        self,
        ctx: Context,
        key: str | None = None,
        currency: str | None = None,
        create_fields: bool = False,
    ) -> None:
        super().__init__(ctx)
        if key is not None and key not in KEYS:
            raise InvalidInput(f"--key must be one of: {', '.join(KEYS)}")
        self.key = key
        # --currency: a file without a currency column is in it (default CNY), and so are
        # its empty currency cells; without it such a cell is no currency (the row rejected)
        self.default_currency = validate.normalize_currency(currency or "CNY")
        self.blank_currency = currency is not None
        self.custom = CustomColumns(ctx, "deal", self.custom_defs, create_fields)
        self.events = 0

    def check_columns(self, present: set[str]) -> None:
        own = self.custom.claim(present, set(self.fields))
        missing = [f for f in ("title", "amount") if f not in own]
        if "currency" not in own:
            self.ctx.summary.extra["currency_from"] = (
                f"{self.default_currency} (--currency)"
                if self.blank_currency
                else f"{self.default_currency} (the default: no currency column)"
            )
            self.blank_currency = True
        if missing:
            raise InvalidInput(f"no column for: {', '.join(missing)} (use --map SRC=FIELD)")
        customer_cols = {f"customer_{k}" for k in CUSTOMER_KEYS} & own
        if not customer_cols and not set(COMPANY_REF_FIELDS) & own and not self.key:
            raise InvalidInput(
                "no column names the deal's customer or company; give one of customer_id, "
                "customer_external_id, customer_email, customer_phone, company_id, "
                "company_external_id, company_domain, company (or --map SRC=FIELD)"
            )
        if self.key and self.key not in own:
            raise InvalidInput(f"--key {self.key}: the file has no {self.key} column")
        if self.key == "id":  # read, not ignored: it names the deal to update
            summary = self.ctx.summary
            ids = [c for c, f in zip(self.ctx.source.header, self.ctx.source.fields, strict=True)
                   if f == "id"]  # fmt: skip
            summary.ignored_columns = [c for c in summary.ignored_columns if c.strip() not in ids]
        if customer_cols or self.ctx.options.customer_key:
            self.ctx.resolver = CustomerResolver(self.ctx, own)
        self.ctx.summary.extra["key"] = self.key

    def precheck(self) -> None:
        """Before staging: the stages rows are checked against (read again in start()),
        and the probability column's scale (read whole, like a money column's decimal)."""
        self.stages = list_stages(self.ctx.db)
        self.probability_scale = self._probability_scale()

    def _probability_scale(self) -> str | None:
        source = self.ctx.source
        if "probability" not in source.field_indexes():
            return "percent"
        counts = source.column_counts(["probability"])
        if counts is None:  # (a column joined from several: read row by row)
            cells = Counter(
                r.get("probability") or "" for r in source.column_values(["probability"])
            )
        else:
            cells = counts["probability"]
        source.rewind()
        scale, by = decide_probability_scale(cells)
        if scale is not None:
            self.ctx.summary.conventions["probability"] = {"scale": scale, "decided_by": by}
        return scale

    def start(self) -> None:
        self.stages = list_stages(self.ctx.db)
        self.first_open = next(s for s in self.stages if s["kind"] == "open")
        self.custom.start()

    # -- one row: staging ---------------------------------------------------------------
    def row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        """STAGING: the row's normalized values and the references merge() looks up."""
        ctx = self.ctx
        warnings: list[list[str]] = []
        values = self._values(line, record, cells, warnings)
        customer = None
        if ctx.resolver is not None and any(
            (record.get(f"customer_{k}") or "").strip() for k in ctx.resolver.keys
        ):
            customer = ctx.resolver.reference(record)
        return {
            "values": values,
            "custom": self.custom.parse(line, record, cells, warnings),
            "stage": self._stage(record),
            "times": self._times(line, record, cells, warnings),
            "customer": customer,
            "company": {f: record[f] for f in COMPANY_REF_FIELDS if (record.get(f) or "").strip()},
            "campaign": (record.get("campaign") or "").strip(),
            "id": self._id(record) if self.key == "id" else None,
            "warnings": warnings,
        }

    @staticmethod
    def _id(record: dict[str, str]) -> int | None:
        raw = (record.get("id") or "").strip()
        if not raw:
            return None  # matched as without --key: a new deal
        if not raw.isdigit():
            raise Reject(f"invalid id {raw!r}", "id", raw)
        return int(raw)

    def _values(
        self, line: int, record: dict[str, str], cells: list[str], warnings: list[list[str]]
    ) -> dict[str, Any]:
        ctx = self.ctx
        values: dict[str, Any] = {}
        title = validate.clean_text(record.get("title") or "")
        if not title:
            raise Reject("no title", "title", "")
        values["title"] = title
        values["amount"] = ctx.required(
            "amount", record.get("amount"), partial(ctx.money, "amount")
        )
        if values["amount"] < 0:
            raise Reject("a deal's amount must not be negative", "amount", record["amount"])
        raw = (record.get("currency") or "").strip()
        if not raw and not self.blank_currency:
            raise Reject(
                "no currency: the currency cell is empty (--currency names the currency of"
                " such rows)",
                "currency",
                "",
            )
        values["currency"] = ctx.required(
            "currency", raw or self.default_currency, validate.normalize_currency
        )
        try:
            validate.check_amount_currency(record.get("amount") or "", values["currency"])
            validate.check_minor_units(values["amount"], values["currency"])
        except InvalidInput as exc:
            raise Reject(exc.message, "amount", (record.get("amount") or "").strip()) from None
        for fld in ("external_id", "owner", "source", "lost_reason"):
            text = validate.clean_text(record.get(fld) or "")
            if text:
                values[fld] = text
        checked_external_id(ctx, line, cells, values, self.key, warnings)
        raw = (record.get("probability") or "").strip()
        if raw:
            parse = partial(_probability, scale=self.probability_scale)
            probability = ctx.optional(line, cells, "probability", raw, parse, into=warnings)
            if probability is not None:
                values["probability"] = probability
        raw = (record.get("close_date") or "").strip()
        if raw:
            close = ctx.optional(
                line, cells, "close_date", raw, partial(self._date, "close_date"), into=warnings
            )
            if close:
                values["close_date"] = close
        return values

    def _stage(self, record: dict[str, str]) -> str | None:
        """The stage the row puts the deal in: its stage cell, closed by a won / lost status
        (the closing stage of that kind, since a status-keeping CRM leaves the stage at the
        last open one). A status that contradicts a closed stage rejects the row."""
        stage = self._stage_cell(record)
        raw = (record.get("status") or "").strip()
        if not raw:
            return stage
        try:
            status = deal_status(raw)
        except InvalidInput as exc:
            raise Reject(exc.message, "status", raw) from None
        kind = next((s["kind"] for s in self.stages if s["name"] == stage), "open")
        if status == kind:
            return stage
        if kind == "open" and status != "open":
            return str(next(s for s in self.stages if s["kind"] == status)["name"])
        raise Reject(f"status {raw!r} but stage {stage!r} is {kind}", "status", raw)

    def _stage_cell(self, record: dict[str, str]) -> str | None:
        raw = " ".join((record.get("stage") or "").split())
        if not raw:
            return None
        kind = CLOSED_ALIASES.get(raw.lower())
        if kind is not None:
            return str(next(s for s in self.stages if s["kind"] == kind)["name"])
        try:
            return str(resolve_stage(self.stages, raw)["name"])
        except InvalidInput as exc:
            raise Reject(exc.message, "stage", raw) from None

    # -- one row: merge -------------------------------------------------------------------
    def merge(self, rows: list[Staged]) -> None:
        """MERGE: look the references up, then insert or update each deal."""
        ctx = self.ctx
        if ctx.resolver is not None:
            ctx.resolver.prefetch([r.data["customer"] for r in rows if r.data["customer"]])
        for staged in rows:
            try:
                self._merge_one(staged)
            except _Duplicate as exc:
                ctx.reject(staged.line, staged.cells, Reject(exc.reason), duplicate=True)
            except Reject as exc:
                ctx.reject(staged.line, staged.cells, exc)
            except (Conflict, InvalidInput) as exc:
                ctx.reject(staged.line, staged.cells, Reject(exc.message))

    def _merge_one(self, staged: Staged) -> None:
        ctx, data = self.ctx, staged.data
        values = data["values"]
        self._owners(data, values)
        stage = None
        if data["stage"] is not None:
            stage = next((s for s in self.stages if s["name"] == data["stage"]), None)
            if stage is None:
                raise Reject(f"deal stage {data['stage']!r} was removed", "stage", data["stage"])
        existing = self._existing(data, values)
        if data["campaign"]:
            warnings = data["warnings"]
            campaign = ctx.optional(
                staged.line, staged.cells, "campaign", data["campaign"], self._campaign,
                into=warnings,
            )  # fmt: skip
            if campaign is not None:
                values["campaign_id"] = campaign
        kind = (stage or self._stage_of(existing))["kind"]
        times = self._close_time(data["times"], kind, data["warnings"])
        if existing is None:
            deal_id = self._insert(values, stage, times, staged)
            self.custom.queue(deal_id, data["custom"])
            self.custom.flush()
        else:
            self._update(existing, values, stage, times, data["custom"])
        if data["warnings"]:
            ctx.warn(staged.line, staged.cells, data["warnings"])

    def _existing(self, data: dict[str, Any], values: dict[str, Any]) -> dict[str, Any] | None:
        """The stored deal the row updates (None: a new deal), or _Duplicate / Reject."""
        db = self.ctx.db
        ext = values.get("external_id")
        by_ext = repo.deal_by_external_id(db, ext) if ext else None
        if self.key == "id" and data["id"] is not None:
            found = db.query_one("SELECT * FROM deals WHERE id = ?", (data["id"],))
            if found is None:
                raise Reject(f"no deal with id {data['id']}", "id", str(data["id"]))
            if by_ext is not None and by_ext["id"] != found["id"]:
                raise Reject(
                    f"id names deal {found['id']} but external_id {ext!r} is deal"
                    f" {by_ext['id']}; which one is meant is not guessed",
                    "external_id",
                    str(ext),
                )
            return dict(found)
        if by_ext is not None and self.key != "external_id":
            hint = "--key external_id" if self.key is None else "a row with its id"
            raise _Duplicate(
                f"duplicate of deal {by_ext['id']} (same external_id {ext!r}); {hint} updates it"
            )
        return by_ext

    def _stage_of(self, deal: dict[str, Any] | None) -> dict[str, Any]:
        """The stage a deal stays in when the row names none (a new deal: the first open)."""
        if deal is None:
            return dict(self.first_open)
        found = next((s for s in self.stages if s["name"] == deal["stage"]), None)
        return dict(found) if found is not None else {"name": deal["stage"], "kind": "open"}

    @staticmethod
    def _close_time(times: dict[str, str], kind: str, warnings: list[list[str]]) -> dict[str, str]:
        """`times` with the one close time as closed_at: the closed_at cell, or won_at of a
        won deal, lost_at of a lost one (a `deal export` has both columns). Two different
        close times reject the row; won_at of a deal that is not won (or lost_at) is a
        field warning, never its close time."""
        out = {k: v for k, v in times.items() if k not in ("won_at", "lost_at")}
        for fld in ("won_at", "lost_at"):
            if fld not in times:
                continue
            if fld != f"{kind}_at":
                warnings.append(
                    [fld, times[fld], f"{fld} of a deal that is not {fld[:-3]}: not stored"]
                )
                continue
            if "closed_at" in out and out["closed_at"] != times[fld]:
                raise Reject(
                    f"closed_at {out['closed_at']} and {fld} {times[fld]} differ; which one is"
                    " meant is not guessed",
                    fld,
                    times[fld],
                )
            out["closed_at"] = times[fld]
        return out

    def _owners(self, data: dict[str, Any], values: dict[str, Any]) -> None:
        """The customer and company the row names (Reject for a reference to nobody)."""
        ctx = self.ctx
        if data["customer"] is not None:
            assert ctx.resolver is not None
            values["customer_id"] = ctx.resolver.lookup(data["customer"])
        company, missing = company_reference(ctx.db, data["company"])
        if missing:
            fld, raw = missing[0]
            what = "name" if fld == "company" else fld.removeprefix("company_")
            raise Reject(f"no company with {what} {raw!r}", fld, raw)
        if company is not None:
            values["company_id"] = company

    def _date(self, fld: str, raw: str) -> str:
        moment = validate.parse_datetime_as(raw, self.ctx.date_order.get(fld), fld)
        return moment.astimezone(clock.local_zone()).date().isoformat()

    def _times(
        self, line: int, record: dict[str, str], cells: list[str], warnings: list[list[str]]
    ) -> dict[str, str]:
        ctx = self.ctx
        out: dict[str, str] = {}
        for fld in ("created_at", "closed_at", "won_at", "lost_at"):
            raw = (record.get(fld) or "").strip()
            if raw:
                at = ctx.optional(line, cells, fld, raw, partial(ctx.time, fld), into=warnings)
                if at:
                    out[fld] = at
        return out

    def _campaign(self, raw: str) -> int:
        found = repo.campaign_ids(self.ctx.db, raw)
        if not found:
            raise InvalidInput(f"no campaign {raw!r}")
        if len(found) > 1:
            raise InvalidInput(
                f"campaign {raw!r} names {len(found)} campaigns ({', '.join(map(str, found))});"
                " give its id"
            )
        return found[0]

    def _closed_at(self, values: dict[str, Any], times: dict[str, str]) -> str | None:
        if "closed_at" in times:
            return times["closed_at"]
        if "close_date" in values:
            day = datetime.fromisoformat(values["close_date"]).date()
            return clock.to_iso(datetime.combine(day, time(0), tzinfo=clock.local_zone()))
        return None

    # -- writing -------------------------------------------------------------------------
    def _insert(
        self,
        values: dict[str, Any],
        stage: dict[str, Any] | None,
        times: dict[str, str],
        staged: Staged,
    ) -> int:
        if values.get("customer_id") is None and values.get("company_id") is None:
            raise Reject("no customer or company", "customer", "")
        now = self.ctx.now
        stage = stage or self.first_open
        created = times.get("created_at") or now
        closed = self._closed_at(values, times) if stage["kind"] != "open" else None
        if closed is not None and "created_at" not in times:
            created = closed  # known no earlier: the warning says the cycle is unknown
            self.ctx.sink.add(
                staged.line, "created_at", "",
                f"no created_at for a {stage['kind']} deal: dated at its close, so its sales"
                " cycle reads 0 days", staged.cells, "warning",
            )  # fmt: skip
        snapshot = {k: values.get(k) for k in ("amount", "close_date", "probability")}
        row = {**values, "stage": stage["name"]}
        stamps = {"created_at": created, "updated_at": now, "stage_changed_at": created,
                  "won_at": None, "lost_at": None}  # fmt: skip
        events = [{"at": created, "kind": "create", "to_stage": stage["name"], **snapshot,
                   "note": "imported"}]  # fmt: skip
        if stage["kind"] != "open":
            if closed is None:
                raise Reject(
                    f"a {stage['kind']} deal needs closed_at or close_date (when it closed)",
                    "closed_at",
                    "",
                )
            if closed < created:
                raise Reject(
                    f"closed at {closed}, before it was created ({created})", "closed_at", closed
                )
            if closed > self.ctx.horizon:  # (a closed_at cell was refused as history already)
                raise Reject(
                    f"a {stage['kind']} deal with a close date in the future"
                    f" ({values['close_date']}): when it closed is history",
                    "close_date",
                    str(values["close_date"]),
                )
            stamps["stage_changed_at"] = closed
            stamps[f"{stage['kind']}_at"] = closed
            events[0]["to_stage"] = None  # the open stages it went through are unknown
            events.append({"at": closed, "kind": stage["kind"], "to_stage": stage["name"],
                           **snapshot, "note": "imported"})  # fmt: skip
        if stage["kind"] != "lost":
            row.pop("lost_reason", None)
        deal_id = repo.insert_imported(self.ctx.db, row, stamps, events)
        self.events += len(events)
        self.ctx.summary.inserted += 1
        return deal_id

    def _update(
        self,
        current: dict[str, Any],
        values: dict[str, Any],
        stage: dict[str, Any] | None,
        times: dict[str, str],
        custom: dict[str, list[Any]],
    ) -> None:
        now = self.ctx.now
        shown = stage or self._stage_of(current)
        if current["probability"] is None and values.get("probability") == shown.get("probability"):
            # the stage's probability, as `deal export` writes it: the deal keeps following
            # its stage (an explicit copy would be a change nobody made)
            values = {k: v for k, v in values.items() if k != "probability"}
        diff = {k: v for k, v in values.items() if current.get(k) != v}
        events: list[dict[str, Any]] = []
        moved = stage is not None and stage["name"] != current["stage"]
        if moved:
            assert stage is not None
            diff |= self._move(current, stage, values, times, events)
        if diff:
            diff["updated_at"] = now
        after = {**current, **diff}
        if not moved and diff.keys() & {"amount", "close_date", "probability"}:
            events.append({"at": now, "kind": "update", "from_stage": current["stage"]})
        for event in events:
            event.setdefault("to_stage", after["stage"])
            event.update({k: after[k] for k in ("amount", "close_date", "probability")})
            event.setdefault("note", "import")
        repo.update_imported(self.ctx.db, int(current["id"]), diff, events)
        self.events += len(events)
        self.custom.queue(int(current["id"]), custom)
        changed = self.custom.flush()
        if diff or changed:
            self.ctx.summary.updated += 1
        else:
            self.ctx.summary.unchanged += 1

    def _move(
        self,
        current: dict[str, Any],
        stage: dict[str, Any],
        values: dict[str, Any],
        times: dict[str, str],
        events: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The columns and the event of a stage change by import."""
        now = self.ctx.now
        kinds = {s["name"]: s["kind"] for s in self.stages}
        was = kinds.get(current["stage"], "open")
        at = times.get("closed_at", now) if stage["kind"] != "open" else now
        sets: dict[str, Any] = {"stage": stage["name"], "stage_changed_at": at,
                                "won_at": None, "lost_at": None}  # fmt: skip
        if "probability" not in values:
            sets["probability"] = None  # the new stage's probability applies
        if stage["kind"] == "open":
            kind = "reopen" if was != "open" else "move"
            sets["lost_reason"] = None
        else:
            kind = stage["kind"]
            sets[f"{kind}_at"] = at
            if kind != "lost":
                sets["lost_reason"] = None
        events.append({"at": at, "kind": kind, "from_stage": current["stage"],
                       "to_stage": stage["name"]})  # fmt: skip
        return sets

    def end(self) -> None:
        self.ctx.summary.extra["deal_events"] = self.events
        if self.custom.columns:
            self.ctx.summary.extra["custom_values_changed"] = len(self.custom.changed)


class _Duplicate(Reject):
    """A row naming a stored deal without a key that updates it (a duplicate, not a reject)."""


def import_deals(
    db: Any,
    path: str,
    options: ImportOptions,
    key: str | None = None,
    currency: str | None = None,
    create_fields: bool = False,
) -> Any:
    """Import (insert, or upsert by --key external_id) deals and their history."""
    entity = with_custom_fields(DealImport, db, "deal")
    return run_import(
        db, path, entity, options, key=key, currency=currency, create_fields=create_fields
    )
