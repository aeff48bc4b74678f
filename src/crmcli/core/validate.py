"""Normalisers for user input: phones (E.164), emails, dates and times, durations, enums.

Every function either returns the normal form or raises InvalidInput with a message that
names the field and the offending value. Pure functions: no database, no output.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from crmcli.core.clock import local_zone
from crmcli.core.errors import InvalidInput

# ---------------------------------------------------------------- enums and aliases

LIFECYCLES = ("lead", "prospect", "customer", "churned")
CHANNELS = ("phone", "email", "meeting", "chat", "sms", "visit", "social", "other")
DIRECTIONS = ("inbound", "outbound")
PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("open", "in_progress", "waiting", "resolved", "closed")
CAMPAIGN_CHANNELS = ("email", "sms", "phone", "event", "social", "ads")
CAMPAIGN_RESULTS = ("pending", "success", "failure")

ALIASES: dict[str, dict[str, str]] = {
    "ticket_status": {
        "未处理": "open",
        "处理中": "in_progress",
        "已处理": "resolved",
        "已关闭": "closed",
        "等待": "waiting",
        "in progress": "in_progress",
        "in-progress": "in_progress",
        "new": "open",
        "pending": "waiting",
    },
    "campaign_result": {"成功": "success", "失败": "failure", "待定": "pending"},
    "lifecycle": {
        "潜在客户": "lead",
        "意向客户": "prospect",
        "客户": "customer",
        "流失": "churned",
    },
    "channel": {
        "电话": "phone",
        "邮件": "email",
        "邮箱": "email",
        "会议": "meeting",
        "聊天": "chat",
        "短信": "sms",
        "拜访": "visit",
        "社交": "social",
        "其他": "other",
        "call": "phone",
        "e-mail": "email",
        "mail": "email",
    },
    "direction": {"呼入": "inbound", "呼出": "outbound", "in": "inbound", "out": "outbound"},
    "priority": {"低": "low", "普通": "normal", "中": "normal", "高": "high", "紧急": "urgent"},
}


def normalize_enum(value: str, allowed: tuple[str, ...], field: str, alias_key: str = "") -> str:
    """Map value (case-insensitive, aliases accepted) to one of `allowed`, or raise."""
    text = value.strip()
    low = text.lower()
    if low in allowed:
        return low
    aliases = ALIASES.get(alias_key or field, {})
    if text in aliases:
        return aliases[text]
    if low in aliases:
        return aliases[low]
    raise InvalidInput(f"invalid {field} {value!r}; expected one of: {', '.join(allowed)}")


# ---------------------------------------------------------------- text, email

# The ASCII dot-atom local part (RFC 5322 atext, no leading/trailing/double dot, <= 64):
# exactly what email-validator accepts for an ASCII local part, checked without calling it
# (the library costs ~0.5 ms per address; an import of a million rows cannot pay that).
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def clean_text(value: object) -> str | None:
    """Trim and fold internal whitespace runs; empty becomes None."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def normalize_email(value: str | None) -> str | None:
    """An e-mail address checked by email-validator (syntax only, never DNS), normalised:
    lower case, the domain in its Unicode form (IDNA ``xn--`` labels decoded, NFC), so
    ``jeff@XN--FIQQ24B10VI0D.tw`` and ``jeff@臺網中心.tw`` are one address. Quoted local parts
    and internationalised (RFC 6531) addresses are accepted; empty is None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise InvalidInput(f"malformed email {text!r}: an address needs one @ and a domain")
    try:
        normal_domain, ascii_domain = _email_domain(domain.lower())
        if len(local) <= 64 and _DOT_ATOM.fullmatch(local):
            normal_local = local.lower()
        else:
            normal_local = _email_local(local)
    except ValueError as exc:
        raise InvalidInput(f"malformed email {text!r}: {exc}") from None
    if len(normal_local) + 1 + len(ascii_domain) > 254:
        raise InvalidInput(f"malformed email {text!r}: longer than 254 characters")
    return f"{normal_local}@{normal_domain}"


def email_match_keys(email: str) -> list[str]:
    """The forms of a normalised address that can be stored for it: the Unicode form and,
    for an IDN domain, the ``xn--`` form (stored by older versions or other systems)."""
    local, _, domain = email.rpartition("@")
    try:
        ascii_domain = _email_domain(domain)[1]
    except ValueError:
        return [email]
    return [email] if ascii_domain == domain else [email, f"{local}@{ascii_domain}"]


@lru_cache(maxsize=65536)
def _email_domain(domain: str) -> tuple[str, str]:
    """(Unicode form, ASCII form) of a domain, per email-validator; cached per domain."""
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.domain.lower(), (checked.ascii_domain or checked.domain).lower()


def _email_local(local: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(
            f"{local}@example.com", check_deliverability=False, allow_quoted_local=True
        )
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.local_part.lower()


# ---------------------------------------------------------------- phones

_CN_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_STRIP = re.compile(r"[\s\-().\u00a0/]")
_NANP = re.compile(r"\+1[2-9][0-9]{9}", re.ASCII)  # with fullmatch()


@lru_cache(maxsize=8)
def _country_code(region: str) -> int:
    import phonenumbers

    code = phonenumbers.country_code_for_region(region.upper())
    if not code:
        raise InvalidInput(f"unknown phone region {region!r}; use an ISO code such as CN or US")
    return int(code)


def normalize_phone(value: str | None, region: str = "CN") -> str | None:
    """Return the E.164 form of a phone number, or raise InvalidInput; empty is None.

    Chinese mobile numbers (the bulk of most lists) take a fast path; anything else goes
    through Google's libphonenumber rules via `phonenumbers`.
    """
    if value is None:
        return None
    raw = str(value).strip()
    if not raw:
        return None
    compact = _STRIP.sub("", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if region.upper() == "CN":
        digits = compact[3:] if compact.startswith("+86") else compact
        if _CN_MOBILE.match(digits):
            return "+86" + digits
    import phonenumbers

    if _NANP.fullmatch(compact):
        # "+1" and a 10-digit number whose area code starts 2-9: parse() would give exactly
        # this number (no national prefix to strip, no extension), so skip its text scanning.
        # Valid for the US (first of +1's regions, no leading-digit rule) means valid: the
        # region lookup of is_valid_number() would pick the US and run the same test again.
        number = phonenumbers.PhoneNumber(country_code=1, national_number=int(compact[2:]))
        if phonenumbers.is_valid_number_for_region(number, "US"):
            return compact
        if not phonenumbers.is_valid_number(number):
            raise InvalidInput(f"impossible phone {raw!r}")
        return compact

    try:
        parsed = phonenumbers.parse(compact, region.upper())
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"impossible phone {raw!r}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"impossible phone {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# ---------------------------------------------------------------- dates and times

_RELATIVE = re.compile(r"^([+-])\s*(\d+)\s*(m|min|h|d|w|mo)$", re.IGNORECASE)
_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(h|hr|hrs|hours?|m|min|mins|minutes?|s|sec|secs|seconds?|d|days?|w|weeks?)",
    re.IGNORECASE,
)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


_ISO = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)


def parse_datetime(value: str, field: str = "time", base: datetime | None = None) -> datetime:
    """Parse user input into an aware UTC datetime.

    Accepts ISO dates and times, common forms ('2021/1/1', '2021-01-01 10:00', '1 Mar 2024'),
    Chinese dates ('2024年3月5日'), 'now', 'today', 'tomorrow 9am', 'yesterday', and offsets
    from now ('+3d', '-2h', '+30m', '+1w'). Naive input is read in the configured zone.
    """
    text = str(value).strip()
    if not text:
        raise InvalidInput(f"empty {field}")
    if _ISO.match(text):
        # The common case (scripts, imports, --as-of): the stdlib parser, no dateutil import.
        try:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=local_zone())
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            pass  # the general path below gives the error message
    from dateutil import parser as dateutil_parser

    from crmcli.core.clock import now

    zone = local_zone()
    current = (base or now()).astimezone(zone)
    low = text.lower()
    match = _RELATIVE.match(low)
    if match:
        sign, amount, unit = match.groups()
        n = int(amount) * (1 if sign == "+" else -1)
        unit = unit.lower()
        if unit == "mo":
            delta = timedelta(days=30 * n)
        else:
            delta = timedelta(seconds=n * _DURATION_UNITS[unit[0] if unit != "min" else "m"])
        return (current + delta).astimezone(UTC)
    if low == "now":
        return current.astimezone(UTC)
    day_words = {"today": 0, "tomorrow": 1, "yesterday": -1, "今天": 0, "明天": 1, "昨天": -1}
    for word, offset in day_words.items():
        if low.startswith(word):
            rest = low[len(word) :].strip()
            day = current.date() + timedelta(days=offset)
            at_time = time(0, 0)
            if rest:
                try:
                    at_time = dateutil_parser.parse(rest, default=datetime(2000, 1, 1)).time()
                except (ValueError, OverflowError):
                    raise InvalidInput(f"invalid {field} {value!r}") from None
            return datetime.combine(day, at_time, tzinfo=zone).astimezone(UTC)
    cn = re.match(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?\s*(.*)$", text)
    if cn:
        year, month, day_s, rest = cn.groups()
        text = f"{year}-{int(month):02d}-{int(day_s):02d} {rest}".strip()
    try:
        parsed = dateutil_parser.parse(text, default=datetime(2000, 1, 1))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError, TypeError):
        # dateutil parses '+25:00' but datetime refuses the offset; years past 9999 overflow.
        raise InvalidInput(f"invalid {field} {value!r}; use a form like 2024-03-05 14:30") from None


def parse_date(value: str, field: str = "date") -> date:
    """Parse a calendar date (in the configured zone)."""
    return parse_datetime(value, field).astimezone(local_zone()).date()


def parse_duration(value: str, field: str = "duration") -> int:
    """'15m', '1h30m', '90s', '2 hours', or plain seconds -> seconds."""
    text = str(value).strip().lower()
    if not text:
        raise InvalidInput(f"empty {field}")
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"\d+:\d{2}(:\d{2})?", text):
        parts = [int(p) for p in text.split(":")]
        if len(parts) == 2:
            return parts[0] * 60 + parts[1]
        return parts[0] * 3600 + parts[1] * 60 + parts[2]
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if text[pos : match.start()].strip():
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)[0]]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise InvalidInput(f"invalid {field} {value!r}; use a form like 15m, 1h30m or 90s")
    return int(round(total))


# ---------------------------------------------------------------- money


MONEY_LIMIT = Decimal("1e13")  # in cents well inside SQLite's 64-bit integers


def parse_money(value: object, field: str = "amount") -> int:
    """A decimal amount ('1,200.50', '¥99', '12.3') -> integer minor units (cents)."""
    text = str(value).strip().replace(",", "").replace("，", "")
    text = re.sub(r"^[¥$€£]|^(CNY|USD|EUR|RMB)\s*|\s*(元|CNY|USD|EUR|RMB)$", "", text, flags=re.I)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"invalid {field} {value!r}") from None
    if not amount.is_finite():
        raise InvalidInput(f"invalid {field} {value!r}")
    if abs(amount) >= MONEY_LIMIT:
        raise InvalidInput(f"{field} {value!r} is out of range (at most 9,999,999,999,999.99)")
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def money(cents: int | None) -> float | None:
    """Integer minor units -> a decimal number for output."""
    if cents is None:
        return None
    return round(cents / 100, 2)


def normalize_currency(value: str | None, default: str = "CNY") -> str:
    text = (value or "").strip().upper()
    if not text:
        return default
    text = {"RMB": "CNY", "¥": "CNY", "元": "CNY", "$": "USD"}.get(text, text)
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise InvalidInput(f"invalid currency {value!r}; use an ISO code such as CNY")
    return text


def split_tag_options(values: list[str] | None) -> list[str]:
    """Repeated --tag/--add/--remove values, each split like an import cell (split_tags):
    `--tag "a;b"` is the two tags a and b, as in a CSV file, never one tag "a;b"."""
    out: list[str] = []
    for value in values or []:
        out.extend(t for t in split_tags(value) if t not in out)
    return out


def split_tags(value: str | None) -> list[str]:
    """Tags split on ; , ； ， | with whitespace trimmed, duplicates removed, order kept."""
    if not value:
        return []
    out: list[str] = []
    for part in re.split(r"[;,；，|]", value):
        tag = part.strip()
        if tag and tag not in out:
            out.append(tag)
    return out
