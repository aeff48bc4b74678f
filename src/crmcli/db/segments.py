"""The segment expression language: a tokenizer and a recursive-descent parser that compile
an expression such as

    tag=vip and (orders>=2 or spend>=1000) and not lifecycle=churned

into an SQL boolean expression over the customers table aliased `c`, with every value a bound
parameter. User text never becomes SQL: field names and operators come from allow-lists, and
errors name the offending token and its column (1-based) in the expression.

Grammar:
    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | primary
    primary    := "(" expr ")" | comparison
    comparison := FIELD OP VALUE          OP: = != ~ !~ < <= > >=
    VALUE      := bare text up to a space or parenthesis, or a "double" / 'single' quoted string

Fields: tag, lifecycle, owner (= !=); name, company, email, phone (= != ~ !~, ~ = contains,
case-insensitive); created, last_contact, last_order (a date: created>=2024-01-01, or an age:
last_contact>90d = last contacted more than 90 days ago, or never); orders (count), spend
(total order amount, decimal); rfm (an RFM segment: rfm=champions, rfm=at_risk).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crmcli.core.errors import InvalidInput

MAX_DEPTH = 100  # parentheses and `not`s
MAX_BYTES = 10_000
MAX_COMPARISONS = 500  # SQLite's expression trees are at most 1000 deep
OPERATORS = ("!=", ">=", "<=", "!~", "=", "~", "<", ">")
KEYWORDS = {"and": "AND", "or": "OR", "not": "NOT", "&&": "AND", "||": "OR"}
TEXT_FIELDS = {"name": "c.name", "company": "c.company", "email": "c.email", "phone": "c.phone"}
EXACT_FIELDS = {"lifecycle": "c.lifecycle", "owner": "c.owner"}
TIME_FIELDS = {
    "created": "c.created_at",
    "last_contact": "(SELECT max(m.occurred_at) FROM communications m WHERE m.customer_id = c.id)",
    "last_order": "(SELECT max(o.ordered_at) FROM orders o WHERE o.customer_id = c.id)",
}
NUMBER_FIELDS = {
    "orders": "(SELECT count(*) FROM orders o WHERE o.customer_id = c.id AND o.ordered_at <= ?)",
    "spend": "(SELECT coalesce(sum(o.amount), 0) FROM orders o"
    " WHERE o.customer_id = c.id AND o.ordered_at <= ? AND o.currency = ?)",
}
FIELD_ALIASES = {
    "tags": "tag",
    "stage": "lifecycle",
    "created_at": "created",
    "lastcontact": "last_contact",
    "last_contacted": "last_contact",
    "lastorder": "last_order",
    "order_count": "orders",
    "revenue": "spend",
    "segment": "rfm",
}
ALL_FIELDS = sorted(
    {"tag", "rfm", "company.industry", "company.size", "custom.NAME", *TEXT_FIELDS,
     *EXACT_FIELDS, *TIME_FIELDS, *NUMBER_FIELDS}
)  # fmt: skip
_AGE = re.compile(r"^(\d+)\s*(h|d|w|m|mo|y)$", re.IGNORECASE)
_AGE_UNITS = {"h": 1 / 24, "d": 1, "w": 7, "m": 30, "mo": 30, "y": 365}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


class SegmentError(InvalidInput):
    """A malformed segment expression; `position` is the 1-based column of the bad token."""

    def __init__(self, message: str, expression: str, position: int) -> None:
        self.position = position
        shown = expression[: position - 1] + "»" + expression[position - 1 :]
        super().__init__(
            f"segment expression, column {position}: {message}",
            hint=f"in: {shown}",
        )


@dataclass(frozen=True)
class Token:
    kind: str  # FIELD, OP, VALUE, AND, OR, NOT, LPAREN, RPAREN, END
    text: str
    position: int  # 1-based column


def tokenize(expression: str) -> list[Token]:
    """Split an expression into tokens; a value is read only right after an operator."""
    tokens: list[Token] = []
    i = 0
    n = len(expression)
    while i < n:
        ch = expression[i]
        if ch.isspace():
            i += 1
            continue
        start = i + 1
        if ch in "()":
            tokens.append(Token("LPAREN" if ch == "(" else "RPAREN", ch, start))
            i += 1
            continue
        if expression.startswith(("&&", "||"), i):
            tokens.append(Token(KEYWORDS[expression[i : i + 2]], expression[i : i + 2], start))
            i += 2
            continue
        op = next((o for o in OPERATORS if expression.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token("OP", op, start))
            i += len(op)
            while i < n and expression[i].isspace():
                i += 1
            if i >= n:
                raise SegmentError(f"missing a value after {op!r}", expression, n + 1)
            vstart = i + 1
            if expression[i] in "\"'":
                quote = expression[i]
                end = expression.find(quote, i + 1)
                if end < 0:
                    raise SegmentError("unterminated quoted value", expression, vstart)
                tokens.append(Token("VALUE", expression[i + 1 : end], vstart))
                i = end + 1
            else:
                j = i
                while j < n and not expression[j].isspace() and expression[j] not in "()":
                    j += 1
                if j == i:
                    raise SegmentError(f"missing a value after {op!r}", expression, vstart)
                tokens.append(Token("VALUE", expression[i:j], vstart))
                i = j
            continue
        if ch.isalpha() or ch == "_":
            j = i
            while j < n and (expression[j].isalnum() or expression[j] in "_."):
                j += 1
            word = expression[i:j]
            kind = KEYWORDS.get(word.lower(), "FIELD")
            tokens.append(Token(kind, word, start))
            i = j
            continue
        if ch == "!":
            tokens.append(Token("NOT", ch, start))
            i += 1
            continue
        raise SegmentError(f"unexpected character {ch!r}", expression, start)
    tokens.append(Token("END", "", n + 1))
    return tokens


class _Parser:
    def __init__(self, expression: str, now: datetime, db: Any = None) -> None:
        self.db = db
        self.expression = expression
        self.tokens = tokenize(expression)
        self.pos = 0
        self.now = now
        self.now_iso = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.depth = 0
        comparisons = sum(1 for t in self.tokens if t.kind == "OP")
        if comparisons > MAX_COMPARISONS:
            raise InvalidInput(
                f"segment has {comparisons} comparisons; at most {MAX_COMPARISONS} are allowed"
            )

    # -- helpers ---------------------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, message: str, token: Token) -> SegmentError:
        return SegmentError(message, self.expression, token.position)

    # -- grammar ---------------------------------------------------------------------
    def parse(self) -> tuple[str, list[Any]]:
        if self.peek().kind == "END":
            raise self.fail("empty expression", self.peek())
        sql, params = self.expr()
        token = self.peek()
        if token.kind != "END":
            what = "')' without a matching '('" if token.kind == "RPAREN" else repr(token.text)
            raise self.fail(f"unexpected {what}; expected 'and', 'or' or the end", token)
        return sql, params

    # A chain `a or b or c ...` becomes one flat SQL list (a nested one overflows SQLite's
    # parser after ~100 terms); nesting and the number of comparisons are bounded.
    def expr(self) -> tuple[str, list[Any]]:
        sql, params = self.and_expr()
        parts = [sql]
        while self.peek().kind == "OR":
            self.take()
            right, more = self.and_expr()
            parts.append(right)
            params = params + more
        return (parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"), params

    def and_expr(self) -> tuple[str, list[Any]]:
        sql, params = self.not_expr()
        parts = [sql]
        while self.peek().kind == "AND":
            self.take()
            right, more = self.not_expr()
            parts.append(right)
            params = params + more
        return (parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"), params

    def _deeper(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep", token)

    def not_expr(self) -> tuple[str, list[Any]]:
        if self.peek().kind == "NOT":
            self._deeper(self.take())
            sql, params = self.not_expr()
            self.depth -= 1
            return f"(NOT coalesce({sql}, 0))", params
        return self.primary()

    def primary(self) -> tuple[str, list[Any]]:
        token = self.take()
        if token.kind == "LPAREN":
            self._deeper(token)
            sql, params = self.expr()
            self.depth -= 1
            closing = self.take()
            if closing.kind != "RPAREN":
                raise self.fail(
                    f"expected ')' to close the '(' at column {token.position}", closing
                )
            return sql, params
        if token.kind == "FIELD":
            op = self.take()
            if op.kind != "OP":
                raise self.fail(
                    f"expected an operator (=, !=, ~, <, <=, >, >=) after {token.text!r}", op
                )
            value = self.take()
            assert value.kind == "VALUE"
            return self.comparison(token, op, value)
        if token.kind == "END":
            raise self.fail("expression ends too early; expected a condition", token)
        raise self.fail(f"expected a condition such as tag=vip, got {token.text!r}", token)

    # -- conditions ------------------------------------------------------------------
    def comparison(self, field: Token, op: Token, value: Token) -> tuple[str, list[Any]]:
        # Dispatch only: each kind of field builds its SQL in its own helper below.
        name = field.text.lower()
        name = FIELD_ALIASES.get(name, name)
        if name.startswith("custom."):
            return self.custom_condition(field, op, value)
        if name == "company" or name.startswith("company."):
            return self.company_condition(field, op, value)
        if name == "tag":
            return self._tag_condition(name, op, value)
        if name in EXACT_FIELDS:
            return self._exact_condition(name, op, value)
        if name in TEXT_FIELDS:
            return self._text_condition(name, op, value)
        if name in TIME_FIELDS:
            return self.time_condition(name, op, value)
        if name in NUMBER_FIELDS:
            return self._number_condition(name, op, value)
        if name == "rfm":
            return self._rfm_condition(name, op, value)
        raise self.fail(f"unknown field {field.text!r}; known: {', '.join(ALL_FIELDS)}", field)

    def _tag_condition(self, name: str, op: Token, value: Token) -> tuple[str, list[Any]]:
        """tag=T / tag!=T: whether the customer carries the tag."""
        self.ops(op, ("=", "!="), name)
        sql = "EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = ?)"
        return (sql if op.text == "=" else f"NOT {sql}"), [value.text]

    def _exact_condition(self, name: str, op: Token, value: Token) -> tuple[str, list[Any]]:
        """An exact-match field; lifecycle values are normalized first so a typo is an
        error at the value rather than an empty segment."""
        self.ops(op, ("=", "!="), name)
        text = value.text
        if name == "lifecycle":
            from crmcli.core.validate import LIFECYCLES, normalize_enum

            try:
                text = normalize_enum(text, LIFECYCLES, "lifecycle")
            except InvalidInput as exc:
                raise self.fail(exc.message, value) from None
        column = EXACT_FIELDS[name]
        if op.text == "=":
            return f"{column} = ?", [text]
        # != must also match rows where the column is NULL
        return f"({column} IS NULL OR {column} != ?)", [text]

    def _text_condition(self, name: str, op: Token, value: Token) -> tuple[str, list[Any]]:
        """A free-text field: = / != case-insensitively, ~ / !~ as an escaped substring."""
        self.ops(op, ("=", "!=", "~", "!~"), name)
        text = value.text
        column = TEXT_FIELDS[name]
        if op.text in ("=", "!="):
            sql = f"{column} = ? COLLATE NOCASE"
            return (sql if op.text == "=" else f"NOT coalesce({sql}, 0)"), [text]
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql = f"{column} LIKE ? ESCAPE '\\'"
        return (sql if op.text == "~" else f"NOT coalesce({sql}, 0)"), [like]

    def _number_condition(self, name: str, op: Token, value: Token) -> tuple[str, list[Any]]:
        """spend (a money amount) or orders (a whole number), compared as of now_iso."""
        self.ops(op, ("=", "!=", "<", "<=", ">", ">="), name)
        text = value.text
        if name == "spend":
            from crmcli.core.validate import parse_money

            try:
                number: int = parse_money(text, "spend")
            except InvalidInput:
                raise self.fail(f"spend needs an amount, got {text!r}", value) from None
            currency = self._spend_currency(value)
            return f"{NUMBER_FIELDS[name]} {op.text} ?", [self.now_iso, currency, number]
        else:
            if not re.fullmatch(r"\d+", text):
                raise self.fail(f"orders needs a whole number, got {text!r}", value)
            number = int(text)
        return f"{NUMBER_FIELDS[name]} {op.text} ?", [self.now_iso, number]

    def _spend_currency(self, value: Token) -> str:
        """The one currency a spend comparison sums: the one the amount names (`€1000`,
        `1000CNY`), else the only one the orders are in. Amounts in two currencies are
        never added up, so with orders in several and none named it is refused."""
        from crmcli.core.validate import amount_currencies

        named = amount_currencies(value.text)
        used: list[str] = []
        if self.db is not None:
            used = [r[0] for r in self.db.execute("SELECT DISTINCT currency FROM orders")]
        if named is not None:
            fits = sorted(named & set(used)) if len(named) > 1 else sorted(named)
            if len(fits) == 1:
                return fits[0]
            if not fits:  # no order in any currency it can mean: nobody has spent any
                return sorted(named)[0]
            raise self.fail(
                f"spend {value.text!r} can be {' or '.join(fits)}; write the code "
                f"(spend>1000{fits[0]})",
                value,
            )
        if len(used) > 1:
            codes = ", ".join(sorted(used))
            raise self.fail(
                f"orders are in {len(used)} currencies ({codes}) and spend sums one of them: say "
                f"which, e.g. spend>1000{sorted(used)[0]} or spend>€1000",
                value,
            )
        return used[0] if used else "CNY"

    def _rfm_condition(self, name: str, op: Token, value: Token) -> tuple[str, list[Any]]:
        """rfm=SEGMENT: membership in an RFM segment computed as of now_iso."""
        self.ops(op, ("=", "!="), name)
        from crmcli.core.rfm import SEGMENTS, normalize_segment
        from crmcli.db.order_stats import rfm_sql

        text = value.text
        segment = normalize_segment(text)
        if segment is None:
            raise self.fail(f"unknown RFM segment {text!r}; known: {', '.join(SEGMENTS)}", value)
        inner = f"SELECT customer_id FROM ({rfm_sql('?')}) WHERE segment = ?"
        sql = f"c.id {'IN' if op.text == '=' else 'NOT IN'} ({inner})"
        return sql, [self.now_iso, segment]

    def company_condition(self, field: Token, op: Token, value: Token) -> tuple[str, list[Any]]:
        """company=NAME (the linked company by normalized name, or the company text as
        before), company~text (the text), company.industry=I, company.size>=N."""
        name = field.text.lower()
        text = value.text
        if name == "company":
            self.ops(op, ("=", "!=", "~", "!~"), name)
            if op.text in ("~", "!~"):
                like = (
                    "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                )
                sql = "c.company LIKE ? ESCAPE '\\'"
                return (sql if op.text == "~" else f"NOT coalesce({sql}, 0)"), [like]
            import unicodedata

            key = " ".join(unicodedata.normalize("NFKC", text).split()).casefold()
            sql = (
                "(c.company_id IN (SELECT id FROM companies WHERE name_key = ?)"
                " OR c.company = ? COLLATE NOCASE)"
            )
            return (sql if op.text == "=" else f"NOT coalesce({sql}, 0)"), [key, text]
        sub = name.split(".", 1)[1]
        if sub == "industry":
            self.ops(op, ("=", "!="), name)
            sql = "c.company_id IN (SELECT id FROM companies WHERE industry = ? COLLATE NOCASE)"
            return (sql if op.text == "=" else f"NOT coalesce({sql}, 0)"), [text]
        if sub == "size":
            self.ops(op, ("=", "!=", "<", "<=", ">", ">="), name)
            if not re.fullmatch(r"\d+", text):
                raise self.fail(f"company.size needs a whole number, got {text!r}", value)
            return (
                f"c.company_id IN (SELECT id FROM companies WHERE size {op.text} ?)",
                [int(text)],
            )
        raise self.fail(
            f"unknown company field {field.text!r}; known: company, company.industry, company.size",
            field,
        )

    def custom_condition(self, field: Token, op: Token, value: Token) -> tuple[str, list[Any]]:
        """custom.NAME OP VALUE over the typed values table (an index range per field)."""
        from crmcli.db import fields

        name = field.text.split(".", 1)[1]
        self.ops(op, ("=", "!=", "<", "<=", ">", ">=", "~", "!~"), field.text)
        negate = op.text in ("!=", "!~")
        base = {"!=": "=", "!~": "~"}.get(op.text, op.text)
        definition = None
        if self.db is not None:
            found = [f for f in fields.list_fields(self.db, "customer") if f["name"] == name]
            if not found:
                known = ", ".join(f["name"] for f in fields.list_fields(self.db, "customer"))
                raise self.fail(
                    f"no customer custom field {name!r}; fields: {known or 'none'}", field
                )
            definition = found[0]
        kind = definition["type"] if definition else None
        if kind is None:  # no database at hand: the value's shape decides the column
            kind = "number" if re.fullmatch(r"-?\d+(\.\d+)?", value.text) else "text"
        if base == "~" and kind in fields.NUMERIC:
            raise self.fail(f"~ needs a text field; {name} is a {kind} field", op)
        param: Any = value.text
        if kind == "number":
            try:
                param = float(value.text)
            except ValueError:
                raise self.fail(f"{name} is a number field, got {value.text!r}", value) from None
        elif kind == "bool":
            low = value.text.lower()
            if low not in fields.TRUE_WORDS | fields.FALSE_WORDS:
                raise self.fail(f"{name} is a yes/no field, got {value.text!r}", value)
            param = 1.0 if low in fields.TRUE_WORDS else 0.0
        elif kind == "date":
            from crmcli.core.validate import parse_date

            try:
                param = parse_date(value.text, name).isoformat()
            except InvalidInput:
                raise self.fail(f"{name} is a date field, got {value.text!r}", value) from None
        elif base == "~":
            param = (
                "%" + value.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
        column = "value_num" if kind in fields.NUMERIC else "value_text"
        cond = f"{column} LIKE ? ESCAPE '\\'" if base == "~" else f"{column} {base} ?"
        if definition is not None:
            sql = f"c.id IN (SELECT entity_id FROM custom_values WHERE field_id = ? AND {cond})"
            params = [int(definition["id"]), param]
        else:
            sql = (
                "c.id IN (SELECT v.entity_id FROM custom_values v WHERE v.field_id ="
                " (SELECT id FROM custom_fields WHERE entity = 'customer' AND name = ?)"
                f" AND v.{cond})"
            )
            params = [name, param]
        return (f"NOT {sql}" if negate else sql), params

    def ops(self, op: Token, allowed: tuple[str, ...], name: str) -> None:
        if op.text not in allowed:
            raise self.fail(
                f"operator {op.text!r} does not apply to {name}; use {' '.join(allowed)}", op
            )

    def time_condition(self, name: str, op: Token, value: Token) -> tuple[str, list[Any]]:
        self.ops(op, ("=", "!=", "<", "<=", ">", ">="), name)
        column = TIME_FIELDS[name]
        age = _AGE.match(value.text.strip())
        if age:
            # An age: last_contact>90d means "more than 90 days ago" (or never).
            if op.text in ("=", "!="):
                raise self.fail(f"use <, <=, > or >= with an age such as {value.text}", op)
            days = int(age.group(1)) * _AGE_UNITS[age.group(2).lower()]
            cutoff = (self.now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
            flipped = _FLIP[op.text]
            if op.text in (">", ">="):  # older than the cutoff, or no such event at all
                return f"coalesce({column} {flipped} ?, 1)", [cutoff]
            return f"coalesce({column} {flipped} ?, 0)", [cutoff]
        from crmcli.core.validate import parse_datetime

        try:
            moment = parse_datetime(value.text, name)
        except InvalidInput as exc:
            if exc.message.startswith("ambiguous"):  # 03/05/2024: --date-order decides
                raise self.fail(exc.message, value) from None
            raise self.fail(
                f"{name} needs a date (2024-01-01) or an age (90d, 6m), got {value.text!r}", value
            ) from None
        has_clock = bool(re.search(r"\d[:时]\d|T\d", value.text))
        start = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        end = (moment + timedelta(seconds=1 if has_clock else 86400)).strftime("%Y-%m-%dT%H:%M:%SZ")
        # A date means the whole day: > 2024-01-01 is from 2024-01-02 on.
        sql_by_op = {
            "=": (f"({column} >= ? AND {column} < ?)", [start, end]),
            "!=": (f"NOT coalesce({column} >= ? AND {column} < ?, 0)", [start, end]),
            ">=": (f"{column} >= ?", [start]),
            ">": (f"{column} >= ?", [end]),
            "<": (f"{column} < ?", [start]),
            "<=": (f"{column} < ?", [end]),
        }
        sql, params = sql_by_op[op.text]
        return f"coalesce({sql}, 0)", params


def compile_segment(
    expr: str, now: datetime | None = None, db: Any = None
) -> tuple[str, list[Any]]:
    """Compile a segment expression into (SQL boolean over `customers c`, bound params).

    With `db`, custom.NAME conditions are checked against the field definitions (an
    unknown field or a value of the wrong type is an error)."""
    from crmcli.core import clock

    if expr is None or not str(expr).strip():
        raise InvalidInput("empty segment expression")
    if len(str(expr).encode("utf-8", "surrogateescape")) > MAX_BYTES:
        raise InvalidInput(f"segment expression longer than {MAX_BYTES:,} bytes")
    moment = (now or clock.now()).astimezone(UTC)
    return _Parser(str(expr), moment, db).parse()


def describe_fields() -> list[str]:
    return list(ALL_FIELDS)
