"""Company field rules for the import pipeline (`crm company import`).

Row semantics (the README's "Companies" section says the same):
- `--key external_id|domain|name` upserts: a row whose key matches a company updates it
  with the file's non-empty cells (empty cells never erase; a non-empty tags cell replaces
  the tags); any other row is inserted. `name` matches by normalized name (NFKC, spaces
  folded, case-folded: the name that identifies a company).
- Without `--key` an import only inserts: a row whose normalized name, domain or external
  id an existing company (or an earlier row) already has is a duplicate of it, reported
  with the company's id and not changed. Updating is never done on a name alone unless
  `--key name` says so.
- A row whose identities point at two different companies (the key at one, its name or
  domain at another) is rejected with both ids: applying it would guess which one is meant.
- Only a missing name (for a new company) rejects a row; a bad domain, size or created_at is
  a field-level warning (`--strict-fields` rejects instead). Size is a whole number of
  employees: a range such as `51-200` is a warning, never a guessed number.
"""

from __future__ import annotations

import contextlib
import re
from functools import partial
from typing import Any, ClassVar

from crmcli.core.errors import Conflict, InvalidInput
from crmcli.core.validate import split_tags
from crmcli.customers.rules import text as fold_text
from crmcli.db import companies as repo
from crmcli.importing.custom import CustomColumns, with_custom_fields
from crmcli.importing.pipeline import (
    Context,
    Entity,
    ImportOptions,
    Reject,
    Staged,
    run_import,
)
from crmcli.sales.companies import (
    FREE_MAIL_DOMAINS,
    clean_name,
    company_key,
    company_values,
    email_domain,
    normalize_domain,
)

KEYS = ("external_id", "domain", "name")
COMPANY_IMPORT_FIELDS = (
    "external_id", "name", "domain", "industry", "size", "owner", "notes", "tags", "created_at",
)  # fmt: skip
# Columns of `company export` an import accepts but does not store.
IGNORED = ("id", "updated_at", "contacts")
ALIASES = {
    # HubSpot companies export, Salesforce accounts, Chinese spreadsheets
    "name": "name",
    "company": "name",
    "companyname": "name",
    "account": "name",
    "accountname": "name",
    "organization": "name",
    "organisation": "name",
    "公司": "name",
    "公司名称": "name",
    "企业名称": "name",
    "单位名称": "name",
    "单位": "name",
    "企业": "name",
    "客户名称": "name",
    "firma": "name",
    "recordid": "external_id",
    "companyid": "external_id",
    "accountid": "external_id",
    "accountnumber": "external_id",
    "公司编号": "external_id",
    "企业编号": "external_id",
    "domain": "domain",
    "domainname": "domain",
    "companydomainname": "domain",
    "website": "domain",
    "websiteurl": "domain",
    "web": "domain",
    "url": "domain",
    "网站": "domain",
    "官网": "domain",
    "域名": "domain",
    "industry": "industry",
    "行业": "industry",
    "所属行业": "industry",
    "branche": "industry",
    "size": "size",
    "employees": "size",
    "numberofemployees": "size",
    "employeecount": "size",
    "headcount": "size",
    "员工数": "size",
    "员工人数": "size",
    "人数": "size",
    "规模": "size",
    "mitarbeiter": "size",
    "companyowner": "owner",
    "accountowner": "owner",
    "description": "notes",
    "描述": "notes",
    "简介": "notes",
    "createdate": "created_at",
    "createddate": "created_at",
    "创建日期": "created_at",
    "stage": "",  # a lifecycle stage is not a company field (reported unknown)
    "status": "",
}
# What a spreadsheet makes of a long numeric id it showed as a number (5012345001): the
# digits after the sixth are gone, so the cell names no record for sure.
_SCIENTIFIC_ID = re.compile(r"[0-9](?:[.,][0-9]{1,14})?[eE]\+[0-9]{1,3}")


def check_identifier(fld: str, raw: str) -> str:
    """An id cell (external_id, a reference): refused when a spreadsheet wrote it in
    scientific notation (5.01235E+09), since its digits are lost."""
    text = raw.strip()
    if _SCIENTIFIC_ID.fullmatch(text):
        raise InvalidInput(
            f"{fld} {text!r} was written in scientific notation by a spreadsheet, which lost"
            " its digits; format the column as text and export it again"
        )
    return text


_WHOLE = re.compile(r"^\d{1,3}(?:([,. '])\d{3})(?:\1\d{3})*$|^\d+$")


def _size(raw: str) -> int:
    text = raw.strip()
    if not _WHOLE.match(text):
        if re.match(r"^\d[\d,.]*\s*[-–~～]\s*\d[\d,.]*$", text):
            raise InvalidInput(f"size {text!r} is a range; give a number of employees")
        raise InvalidInput(f"invalid size {text!r}; expected a whole number of employees")
    return int(re.sub(r"\D", "", text))


_identifier = partial(check_identifier, "external_id")


def checked_external_id(
    ctx: Context,
    line: int,
    cells: list[str],
    values: dict[str, Any],
    key: str | None,
    warnings: list[list[str]],
) -> None:
    """values["external_id"] checked by check_identifier: a bad one rejects the row when it
    is the --key (a lost id would insert a duplicate), else is a field warning."""
    if "external_id" not in values:
        return
    ext = values.pop("external_id")
    if key == "external_id":
        values["external_id"] = Context.required("external_id", ext, _identifier)
        return
    ext = ctx.optional(line, cells, "external_id", ext, _identifier, into=warnings)
    if ext:
        values["external_id"] = ext


def _text(raw: str | None) -> str | None:
    return " ".join((raw or "").split()) or None


class CompanyImport(Entity):
    """Normalize one row, find the company it names, insert or update it."""

    name = "company"
    audit_entity = "company"
    fields = COMPANY_IMPORT_FIELDS
    ignored_fields = IGNORED
    aliases = {k: v for k, v in ALIASES.items() if v}
    date_fields = ("created_at",)
    needs_customer = False
    custom_entity = "company"
    custom_defs: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, ctx: Context, key: str | None = None, create_fields: bool = False):
        super().__init__(ctx)
        if key is not None and key not in KEYS:
            raise InvalidInput(f"--key must be one of: {', '.join(KEYS)}")
        self.key = key
        self.custom = CustomColumns(ctx, "company", self.custom_defs, create_fields)

    def check_columns(self, present: set[str]) -> None:
        own = self.custom.claim(present, set(self.fields))
        if self.key and self.key not in own:
            raise InvalidInput(f"--key {self.key}: the file has no {self.key} column")
        if not own - set(IGNORED) and not self.custom.columns:
            raise InvalidInput(
                "no company columns in the header; use --map SRC=FIELD (fields: "
                + ", ".join(COMPANY_IMPORT_FIELDS)
                + ")"
            )
        self.ctx.summary.extra["key"] = self.key

    def start(self) -> None:
        self.custom.start()

    # -- one row -----------------------------------------------------------------------
    def row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        """STAGING: the row's normalized values, custom values, tags and deferred warnings."""
        warnings: list[list[str]] = []
        values = self._values(line, record, cells, warnings)
        custom = self.custom.parse(line, record, cells, warnings)
        raw_tags = record.get("tags") or ""
        tags = split_tags(raw_tags) if raw_tags.strip() else None
        return {"values": values, "custom": custom, "tags": tags, "warnings": warnings}

    def merge(self, rows: list[Staged]) -> None:
        """MERGE: find the company each row names (key, duplicates), insert or update."""
        for staged in rows:
            try:
                self._merge_one(staged.data)
            except _Duplicate as exc:
                self.ctx.reject(staged.line, staged.cells, Reject(exc.reason), duplicate=True)
            except Reject as exc:
                self.ctx.reject(staged.line, staged.cells, exc)
            except (Conflict, InvalidInput) as exc:
                self.ctx.reject(staged.line, staged.cells, Reject(exc.message))
            else:
                if staged.data["warnings"]:
                    self.ctx.warn(staged.line, staged.cells, staged.data["warnings"])

    def _merge_one(self, data: dict[str, Any]) -> None:
        values, custom, tags = data["values"], data["custom"], data["tags"]
        target = self._target(values)
        db, now = self.ctx.db, self.ctx.now
        if target is None:
            if "name" not in values:
                raise Reject("no name", "name", "")
            created = values.pop("created_at", None) or now
            company_id = repo.insert_for_import(db, values, tags or [], created, now)
            self.custom.queue(company_id, custom)
            self.custom.flush()
            self.ctx.summary.inserted += 1
            return
        current = repo.fetch_for_import(db, target)
        values.pop("created_at", None)
        diff = {k: v for k, v in values.items() if k != "name_key" and current[k] != v}
        if "name" in diff:
            diff["name_key"] = values["name_key"]
        new_tags = tags is not None and sorted(tags) != current["tags"]
        repo.update_for_import(db, target, diff, tags if new_tags else None, now)
        self.custom.queue(target, custom)
        changed = self.custom.flush()
        if diff or new_tags or changed:
            self.ctx.summary.updated += 1
        else:
            self.ctx.summary.unchanged += 1

    def _values(
        self, line: int, record: dict[str, str], cells: list[str], warnings: list[list[str]]
    ) -> dict[str, Any]:
        ctx = self.ctx
        values: dict[str, Any] = {}
        raw = _text(record.get("name"))
        if raw:
            values["name"] = clean_name(raw)
            values["name_key"] = company_key(raw)
        for fld in ("external_id", "industry", "owner"):
            text = _text(record.get(fld))
            if text:
                values[fld] = text
        checked_external_id(ctx, line, cells, values, self.key, warnings)
        notes = (record.get("notes") or "").strip()
        if notes:
            values["notes"] = notes
        raw = (record.get("domain") or "").strip()
        if raw:
            domain = ctx.optional(line, cells, "domain", raw, normalize_domain, into=warnings)
            if domain:
                values["domain"] = domain
        raw = (record.get("size") or "").strip()
        if raw:
            size = ctx.optional(line, cells, "size", raw, _size, into=warnings)
            if size is not None:
                values["size"] = size
        raw = (record.get("created_at") or "").strip()
        if raw:
            created = ctx.optional(
                line, cells, "created_at", raw, partial(ctx.time, "created_at"), into=warnings
            )
            if created:
                values["created_at"] = created
        return values

    def _target(self, values: dict[str, Any]) -> int | None:
        """The company this row updates (None: insert), or Reject / duplicate."""
        db = self.ctx.db
        found = {
            "external_id": repo.find_by_external_id(db, values["external_id"])
            if "external_id" in values
            else None,
            "domain": repo.find_by_domain(db, values["domain"]) if "domain" in values else None,
            "name": repo.find_by_key(db, values["name_key"]) if "name_key" in values else None,
        }
        target = found[self.key] if self.key else None
        for col in KEYS:
            holder = found[col]
            if holder is None or holder == target or col == self.key:
                continue
            shown = values["name"] if col == "name" else values[col]
            if target is None:
                hint = "" if self.key else "; --key external_id|domain|name updates it"
                raise _Duplicate(f"duplicate of company {holder} (same {col} {shown!r}){hint}")
            raise Reject(
                f"{self.key} names company {target} but {col} {shown!r} is company {holder};"
                " which one is meant is not guessed",
                col,
                str(shown),
            )
        return target

    def end(self) -> None:
        if self.custom.columns:
            self.ctx.summary.extra["custom_values_changed"] = len(self.custom.changed)


class _Duplicate(Reject):
    """A row naming a company that exists (reported as a duplicate, not a reject)."""


def import_companies(
    db: Any,
    path: str,
    options: ImportOptions,
    key: str | None = None,
    create_fields: bool = False,
) -> Any:
    """Import (insert, or upsert by --key) companies from a CSV in one transaction."""
    entity = with_custom_fields(CompanyImport, db, "company")
    return run_import(db, path, entity, options, key=key, create_fields=create_fields)


# ------------------------------------------------------------------ company references
# A row of another import (deals, customers) names its company by company_id,
# company_external_id, company_domain or company (the name, normalized; a cell that is a
# domain is looked up as one too). Several columns naming different companies: a Reject.

COMPANY_REF_FIELDS = ("company_id", "company_external_id", "company_domain", "company")


# Companies a customer import plans to create (CompanyLinker): by id, name key and domain.
Planned = tuple[set[int], dict[str, int], dict[str, int]]
_NONE_PLANNED: Planned = (set(), {}, {})


def company_reference(
    db: Any, record: dict[str, str], planned: Planned = _NONE_PLANNED
) -> tuple[int | None, list[tuple[str, str]]]:
    """(the company the row names or None, [(column, cell)] naming no company); `planned`:
    companies the running import creates, found as if they were stored."""
    hits: dict[int, str] = {}
    missing: list[tuple[str, str]] = []
    for fld in COMPANY_REF_FIELDS:
        raw = " ".join((record.get(fld) or "").split())
        if not raw:
            continue
        found = _lookup(db, fld, raw, planned)
        if found is None:
            missing.append((fld, raw))
        else:
            hits.setdefault(found, f"{fld} {raw!r}")
    if len(hits) > 1:
        named = "; ".join(f"{how} is company {cid}" for cid, how in hits.items())
        raise Reject(f"the row names two companies ({named})", "company", "")
    return (next(iter(hits)) if hits else None), missing


def _lookup(db: Any, fld: str, raw: str, planned: Planned = _NONE_PLANNED) -> int | None:
    ids, keys, domains = planned

    def by_domain(domain: str) -> int | None:
        return domains.get(domain) or repo.find_by_domain(db, domain)

    if fld == "company_id":
        if not raw.isdigit():
            raise Reject(f"invalid company_id {raw!r}", fld, raw)
        return int(raw) if int(raw) in ids or repo.company_exists(db, int(raw)) else None
    if fld == "company_external_id":
        try:
            return repo.find_by_external_id(db, check_identifier(fld, raw))
        except InvalidInput as exc:
            raise Reject(exc.message, fld, raw) from None
    if fld == "company_domain":
        try:
            domain = normalize_domain(raw)
        except InvalidInput as exc:
            raise Reject(exc.message, fld, raw) from None
        return by_domain(domain) if domain else None
    key = company_key(raw)
    by_name = keys.get(key) or repo.find_by_key(db, key)
    found_domain = None
    if "." in raw and " " not in raw:
        try:
            domain = normalize_domain(raw)
        except InvalidInput:
            domain = None
        found_domain = by_domain(domain) if domain else None
    if by_name is not None and found_domain is not None and by_name != found_domain:
        raise Reject(
            f"company {raw!r} is the name of company {by_name} and the domain of company"
            f" {found_domain}",
            fld,
            raw,
        )
    return by_name if by_name is not None else found_domain


class CompanyLinker:
    """Which company a customer import row belongs to (`crm customer import`).

    - A `company` column (name, normalized; or a domain), `company_domain` or `company_id`
      links to that company; the customer's company text becomes the company's name.
    - No such company: with `--create-company` a `company` name creates it (with the row's
      company_domain, when valid); otherwise a field-level warning naming --create-company,
      and the row is stored without a company (never as unlinked text).
    - `--link-by-domain` (opt-in): a row naming no company links by its email's domain to
      the company with that domain, never for free-mail domains, and never replacing the
      company an existing customer is already linked to.
    - Columns naming two different companies: a field-level warning, no company.
    """

    REF_FIELDS = ("company", "company_domain", "company_id")

    def __init__(self, ctx: Context, create: bool = False, by_domain: bool = False) -> None:
        self.ctx = ctx
        self.create = create
        self.by_domain = by_domain
        self.created = 0
        self.by_domain_linked = 0
        self.names: dict[int, str] = {}
        # Lookups per distinct set of cells (a list names the same companies again and
        # again); emptied whenever this import creates a company, the only change to
        # companies while the import holds the write lock.
        self._refs: dict[tuple[tuple[str, str], ...], tuple[int | None, list[tuple[str, str]]]]
        self._refs = {}
        self._domains: dict[str, int | None] = {}
        # the companies this import creates, planned (ids given) until apply() stores them
        self.planned: list[tuple[int, dict[str, Any]]] = []
        self._planned: Planned = (set(), {}, {})
        self.next_id = 0

    def start_plan(self) -> None:
        """PLAN: before the first batch (in the import's snapshot)."""
        self.next_id = repo.max_company_id(self.ctx.db) + 1

    def apply(self) -> None:
        """MERGE, in the write transaction: store the planned companies with their ids."""
        for company_id, values in self.planned:
            repo.insert_for_import(
                self.ctx.db, values, [], self.ctx.now, self.ctx.now, company_id=company_id
            )

    def _reference(self, refs: dict[str, str]) -> tuple[int | None, list[tuple[str, str]]]:
        key = tuple(sorted(refs.items()))
        hit = self._refs.get(key)
        if hit is None:
            hit = self._refs[key] = company_reference(self.ctx.db, refs, self._planned)
        return hit[0], list(hit[1])

    def _by_domain(self, domain: str) -> int | None:
        if domain not in self._domains:
            self._domains[domain] = self._planned[2].get(domain) or repo.find_by_domain(
                self.ctx.db, domain
            )
        return self._domains[domain]

    @staticmethod
    def stage(record: dict[str, str]) -> dict[str, str] | None:
        """STAGING: the row's company cells, whitespace folded (None: it names no company)."""
        cells = None
        for f in CompanyLinker.REF_FIELDS:
            raw = record.get(f)
            if raw:
                value = fold_text(raw)
                if value is not None:
                    if cells is None:
                        cells = {}
                    cells[f] = value
        return cells

    def link(
        self, line: int, row: Any, refs: dict[str, str] | None, email: str | None
    ) -> dict[str, Any] | None:
        """MERGE: {"company_id", "company"} to store, {"soft": True, ...} for a domain link
        (kept only where the customer has no company), {} when the row's company is left
        out (warned), None when the row names none. Reject with --strict-fields. `row` has
        the row's original `cells` (read only for a warning)."""
        if refs:
            try:
                found, missing = self._reference(refs)
            except Reject as exc:
                return self._warn(line, row, exc.field or "company", exc.value, exc.reason)
            if found is not None and missing:
                # one column names a company, another names none: not the same company
                fld, raw = missing[0]
                return self._warn(
                    line, row, fld, raw,
                    f"{fld} {raw!r} names no company, and the row's other company column"
                    f" names company {found} ({self._name(found)}): which one is meant is not"
                    " guessed",
                )  # fmt: skip
            if found is None and self.create and "company" in refs:
                found = self._create(refs)
            if found is None:
                fld, raw = missing[0]
                hint = "; --create-company creates it" if fld == "company" else ""
                what = {"company": "named", "company_domain": "with domain",
                        "company_id": "with id"}[fld]  # fmt: skip
                return self._warn(line, row, fld, raw, f"no company {what} {raw!r}{hint}")
            return {"company_id": found, "company": self._name(found)}
        if self.by_domain and email:
            domain = email_domain(email)
            if domain and domain not in FREE_MAIL_DOMAINS:
                found = self._by_domain(domain)
                if found is not None:
                    return {"company_id": found, "company": self._name(found), "soft": True}
        return None

    def _warn(self, line: int, row: Any, fld: str, raw: str, reason: str) -> dict[str, Any]:
        if self.ctx.options.strict_fields:
            raise Reject(reason, fld, raw)
        self.ctx.sink.add(line, fld, raw, reason, row.cells, "warning")
        return {}

    def _create(self, refs: dict[str, str]) -> int:
        values = company_values({"name": refs["company"]})
        domain = refs.get("company_domain")
        if domain:  # an invalid one: the company is created without it
            with contextlib.suppress(InvalidInput):
                values["domain"] = normalize_domain(domain)
        ids, keys, domains = self._planned
        domain = values.get("domain")
        if domain and (domain in domains or repo.find_by_domain(self.ctx.db, domain)):
            values.pop("domain")
        company_id = self.next_id
        self.next_id += 1
        self.planned.append((company_id, values))
        ids.add(company_id)
        keys[values["name_key"]] = company_id
        if values.get("domain"):
            domains[values["domain"]] = company_id
        self.names[company_id] = str(values["name"])
        self.created += 1
        self._refs.clear()
        self._domains.clear()
        return company_id

    def _name(self, company_id: int) -> str:
        name = self.names.get(company_id)
        if name is None:
            name = self.names[company_id] = str(
                repo.fetch_for_import(self.ctx.db, company_id)["name"]
            )
        return name

    def summary(self) -> None:
        extra = self.ctx.summary.extra
        extra["companies_created"] = self.created
        if self.by_domain:
            extra["linked_by_domain"] = self.by_domain_linked
