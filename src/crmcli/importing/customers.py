"""Customer field rules for the import pipeline (`crm customer import`).

Row semantics:
- a row names a customer by the `--key` column (external_id, email or phone); a match is
  updated with the non-empty cells of the file (empty cells never erase data; a non-empty
  tags cell replaces the customer's tags), anything else is inserted;
- a row that would insert a customer whose email or external id another customer (in the
  database or earlier in the file) already has is a duplicate, not inserted; without
  `--key`, so is one whose phone another customer has (with a key, phones may be shared);
- only a missing name rejects a row; a bad phone, email, lifecycle or created_at is a
  field-level warning and the row is stored without it (`--strict-fields` rejects instead).

Staged, then merged: row() normalizes a row into the staging table (no lock); merge() takes
the staged rows BATCH at a time inside the write transaction, one lookup query per identity
column per batch, then executemany inserts and updates (db/customers.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, ClassVar

from crmcli.core.errors import InvalidInput
from crmcli.core.masking import looks_masked
from crmcli.core.validate import (
    split_tags,
)
from crmcli.customers import rules
from crmcli.db import change_log, indexes, search_index
from crmcli.db import customers as repo
from crmcli.importing.companies import CompanyLinker
from crmcli.importing.custom import CustomColumns, with_custom_fields
from crmcli.importing.pipeline import (
    Context,
    Entity,
    ImportOptions,
    Reject,
    Staged,
    phase,
    run_import,
)
from crmcli.importing.source import _is_cjk, normalize_header

KEYS = ("external_id", "email", "phone", "id")  # id: this database's, from its own export
# The UNIQUE indexes of customers a trigger enforces while they wait to be built (m331).
UNIQUE_GUARDED = ("customers_email", "customers_external_id")
UNIQUE_GUARD_TRIGGERS = ("customers_unique_guard_insert", "customers_unique_guard_update")
# The secondary contact points a merge kept, as `customer export` writes them (lists in
# JSON; in CSV emails and phones ";"-separated, addresses one a line: a stored address is
# folded to one line, and may hold a ";").
CONTACT_COLUMNS = {"other_emails": "email", "other_phones": "phone", "other_addresses": "address"}
# Contact exports' labelled phone and email columns (Outlook: Primary/Mobile/Business/Home
# Phone, E-mail 2 Address; Google Contacts: Phone 2 - Value, E-mail 2 - Value), in order of
# preference: when a row's phone (email) cell is empty, the first filled one is its phone
# (email); every other filled one is kept among its other phones (emails): every number is
# stored, none picked and the rest dropped. Google's ` ::: `, several values in one cell,
# is read the same way. Faxes, pagers and an assistant's phone are not the customer's.
PHONE_LABELS = {
    "primaryphone": "phone_primary",
    "mobilephone": "phone_mobile",
    # a sheet's Mobile / 手机 beside its Phone / 电话 column: both kept (alone, the phone)
    "mobile": "phone_mobile",
    "mobilenumber": "phone_mobile",
    "cell": "phone_mobile",
    "cellphone": "phone_mobile",
    "手机": "phone_mobile",
    "手机号": "phone_mobile",
    "手机号码": "phone_mobile",
    "移动电话": "phone_mobile",
    "businessphone": "phone_business",
    "homephone": "phone_home",
    "businessphone2": "phone_business_2",
    "homephone2": "phone_home_2",
    "otherphone": "phone_other",
    "carphone": "phone_car",
    "companymainphone": "phone_company_main",
    **{f"phone{n}value": f"phone_{n}" for n in range(2, 10)},
}
EMAIL_LABELS = {
    **{f"email{n}address": f"email_{n}" for n in range(2, 4)},
    **{f"email{n}value": f"email_{n}" for n in range(2, 10)},
}
_LABELLED = (
    ("phone", "other_phones", tuple(dict.fromkeys(PHONE_LABELS.values()))),
    ("email", "other_emails", tuple(dict.fromkeys(EMAIL_LABELS.values()))),
)
_SEVERAL = " ::: "  # Google Contacts: several values of one kind in one cell
_SEVERAL_HEADERS = ("phone1value", "email1value")  # (Google's columns that write them)
# Field names a customer CSV may carry (also the columns `customer export` writes).
# A name given in parts, as contact exports write it (Google, Outlook, HubSpot: First Name,
# Middle Name, Last Name; Chinese sheets: 姓, 名): joined into name when the file has no name
# column, given name first, except that parts all in CJK script are family name first with
# no space (张 + 伟 = 张伟), as such names are written.
NAME_PARTS = ("first_name", "middle_name", "last_name")
IMPORT_FIELDS = (
    *repo.CUSTOMER_FIELDS, "phone_ext", "tags", "created_at", "country", *CONTACT_COLUMNS,
    *NAME_PARTS,
)  # fmt: skip
# The columns `customer export` writes: an export imports back unchanged.
EXPORT_FIELDS = (
    *repo.CUSTOMER_FIELDS[:3],
    "phone_ext",
    *repo.CUSTOMER_FIELDS[3:],
    "tags",
    "created_at",
)
# Columns of our own exports that an import accepts but does not store.
IGNORED_FIELDS = ("id", "updated_at", "erased_at")
# An export's phone_suspect column: read with the row's phone (1 keeps it suspect).
_FLAGGED = ("1", "true", "yes")
ALIASES = {
    "标签": "tags",
    "生命周期": "lifecycle",
    "外部编号": "external_id",
    "更新时间": "updated_at",
    "displayname": "name",
    "firstname": "first_name",
    "givenname": "first_name",
    "名": "first_name",
    "名字": "first_name",
    "middlename": "middle_name",
    "additionalname": "middle_name",
    "lastname": "last_name",
    "familyname": "last_name",
    "surname": "last_name",
    "姓": "last_name",
    "姓氏": "last_name",
    # Google Contacts' export: the first of each numbered kind is the customer's own
    "email1value": "email",
    "phone1value": "phone",
    "organizationname": "company",
    "organization1name": "company",
    "address1formatted": "address",
    "primaryemail": "email",
    "country": "country",
    "国家": "country",
    "地区": "country",
    "land": "country",
    "pays": "country",
    "extension": "phone_ext",
    "ext": "phone_ext",
    "分机": "phone_ext",
    "kundennummer": "external_id",
    "customerid": "external_id",
    "customerno": "external_id",
    "telefon": "phone",
    "erstellt": "created_at",
    "businesscountryregion": "country",  # Outlook (its Home Country/Region is not read)
    **PHONE_LABELS,
    **EMAIL_LABELS,
}


# An export made with --mask, imported back: its hidden values are refused, never stored.
def _masked() -> InvalidInput:
    return InvalidInput(
        "looks masked (an export made with --mask hides it): not stored; import an export"
        " made with --no-mask"
    )


# The field rules are the customer's own (customers/rules.py), shared with `customer add`.
_text, _lifecycle, _email = rules.text, rules.lifecycle, rules.email


class _PhoneWithExtension(Exception):  # noqa: N818 - a value with a warning, not an error
    """An other phone with an extension: the number is stored, the extension said."""

    def __init__(self, e164: str, message: str) -> None:
        super().__init__(message)
        self.e164 = e164
        self.message = message


def joined_name(parts: list[str]) -> str | None:
    """A name from its parts in the file's order (first, middle, last): given name first
    with spaces, or family name first without one when every part is CJK (张 + 伟)."""
    words = [w for w in (_text(p) for p in parts) if w]
    if not words:
        return None
    if len(words) > 1 and all(all(_is_cjk(c) for c in w) for w in words):
        return "".join(reversed(words))
    return " ".join(words)


_parse_phone = rules.phone


def _raise(exc: InvalidInput) -> Any:
    """A parser that fails as `exc` did (ctx.optional words the warning from it)."""

    def parse(_: str) -> Any:
        raise exc

    return parse


@dataclass(slots=True)
class _Row:
    line: int
    staged: Staged
    values: dict[str, Any]
    tags: list[str] | None
    # company cells and custom values ({"company": ..., "custom": ...}) when the file has them
    extra: dict[str, Any] | None = None
    cid: int = 0  # the customer the row was stored as (set by _insert / _update)
    outcome: str = ""  # inserted, updated or unchanged

    @property
    def cells(self) -> list[str]:
        return self.staged.cells


TEXT_FIELDS = rules.TEXT_FIELDS
# Columns naming the company a customer belongs to (importing/companies.CompanyLinker).
COMPANY_COLUMNS = ("company", "company_domain", "company_id")


# A bigger import (and one at least the size of the table) defers the secondary indexes
# and sorts the UNIQUE ones once; $CRM_IMPORT_BIG_ROWS: tests make a small import big.
INDEX_REBUILD_MIN_ROWS = int(os.environ.get("CRM_IMPORT_BIG_ROWS") or 50_000)


class CustomerImport(Entity):
    """Normalise rows, batch them, resolve keys and duplicates, write."""

    name = "customer"
    audit_entity = "customer"
    fields = (
        *IMPORT_FIELDS, *COMPANY_COLUMNS[1:], "phone_suspect",
        *(f for _, _, labels in _LABELLED for f in labels),
    )  # fmt: skip
    ignored_fields = IGNORED_FIELDS
    aliases = ALIASES
    date_fields = ("created_at",)
    needs_customer = False
    # automatic header matches checked against their values (a `status` of warm/cold)
    fit_checks = {"lifecycle": _lifecycle}

    custom_defs: ClassVar[list[dict[str, Any]]] = []

    def __init__(
        self,
        ctx: Context,
        key: str | None = None,
        create_company: bool = False,
        link_by_domain: bool = False,
        create_fields: bool = False,
    ) -> None:
        super().__init__(ctx)
        if key is not None and key not in KEYS:
            raise InvalidInput(f"--key must be one of: {', '.join(KEYS)}")
        self.key = key
        self.suspect = 0
        self.companies = CompanyLinker(ctx, create_company, link_by_domain)
        self.custom = CustomColumns(ctx, "customer", self.custom_defs, create_fields)

    def precheck(self) -> None:
        """The indexes an earlier import deferred and could not build (killed): built now,
        before the plan looks customers up."""
        indexes.build_deferred(self.ctx.db)

    def check_columns(self, present: set[str]) -> None:
        present = self._with_labelled(present)
        own = self.custom.claim(present, set(self.fields))
        self.links = bool(own & set(COMPANY_COLUMNS)) or self.companies.by_domain
        if self.companies.create and not own & set(COMPANY_COLUMNS):
            raise InvalidInput("--create-company: the file has no company column")
        self.file_fields = (
            own - set(IGNORED_FIELDS) - {"country", "phone_suspect"} - set(COMPANY_COLUMNS[1:])
        )
        self._name_parts = [p for p in NAME_PARTS if p in self.file_fields]
        self.file_fields -= set(NAME_PARTS)
        if self._name_parts and "name" in self.file_fields:
            self.ctx.summary.extra["name_parts_not_read"] = self._name_parts
            self._name_parts = []  # the name column is the name
        elif self._name_parts:
            self.file_fields.add("name")
            self.ctx.summary.extra["name_from"] = " + ".join(self._name_parts)
        if self.key and self.key not in present:
            raise InvalidInput(f"--key {self.key}: the file has no {self.key} column")
        if not self.file_fields:
            raise InvalidInput(
                "no customer columns in the header; use --map SRC=FIELD (fields: "
                + ", ".join(f for f in IMPORT_FIELDS if f != "country")
                + ")"
            )
        if "name" not in self.file_fields and not self.key:
            # every row would be rejected for its name: the file, not its rows, is wrong
            raise InvalidInput(
                "no name column: a new customer needs a name (use --map SRC=name, or --key"
                " to update existing customers by another column)"
            )
        self.ctx.summary.extra["key"] = self.key
        self.name_required = "name" in self.file_fields
        # what row() reads: the file's own text fields, parsed-once caches
        self._texts = [f for f in TEXT_FIELDS if f in present]
        self._has_notes = "notes" in present
        self._has_ext = "phone_ext" in present
        self._contacts = [(c, k) for c, k in CONTACT_COLUMNS.items() if c in present]
        self._region = self.ctx.options.phone_region
        self._lifecycles: dict[str, str] = {}
        self._tags: dict[str, tuple[str, ...]] = {}
        self.lookups = [
            c
            for c in repo.LOOKUP_COLUMNS
            if c in self.file_fields or (c == "email" and "other_emails" in present)
        ]  # (another customer's email is never stored as this one's too)
        # the file's repeated lookup values are all the merge remembers (db/staging.py)
        self.key_columns = tuple(self.lookups)
        # Columns an update may set: the file's own (created_at is kept from the first import).
        self.update_columns = [c for c in repo.CUSTOMER_FIELDS if c in self.file_fields]
        if "phone" in self.file_fields:
            for extra in ("phone_ext", "phone_suspect"):
                if extra not in self.update_columns:
                    self.update_columns.append(extra)
        if self.links:  # the company link and its name
            for extra in ("company", "company_id"):
                if extra not in self.update_columns:
                    self.update_columns.append(extra)

    def _with_labelled(self, present: set[str]) -> set[str]:
        """The file's labelled phone and email columns (PHONE_LABELS, EMAIL_LABELS) read as
        the phone (email) and other phones (emails) they fill (row() folds them); so is a
        Google Contacts `Phone 1 - Value` (`E-mail 1 - Value`) alone, whose cells may hold
        several values (` ::: `). A plain phone column costs no row anything (#12 speed)."""
        source = self.ctx.source
        columns = dict(zip(source.fields, source.header, strict=True)) if source else {}
        self._labelled = [
            (own, other, found)
            for own, other, labels in _LABELLED
            if (found := [f for f in labels if f in present])
            or normalize_header(columns.get(own, "")) in _SEVERAL_HEADERS
        ]
        present = set(present)
        for own, other, found in self._labelled:
            if len(found) + (own in present) > 1:
                read = [columns.get(f, f).strip() for f in [own][: own in present] + found]
                self.ctx.summary.extra[f"{own}s_from"] = (
                    f"{', '.join(read)} (the others kept as its other {own}s)"
                )
            present.add(own)
            present.add(other)  # (a phone cell may hold several values: ` ::: `)
            present.difference_update(found)
        return present

    def _fold_labelled(self, record: dict[str, str]) -> None:
        """STAGING: the row's phone (email) cell, its labelled cells and several values in
        one cell, in that order, as its phone (email): the first usable one (`N/A` in the
        Phone column and a number in Mobile: the mobile), and its other ones (an unusable
        one among them is a warning there). None usable: the first, which warns."""
        for own, other, labels in self._labelled:
            cells = [record.get(own) or "", *(record.get(f) or "" for f in labels)]
            values = [v.strip() for cell in cells if cell for v in cell.split(_SEVERAL)]
            values = [v for v in values if v]
            if not values:
                continue
            first = next((v for v in values if self._usable(own, v, record)), values[0])
            rest = [v for v in values if v != first]
            record[own] = first
            if rest:
                given = record.get(other)
                record[other] = ";".join([given, *rest] if given else rest)

    def _usable(self, kind: str, raw: str, record: dict[str, str]) -> bool:
        """A value that would be stored as the customer's phone (email)."""
        if "*" in raw and looks_masked(kind, raw):
            return False
        try:
            if kind == "email":
                return bool(_email(raw))
            return _parse_phone(raw, self._region, record.get("country")) is not None
        except InvalidInput:
            return False

    # -- plan (no write lock: merge() only plans) and apply (under it) -------------------
    plans = True

    def plan_outside_lock(self) -> bool:
        # fields made by --create-fields get their ids in the transaction, before the plan
        return not self.custom.new

    def snapshot(self) -> Any:
        return repo.import_snapshot(self.ctx.db)

    def start(self) -> None:
        """PLAN: before the first batch (the fields --create-fields makes are created here,
        so that import plans under the lock)."""
        db = self.ctx.db
        self.custom.start()
        self.next_id = repo.max_customer_id(db) + 1
        self.contacts_added = 0
        self.first_new_id = self.next_id
        # the customer each lookup value of the file names so far: only values on more
        # than one row are kept (no other row looks a value up), not one entry per row
        self.local: dict[str, dict[str, int]] = {col: {} for col in self.lookups}
        self._repeated = dict(zip(self.lookups, self.repeated, strict=True))
        self.plan = repo.ImportPlan(db)
        self.plan.open()
        self.custom.store = self.plan
        self.companies.start_plan()

    def _big(self) -> bool:
        """An import at least INDEX_REBUILD_MIN_ROWS rows and the size of the table: it
        defers the indexes (apply) and appends its new customers by transfer (planned)."""
        return self.ctx.source.estimated_rows >= max(
            INDEX_REBUILD_MIN_ROWS, repo.count_all_customers(self.ctx.db)
        )

    def planned(self) -> None:
        """A big import's new customers laid out as the table is, for apply() to append
        them by SQLite's transfer (db/customers.ImportPlan.stage_inserts), with foreign
        keys off for the transaction."""
        if self._big():
            self.plan.stage_inserts(self.ctx.now)

    def merge_without_foreign_keys(self) -> bool:
        return self.plan.fast

    def reset(self) -> None:
        self.plan.drop()
        self.companies = CompanyLinker(self.ctx, self.companies.create, self.companies.by_domain)
        self.custom.changed = set()
        self.custom.pending = {}

    def apply(self, token: Any) -> bool:
        """MERGE: write the plan with set-based statements (after checking that nothing it
        rests on changed since the snapshot `token`, unless planned under the lock)."""
        db = self.ctx.db
        if token is not None and repo.changed_since(db, token):
            return False
        big = self._big()
        unique: list[str] = []
        if big:  # built again after the commit, one short transaction each
            indexes.defer_secondary_indexes(db, "customers")
            indexes.defer_secondary_indexes(db, "customer_tags")
            # (the plan checked them: sorted once below, not grown row by row)
            unique = indexes.suspend_unique_indexes(db, "customers")
        triggers = repo.suspend_change_log(db)
        # (m331's guards check every row they see: the plan checked these, and the unique
        # indexes are built, or guarded, after the inserts)
        guards = change_log.suspend(db, UNIQUE_GUARD_TRIGGERS)
        # the new customers are indexed for search after the commit (db/search_index.py)
        search_index.open_pending(db, self.first_new_id)
        self.companies.apply()
        phase("apply.companies")
        self.plan.apply(self.update_columns, self.ctx.now, self.first_new_id, bool(triggers), phase)
        phase("apply.customers")
        # the email and external_id indexes are built after the commit too: until then
        # migration m331's triggers keep them unique
        change_log.resume(db, guards)
        indexes.defer_unique_indexes(db, "customers", unique, UNIQUE_GUARDED if guards else ())
        phase("apply.unique")
        repo.resume_change_log(db, triggers)
        search_index.close_pending(db, self.first_new_id)
        phase("apply.search")
        return True

    # -- one row -----------------------------------------------------------------------
    def row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        """STAGING: the row's normalized values and tags (no database access).

        The per-row floor of a million-row import (#12 speed): the file's own text fields
        only, each parser called directly (a bad optional value goes to _bad(), which is
        ctx.optional's warning path), lifecycle and tag cells parsed once per distinct
        cell. Warnings keep their order within a row: email, phone, lifecycle, created_at,
        custom fields."""
        if self._labelled:
            self._fold_labelled(record)
        values = self._text_values(line, record, cells)
        get = record.get
        if self._name_parts:
            name = joined_name([get(p) or "" for p in self._name_parts])
            if name:
                values["name"] = name
        if self._has_notes:
            notes = (get("notes") or "").strip()
            if notes:
                values["notes"] = notes
        if self.name_required and not self.key and "name" not in values:
            raise Reject("no name", "name", "")  # (with --key: only a new customer needs one)
        if self.key == "id":
            rid = (get("id") or "").strip()
            if rid:
                if not rid.isdigit():
                    raise Reject(f"invalid id {rid!r}", "id", rid)
                values["id"] = int(rid)
        raw = get("email")
        if raw:
            self._email(line, cells, values, raw)
        raw = get("phone")
        if raw or (self._has_ext and get("phone_ext")):
            self._phone(line, record, cells, values, raw or "")
        raw = get("lifecycle")
        if raw:
            self._lifecycle(line, cells, values, raw)
        raw = get("created_at")
        if raw:
            self._created(line, cells, values, raw)
        raw = get("tags")
        tags = self._split_tags(raw) if raw else None
        if not self.links and not self.custom.columns and not self._contacts:
            return [values, tags]
        return self._with_extra(line, record, cells, values, tags)

    def _text_values(self, line: int, record: dict[str, str], cells: list[str]) -> dict[str, Any]:
        """STAGING: the file's text fields, folded (a masked address is a warning)."""
        values: dict[str, Any] = {}
        get = record.get
        for fld in self._texts:
            raw = get(fld)
            if raw:
                value = _text(raw)
                if value is not None:
                    if fld == "address" and value[-1] == "*" and looks_masked(fld, value):
                        self._bad(line, cells, fld, raw, _masked())
                        continue
                    values[fld] = value
        return values

    def _with_extra(
        self,
        line: int,
        record: dict[str, str],
        cells: list[str],
        values: dict[str, Any],
        tags: list[str] | None,
    ) -> list[Any]:
        """STAGING: a row with company cells, custom values or other contact points."""
        contacts = self._other_contacts(line, record, cells, values) if self._contacts else None
        if not self.links and not self.custom.columns and not contacts:
            return [values, tags]
        extra: dict[str, Any] = {
            "company": CompanyLinker.stage(record) if self.links else None,
            "custom": self.custom.parse(line, record, cells),
        }
        if contacts:
            extra["contacts"] = contacts
        return [values, tags, extra]

    def _other_contacts(
        self, line: int, record: dict[str, str], cells: list[str], values: dict[str, Any]
    ) -> list[list[str]]:
        """STAGING: the other_emails / other_phones / other_addresses cells as [kind, value]
        pairs, each value read by its field's rule (a bad one is a warning, the others are
        kept); the row's own primary value and repeats are left out."""
        out: list[list[str]] = []
        for column, kind in self._contacts:
            raw = record.get(column) or ""
            parts = raw.splitlines() if kind == "address" else raw.split(";")
            for part in parts:
                part = part.strip()
                if not part:
                    continue
                try:
                    value = self._contact_value(kind, part, record)
                except InvalidInput as exc:
                    self._bad(line, cells, column, part, exc)
                    continue
                except _PhoneWithExtension as exc:  # stored without it, and said
                    value = exc.e164
                    self._bad(line, cells, column, part, InvalidInput(exc.message))
                if value and value != values.get(kind) and [kind, value] not in out:
                    out.append([kind, value])
        return out

    def _contact_value(self, kind: str, raw: str, record: dict[str, str]) -> str | None:
        if "*" in raw and looks_masked(kind, raw):
            raise _masked()
        if kind == "email":
            return _email(raw)
        if kind == "phone":
            phone = _parse_phone(raw, self._region, record.get("country"))
            if phone is None:
                return None
            if phone.suspect or phone.note:  # (other phones keep no suspect flag)
                why = phone.note or (
                    f"read in {self._region} as {phone.e164}, but written in another"
                    " numbering plan's grouping"
                )
                raise InvalidInput(
                    f"{why}: not stored as an other phone; give it with + and its country"
                    " code, or a country column"
                )
            if phone.ext:
                raise _PhoneWithExtension(
                    phone.e164,
                    f"extension {phone.ext} not stored: other phones keep none (the number"
                    f" is, as {phone.e164})",
                )
            return phone.e164
        return _text(raw)

    def key_values(self, data: Any) -> dict[str, Any]:
        contacts = data[2].get("contacts") if len(data) > 2 else None
        if not contacts:
            return data[0]  # type: ignore[no-any-return]
        out = data[0]
        for col in ("email", "phone"):
            others = [v for k, v in contacts if k == col]
            if others:
                own = data[0].get(col)
                out = {**out, col: [own, *others] if own else others}
        return out  # type: ignore[no-any-return]

    def _bad(self, line: int, cells: list[str], fld: str, raw: str, exc: InvalidInput) -> None:
        """A bad optional value: ctx.optional's warning (or Reject with --strict-fields)."""
        self.ctx.optional(line, cells, fld, raw, _raise(exc))

    def _email(self, line: int, cells: list[str], values: dict[str, Any], raw: str) -> None:
        raw = raw.strip()
        if raw:
            try:
                email = _email(raw)
            except InvalidInput as exc:
                self._bad(line, cells, "email", raw, exc)
                return
            if email and "*" in email and looks_masked("email", email):
                self._bad(line, cells, "email", raw, _masked())
                return
            if email:
                values["email"] = email

    def _lifecycle(self, line: int, cells: list[str], values: dict[str, Any], raw: str) -> None:
        raw = raw.strip()
        if raw:
            lifecycle = self._lifecycles.get(raw)
            if lifecycle is None:
                try:
                    lifecycle = _lifecycle(raw)
                except InvalidInput as exc:
                    self._bad(line, cells, "lifecycle", raw, exc)
                    return
                if len(self._lifecycles) < 1000:
                    self._lifecycles[raw] = lifecycle
            values["lifecycle"] = lifecycle

    def _created(self, line: int, cells: list[str], values: dict[str, Any], raw: str) -> None:
        raw = raw.strip()
        if raw:
            try:
                values["created_at"] = self.ctx.time("created_at", raw)
            except InvalidInput as exc:
                self._bad(line, cells, "created_at", raw, exc)

    def _split_tags(self, raw: str) -> list[str] | None:
        """split_tags, once per distinct cell (a list repeats a handful of tag sets)."""
        split = self._tags.get(raw)
        if split is None:
            split = self._tags[raw] = tuple(split_tags(raw))
            if len(self._tags) > 10_000:
                self._tags.clear()
        return list(split) if split else None

    def _phone(
        self,
        line: int,
        record: dict[str, str],
        cells: list[str],
        values: dict[str, Any],
        raw: str | None = None,
    ) -> None:
        """The row's phone columns into values: the number, its extension and whether it
        looks suspect (counted for the summary); a bad number is only a warning. A phone_ext
        cell is digits only and belongs to a number: without a stored phone it is a warning,
        and where the phone cell has its own different extension, the phone cell's is kept
        (a warning too). A number stored with a note (read as +1) is a warning as well."""
        raw = (raw if raw is not None else record.get("phone") or "").strip()
        ext_raw = (record.get("phone_ext") or "").strip()
        phone = None
        if raw:
            try:
                phone = _parse_phone(raw, self._region, record.get("country"))
            except InvalidInput as exc:
                self._bad(line, cells, "phone", raw, exc)
        if phone is None:
            if ext_raw:
                why = "without a phone" if not raw else "of a phone not stored"
                self._bad(line, cells, "phone_ext", ext_raw, InvalidInput(
                    f"an extension {why} ({ext_raw!r}): not stored, an extension belongs "
                    "to a number"))  # fmt: skip
            return
        if phone.note:  # stored all the same (flagged suspect): the warning says why
            self._bad(line, cells, "phone", raw, InvalidInput(phone.note))
        ext = phone.ext
        if ext_raw:
            try:
                column = rules.extension(ext_raw)
            except InvalidInput as exc:
                self._bad(line, cells, "phone_ext", ext_raw, exc)
                column = None
            if column and ext and column != ext:
                self._bad(line, cells, "phone_ext", ext_raw, InvalidInput(
                    f"extension {ext_raw!r} differs from the phone's own ({ext}): the "
                    "phone's is kept"))  # fmt: skip
            ext = ext or column
        values["phone"] = phone.e164
        values["phone_ext"] = ext
        # an export's phone_suspect column read back: its +86... is this database's reading
        # of a number written in another plan's grouping, still a doubt (report quality)
        flagged = (record.get("phone_suspect") or "").strip().lower() in _FLAGGED
        values["phone_suspect"] = 1 if phone.suspect or flagged else 0

    def reject(self, row: _Row, reason: str, duplicate: bool = False) -> None:
        self.ctx.reject(row.line, row.cells, Reject(reason), duplicate=duplicate)

    # -- one batch (merge) -------------------------------------------------------------
    def merge(self, rows: list[Staged]) -> None:
        """Resolve keys and duplicates against the current data and earlier rows, write."""
        batch = [_Row(r.line, r, *r.data) for r in rows]
        if self.links:
            batch = self._link_companies(batch)
        db = self.ctx.db
        found: dict[str, dict[Any, int]] = {
            col: repo.lookup_ids(db, col, self._lookup_values(batch, col)) for col in self.lookups
        }
        if self.key == "id":  # the ids of this database the batch names
            found["id"] = repo.existing_ids(db, [r.values["id"] for r in batch if "id" in r.values])
        self._drop_stale(found)
        # phones are not unique: a --key phone value two stored customers share names neither
        shared = (
            repo.shared_values(db, "phone", list(found["phone"])) if self.key == "phone" else {}
        )
        existing: dict[int, dict[str, Any]] = {}
        if self.key:
            ids = list(set(found[self.key].values()))
            existing = self.plan.fetch(ids, self.update_columns)
        local = self.local
        records: dict[int, dict[str, Any]] = {}
        new_ids: list[int] = []
        changed: set[int] = set()
        retagged: set[int] = set()
        for row in batch:
            values = row.values
            # a row without its key value is matched as without --key (phones included)
            keyed = self.key is not None and self.key in values
            target = self._target(row, found, shared) if keyed else None
            if target == -1:
                continue  # rejected
            holder = None
            duplicate = False
            for col in self.lookups:
                value = values.get(col)
                # Phones are not unique: with a --key the key alone names a customer (two ERP
                # customers may share a switchboard number); without one, a shared phone is
                # the duplicate signal.
                if value is None or col == self.key or (col == "phone" and keyed):
                    continue
                holder = local[col].get(value) or found[col].get(value)
                if holder is not None and holder != target:
                    self.reject(row, f"duplicate of customer {holder} (same {col})", True)
                    duplicate = True
                    break
            if duplicate:
                continue
            contacts = self._free_contacts(row, target, found) if row.extra else None
            if target is None:
                self._insert(row, records, new_ids)
            else:
                if target not in records:
                    if target not in existing:  # inserted earlier in this file, other batch
                        existing.update(self.plan.fetch([target], self.update_columns))
                    records[target] = existing[target]
                self._update(row, target, records[target], changed, retagged)
            if contacts and row.cid:
                self._add_contacts(row, contacts, records[row.cid], changed)
        self._write(records, new_ids, changed - set(new_ids), retagged - set(new_ids))
        if self.custom.columns:
            self._write_custom(batch)

    @staticmethod
    def _lookup_values(batch: list[_Row], col: str) -> list[Any]:
        """The batch's values of a lookup column (for emails and phones, the other ones
        too: another customer's is never stored as this one's)."""
        values = {r.values[col] for r in batch if col in r.values}
        if col in ("email", "phone"):
            values.update(
                value
                for r in batch
                if r.extra
                for kind, value in r.extra.get("contacts", ())
                if kind == col
            )
        return sorted(values)

    def _free_contacts(
        self, row: _Row, target: int | None, found: dict[str, dict[Any, int]]
    ) -> list[list[str]]:
        """MERGE: the row's other_* contact points, less each email or phone another
        customer has (as its own or among its other ones, in the database or earlier in the
        file): that is a warning, the value stays that customer's alone (a lookup by it
        would otherwise pick one of the two)."""
        assert row.extra is not None
        contacts = row.extra.get("contacts") or []
        free = []
        for kind, value in contacts:
            if kind in ("email", "phone") and kind in self.local:
                holder = self.local[kind].get(value) or found[kind].get(value)
                if holder is not None and holder != target:
                    self._bad(row.line, row.cells, f"other_{kind}s", value, InvalidInput(
                        f"{value} is the {kind} of customer {holder}: not stored as this"
                        " customer's too"))  # fmt: skip
                    continue
            free.append([kind, value])
        return free

    def _add_contacts(
        self, row: _Row, contacts: list[list[str]], record: dict[str, Any], changed: set[int]
    ) -> None:
        """MERGE: the contact points the customer has neither as its own nor among its
        secondary ones, planned; a row that adds one updates its customer."""
        cid = row.cid
        primary = self.plan.fetch([cid], list(CONTACT_COLUMNS.values())).get(cid, {})
        primary |= {k: record[k] for k in CONTACT_COLUMNS.values() if k in record}
        have = self.plan.contacts_for([cid])
        new = [
            (cid, kind, value)
            for kind, value in contacts
            if value != primary.get(kind) and (cid, kind, value) not in have
        ]
        if not new:
            return
        self.plan.put_contacts(new)
        self.contacts_added += len(new)
        for _, kind, value in new:
            if kind in self._repeated and hash(value) in self._repeated[kind]:
                self.local[kind][value] = cid
        if row.outcome == "unchanged":
            row.outcome = "updated"
            self.ctx.summary.unchanged -= 1
            self.ctx.summary.updated += 1
            changed.add(cid)

    def _target(
        self, row: _Row, found: dict[str, dict[Any, int]], shared: dict[str, str]
    ) -> int | None:
        """The customer the row's key value names (None: a new one; -1: the row is
        rejected: a shared phone, or an id this database does not have)."""
        key = str(self.key)
        kv = row.values[key]
        if kv in shared:
            self.reject(
                row,
                f"{key} {kv} is shared by customers {shared[kv]}: which one is meant is not"
                " guessed (use --key external_id or email)",
            )
            return -1
        target = self.local[key].get(kv) if key in self.local else None
        target = target or found[key].get(kv)
        if key == "id" and target is None:
            self.reject(
                row,
                f"no customer with id {kv} (--key id updates the customers of this database,"
                " from its own export)",
            )
            return -1
        return target

    def _link_companies(self, batch: list[_Row]) -> list[_Row]:
        """MERGE: the company each row names (CompanyLinker); a row left without one has its
        company text dropped (the warning says why)."""
        kept = []
        for row in batch:
            refs = row.extra["company"] if row.extra else None
            try:
                link = self.companies.link(row.line, row, refs, row.values.get("email"))
            except Reject as exc:
                self.ctx.reject(row.line, row.cells, exc)
                continue
            if link is not None:
                row.values.pop("company", None)
                if link.pop("soft", False):
                    row.extra = {**(row.extra or {}), "soft": True}
                row.values.update(link)
            kept.append(row)
        return kept

    def _write_custom(self, batch: list[_Row]) -> None:
        """MERGE: the batch's custom values; a row whose only change is a custom value
        counts as updated."""
        for row in batch:
            if row.cid and row.extra and row.extra.get("custom"):
                self.custom.queue(row.cid, row.extra["custom"])
        changed = self.custom.flush()
        for row in batch:
            if row.outcome == "unchanged" and row.cid in changed:
                row.outcome = "updated"
                self.ctx.summary.unchanged -= 1
                self.ctx.summary.updated += 1

    def _remember(self, values: dict[str, Any], cid: int) -> None:
        for col in self.lookups:
            value = values.get(col)
            if value is not None and hash(value) in self._repeated[col]:
                self.local[col][value] = cid

    def _insert(self, row: _Row, records: dict[int, dict[str, Any]], new_ids: list[int]) -> None:
        if "name" not in row.values:
            self.ctx.reject(row.line, row.cells, Reject("no name", "name", ""))
            return
        cid = self.next_id
        self.next_id += 1
        record = row.values  # the row is done with it: no copy
        record["tags"] = row.tags or []
        for column, default in repo.NEW_CUSTOMER_DEFAULTS.items():
            record.setdefault(column, default)
        record.setdefault("created_at", self.ctx.now)
        records[cid] = record
        new_ids.append(cid)
        self._remember(row.values, cid)
        self.ctx.summary.inserted += 1
        self.suspect += record.get("phone_suspect") or 0  # (counted when stored)
        row.cid, row.outcome = cid, "inserted"
        if row.extra and row.extra.get("soft"):
            self.companies.by_domain_linked += 1

    def _update(
        self,
        row: _Row,
        cid: int,
        record: dict[str, Any],
        changed: set[int],
        retagged: set[int],
    ) -> None:
        row.cid, row.outcome = cid, "unchanged"
        if row.extra and row.extra.get("soft"):  # a domain link never replaces a company
            if record.get("company_id") is not None:
                row.values.pop("company_id", None)
                row.values.pop("company", None)
            else:
                self.companies.by_domain_linked += 1
        # the key names the customer (an email or phone it has among its secondary contact
        # points too): it never replaces the primary one
        diff = {
            k: v
            for k, v in row.values.items()
            if k != "created_at" and k != self.key and record.get(k) != v
        }
        new_tags = row.tags is not None and sorted(row.tags) != sorted(record["tags"])
        if not diff and not new_tags:
            self.ctx.summary.unchanged += 1
            return
        row.outcome = "updated"
        record.update(diff)
        if new_tags:
            record["tags"] = row.tags
            retagged.add(cid)
        if diff:
            changed.add(cid)
        self._remember(row.values, cid)
        self.ctx.summary.updated += 1
        self.suspect += row.values.get("phone_suspect") or 0

    def _drop_stale(self, found: dict[str, dict[Any, int]]) -> None:
        """The snapshot's answer to a lookup is stale for a customer this import updates
        (its email may be planned to change): keep a hit only if the plan still has it."""
        planned = self.plan.updated
        if not planned:
            return
        for col, hits in found.items():
            if col == "id":  # (an id never changes)
                continue
            stale = [v for v, cid in hits.items() if cid in planned]
            if stale:
                records = self.plan.fetch([hits[v] for v in stale], [col])
                for value in stale:
                    if records[hits[value]].get(col) != value:
                        del hits[value]

    def _write(
        self,
        records: dict[int, dict[str, Any]],
        new_ids: list[int],
        changed: set[int],
        retagged: set[int],
    ) -> None:
        """PLAN: the batch's inserts and updates into the plan (db/customers.ImportPlan)."""
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        columns = repo.ImportPlan.COLUMNS
        inserts = []
        for cid in new_ids:
            rec = records[cid]
            inserts.append((cid, dumps(rec["tags"]), *map(rec.get, columns)))
        self.plan.put_inserts(inserts)
        cols = self.update_columns
        updates = [
            (cid, cid in changed, cid in retagged, dumps(records[cid]["tags"]),
             *(records[cid].get(c) for c in cols))
            for cid in sorted(changed | retagged)
        ]  # fmt: skip
        self.plan.put_updates(cols, updates)
        self.plan.updated.update(cid for cid in changed | retagged if cid < self.first_new_id)

    def end(self) -> None:
        if "phone" in self.file_fields:
            self.ctx.summary.extra["suspect_phones"] = self.suspect
        if self.links:
            self.companies.summary()
        if self.custom.columns:
            self.ctx.summary.extra["custom_values_changed"] = len(self.custom.changed)
        if self._contacts:
            self.ctx.summary.extra["contacts_added"] = self.contacts_added

    def after_commit(self, progress: Any) -> None:
        """Index the committed customers for search in short transactions (search finds
        them meanwhile through the search guard)."""
        self.plan.drop()
        # the indexes a big import deferred, then the search index (also what an earlier
        # import that was cut short left)
        if indexes.deferred_count(self.ctx.db):
            progress.step("Building the customer indexes")
            indexes.build_deferred(self.ctx.db)
            phase("indexes.built")
        left = search_index.pending_count(self.ctx.db)
        if left:
            progress.step(f"Indexing {left} customers for search")
            search_index.build_pending(self.ctx.db)


def import_customers(
    db: Any,
    path: str,
    options: ImportOptions,
    key: str | None = None,
    create_company: bool = False,
    link_by_domain: bool = False,
    create_fields: bool = False,
) -> Any:
    """Import a customer CSV in one transaction (the pipeline); returns the summary."""
    entity = with_custom_fields(CustomerImport, db, "customer")
    return run_import(
        db, path, entity, options, key=key, create_company=create_company,
        link_by_domain=link_by_domain, create_fields=create_fields,
    )  # fmt: skip
