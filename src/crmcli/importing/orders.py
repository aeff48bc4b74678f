"""Order field rules for the import pipeline (`crm order import`).

Rows sharing an order id (`external_id`) are lines of ONE order: each line's amount is its
`line_amount`, else `amount`, else quantity x unit_price; the order's total is the sum of its
lines, and the lines are stored in `order_lines` (sku, product, quantity, unit price, amount)
when the file has line columns or an order has several rows. Lines of one order must agree
on customer, date and currency. Importing the same file again changes nothing.

Required: the customer reference, ordered_at and an amount (or quantity and unit price).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from crmcli.core.errors import InvalidInput
from crmcli.core.validate import (
    MONEY_LIMIT,
    check_amount_currency,
    check_minor_units,
    normalize_currency,
)
from crmcli.db import indexes
from crmcli.db import orders as repo
from crmcli.importing.pipeline import (
    Context,
    Entity,
    ImportOptions,
    Reject,
    run_import,
)
from crmcli.importing.source import normalize_header

# the staged columns of a line (db/staging.py, merged by db/orders.py)
STAGED = (
    "ext",
    "ckey",
    "cvalue",
    "craw",
    "cname",
    "ordered_at",
    "currency",
    "sku",
    "product",
    "qty",
    "unit",
    "amount",
    "run",
    "pos",
    "cothers",
)
LINE_FIELDS = ("sku", "product", "quantity", "unit_price", "line_amount")
ORDER_FIELDS = (
    "external_id",
    "customer_id",
    "customer_external_id",
    "customer_email",
    "customer_phone",
    "customer_name",
    "ordered_at",
    "amount",
    "currency",
    *LINE_FIELDS,
)
ORDER_ALIASES = {
    "orderid": "external_id",
    "orderno": "external_id",
    "ordernumber": "external_id",
    "orderexternalid": "external_id",
    "订单号": "external_id",
    "订单编号": "external_id",
    "bestellnummer": "external_id",
    "orderedat": "ordered_at",
    "orderdate": "ordered_at",
    "createdat": "ordered_at",  # Shopify's order export
    "date": "ordered_at",
    "time": "ordered_at",
    "下单时间": "ordered_at",
    "订单日期": "ordered_at",
    "日期": "ordered_at",
    "bestelldatum": "ordered_at",
    "amount": "amount",
    "total": "amount",
    "value": "amount",
    "sales": "amount",
    "金额": "amount",
    "订单金额": "amount",
    "betrag": "amount",
    "currency": "currency",
    "币种": "currency",
    "货币": "currency",
    "währung": "currency",
    "customer": "customer_name",
    "customername": "customer_name",
    "name": "customer_name",
    "客户": "customer_name",
    "客户名称": "customer_name",
    "姓名": "customer_name",
    "客户编号": "customer_external_id",
    "customerid": "customer_external_id",
    "kundennummer": "customer_external_id",
    "sku": "sku",
    "productid": "sku",
    "itemcode": "sku",
    "itemno": "sku",
    "商品编号": "sku",
    "product": "product",
    "productname": "product",
    "item": "product",
    "商品": "product",
    "商品名称": "product",
    "产品": "product",
    "quantity": "quantity",
    "qty": "quantity",
    "数量": "quantity",
    "unitprice": "unit_price",
    "price": "unit_price",
    "单价": "unit_price",
    "lineitemquantity": "quantity",  # Shopify's order export
    "lineitemprice": "unit_price",
    "lineitemname": "product",
    "lineitemsku": "sku",
    "email": "customer_email",
    "lineamount": "line_amount",
    "linetotal": "line_amount",
    "小计": "line_amount",
}


# A quantity: digits with an optional decimal part, or thousands groups of three.
_QTY = {
    "point": re.compile(r"[+-]?(?:\d{1,3}(?:[,' \u00a0\u202f]\d{3})+|\d+)(?:\.\d+)?"),
    "comma": re.compile(r"[+-]?(?:\d{1,3}(?:[.' \u00a0\u202f]\d{3})+|\d+)(?:,\d+)?"),
}


# Distinct cells a parse cache of the order import keeps (times, amounts): bounded, so memory
# does not grow with the file (unbounded, the time cache held one entry an order: ~150 MB
# at 2M lines); the lines of one order and a catalogue's prices repeat within it.
CACHE_CELLS = 50_000


def _quantity(raw: str, convention: str = "point") -> int | float:
    """A quantity cell under its column's decimal convention (decided from the whole
    column like a money column's: `1,000` is a thousand in a point column, one in a comma
    column; a column of such cells only follows --decimal or the file's currency)."""
    text = raw.strip()
    if not _QTY[convention].fullmatch(text):
        raise InvalidInput(f"invalid quantity {text!r}")
    sep = "," if convention == "comma" else "."
    body = re.sub(r"[,.' \u00a0\u202f]", lambda m: "." if m.group() == sep else "", text)
    try:
        value = Decimal(body)
    except InvalidOperation:
        raise InvalidInput(f"invalid quantity {text!r}") from None
    if not value.is_finite() or abs(value) >= 10**9:
        raise InvalidInput(f"invalid quantity {text!r}")
    return int(value) if value == value.to_integral_value() else float(value)


def _line_amount(qty: int | float, unit: int, line: int, cells: list[str]) -> int:
    """quantity x unit price in minor units, exactly: a product with a fraction of a cent
    is refused (no rounding), as is one of 10^12 or more."""
    product = Decimal(str(qty)) * unit
    if product != product.to_integral_value():
        raise Reject(
            f"quantity {qty} x unit_price {unit / 100:.2f} = {product / 100} has more than two "
            "decimals; give the line's amount (line_amount)",
            "amount",
        )
    if abs(product) >= MONEY_LIMIT * 100:
        raise Reject(f"quantity x unit_price {product / 100} is too large (limit 10^12)", "amount")
    return int(product)


INDEX_REBUILD_MIN_ROWS = 50_000


def _name_like(raw: str) -> str:
    """A customer_name cell names someone when it has a letter (of any script): Shopify's
    `Name` column is the order number (#1001), no customer's name (the fit check then
    reports the column as unknown instead of creating customers called #1001)."""
    if not any(c.isalpha() for c in raw):
        raise InvalidInput(f"{raw!r} is no name")
    return raw


class OrderImport(Entity):
    name = "order"
    audit_entity = "order"
    fields = ORDER_FIELDS
    aliases = ORDER_ALIASES
    # (quantity: not money, but its decimal convention is decided the same way)
    money_fields = ("amount", "unit_price", "line_amount", "quantity")
    date_fields = ("ordered_at",)
    staged_columns = STAGED
    fit_checks = {"customer_name": _name_like}

    def __init__(
        self, ctx: Context, currency: str | None = None, create_customers: bool = False
    ) -> None:
        super().__init__(ctx)
        # --currency: the currency of a file without a currency column (default CNY) and of
        # a blank currency cell; without it a blank cell is no currency (the row rejected)
        self.default_currency = normalize_currency(currency or "CNY")
        self.blank_currency = currency is not None
        self.create_customers = create_customers
        self.currencies: dict[str, str] = {}
        self.line_count = 0
        self.cross_checked = False  # a line has other reference cells (_cross_check)
        self.logged: list[str] = []
        self._times: dict[str, str] = {}
        self._parsed: dict[str, dict[str, Any]] = {f: {} for f in self.money_fields}
        self._money = {f: partial(ctx.money, f) for f in self.money_fields if f != "quantity"}
        # order ids with a line rejected while staging: the order is left out whole
        self.rejected_orders: dict[str, str] = {}
        # order runs: consecutive staged lines with one order id (see _run())
        self.contiguous = True
        self._run = 0
        self._pos = 0
        self._run_ext: str | None = None
        self._run_head: tuple[Any, ...] = ()
        self._run_total = False  # the run's first line gave `amount` and no line columns did
        self._closed: set[int] = set()  # hash() of the order ids of finished runs
        self.odd_runs: set[int] = set()

    def check_columns(self, present: set[str]) -> None:
        missing = [f for f in ("ordered_at",) if f not in present]
        if not present & {"amount", "line_amount"} and not {"quantity", "unit_price"} <= present:
            missing.append("amount")
        if missing:
            raise InvalidInput(f"no column for: {', '.join(missing)} (use --map SRC=FIELD)")
        self._shopify_check(present)
        self.has_lines = bool(present & set(LINE_FIELDS))
        if "currency" not in present:
            self.ctx.summary.extra["currency_from"] = (
                f"{self.default_currency} (--currency)"
                if self.blank_currency
                else f"{self.default_currency} (the default: no currency column)"
            )
        self.blank_currency = self.blank_currency or "currency" not in present

    def _shopify_check(self, present: set[str]) -> None:
        """A Shopify order export (its Lineitem columns) names the order by `Name` (#1001),
        a header no import reads as the order id: without an order id its line items would
        be orders of their own, a Total counted beside the lines. Refused, asking for it."""
        source = self.ctx.source
        if "external_id" in present or source is None:
            return
        header = {normalize_header(cell): cell.strip() for cell in source.header}
        if "name" in header and any(k.startswith("lineitem") for k in header):
            raise InvalidInput(
                f"a Shopify order export: its {header['name']!r} column is the order number;"
                f" give --map {header['name']}=external_id (its line items are then the"
                " lines of their orders)"
            )

    # The merge is planned outside the write lock (merge_staged() reads only and fills temp
    # tables), then apply() writes it under the lock; with --create-customers it is
    # planned under the lock (the customers it creates are writes).
    plans = True

    def plan_outside_lock(self) -> bool:
        return not self.create_customers

    def snapshot(self) -> Any:
        return repo.data_version(self.ctx.db)

    def reset(self) -> None:
        repo.drop_merge_tables(self.ctx.db)
        assert self.ctx.resolver is not None
        self.ctx.resolver.cache.clear()

    def apply(self, token: Any) -> bool:
        """MERGE, under the write lock: nothing committed since the plan's snapshot (else
        False: plan again, under the lock), then the planned writes, with the change_log
        triggers suspended and, for a big import, the secondary indexes built after the
        commit (db/indexes.py)."""
        db = self.ctx.db
        if token is not None and repo.data_version(db) != token:
            return False
        self.logged = repo.suspend_order_change_log(db)
        big = self.ctx.source.estimated_rows >= max(INDEX_REBUILD_MIN_ROWS, repo.count_orders(db))
        if big:
            indexes.defer_secondary_indexes(db, "orders")
        repo.write_planned_orders(db, self.ctx.now, self.logged)
        return True

    def row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        """STAGING: order id, customer reference, time, currency and the line's item, as
        the values of STAGED (each distinct cell of a column is parsed once). A rejected
        line takes its order with it (merge_staged)."""
        try:
            return self._row(line, record, cells)
        except (Reject, InvalidInput) as exc:
            ext = (record.get("external_id") or "").strip()
            if ext:
                why = exc.reason if isinstance(exc, Reject) else exc.message
                self.rejected_orders.setdefault(ext, f"its line {line} was rejected ({why})")
            raise

    def _row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        ctx = self.ctx
        get = record.get
        raw_time = get("ordered_at")
        ordered_at = self._times.get(raw_time)  # type: ignore[arg-type]
        if ordered_at is None:
            ordered_at = ctx.required("ordered_at", raw_time, lambda t: ctx.time("ordered_at", t))
            if len(self._times) >= CACHE_CELLS:  # (the lines of an order repeat its time)
                self._times.clear()
            self._times[raw_time] = ordered_at  # type: ignore[index]
        qty = self._cached(line, cells, get("quantity"), "quantity", self._qty, optional=True)
        unit = self._cached(
            line, cells, get("unit_price"), "unit_price", self._money["unit_price"], True
        )
        amount: int | None = None
        given = None  # which cell gave the line's amount (None: quantity x unit_price)
        for fld in ("line_amount", "amount"):
            raw = get(fld)
            if raw and not raw.isspace():
                amount = self._cached(line, cells, raw, fld, self._money[fld], optional=False)
                given = fld
                break
        if amount is None:
            if qty is None or unit is None:
                raise Reject("no amount", "amount", "")
            amount = _line_amount(qty, unit, line, cells)
        ext = (get("external_id") or "").strip() or None
        raw_currency = get("currency") or ""
        if not raw_currency.strip() and ext is not None and ext == self._run_ext:
            # a later line of the order it follows, its order-level cells left blank
            # (Shopify's export): the order has one currency, its first line's
            raw_currency = self._run_head[4]
        currency = self.currencies.get(raw_currency)
        if currency is None and not self.blank_currency and not raw_currency.strip():
            raise Reject(
                "no currency: the currency cell is empty (--currency names the currency of"
                " such rows)",
                "currency",
                "",
            )
        if currency is None:
            currency = ctx.required(
                "currency",
                raw_currency or self.default_currency,
                lambda t: normalize_currency(t, self.default_currency),
            )
            self.currencies[raw_currency] = currency
        self._check_currency(record, amount, given, currency)
        assert ctx.resolver is not None
        # the row's other reference cells, checked in the merge against the customer its
        # reference names (merge_staged: once per distinct combination)
        key, value, raw_ref, name, others = ctx.resolver.reference(record)
        sku = (get("sku") or "").strip() or None
        product = " ".join((get("product") or "").split()) or None
        run, pos = self._place(ext, (key, value, ordered_at, currency, raw_currency))
        if pos == 1:
            self._run_total = given == "amount"
        elif self._run_total and given is None:
            raise Reject(
                f"order {ext}: its amount column is filled on its first line only, so it is "
                "the order's total (shipping and tax included, as Shopify writes it), not a "
                "line's amount; ignore it (--map COLUMN=-) to store the sum of the lines, or "
                "give each line's amount (line_amount)",
                "amount",
                "",
            )
        return (
            ext, key, value, raw_ref, name, ordered_at, currency, sku, product, qty, unit, amount,
            run, pos, self._others(others),
        )  # fmt: skip

    @staticmethod
    def _check_currency(
        record: dict[str, str], amount: int, given: str | None, currency: str
    ) -> None:
        """STAGING: the line's amount in whole units of a currency without minor units
        (JPY), and no money cell signed with another currency (`$5` in a EUR row)."""
        try:
            check_minor_units(amount, currency, given or "line amount")
        except InvalidInput as exc:
            raw = (record.get(given or "") or "").strip()
            raise Reject(exc.message, given or "amount", raw) from None
        for fld in ("amount", "line_amount", "unit_price"):
            cell = record.get(fld)
            # a cell that begins and ends with a digit names no currency (the check's own
            # first test, without the call)
            if cell and not (cell[0].isdigit() and cell[-1].isdigit()):
                try:
                    check_amount_currency(cell, currency)
                except InvalidInput as exc:
                    raise Reject(exc.message, fld, cell.strip()) from None

    def _others(self, others: list[tuple[str, Any, str]]) -> str | None:
        if not others:
            return None
        self.cross_checked = True  # (the merge reads the staging for them only then)
        return json.dumps(others)

    def _qty(self, raw: str) -> int | float:
        return _quantity(raw, self.ctx.decimal.get("quantity", "point"))

    def _place(self, ext: str | None, head: tuple[Any, ...]) -> tuple[int, int]:
        """The line's order run (consecutive staged lines with one order id; a line without
        one is a run of its own) and its position in the run; a run with a line that does
        not name the customer, time and currency of its first line is odd (checked line by
        line in the merge). An order id coming back after
        another one (hash() of the finished runs' ids seen, so a rare collision only costs
        speed) makes the staging not contiguous: the merge then groups by order id."""
        if ext is not None and ext == self._run_ext:
            self._pos += 1
            if head != self._run_head:
                self.odd_runs.add(self._run)
            return self._run, self._pos
        if self._run_ext is not None:
            self._closed.add(hash(self._run_ext))
        if ext is not None and self.contiguous and hash(ext) in self._closed:
            self.contiguous = False
        self._run += 1
        self._pos = 1
        self._run_ext = ext
        self._run_head = head
        return self._run, 1

    def _cached(
        self, line: int, cells: list[str], raw: str | None, fld: str, parse: Any, optional: bool
    ) -> Any:
        """A number cell parsed once per distinct text (per column): optional fields warn
        (ctx.optional), required ones reject (ctx.required); only values are remembered."""
        if not raw:
            return None
        seen = self._parsed[fld]
        value = seen.get(raw)
        if value is not None:
            return value
        text = raw.strip()
        if optional:
            value = self.ctx.optional(line, cells, fld, text, parse) if text else None
        else:
            value = self.ctx.required(fld, text, parse)
        if value is not None:
            if len(seen) >= CACHE_CELLS:
                seen.clear()
            seen[raw] = value
        return value

    def merge_staged(self, staging: Any) -> None:
        """MERGE, set-based: the customer references resolved in bulk through the
        pipeline's resolver, then orders and lines written with a few statements from the
        staging table (db/orders.py); a line whose customer is unknown, or that disagrees
        with its order's first line, is rejected."""
        from crmcli.db.staging import Staging

        ctx = self.ctx
        db = ctx.db
        resolver = ctx.resolver
        assert resolver is not None
        table = staging.table
        repo.stage_order_refs(db, table)
        for refs in repo.refs_to_resolve(db, resolver.create, 20_000):
            resolver.prefetch(refs)
            found: list[tuple[int | None, str, Any]] = []
            for ref in refs:
                try:
                    found.append((resolver.lookup(ref), ref[0], ref[1]))
                except Reject:
                    found.append((None, ref[0], ref[1]))
            repo.set_order_refs(db, found)
        left_out = dict(self.rejected_orders)  # order id -> why the whole order is left out
        for line, cells, run, *ref, ext in repo.unresolved_lines(db, table):
            if run is not None:
                self.odd_runs.add(run)
            try:
                resolver.lookup(ref)
            except Reject as exc:
                ctx.reject(line, Staging.cells_of(cells), exc)
                if ext is not None:
                    left_out.setdefault(ext, f"its line {line} was rejected ({exc.reason})")
        self._closed.clear()
        self.line_count = repo.build_order_merge(db, table, self.contiguous, self.odd_runs)
        for line, cells, ext, why in self._cross_check(table):
            ctx.reject(line, Staging.cells_of(cells), why)
            if ext is not None:
                left_out.setdefault(ext, f"its line {line} was rejected ({why.reason})")
            self.line_count -= 1
        for line, cells, ext, first, what in repo.disagreeing_lines(db, table):
            problem = Reject(f"line of order {ext} disagrees with line {first} on {what}", what)
            ctx.reject(line, Staging.cells_of(cells), problem)
            left_out.setdefault(ext, f"its line {line} disagrees with line {first} on {what}")
            self.line_count -= 1
        # an order is stored whole or not at all: never with the total of some of its lines
        for line, cells, ext in repo.drop_orders(db, table, sorted(left_out)):
            ctx.reject(
                line, Staging.cells_of(cells), Reject(f"order {ext} left out: {left_out[ext]}")
            )
            self.line_count -= 1
        refused = dict(repo.refused_orders(db, self.has_lines))
        for line, cells, ext in repo.drop_heads(db, table, sorted(refused)):
            ctx.reject(line, Staging.cells_of(cells), Reject(refused[ext], "amount"))
            self.line_count -= 1
        counts = repo.plan_merged_orders(db, self.has_lines)
        summary = ctx.summary
        summary.inserted += counts["inserted"]
        summary.updated += counts["updated"]
        summary.unchanged += counts["unchanged"]

    def _cross_check(self, table: str) -> list[tuple[Any, ...]]:
        """MERGE: (line, cells, order id, Reject) of the lines whose other reference cells
        name another customer than the one their reference names (another database's
        export: its customer_id is that database's, its email says who is meant); each
        distinct combination of reference and other cells is checked once, and its lines
        are taken out of the merge."""
        resolver = self.ctx.resolver
        assert resolver is not None
        if not self.cross_checked:
            return []
        db = self.ctx.db
        conflicts: list[tuple[str, Any, str, str, str, str]] = []
        for refs in repo.refs_with_others(db, table, 20_000):
            checked = [
                [key, value, raw, "", json.loads(others)] for key, value, raw, others in refs
            ]
            resolver.prefetch(checked)
            for (key, value, _raw, others), ref in zip(refs, checked, strict=True):
                problem = resolver.conflict(ref)
                if problem is not None:
                    conflicts.append(
                        (key, value, others, problem.reason, problem.field, problem.value)
                    )
        if not conflicts:
            return []
        return [
            (line, cells, ext, Reject(reason, fld, value))
            for line, cells, ext, reason, fld, value in repo.take_conflicting_lines(
                db, table, conflicts
            )
        ]

    def end(self) -> None:
        db = self.ctx.db
        repo.resume_order_change_log(db, self.logged)
        repo.drop_merge_tables(db)
        self.ctx.summary.extra["lines"] = self.line_count
        assert self.ctx.resolver is not None
        self.ctx.summary.extra["customers_created"] = self.ctx.resolver.created

    def after_commit(self, progress: Any) -> None:
        """The order indexes a big import deferred, each in a short transaction."""
        if indexes.deferred_count(self.ctx.db):
            progress.step("Building the order indexes")
            indexes.build_deferred(self.ctx.db)


def import_orders(
    db: Any,
    path: str,
    options: ImportOptions,
    currency: str | None = None,
    create_customers: bool = False,
) -> Any:
    """Import (upsert by order id) orders and their lines in one transaction."""
    return run_import(
        db, path, OrderImport, options, currency=currency, create_customers=create_customers
    )
