"""Normalizers for user input: phones (E.164), emails, dates and times, durations, enums.

Every function either returns the normal form or raises InvalidInput with a message that
names the field and the offending value. Pure functions: no database, no output.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from crmcli.core.clock import local_zone
from crmcli.core.errors import InvalidInput
from crmcli.core.vocabulary import ALIASES as ALIASES
from crmcli.core.vocabulary import CAMPAIGN_CHANNELS as CAMPAIGN_CHANNELS
from crmcli.core.vocabulary import CAMPAIGN_RESULTS as CAMPAIGN_RESULTS
from crmcli.core.vocabulary import CHANNELS as CHANNELS
from crmcli.core.vocabulary import DIRECTIONS as DIRECTIONS
from crmcli.core.vocabulary import LIFECYCLES as LIFECYCLES
from crmcli.core.vocabulary import PRIORITIES as PRIORITIES
from crmcli.core.vocabulary import TICKET_STATUSES as TICKET_STATUSES
from crmcli.core.vocabulary import clean_text as clean_text
from crmcli.core.vocabulary import normalize_enum as normalize_enum

if TYPE_CHECKING:
    from dateutil.parser import parserinfo

# ---------------------------------------------------------------- text, email

# The ASCII dot-atom local part (RFC 5322 atext, no leading/trailing/double dot, <= 64):
# exactly what email-validator accepts for an ASCII local part, checked without calling it
# (the library costs ~0.5 ms per address; an import of a million rows cannot pay that).
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def normalize_email(value: str | None) -> str | None:
    """An e-mail address checked by email-validator (syntax only, never DNS), normalized:
    lower case, the domain in its Unicode form (IDNA ``xn--`` labels decoded, NFC), so
    ``jeff@XN--FIQQ24B10VI0D.tw`` and ``jeff@臺網中心.tw`` are one address. Quoted local parts
    and internationalised (RFC 6531) addresses are accepted; empty is None.

    What an address book writes around one address is taken off, since it names exactly
    one: a display name (`Ann Lee <ann@x.com>`, as Outlook and Google export it) and a
    `mailto:` scheme. Two addresses in one cell are refused, never one of them picked."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if "<" in text or text[:7].lower() == "mailto:":
        text = _bare_address(text)
    elif text.count("@") > 1 and not text.startswith('"') and _LIST_MARK.search(text):
        raise InvalidInput(
            f"two email addresses in one cell ({text!r}): give one (an import's "
            "other_emails column takes the others)"
        )
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


_LIST_MARK = re.compile(r"[;,\s，；]")
_NAME_ADDR = re.compile(r'^(?:"[^"]*"|[^"<>]*)\s*<([^<>]+)>$')


def _bare_address(text: str) -> str:
    """The one address in `Name <addr>` or `mailto:addr` (InvalidInput when the cell holds
    anything else around angle brackets, such as two of them)."""
    found = _NAME_ADDR.match(text)
    if found is not None:
        text = found.group(1).strip()
    elif "<" in text or ">" in text:
        raise InvalidInput(f"malformed email {text!r}: write one address, or one 'Name <address>'")
    if text[:7].lower() == "mailto:":
        text = text[7:].split("?", 1)[0].strip()  # mailto:a@x.com?subject=...
    return text


def email_match_keys(email: str) -> list[str]:
    """The forms of a normalized address that can be stored for it: the Unicode form and,
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


# The number types libphonenumber's validity test tries after the general pattern
# (phonenumberutil._number_type_helper); a number is valid when any of them matches.
_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


@lru_cache(maxsize=256)
def _validity_patterns(region: str, length: int) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """(general pattern, any-type pattern) that libphonenumber's is_valid_number_for_region
    applies to a national number of `length` digits in `region`, or None when no pattern
    allows that length: its type test, each description's pattern tried only at that
    description's possible lengths, folded into two regular expressions (one call each
    instead of up to eleven). Built from the library's own metadata, so it follows updates."""
    import phonenumbers

    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return None

    def fits(desc: object) -> bool:
        pattern = getattr(desc, "national_number_pattern", None)
        lengths = getattr(desc, "possible_length", ())
        return bool(pattern) and (not lengths or length in lengths)

    general_pattern = str(getattr(meta.general_desc, "national_number_pattern", "") or "")
    if not general_pattern or not fits(meta.general_desc):
        return None
    descs = [getattr(meta, name) for name in _NUMBER_TYPES]
    if not meta.same_mobile_and_fixed_line_pattern:
        descs.insert(0, meta.mobile)  # tried only when it differs from fixed_line; first:
        # the order of the alternatives cannot change the outcome, and most cells are mobiles
    types = [d.national_number_pattern for d in descs if fits(d)]
    if not types:
        return None
    return re.compile(general_pattern), re.compile("|".join(f"(?:{t})" for t in types))


def _valid_national(region: str, national: str) -> bool:
    """phonenumbers.is_valid_number_for_region() for a number of `region`'s country code
    whose national significant number is `national` (ASCII digits), without building a
    PhoneNumber: the same patterns, fewer calls."""
    patterns = _validity_patterns(region, len(national))
    if patterns is None:
        return False
    general, types = patterns
    return general.fullmatch(national) is not None and types.fullmatch(national) is not None


def normalize_phone(value: str | None, region: str = "CN") -> str | None:
    """Return the E.164 form of a phone number, or raise InvalidInput; empty is None.

    Chinese mobile numbers (the bulk of most lists) and +1 numbers take fast paths that
    apply libphonenumber's own validity patterns; anything else goes through Google's
    libphonenumber rules via `phonenumbers`.
    """
    if value is None:
        return None
    raw = str(value).strip()
    if not raw:
        return None
    compact = _STRIP.sub("", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+86") or region.upper() == "CN":
        digits = compact[3:] if compact.startswith("+86") else compact
        if _CN_MOBILE.match(digits):
            # parse() would give +86 and these 11 digits (no national prefix: they start
            # with 1[3-9], and the carrier prefixes CN strips start 11, 12 or 179 and would
            # leave too few digits); valid exactly when libphonenumber's CN patterns say so.
            if not _valid_national("CN", digits):
                raise InvalidInput(f"impossible phone {raw!r}")
            return "+86" + digits
    import phonenumbers

    if _NANP.fullmatch(compact):
        # "+1" and a 10-digit number whose area code starts 2-9: parse() would give exactly
        # this number (no national prefix to strip, no extension), so skip its text scanning.
        # Valid for the US (first of +1's regions, no leading-digit rule) means valid: the
        # region lookup of is_valid_number() would pick the US and run the same test again.
        if _valid_national("US", compact[2:]):
            return compact
        number = phonenumbers.PhoneNumber(country_code=1, national_number=int(compact[2:]))
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
# The longest spelling first and no letter after it: `h|hours?` would take the "h" of
# "2 hours" and leave "ours" unread.
_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*"
    r"(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s|days?|d|weeks?|w)(?![a-z])",
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
    Chinese dates and times ('2024年3月5日 14时30分', '2024/3/5 下午 02:30:00'), 'now',
    'today', 'tomorrow 9am', 'yesterday', and offsets from now ('+3d', '-2h', '+30m', '+1w').
    Naive input is read in the configured zone. A numeric date that reads two ways
    (03/05/2024, 24-03-05) follows --date-order / $CRM_DATE_ORDER, else is refused.
    """
    text = str(value).strip()
    if not text:
        raise InvalidInput(f"empty {field}")
    if not text.isascii():
        text = _cn_clock(text, str(value), field)
    return _parse_general(text, str(value), field, base)


def _parse_general(text: str, value: str, field: str, base: datetime | None) -> datetime:
    """parse_datetime() of a stripped text in ASCII forms (`value` as the user wrote it)."""
    if _ISO.match(text):
        # The common case (scripts, imports, --as-of): the stdlib parser, no dateutil import.
        try:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=local_zone())
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            pass  # the general path below gives the error message
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
    by_word = _day_word(low, current, value, field)
    if by_word is not None:
        return by_word
    head = _DATE_HEAD.match(text)
    if head is not None:  # 03/05/2024, 24-03-05: the order decides, never a guess
        return _numeric_moment(text, head, user_date_order(), value, field, column=False)
    try:
        parsed = _dateutil_full_date(text, value, field)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError, TypeError):
        # dateutil parses '+25:00' but datetime refuses the offset; years past 9999 overflow.
        _refuse_date_serial(text, value, field)
        raise InvalidInput(f"invalid {field} {value!r}; use a form like 2024-03-05 14:30") from None


def _refuse_date_serial(text: str, value: str, field: str) -> None:
    """A spreadsheet's date serial (45123 = 2023-07-17 in Excel's 1900 system, but 2027-07-18
    in its 1904 one): said so, never read as either."""
    if re.fullmatch(r"\d{5}(?:\.\d+)?", text) and 20_000 <= float(text) < 80_000:
        raise InvalidInput(
            f"{field} {value!r} looks like a spreadsheet's date serial number: format the "
            "column as a date and export it again"
        )


def _dateutil_full_date(text: str, value: str, field: str) -> datetime:
    """dateutil's reading of `text` (naive or with the offset it states), refused unless
    the text gives a year, a month and a day ('March 5', '10:30', 'Tuesday' and '05/03'
    are no dates: dateutil would fill them in from its default) and any weekday it names
    is that date's. ValueError and friends pass through to the caller."""
    parsed = _dateutil_parse(text, value, field, _DEFAULT_A)
    if parsed.year == _DEFAULT_A.year or parsed.month == 1 or parsed.day <= 7:
        # A field the text lacks comes from the default (a weekday rolls the day on by at
        # most 6 days): read again from another default to see which ones it gave.
        other = _dateutil_parse(text, value, field, _DEFAULT_B)
        missing = [
            name
            for name, a, b in (
                ("year", parsed.year, other.year),
                ("month", parsed.month, other.month),
                ("day", parsed.day, other.day),
            )
            if a != b
        ]
        if len(missing) == 3:
            raise InvalidInput(
                f"{field} {value!r} has no date; write a full date such as 2024-03-05"
            )
        if missing:
            raise InvalidInput(
                f"{field} {value!r} has no {' or '.join(missing)}; write a full date such as "
                "2024-03-05"
            )
    _check_weekday(text, parsed, value, field)
    return _pivot_century(text, parsed)


def _pivot_century(text: str, parsed: datetime) -> datetime:
    """dateutil reads a two-digit year ('5 Mar 75') within 50 years of today (2075 in 2026);
    it follows TWO_DIGIT_PIVOT like every other two-digit year (1975)."""
    two = f"{parsed.year % 100:02d}"
    if re.search(rf"(?<!\d){parsed.year:04d}(?!\d)", text) or not re.search(
        rf"(?<!\d){two}(?!\d)", text
    ):
        return parsed
    year = full_year(two)
    return parsed if year == parsed.year else parsed.replace(year=year)


# Two defaults for dateutil that differ in year, month and day (and in the weekday a lone
# weekday name rolls to: days 1-7 against 15-21); both leap years with 31-day months, so a
# text valid from one is valid from the other.
_DEFAULT_A = datetime(2000, 1, 1)
_DEFAULT_B = datetime(2004, 3, 15)
_UTC_NAMES = frozenset({"UTC", "GMT", "Z"})
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NAME_THEN_SIGN = re.compile(r"([^\W\d_]+)\s*([+-])\s*(\d+(?::?\d+)?)")


@lru_cache(maxsize=1)
def _dateutil_info() -> parserinfo:
    from dateutil import parser as dateutil_parser

    return dateutil_parser.parserinfo()


def _dateutil_parse(text: str, value: str, field: str, default: datetime) -> datetime:
    """dateutil's reading of `text` from `default`, with a zone only when the text states one
    plainly: a numeric offset (+01:00, -0800) or UTC/GMT/Z. A zone name dateutil cannot
    resolve (PST, CET, CST...) is refused: dateutil would read the time as local with an
    UnknownTimezoneWarning, or in the machine's zone when the name is the machine's."""
    from dateutil import parser as dateutil_parser

    info = _dateutil_info()
    for m in _NAME_THEN_SIGN.finditer(text):
        name = m.group(1)
        if info.month(name) is None and info.weekday(name) is None and info.ampm(name) is None:
            # 'UTC+3', 'EST-0500': dateutil reads them POSIX-style (UTC+3 = 3 hours behind).
            raise InvalidInput(
                f"{field} {value!r}: {m.group(0)!r} reads two ways ({m.group(2)}{m.group(3)}, "
                "or POSIX-style the opposite sign); write the offset alone, such as +03:00"
            )

    def zone(name: str | None, offset: int | None) -> int | None:
        if name is not None and offset is None and name.upper() not in _UTC_NAMES:
            raise InvalidInput(
                f"{field} {value!r}: time zone {name!r} is ambiguous; write an offset such as "
                "-08:00 (or UTC)"
            )
        return offset

    return dateutil_parser.parse(text, default=default, tzinfos=zone)


def _check_weekday(text: str, parsed: datetime, value: str, field: str) -> None:
    """A weekday written beside a full date must be that date's ('Mon, 5 Mar 2024' reads as
    Monday or as 5 March, a Tuesday): dateutil ignores it."""
    if not any(c.isalpha() for c in text):
        return
    info = _dateutil_info()
    for word in re.findall(r"[^\W\d_]+", text):
        weekday = info.weekday(word)
        if weekday is not None and weekday != parsed.weekday():
            raise InvalidInput(
                f"{field} {value!r}: {parsed.date().isoformat()} is a "
                f"{_WEEKDAY_NAMES[parsed.weekday()]}, not {word}"
            )


_DAY_WORDS = {"today": 0, "tomorrow": 1, "yesterday": -1, "今天": 0, "明天": 1, "昨天": -1}


def _day_word(low: str, current: datetime, value: str, field: str) -> datetime | None:
    """'today', 'tomorrow 9am', '昨天' ... relative to `current` (aware, local); else None."""
    for word, offset in _DAY_WORDS.items():
        if low.startswith(word):
            rest = low[len(word) :].strip()
            day = current.date() + timedelta(days=offset)
            at_time = time(0, 0)
            if rest:
                try:
                    first = _dateutil_parse(rest, value, field, _DEFAULT_A)
                    second = _dateutil_parse(rest, value, field, _DEFAULT_B)
                except (ValueError, OverflowError, TypeError):
                    raise InvalidInput(f"invalid {field} {value!r}") from None
                if (
                    first.date() != _DEFAULT_A.date()
                    or second.date() != _DEFAULT_B.date()
                    or first.tzinfo is not None
                ):
                    # 'tomorrow March 5', 'today tuesday', 'tomorrow 9am +08:00': the day
                    # word gives the date and $CRM_TZ the zone; only a time may follow.
                    raise InvalidInput(
                        f"invalid {field} {value!r}: after {word!r} give only a time, such as "
                        "9am or 14:30"
                    )
                at_time = first.time()
            return datetime.combine(day, at_time, tzinfo=current.tzinfo).astimezone(UTC)
    return None


def parse_date(value: str, field: str = "date") -> date:
    """Parse a calendar date (in the configured zone)."""
    return parse_datetime(value, field).astimezone(local_zone()).date()


def parse_duration(value: str, field: str = "duration") -> int:
    """'15m', '1h30m', '90s', '2 hours', '5 minutes 30 seconds', M:SS ('0:45'), H:MM:SS, or
    plain seconds -> seconds."""
    text = str(value).strip().lower()
    if not text:
        raise InvalidInput(f"empty {field}")
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"\d+:\d{2}(:\d{2})?", text):
        parts = [int(p) for p in text.split(":")]
        if any(p >= 60 for p in parts[1:]):  # '1:75' is not 2:15
            raise InvalidInput(
                f"invalid {field} {value!r}: minutes and seconds after a colon must be "
                "below 60 (M:SS or H:MM:SS)"
            )
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


def parse_money(value: object, field: str = "amount", currency: str | None = "") -> int:
    """One amount given alone (an option: `--amount 1,200.50`, `--cost 99`) -> integer minor
    units. Its own separators must decide the convention: `1,234` alone is refused (write
    1234 or 1234.00).

    `currency` is what the amount is stored in: a currency sign or code in the amount must
    be able to mean it (`€12,50` is not CNY); None when the command does not know it (the
    record's own currency applies), so a sign or code there is refused, never read past.
    "" (the default) checks nothing: the caller has no currency for this amount."""
    text = str(value).strip()
    if currency is None and _amount_marks(text):
        raise InvalidInput(
            f"{field} {text!r}: write it without a currency sign or code (the record's own "
            "currency applies)"
        )
    if currency:
        try:
            check_amount_currency(text, currency)
        except InvalidInput:
            raise InvalidInput(
                f"{field} {text!r} is not in {currency}: give --currency, or the amount "
                "without a currency sign"
            ) from None
    says = money_evidence(text, field)
    if says == "either":
        raise InvalidInput(
            f"ambiguous {field} {text!r} (thousands separator or decimal?); write 1234 or 1.234"
        )
    return parse_money_as(text, says or "point", field)


def money(cents: int | None) -> float | None:
    """Integer minor units -> a decimal number for output."""
    if cents is None:
        return None
    return round(cents / 100, 2)


# Currency cells written as a name or a sign (Chinese ERPs: 人民币, 美元; spreadsheets: €).
_CURRENCY_NAMES = {
    "RMB": "CNY", "人民币": "CNY", "元": "CNY", "CN¥": "CNY", "CN￥": "CNY", "美元": "USD",
    "US$": "USD", "港币": "HKD", "港元": "HKD", "HK$": "HKD", "欧元": "EUR", "€": "EUR",
    "日元": "JPY", "JP¥": "JPY", "英镑": "GBP", "£": "GBP", "新台币": "TWD", "NT$": "TWD",
    "澳元": "AUD", "A$": "AUD", "AU$": "AUD", "加元": "CAD", "C$": "CAD", "CA$": "CAD",
    "新加坡元": "SGD", "S$": "SGD", "韩元": "KRW", "₩": "KRW", "瑞士法郎": "CHF",
    "NZ$": "NZD", "MX$": "MXN", "R$": "BRL", "₹": "INR",
}  # fmt: skip
# Codes in use beside ISO 4217's (offshore yuan)
_EXTRA_CURRENCIES = frozenset({"CNH"})
# ISO 4217 currencies without a minor unit: an amount with a fraction of one is refused
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)


@lru_cache(maxsize=1)
def _iso_currencies() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies) | _EXTRA_CURRENCIES


def normalize_currency(value: str | None, default: str = "CNY") -> str:
    """An ISO 4217 code from a currency cell or option: the code in any case, a Chinese
    name (人民币, 美元), or a sign; a sign several currencies write (`$`, `¥`) is the
    default when it is one of them, else refused (which one is meant is not guessed). An
    unknown code is refused."""
    raw = (value or "").strip()
    if not raw:
        return default
    text = _CURRENCY_NAMES.get(raw.upper()) or _CURRENCY_NAMES.get(raw) or raw.upper()
    meant = _CURRENCY_MARKS.get(text)
    if meant and len(meant) > 1:
        if default in meant:
            return default
        raise InvalidInput(
            f"currency {raw!r} is the sign of {', '.join(sorted(meant))}: give the ISO code"
        )
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise InvalidInput(f"invalid currency {value!r}; use an ISO code such as CNY")
    if text not in _iso_currencies():
        raise InvalidInput(f"unknown currency {value!r}: no ISO 4217 code")
    return text


def check_minor_units(cents: int, currency: str, field: str = "amount") -> None:
    """Raise InvalidInput when an amount has a fraction of a currency's unit that has no
    minor unit (100.5 JPY: a column written with a decimal comma read with a point?)."""
    if cents % 100 and currency in ZERO_DECIMAL_CURRENCIES:
        raise InvalidInput(
            f"{field} {cents / 100:.2f} {currency} has a fraction of a unit; {currency} has"
            " no minor unit (a thousands separator read as a decimal one reads so: the"
            " summary's conventions say how the column was read)"
        )


def split_tag_options(values: list[str] | None) -> list[str]:
    """Repeated --tag/--add/--remove values, each split like an import cell (split_tags):
    `--tag "a;b"` is the two tags a and b, as in a CSV file, never one tag "a;b"."""
    out: list[str] = []
    for value in values or []:
        out.extend(t for t in split_tags(value) if t not in out)
    return out


def split_tags(value: str | None) -> list[str]:
    """Tags split on ; , ； ， | (and Google Contacts' :::) with whitespace trimmed,
    duplicates removed, order kept."""
    if not value:
        return []
    out: list[str] = []
    for part in re.split(r":::|[;,；，|]", value):  # ':::' is Google Contacts' label list
        tag = part.strip()
        if tag and tag not in out:
            out.append(tag)
    return out


# ---------------------------------------------------------------- money columns
# A money cell's separators say which convention wrote it, or leave it open ("1,234" is
# 1234 with a decimal point and 1.234 with a decimal comma). The convention is decided per
# column from all its values (money_convention), then every cell is read under it
# (parse_money_as). Nothing is decided per cell.

FUTURE_SLACK = timedelta(days=1)  # a history time more than this after "now" is refused
MONEY_LIMIT = 10**12  # |amount| at or above this (in major units) is refused
DECIMAL_CONVENTIONS = ("comma", "point")
# Regions whose convention writes a decimal comma (CLDR); every other region writes a point.
COMMA_DECIMAL_REGIONS = frozenset(
    [
        "AD",
        "AL",
        "AM",
        "AO",
        "AR",
        "AT",
        "AZ",
        "BA",
        "BE",
        "BG",
        "BO",
        "BR",
        "BY",
        "CL",
        "CM",
        "CO",
        "CR",
        "CU",
        "CV",
        "CY",
        "CZ",
        "DE",
        "DK",
        "DZ",
        "EC",
        "EE",
        "ES",
        "FI",
        "FO",
        "FR",
        "GE",
        "GL",
        "GR",
        "HR",
        "HU",
        "ID",
        "IS",
        "IT",
        "KZ",
        "LB",
        "LT",
        "LU",
        "LV",
        "MA",
        "MD",
        "ME",
        "MK",
        "MZ",
        "NC",
        "NL",
        "NO",
        "PE",
        "PL",
        "PT",
        "PY",
        "RO",
        "RS",
        "RU",
        "SE",
        "SI",
        "SK",
        "SM",
        "SN",
        "SR",
        "TN",
        "TR",
        "UA",
        "UY",
        "UZ",
        "VE",
        "VN",
    ]
)
# Currencies used only where one convention is written (EUR is both: no decision).
POINT_CURRENCIES = frozenset(
    [
        "CNY",
        "USD",
        "GBP",
        "JPY",
        "KRW",
        "INR",
        "AUD",
        "CAD",
        "HKD",
        "SGD",
        "TWD",
        "NZD",
        "MXN",
        "PHP",
        "THB",
    ]
)
COMMA_CURRENCIES = frozenset(
    [
        "BRL",
        "RUB",
        "TRY",
        "PLN",
        "CZK",
        "DKK",
        "SEK",
        "NOK",
        "UAH",
        "ARS",
        "CLP",
        "COP",
        "IDR",
        "VND",
    ]
)

_MONEY_AFFIX = re.compile(
    r"^(?:(?:US|HK|NT|NZ|AU|CA|MX|[RACS])\$|(?:CN|JP)[¥￥]|[¥$€£￥₩₹]|[A-Z]{3}|RMB)\s*"
    r"|\s*(?:[¥$€£￥₩₹元]|[A-Z]{3}|RMB)$",
    re.IGNORECASE,
)
_MONEY_BODY = re.compile(r"^\d[\d.,]*$")
_GROUPED = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")


@dataclass(frozen=True)
class MoneyText:
    """A money cell taken apart: sign, digits with separators, and what the separators say."""

    negative: bool
    body: str  # digits with the cell's . and , (spaces and apostrophes removed)
    says: str | None  # "comma", "point" or None when the cell fits both conventions


def _money_sign(value: str) -> tuple[bool, str]:
    """The sign of a money cell and what is left once the sign, the parentheses and any
    currency symbol or code are taken off (kept apart so _money_parts reads the digits)."""
    text = value.strip().replace("\u00a0", " ").replace("\u202f", " ")
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    for _ in range(2):  # a symbol and a code, either side
        text = _MONEY_AFFIX.sub("", text).strip()
    if text.startswith("-") or text.startswith("−"):
        negative, text = not negative, text[1:].strip()
    elif text.endswith("-"):
        negative, text = not negative, text[:-1].strip()
    elif text.startswith("+"):
        text = text[1:].strip()
    for _ in range(2):
        text = _MONEY_AFFIX.sub("", text).strip()
    return negative, text


def _money_parts(value: str, field: str) -> MoneyText:
    negative, text = _money_sign(value)
    grouped_by = None
    if re.fullmatch(r"\d{1,3}(?:[ ']\d{3})+(?:[.,]\d+)?", text):
        grouped_by = "space"
        text = text.replace(" ", "").replace("'", "")
    if not _MONEY_BODY.match(text):
        raise InvalidInput(f"invalid {field} {value.strip()!r}")
    dots, commas = text.count("."), text.count(",")
    says: str | None = None
    if dots and commas:
        last = "." if text.rfind(".") > text.rfind(",") else ","
        whole = text[: text.rfind(last)]
        if (last == "." and "." in whole) or (last == "," and "," in whole):
            raise InvalidInput(f"invalid {field} {value.strip()!r}")
        if not _GROUPED.match(whole) and not whole.isdigit():
            raise InvalidInput(f"invalid {field} {value.strip()!r}")
        says = "point" if last == "." else "comma"
    elif dots or commas:
        sep = "." if dots else ","
        if dots + commas > 1:
            if not _GROUPED.match(text):
                raise InvalidInput(f"invalid {field} {value.strip()!r}")
            says = "comma" if sep == "." else "point"  # 1.234.567 / 1,234,567: grouping
        else:
            whole, frac = text.split(sep)
            if len(frac) == 3 and 1 <= len(whole) <= 3 and grouped_by is None:
                says = None  # 1,234 or 1.234: either convention
            else:
                says = "point" if sep == "." else "comma"
    return MoneyText(negative, text, says)


# A plain amount: ASCII digits, at most one separator and one or two decimals (12, 12.5,
# 12,50). What most money columns hold; _money_parts reads it the same way (one separator
# followed by other than three digits says its convention), so it is read without it.
_PLAIN_MONEY = re.compile(r"([0-9]{1,12})(?:([.,])([0-9]{1,2}))?")


def money_evidence(value: str, field: str = "amount") -> str | None:
    """What one cell says about its column's decimal convention: "comma", "point",
    "either" for a cell that fits both (1,234), None for a whole number without separators.
    Raises InvalidInput for text that is no amount in either convention."""
    plain = _PLAIN_MONEY.fullmatch(value.strip())
    if plain is not None:
        sep = plain.group(2)
        return None if sep is None else "point" if sep == "." else "comma"
    parts = _money_parts(value, field)
    if parts.says is None and ("," in parts.body or "." in parts.body):
        return "either"
    return parts.says


def decide_decimal(
    evidence: dict[str, int],
    field: str,
    option: str | None = None,
    currency: str | None = None,
    region: str | None = None,
) -> tuple[str, str]:
    """(convention, what decided it) for a column whose cells gave `evidence`
    ({"comma": n, "point": n, "either": n}). Raises InvalidInput for a contradictory
    column, or an ambiguous one nothing decides."""
    comma, point = evidence.get("comma", 0), evidence.get("point", 0)
    if comma and point:
        raise InvalidInput(
            f"column {field}: {comma} value(s) written with a decimal comma and {point} with a "
            "decimal point; fix the file (one convention per column)"
        )
    if comma:
        return "comma", "values"
    if point:
        return "point", "values"
    if not evidence.get("either"):
        return "point", "values"  # whole numbers only: both conventions read them alike
    if option:
        return option, "--decimal"
    cur = (currency or "").upper()
    if cur in POINT_CURRENCIES:
        return "point", f"currency {cur}"
    if cur in COMMA_CURRENCIES:
        return "comma", f"currency {cur}"
    if region:
        reg = region.upper()
        return ("comma" if reg in COMMA_DECIMAL_REGIONS else "point"), f"region {reg}"
    raise InvalidInput(
        f"column {field}: values like 1,234 read as 1234 or 1.234 depending on the decimal "
        "convention; give --decimal comma|point (or --region)"
    )


def parse_money_as(value: str, convention: str, field: str = "amount") -> int:
    """A money cell read under its column's convention -> exact integer minor units (cents).

    Refuses text that contradicts the convention, more than two decimals, exponents and
    |amount| >= 10^12."""
    plain = _PLAIN_MONEY.fullmatch(value.strip())
    if plain is not None:
        whole, sep, frac = plain.groups()
        if sep is None:
            return int(whole) * 100
        if (sep == ".") == (convention == "point"):
            return int(whole) * 100 + int(frac.ljust(2, "0"))
    parts = _money_parts(value, field)
    if parts.says is not None and parts.says != convention:
        raise InvalidInput(
            f"{field} {value.strip()!r} is not written with a decimal {convention} like the rest "
            "of its column"
        )
    decimal_sep, group_sep = (",", ".") if convention == "comma" else (".", ",")
    body = parts.body.replace(group_sep, "")
    whole, _, frac = body.partition(decimal_sep)
    if len(frac) > 2:
        raise InvalidInput(f"{field} {value.strip()!r} has more than two decimals")
    if len(whole) > 12 or int(whole or "0") >= MONEY_LIMIT:
        raise InvalidInput(f"{field} {value.strip()!r} is too large (limit 10^12)")
    cents = int(whole or "0") * 100 + int(frac.ljust(2, "0") or "0")
    return -cents if parts.negative else cents


# ---------------------------------------------------------------- date columns

DATE_ORDERS = ("dmy", "mdy", "ymd")
YMD_REGIONS = frozenset({"CN", "JP", "KR", "TW", "HU", "LT", "MN", "IR"})
MDY_REGIONS = frozenset({"US", "PH", "FM", "MH", "PW", "BZ"})
# A two-digit year below this is 20yy, else 19yy: 1930-2029, the window Excel, LibreOffice
# and Google Sheets read two-digit years in (what the spreadsheet that wrote the file showed).
TWO_DIGIT_PIVOT = 30
# A numeric date at the start of a cell: 03/05/2024, 24-03-05, 3.5.24 (the year last in four
# or two digits, or first in two); what follows it must be a time (after T, a space or ',').
_DATE_HEAD = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{1,2})(?!\d)")
_CLOCK_TAIL = re.compile(r"[T\s,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?")
_ORDER_WORDS = {"dmy": "day-first", "mdy": "month-first", "ymd": "year-first"}


def full_year(digits: str) -> int:
    """The year a cell's year digits name: four digits as written, two by TWO_DIGIT_PIVOT
    (24 -> 2024, 29 -> 2029, 30 -> 1930, 99 -> 1999)."""
    year = int(digits)
    if len(digits) <= 2:
        year += 2000 if year < TWO_DIGIT_PIVOT else 1900
    return year


@lru_cache(maxsize=4096)
def _readings(first: str, second: str, third: str) -> tuple[tuple[str, date], ...]:
    """((order, date), ...): every order that reads a numeric date's three parts as a real
    date. The year is last when the third part has four or two digits (dmy, mdy), first
    when the first part has two digits and the third is no four-digit year (ymd): '3/5/24'
    cannot be year-first, '24/3/5' only is."""
    candidates = []
    if len(third) in (2, 4):
        year = full_year(third)
        candidates += [("dmy", year, second, first), ("mdy", year, first, second)]
    if len(first) == 2 and len(third) <= 2:
        candidates.append(("ymd", full_year(first), second, third))
    out = []
    for order, year, month, day in candidates:
        try:
            found = date(year, int(month), int(day))
        except ValueError:
            continue
        out.append((order, found))
    return tuple(out)


def _date_head(text: str) -> re.Match[str] | None:
    """The numeric date a stripped cell starts with, when a time or nothing follows it."""
    head = _DATE_HEAD.match(text)
    if head is None or (head.end() < len(text) and text[head.end()] not in "T \t,"):
        return None
    return head


def date_evidence(value: str) -> str | None:
    """What one date cell says about its column's order: the one order that reads it as a
    date ("dmy" for 13/05/2024, "ymd" for 32-03-05); the orders that read it as different
    dates, joined by '|' ("dmy|mdy" for 03/05/2024, "dmy|ymd" for 24-03-05, "dmy|mdy|ymd" for
    05-03-24): it is open and its column's order decides; or None when its form decides by
    itself (ISO, 2024/3/5, 2024年3月5日), every reading is the same date (05/05/2024), or
    none is a date (the parser says why)."""
    text = value.strip()
    if not text.isascii():
        try:
            text = _cn_clock(text, value, "date")
        except InvalidInput:
            return None  # refused when the cell is read, with the reason
    head = _date_head(text)
    if head is None:
        return None
    readings = _readings(head.group(1), head.group(3), head.group(4))
    if len(readings) == 1:
        return readings[0][0]
    if len({day for _, day in readings}) <= 1:
        return None
    return "|".join(order for order, _ in readings)


def region_date_order(region: str | None) -> str | None:
    if not region:
        return None
    reg = region.upper()
    if reg in YMD_REGIONS:
        return "ymd"
    return "mdy" if reg in MDY_REGIONS else "dmy"


def _kinds(evidence: dict[str, int], keys: list[str]) -> str:
    """'dmy|mdy: 2, dmy|ymd: 1': how many open dates read under which orders."""
    return ", ".join(f"{key}: {evidence[key]}" for key in sorted(keys))


def decide_date_order(
    evidence: dict[str, int], field: str, option: str | None = None, region: str | None = None
) -> tuple[str | None, str]:
    """(order, what decided it) for a date column whose cells gave `evidence` (date_evidence
    counts); None when no cell needs one. A cell that only one order reads settles the
    column (the option does not override it); open cells (03/05/2024, and every two-digit
    year whose position is open: 24-03-05) never decide: --date-order, $CRM_DATE_ORDER or
    the region does, and it must read every one of them. Raises InvalidInput for a
    contradictory column, or an ambiguous one nothing decides."""
    settled = [o for o in DATE_ORDERS if evidence.get(o)]
    open_sets = [key for key, n in evidence.items() if "|" in key and n]
    if len(settled) > 1:
        first, *others = settled
        said = "".join(f" and {evidence[o]} {_ORDER_WORDS[o]}" for o in others)
        raise InvalidInput(
            f"column {field}: {evidence[first]} date(s) are {_ORDER_WORDS[first]}{said}; fix "
            "the file (one order per column)"
        )
    if settled:
        order = settled[0]
        misfits = [key for key in open_sets if order not in key.split("|")]
        if misfits:
            raise InvalidInput(
                f"column {field}: {evidence[order]} date(s) are {_ORDER_WORDS[order]} ({order}) "
                f"and {sum(evidence[k] for k in misfits)} cannot be (read as "
                f"{_kinds(evidence, misfits)}); fix the file (one order per column)"
            )
        return order, "values"
    if not open_sets:
        return None, "values"
    fits = [o for o in DATE_ORDERS if all(o in key.split("|") for key in open_sets)]
    if not fits:
        raise InvalidInput(
            f"column {field}: no one date order reads all its dates (read as "
            f"{_kinds(evidence, open_sets)}); fix the file (one order per column)"
        )
    for given, source in (
        (option, "--date-order"),
        (os.environ.get("CRM_DATE_ORDER"), "$CRM_DATE_ORDER"),
    ):
        if not given:
            continue
        given = given.strip().lower()
        if given not in DATE_ORDERS:
            raise InvalidInput(f"{source} must be one of: {', '.join(DATE_ORDERS)}")
        if given in fits:
            return given, source
        if any(given in key.split("|") for key in open_sets) or given != "ymd":
            misfits = [key for key in open_sets if given not in key.split("|")]
            raise InvalidInput(
                f"column {field}: {source} {given} cannot read "
                f"{sum(evidence[k] for k in misfits)} of its dates (read as "
                f"{_kinds(evidence, misfits)}); give --date-order {'|'.join(fits)}, or fix the "
                "file"
            )
        # ymd says nothing about dates whose year is last (03/05/2024): the next source
    by_region = region_date_order(region)
    if by_region in fits:
        return str(by_region), f"region {region.upper() if region else ''}"
    if open_sets == ["dmy|mdy"]:
        raise InvalidInput(
            f"column {field}: dates like 03/05/2024 read as 3 May or 5 March depending on the "
            "order; give --date-order dmy|mdy (or $CRM_DATE_ORDER, or --region)"
        )
    raise InvalidInput(
        f"column {field}: dates with a two-digit year (like 24-03-05: 2024-03-05 year-first, "
        f"24 March 2005 day-first) read as different dates by order "
        f"({_kinds(evidence, open_sets)}); give --date-order {'|'.join(fits)} (or "
        "$CRM_DATE_ORDER, or --region)"
    )


_ISO_LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?")


def parse_local_iso(text: str, zone: tzinfo) -> datetime | None:
    """parse_datetime_as() of a stripped 'YYYY-MM-DD HH:MM[:SS]' cell (no offset) when
    `zone` is local_zone(): the same stdlib parse without its checks of other forms; None
    for any other text or an impossible date (the general path words the refusal)."""
    if _ISO_LOCAL.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def parse_datetime_as(value: str, order: str | None, field: str = "time") -> datetime:
    """A date cell read under its column's order (the numeric forms: 03/05/2024, 24-03-05,
    3.5.24 14:30, with a time after them); every other form goes to parse_datetime. Two-digit
    years follow TWO_DIGIT_PIVOT (00-29 -> 20xx, 30-99 -> 19xx)."""
    text = value.strip()
    if not text.isascii():
        text = _cn_clock(text, value, field)
    head = _DATE_HEAD.match(text)
    if head is None:
        return parse_datetime(value, field)
    return _numeric_moment(text, head, order, value, field, column=True)


def _numeric_moment(
    text: str, head: re.Match[str], order: str | None, value: str, field: str, column: bool
) -> datetime:
    """The moment a numeric date (and the time after it) names under `order`: its column's
    (column=True) or the user's --date-order / $CRM_DATE_ORDER."""
    shown = value.strip()
    rest = text[head.end() :]
    if rest and rest[0] not in "T \t,":
        raise InvalidInput(f"invalid {field} {shown!r}; use a form like 2024-03-05 14:30")
    day = _read_head(head, order, shown, field, column)
    if not rest:
        return datetime.combine(day, time(0, 0), tzinfo=local_zone()).astimezone(UTC)
    clock_m = _CLOCK_TAIL.fullmatch(rest)
    if clock_m is None:  # a zone, a fraction, a word: the general path reads the rest
        iso = day.isoformat() + (rest if rest[0] == "T" else " " + rest.lstrip(" \t,"))
        return _parse_general(iso, value, field, None)
    hh, mi, ss, ampm = clock_m.groups()
    hour = int(hh)
    if ampm:
        if not 1 <= hour <= 12:
            raise InvalidInput(f"invalid {field} {shown!r}")
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    try:
        at = time(hour, int(mi), int(ss or 0))
    except ValueError:
        raise InvalidInput(f"invalid {field} {shown!r}") from None
    return datetime.combine(day, at, tzinfo=local_zone()).astimezone(UTC)


def _read_head(
    head: re.Match[str], order: str | None, shown: str, field: str, column: bool
) -> date:
    """The date a numeric date names under `order` (None: no order known). A date that one
    order alone reads (13/05/2024) is refused under another in a column; open ones need an
    order that reads them."""
    readings = _readings(head.group(1), head.group(3), head.group(4))
    if not readings:
        raise InvalidInput(f"invalid {field} {shown!r}; use a form like 2024-03-05 14:30")
    for o, day in readings:
        if o == order:
            return day
    days = {day for _, day in readings}
    if len(readings) == 1 and order is not None and column:
        raise InvalidInput(f"{field} {shown!r} is not {order} like the rest of its column")
    if len(days) == 1:
        return readings[0][1]
    if column and order is not None:
        raise InvalidInput(f"{field} {shown!r} is not {order} like the rest of its column")
    raise InvalidInput(_ambiguous(field, shown, readings))


def _ambiguous(field: str, shown: str, readings: tuple[tuple[str, date], ...]) -> str:
    """The refusal of a date that reads as different dates under the orders in `readings`."""
    orders = [o for o, _ in readings]
    if orders == ["dmy", "mdy"]:
        return (
            f"ambiguous {field} {shown!r} (day or month first?); write 2024-03-05 or give "
            "--date-order dmy|mdy (or $CRM_DATE_ORDER)"
        )
    by_day: dict[date, list[str]] = {}
    for o, day in readings:
        by_day.setdefault(day, []).append(o)
    alternatives = " or ".join(
        f"{day.isoformat()} ({'/'.join(os_)})" for day, os_ in by_day.items()
    )
    return (
        f"ambiguous {field} {shown!r} (a two-digit year: {alternatives}); write the year in full "
        f"(2024-03-05) or give --date-order {'|'.join(orders)} (or $CRM_DATE_ORDER)"
    )


# A date and a time written the Chinese way: 2024年3月5日, 14时30分05秒, 14点30分, and the
# 上午/下午 (a.m./p.m.) marks before the time that Chinese-locale Excel writes (2024/3/5 下午
# 02:30:00). _cn_clock() rewrites them in the ASCII forms the parsers read.
_CN_DATE = re.compile(r"(\d{4}|\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]?")
_CN_CLOCK = re.compile(
    r"(?P<mark>上午|下午)?\s*(?P<h>\d{1,2})\s*(?:"
    r"[:：]\s*(?P<m>\d{1,2})(?:\s*[:：]\s*(?P<s>\d{1,2}))?"  # 14:30:05, 下午 02:30:00
    r"|[时時点點](?:\s*(?P<half>半)|\s*(?P<m2>\d{1,2})\s*分?(?:\s*(?P<s2>\d{1,2})\s*秒)?)?"
    r")"  # 14时30分05秒, 9点, 2点半 (half past)
)
_CN_MARKS = frozenset("上下：时時点點分秒半")


def _cn_clock(text: str, value: str, field: str) -> str:
    """`text` with a Chinese date (2024年3月5日 -> 2024-03-05) and a Chinese time (14时30分,
    下午 02:30:00 -> 14:30:00) rewritten as ASCII; 上午 12 is midnight, 下午 12 noon. An hour
    that contradicts its mark (上午 14:30, 下午 0:30) is refused."""
    out = _CN_DATE.sub(
        lambda m: f"{full_year(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d} ",
        text,
    )
    m = _CN_CLOCK.search(out)
    if m is not None and any(c in _CN_MARKS for c in m.group(0)):
        mark, hh = m["mark"], int(m["h"])
        mi, sec = ("30" if m["half"] else m["m"] or m["m2"] or "0"), m["s"] or m["s2"]
        if mark == "上午":
            if hh > 12:
                raise InvalidInput(f"invalid {field} {value.strip()!r}: 上午 (a.m.) at hour {hh}")
            hh %= 12
        elif mark == "下午":
            if not 1 <= hh <= 23:
                raise InvalidInput(f"invalid {field} {value.strip()!r}: 下午 (p.m.) at hour {hh}")
            hh = hh % 12 + 12 if hh <= 12 else hh
        clock = f"{hh:02d}:{int(mi):02d}" + (f":{int(sec):02d}" if sec else "")
        out = f"{out[: m.start()]} {clock} {out[m.end() :]}"
    return " ".join(out.split())


_USER_DATE_ORDER: list[str | None] = [None]  # the command's --date-order (set_date_order)


def set_date_order(order: str | None) -> None:
    """The --date-order of the running command (dmy, mdy or ymd): it decides ambiguous
    dd/mm dates in options (and wins over $CRM_DATE_ORDER); None clears it."""
    if order is not None:
        order = order.strip().lower()
        if order not in ("dmy", "mdy", "ymd"):
            raise InvalidInput("--date-order must be one of: dmy, mdy, ymd")
    _USER_DATE_ORDER[0] = order


def user_date_order() -> str | None:
    """The order deciding an ambiguous date the user typed: --date-order, else
    $CRM_DATE_ORDER, else None (refused)."""
    order = _USER_DATE_ORDER[0] or os.environ.get("CRM_DATE_ORDER") or None
    return order.strip().lower() if order else None


def option_datetime(value: str, field: str, order: str | None = None) -> datetime:
    """--at / --follow-up style options: a date that reads two ways (03/05/2024, and a
    two-digit year whose position is open: 24-03-05) is refused unless --date-order or
    $CRM_DATE_ORDER decides, and only by an order that reads it (ymd leaves dd/mm vs mm/dd
    open: refused)."""
    text = value.strip()
    if not text.isascii():
        text = _cn_clock(text, value, field)
    head = _DATE_HEAD.match(text)
    if head is not None:
        chosen = (order or user_date_order() or "").strip().lower() or None
        return _numeric_moment(text, head, chosen, value, field, column=False)
    return parse_datetime(value, field)


def history_datetime(value: str, field: str, order: str | None = None) -> datetime:
    """option_datetime() of a time that has already happened (an order placed, a response
    given): more than FUTURE_SLACK after now is refused, as the same cell is in an import."""
    from crmcli.core import clock

    moment = option_datetime(value, field, order)
    if moment > clock.now() + FUTURE_SLACK:
        raise InvalidInput(
            f"{field} {value.strip()!r} is more than a day in the future; it says when"
            " something happened"
        )
    return moment


# ---------------------------------------------------------------- phones with context

_EXTENSION = re.compile(
    r"\s*(?:,|;)?\s*(?:ext\.?|extension|ex\.?|x|#|转|分机|內線|内线)\s*(\d{1,7})\s*$", re.IGNORECASE
)
_NANP_GROUPING = re.compile(r"^\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]\d{4}$")
_NANP_REGIONS = frozenset(
    [
        "US",
        "CA",
        "AG",
        "AI",
        "AS",
        "BB",
        "BM",
        "BS",
        "DM",
        "DO",
        "GD",
        "GU",
        "JM",
        "KN",
        "KY",
        "LC",
        "MP",
        "MS",
        "PR",
        "SX",
        "TC",
        "TT",
        "VC",
        "VG",
        "VI",
    ]
)
_PLACEHOLDERS = frozenset(
    {"n/a", "na", "none", "null", "-", "--", "—", "无", "暂无", "没有", "/", "?"}
)


class Phone(NamedTuple):
    """A parsed phone cell (a named tuple: made a million times in a big import)."""

    e164: str
    ext: str | None = None
    suspect: bool = False  # valid only read in the default region, written like NANP
    note: str | None = None  # stored all the same, but worth a field warning (why suspect)


@lru_cache(maxsize=1024)
def country_region(value: str | None) -> str | None:
    """The phone region a country cell names (an ISO alpha-2 or alpha-3 code, an English,
    native or Chinese name: core/countries.py), or None: blank, no known country, or a
    country without a numbering plan of its own."""
    text = (value or "").strip()
    if not text:
        return None
    import phonenumbers

    from crmcli.core.countries import country_code

    code = country_code(text)
    return code if code and phonenumbers.country_code_for_region(code) else None


def _row_region(country: str | None, region: str) -> str:
    """The region a number written without +/00 is read in: the row's country cell, else
    `region`. A country cell that names no known country is refused, never read as
    `region` (that would store a guessed number)."""
    text = (country or "").strip()
    if not text:
        return region.upper()
    code = country_region(text)
    if code is not None:
        return code
    from crmcli.core.countries import country_code

    if country_code(text):
        raise InvalidInput(
            f"country {text!r} has no phone numbering plan of its own: the phone's region "
            "is not known; write the number with its + prefix"
        )
    raise InvalidInput(
        f"unknown country {text!r}: the phone's region is not known (not read as "
        f"{region.upper()}); give an ISO code"
    )


# A North American number with its leading 1: 14155550100, 1-415-555-0100, 1 (415) 555-0100
_NANP_WITH_ONE = re.compile(r"1[\s.\-]?(?:\(\d{3}\)|\d{3})[\s.\-]?\d{3}[\s.\-]?\d{4}", re.ASCII)


def _north_american(body: str, compact: str) -> str | None:
    """'1-415-555-0100' as +1 415-555-0100 when it is written like a North American number
    with its leading 1 and that is a valid NANP number, else None."""
    if not _NANP_WITH_ONE.fullmatch(body):
        return None
    try:
        e164 = normalize_phone("+" + compact, "US")
    except InvalidInput:
        return None
    return e164 if e164 and e164.startswith("+1") else None


# A label written before a number in a cell (what a contact sheet's "Tel: ..." holds).
_PHONE_LABEL = re.compile(
    r"(?i)(?:tel|tel\.|telephone|phone|mobile|mob|cell|电话|手机|座机|联系电话)\s*[:：.]?\s*(?=[+(\d])"
)


_SCIENTIFIC = re.compile(r"[+-]?\d(?:[.,]\d+)?[eE][+-]?\d+")


def _phone_body(raw: str) -> tuple[str | None, str]:
    """(extension, the number's text) of a phone cell: its extension mark and a label
    before it taken off; letters in the number or two numbers in the cell refused."""
    ext = None
    m = _EXTENSION.search(raw)
    body = raw
    if m and m.start() > 0:
        ext, body = m.group(1), raw[: m.start()].strip()
    label = _PHONE_LABEL.match(body)
    if label:  # 'Tel: 010-62532000', '手机 13812345678': the label is no part of the number
        body = body[label.end() :]
    if _SCIENTIFIC.fullmatch(body.strip()):  # Excel's 1.38001E+10: the digits are gone
        raise InvalidInput(
            f"phone {raw!r} was written in scientific notation by a spreadsheet, which lost "
            "its digits: format the column as text and export it again"
        )
    if re.fullmatch(r"\d{6,}\.0+", body.strip()):  # a phone column read as numbers
        raise InvalidInput(
            f"phone {raw!r} was written as a decimal number by a spreadsheet: format the "
            "column as text and export it again"
        )
    if any(c.isalpha() for c in body):
        if not any(c.isdigit() for c in body):
            raise InvalidInput(f"not a phone number: {raw!r}")
        raise InvalidInput(f"letters in a phone number ({raw!r}): store the digits")
    if "*" in body:  # +4930***4567 (a masked export) read as +49304567 otherwise
        raise InvalidInput(
            f"'*' in a phone number ({raw!r}): masked or a service code, not a number"
        )
    # (a line break or a full-width ；separates two numbers as well: a group never spans one)
    digits_groups = re.findall(r"\d[\d \t\u3000\-().]{5,}\d", body)
    if len(digits_groups) > 1 and re.search(r"[/;,，、|；\n\r]|\s{2,}", body):
        raise InvalidInput(f"two phone numbers in one cell: {raw!r}")
    return ext, body


def parse_phone(value: str, region: str = "CN", country: str | None = None) -> Phone | None:
    """A phone cell -> E.164, extension and the suspect flag; empty is None.

    The region comes from a + / 00 prefix, else `country` (the row's country cell), else
    `region`. Raises InvalidInput for placeholders, letters (a vanity number is never read
    as digits), two numbers in one cell, impossible numbers and a country cell naming no
    known country. A number impossible in the default region (no country cell) that is a
    valid North American one read with its leading 1 (1-415-555-0100) is stored as +1,
    suspect, with a note saying so.
    """
    raw = str(value).strip()
    if not raw:
        return None
    fast = _common_phone(raw, region, country)
    if fast is not None:
        return fast
    if raw.lower() in _PLACEHOLDERS:
        raise InvalidInput(f"not a phone number: {raw!r}")
    ext, body = _phone_body(raw)
    compact = _STRIP.sub("", body)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        reg = country_region(country) or region.upper()  # the prefix decides
    else:
        reg = _row_region(country, region)
        compact = _international_without_plus(compact, reg)
    try:
        e164 = normalize_phone(compact, reg)
    except InvalidInput:
        nanp = None
        if not compact.startswith("+") and not (country or "").strip():
            nanp = None if reg in _NANP_REGIONS else _north_american(body, compact)
        if nanp is None:
            raise InvalidInput(f"impossible phone {raw!r}") from None
        note = (
            f"read as a North American number ({nanp}) because it is impossible in the "
            f"default region {reg}"
        )
        return Phone(nanp, ext, True, note)
    if e164 is None:  # only separators, e.g. "()"
        raise InvalidInput(f"not a phone number: {raw!r}")
    suspect = False
    if (
        not body.lstrip().startswith(("+", "00"))
        and reg not in _NANP_REGIONS
        and _NANP_GROUPING.match(body.strip())
    ):
        import phonenumbers

        as_us = phonenumbers.parse(compact, "US")
        suspect = phonenumbers.is_valid_number(as_us)
    return Phone(e164, ext, suspect)


# The common ways a Chinese mobile or a +1 number is written: ASCII digits, at most one
# space between groups, dashes, brackets, a leading + or 00. Such a cell has no extension,
# is no placeholder and holds one number, so parse_phone's general path would only compact it.
def _common_phone(raw: str, region: str, country: str | None) -> Phone | None:
    """parse_phone() of a stripped cell in one of the common forms (13812345678,
    138-1234-5678, +86 138 1234 5678, 0086..., +1 (415) 555-0100, +1-415-555-0100), or
    None: the general path decides (anything else, and every number this cannot settle).

    Exactly what the general path gives: the same E.164 (libphonenumber's validity patterns
    via normalize_phone's fast paths), no extension, never suspect (a 13-digit Chinese
    mobile or a + number has not the NANP 10-digit national grouping). Without spaces,
    dashes and brackets the cell must be exactly an ASCII mobile or +1 number that the
    patterns call valid (one regular expression each), so any other character, or an
    invalid number, leaves it to the general path (which words the refusal)."""
    if "  " in raw:  # two spaces may separate two numbers: the general path decides
        return None
    compact = raw.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    cn_mobile, nanp = _FAST_CELLS or _fast_cells()
    m = cn_mobile(compact)
    if m is not None:
        if m.group("cc") is None:  # national form: only where the row's region is CN
            # (a country cell naming no known country: the general path refuses it)
            reg = country_region(country) if country and not country.isspace() else region
            if reg is None or reg.upper() != "CN":
                return None
        return Phone("+86" + m.group("n"))
    m = nanp(compact)
    if m is not None:
        return Phone("+1" + m.group("n"))
    return None


_FAST_CELLS: list[Any] = []


def _fast_cells() -> list[Any]:
    """The fullmatch of a compact CN mobile cell (+86 / 0086 / none, then 1[3-9] and nine
    digits, valid by _valid_national('CN')) and of a compact +1 cell (+1 / 001, then a
    10-digit number valid by _valid_national('US')): each validity test is the general
    pattern as a lookahead before the any-type pattern, inside the form's own pattern."""

    def valid(region: str, length: int) -> str:
        patterns = _validity_patterns(region, length)
        if patterns is None:
            return "(?!)"
        general, types = patterns
        return f"(?=(?:{general.pattern})\\Z)(?:{types.pattern})"

    _FAST_CELLS[:] = [
        re.compile(f"(?P<cc>\\+86|0086)?(?P<n>(?=1[3-9][0-9]{{9}}\\Z){valid('CN', 11)})").fullmatch,
        re.compile(f"(?:\\+|00)1(?P<n>(?=[2-9][0-9]{{9}}\\Z){valid('US', 10)})").fullmatch,
    ]
    return _FAST_CELLS


def _international_without_plus(digits: str, region: str) -> str:
    """'4915123456789' in DE is +49 1512...: a region whose numbers are written with a
    national prefix (0) never writes its country code without '+' nationally."""
    if not digits.isdigit():
        return digits
    import phonenumbers

    code = str(phonenumbers.country_code_for_region(region) or "")
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    prefix = meta.national_prefix if meta is not None else None
    if not code or not prefix or not digits.startswith(code) or digits.startswith(prefix):
        return digits
    try:
        as_intl = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return digits
    return "+" + digits if phonenumbers.is_valid_number(as_intl) else digits


# Which currencies a symbol or code in an amount cell can mean: an amount written
# "$120,000.00" in a row whose currency is CNY is refused, never stored as yuan.
_CURRENCY_MARKS = {
    "$": {"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD", "MXN", "ARS", "CLP", "COP", "BRL"},
    "US$": {"USD"}, "R$": {"BRL"}, "€": {"EUR"}, "£": {"GBP"}, "¥": {"CNY", "JPY"},
    "￥": {"CNY", "JPY"}, "元": {"CNY"}, "RMB": {"CNY"}, "₩": {"KRW"}, "₹": {"INR"},
    "CN¥": {"CNY"}, "CN￥": {"CNY"}, "JP¥": {"JPY"}, "HK$": {"HKD"}, "NT$": {"TWD"},
    "NZ$": {"NZD"}, "A$": {"AUD"}, "AU$": {"AUD"}, "C$": {"CAD"}, "CA$": {"CAD"},
    "S$": {"SGD"}, "MX$": {"MXN"},
}  # fmt: skip
# (a sign with its country's letters before the one-letter ones: HK$ is no $)
_PREFIXED_SIGN = r"(?:US|HK|NT|NZ|AU|CA|MX|[RACS])\$|(?:CN|JP)[¥￥]"
_CURRENCY_AFFIX = re.compile(
    rf"^\(?\s*-?\s*({_PREFIXED_SIGN}|[$€£¥￥₩₹]|[A-Za-z]{{3}})"
    r"|(元|RMB|[A-Za-z]{3}|[$€£¥￥₩₹])\)?$",
    re.IGNORECASE,
)


def _amount_marks(raw: str) -> list[set[str]]:
    """The currencies each currency sign or code in an amount cell can mean (empty: none
    written)."""
    text = raw.strip()
    if not text or text[0].isdigit() and text[-1].isdigit():
        return []
    out = []
    for m in (_CURRENCY_AFFIX.match(text), _CURRENCY_AFFIX.search(text)):
        mark = m and (m.group(1) or m.group(2))
        if not mark:
            continue
        meant = _CURRENCY_MARKS.get(mark.upper()) or (
            {mark.upper()} if mark.isalpha() and mark.upper() != "RMB" else set()
        )
        if meant:
            out.append(meant)
    return out


def amount_currencies(raw: str) -> set[str] | None:
    """The currencies an amount's sign or code can all mean (`€5` {EUR}, `¥5` {CNY, JPY});
    None when it names none."""
    marks = _amount_marks(raw)
    if not marks:
        return None
    return set.intersection(*marks)


def check_amount_currency(raw: str, currency: str) -> None:
    """Raise InvalidInput when an amount cell's currency symbol or code cannot be
    `currency` (the row's currency column, else the import's --currency)."""
    if any(currency not in meant for meant in _amount_marks(raw)):
        raise InvalidInput(
            f"amount {raw.strip()!r} is not in {currency} (give the currency column or --currency)"
        )
