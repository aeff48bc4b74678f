"""Order field rules for the import pipeline (`crm order import`).

Rows sharing an order id (`external_id`) are lines of ONE order: each line's amount is its
`line_amount`, else `amount`, else quantity x unit_price; the order's total is the sum of its
lines, and the lines are stored in `order_lines` (sku, product, quantity, unit price, amount)
when the file has line columns or an order has several rows. Lines of one order must agree
on customer, date and currency. Importing the same file again changes nothing.

Required: the customer reference, ordered_at and an amount (or quantity and unit price).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from crmcli.core.errors import InvalidInput
from crmcli.core.validate import check_amount_currency, normalize_currency
from crmcli.db import indexes
from crmcli.db import orders as repo
from crmcli.importing.pipeline import (
    Context,
    Entity,
    ImportOptions,
    Reject,
    Staged,
    run_import,
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
    "lineamount": "line_amount",
    "linetotal": "line_amount",
    "小计": "line_amount",
}


@dataclass(slots=True)
class _Order:
    line: int  # first line of the file naming it
    cells: list[str]
    customer_id: int
    ordered_at: str
    currency: str
    lines: list[tuple[str | None, str | None, float | None, int | None, int]] = field(
        default_factory=list
    )


def _quantity(raw: str) -> float:
    try:
        value = Decimal(raw.strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidInput(f"invalid quantity {raw.strip()!r}") from None
    if not value.is_finite() or abs(value) >= 10**9:
        raise InvalidInput(f"invalid quantity {raw.strip()!r}")
    return int(value) if value == value.to_integral_value() else float(value)


def _disagreement(
    ext: str, order: _Order, customer_id: int, ordered_at: str, currency: str
) -> Reject | None:
    """Why a further line of an order cannot be one of its lines (or None)."""
    for what, mine, theirs in (
        ("customer", customer_id, order.customer_id),
        ("ordered_at", ordered_at, order.ordered_at),
        ("currency", currency, order.currency),
    ):
        if mine != theirs:
            return Reject(
                f"line of order {ext} disagrees with line {order.line} on {what}", what, ""
            )
    return None


INDEX_REBUILD_MIN_ROWS = 50_000


class OrderImport(Entity):
    name = "order"
    audit_entity = "order"
    fields = ORDER_FIELDS
    aliases = ORDER_ALIASES
    money_fields = ("amount", "unit_price", "line_amount")
    date_fields = ("ordered_at",)

    def __init__(self, ctx: Context, currency: str = "CNY", create_customers: bool = False):
        super().__init__(ctx)
        self.default_currency = normalize_currency(currency)
        self.create_customers = create_customers
        self.currencies: dict[str, str] = {}
        self.line_count = 0

    def check_columns(self, present: set[str]) -> None:
        missing = [f for f in ("ordered_at",) if f not in present]
        if not present & {"amount", "line_amount"} and not {"quantity", "unit_price"} <= present:
            missing.append("amount")
        if missing:
            raise InvalidInput(f"no column for: {', '.join(missing)} (use --map SRC=FIELD)")
        self.has_lines = bool(present & set(LINE_FIELDS))

    def start(self) -> None:
        db = self.ctx.db
        self.logged = repo.suspend_order_change_log(db)
        # A big import into a small table: build the secondary indexes once at the end.
        big = self.ctx.source.estimated_rows >= max(INDEX_REBUILD_MIN_ROWS, repo.count_orders(db))
        self.indexes = indexes.suspend_secondary_indexes(db, "orders") if big else []

    def row(self, line: int, record: dict[str, str], cells: list[str]) -> Any:
        """STAGING: order id, customer reference, time, currency and the line's item."""
        ctx = self.ctx
        ordered_at = ctx.required(
            "ordered_at", record.get("ordered_at"), lambda t: ctx.time("ordered_at", t)
        )
        qty = self._optional_number(line, cells, record, "quantity", _quantity)
        unit = self._optional_number(
            line, cells, record, "unit_price", lambda t: ctx.money("unit_price", t)
        )
        amount: int | None = None
        for fld in ("line_amount", "amount"):
            raw = (record.get(fld) or "").strip()
            if raw:
                amount = ctx.required(fld, raw, partial(ctx.money, fld))
                break
        if amount is None:
            if qty is None or unit is None:
                raise Reject("no amount", "amount", "")
            amount = round(qty * unit)
        raw_currency = record.get("currency") or ""
        currency = self.currencies.get(raw_currency)
        if currency is None:
            currency = ctx.required(
                "currency",
                raw_currency or self.default_currency,
                lambda t: normalize_currency(t, self.default_currency),
            )
            self.currencies[raw_currency] = currency
        for fld in ("amount", "line_amount", "unit_price"):
            cell = record.get(fld)
            if cell:
                try:
                    check_amount_currency(cell, currency)
                except InvalidInput as exc:
                    raise Reject(exc.message, fld, cell.strip()) from None
        assert ctx.resolver is not None
        ref = ctx.resolver.reference(record)
        sku = (record.get("sku") or "").strip() or None
        product = " ".join((record.get("product") or "").split()) or None
        ext = (record.get("external_id") or "").strip() or None
        return [ext, ref, ordered_at, currency, [sku, product, qty, unit, amount]]

    def group(self, data: Any) -> str | None:
        """The lines of one order (same order id) are merged together."""
        return data[0]  # type: ignore[no-any-return]

    def _optional_number(
        self, line: int, cells: list[str], record: dict[str, str], fld: str, parse: Any
    ) -> Any:
        raw = (record.get(fld) or "").strip()
        return self.ctx.optional(line, cells, fld, raw, parse) if raw else None

    def merge(self, rows: list[Staged]) -> None:
        """Orders from their staged lines (every line of an order is in this batch),
        resolved against the current data, written."""
        ctx = self.ctx
        assert ctx.resolver is not None
        ctx.resolver.prefetch([r.data[1] for r in rows])
        keyed: dict[str, _Order] = {}
        unkeyed: list[_Order] = []
        for staged in rows:
            ext, ref, ordered_at, currency, item = staged.data
            try:
                customer_id = ctx.resolver.lookup(ref)
            except Reject as exc:
                ctx.reject(staged.line, staged.cells, exc)
                continue
            self.line_count += 1
            order = keyed.get(ext) if ext is not None else None
            if order is None:
                new = _Order(staged.line, staged.cells, customer_id, ordered_at, currency)
                new.lines.append(tuple(item))
                if ext is None:
                    unkeyed.append(new)
                else:
                    keyed[ext] = new
                continue
            problem = _disagreement(ext, order, customer_id, ordered_at, currency)
            if problem:
                ctx.reject(staged.line, staged.cells, problem)
                continue
            order.lines.append(tuple(item))
        if keyed or unkeyed:
            self._write(keyed, unkeyed)

    def _write(self, keyed: dict[str, _Order], unkeyed: list[_Order]) -> None:
        db = self.ctx.db
        summary = self.ctx.summary
        stored = repo.order_states(db, list(keyed))
        stored_lines = repo.lines_of(db, [old[0] for old in stored.values()])
        stamp = self.ctx.now
        writes: list[tuple[Any, ...]] = []
        outcomes: list[int | None] = []  # None inserts, an id updates that order
        for order in unkeyed:
            writes.append(
                (
                    None,
                    order.customer_id,
                    order.ordered_at,
                    order.lines[0][4],
                    order.currency,
                    stamp,
                    stamp,
                )
            )
            outcomes.append(None)
            summary.inserted += 1
        lined: dict[str, list[tuple[Any, ...]]] = {}
        for ext, order in keyed.items():
            old = stored.get(ext)
            before = stored_lines.get(old[0], []) if old else []
            lines = order.lines
            total = sum(item[4] for item in lines)
            keep_lines = self.has_lines or len(lines) > 1
            row = (ext, order.customer_id, order.ordered_at, total, order.currency, stamp, stamp)
            same_order = old is not None and old[1:] == row[1:5]
            same_lines = not keep_lines or before == lines
            if old is None:
                summary.inserted += 1
            elif same_order and same_lines:
                summary.unchanged += 1
            else:
                summary.updated += 1
            if not same_order:
                writes.append(row)
                outcomes.append(None if old is None else old[0])
            if not same_lines:
                lined[ext] = lines
        repo.upsert_orders(db, writes, outcomes, self.logged)
        if lined:
            ids = repo.ids_by_external_id(db, list(lined))
            repo.replace_lines(db, {ids[ext]: lines for ext, lines in lined.items()})

    def end(self) -> None:
        db = self.ctx.db
        repo.resume_order_change_log(db, self.logged)
        indexes.resume_indexes(db, self.indexes)
        self.ctx.summary.extra["lines"] = self.line_count
        assert self.ctx.resolver is not None
        self.ctx.summary.extra["customers_created"] = self.ctx.resolver.created


def import_orders(
    db: Any,
    path: str,
    options: ImportOptions,
    currency: str = "CNY",
    create_customers: bool = False,
) -> Any:
    """Import (upsert by order id) orders and their lines in one transaction."""
    return run_import(
        db, path, OrderImport, options, currency=currency, create_customers=create_customers
    )
