"""validate.normalize_phone's shortcuts give exactly what libphonenumber itself gives."""

from __future__ import annotations

import random
import re
import warnings
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from crmcli.core import validate
from crmcli.core.errors import InvalidInput
from crmcli.core.validate import normalize_email, normalize_phone


def reference(text: str, region: str) -> str:
    """The plain libphonenumber route (no fast paths): E.164 or 'invalid'."""
    compact = re.sub(r"[\s\-().\u00a0/]", "", text.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    try:
        parsed = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return "invalid"
    if not phonenumbers.is_valid_number(parsed):
        return "invalid"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def ours(text: str, region: str) -> str:
    try:
        return normalize_phone(text, region) or "blank"
    except InvalidInput:
        return "invalid"


def test_north_american_numbers_match_libphonenumber_on_a_random_sample() -> None:
    rnd = random.Random(8)
    checked = valid = 0
    for _ in range(3000):
        digits = "".join(rnd.choice("0123456789") for _ in range(10))
        a, b, c = digits[:3], digits[3:6], digits[6:]
        for text in (f"+1{digits}", f"+1 ({a}) {b}-{c}", f"+1-{a}-{b}-{c}", f"001{digits}"):
            for region in ("CN", "US"):
                expected = reference(text, region)
                assert ours(text, region) == expected, (text, region)
                checked += 1
                valid += expected != "invalid"
    assert checked == 24000 and 0 < valid < checked  # both outcomes were exercised


@pytest.mark.parametrize(
    "text",
    [
        "+1 (646) 977-8722",
        "+1-212-555-0123",
        "+1 800 555 0199",
        "+1 011 555 0199",  # area code starting 0: not the shortcut
        "+11234567890",  # area code starting 1
        "+1646977872",  # 9 digits
        "+164697787222",  # 11 digits
        "+1 646 977 8722 ext 12",
        "+1 646 977 8722\n",
        "＋１ ６４６ ９７７ ８７２２",  # full-width
        "+44 20 7946 0958",
    ],
)
def test_edge_cases_match_libphonenumber(text: str) -> None:
    for region in ("CN", "US", "GB"):
        expected = reference(text, region)
        cn_mobile = region == "CN" and expected.startswith("+861")
        if not cn_mobile:
            assert ours(text, region) == expected, (text, region)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("+86 139-0013-9000", "+8613900139000"),
        ("0086 139 0013 9000", "+8613900139000"),
        ("008613900139000", "+8613900139000"),
        ("１３８００１３８０００", "+8613800138000"),  # full-width digits
        ("010-6552 9988", "+861065529988"),  # Beijing landline
        ("(021) 6321 0000", "+862163210000"),  # Shanghai landline
        ("12345", "invalid"),
        ("138001380001", "invalid"),
        ("电话号码", "invalid"),
        ("   ", "blank"),
    ],
)
def test_chinese_numbers(text: str, expected: str) -> None:
    assert ours(text, "CN") == expected
    if expected not in ("blank",) and not expected.startswith("+861"):
        assert reference(text, "CN") == expected  # landlines and rejects: libphonenumber's


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" Ann@Example.COM ", "ann@example.com"),
        ("张伟@例子.中国", "张伟@例子.中国"),  # RFC 6531: internationalised addresses
        ("jeff@臺網中心.tw", "jeff@臺網中心.tw"),
        ("jeff@XN--FIQQ24B10VI0D.tw", "jeff@臺網中心.tw"),  # IDNA decoded: one form to match
        ("Dörte@Sörensen.example.com", "dörte@sörensen.example.com"),
        ('"Big Bug bb"@bug.com', '"big bug bb"@bug.com'),
        ("ＡＮＮ@example.com", "ａｎｎ@example.com"),  # letters, if full-width ones
        (".@iana.org", "invalid"),
        ("test.@iana.org", "invalid"),
        ("me@xn--0.tld", "invalid"),
        ("ann@@example.com", "invalid"),
        ("ann@example", "invalid"),
        ("ann..b@example.com", "invalid"),
        ("", "blank"),
    ],
)
def test_emails(text: str, expected: str) -> None:
    try:
        got = normalize_email(text) or "blank"
    except InvalidInput:
        got = "invalid"
    assert got == expected


def test_emails_agree_with_email_validator() -> None:
    """The ASCII fast path accepts and refuses exactly what email-validator does."""
    import random
    import string

    from email_validator import EmailNotValidError, validate_email

    chars = string.ascii_letters + string.digits + ".!#$%&'*+/=?^_`{|}~-\"( )@,;<>[]\\é"
    rng = random.Random(17)
    samples = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 9))) for _ in range(3000)]
    samples += ["a" * 64, "a" * 65, "a.b", ".a", "a.", "a..b", '"a b"', '"a\\"b"']
    for local in samples:
        text = f"{local}@example.com"
        try:
            ref = validate_email(text, check_deliverability=False, allow_quoted_local=True)
            expected: str | None = ref.normalized.lower()
        except EmailNotValidError:
            expected = None
        try:
            got = normalize_email(text)
        except InvalidInput:
            got = None
        if local != local.strip():
            continue  # we trim what a person typed around the address
        assert got == expected, text


def test_iso_fast_path_agrees_with_dateutil() -> None:
    """ISO input takes the stdlib parser; it must give what dateutil gives."""
    from datetime import UTC

    from dateutil import parser as dateutil_parser

    from crmcli.core.clock import local_zone
    from crmcli.core.validate import parse_datetime

    samples = [
        "2024-03-05",
        "2024-03-05 14:30",
        "2024-03-05T14:30:15",
        "2024-03-05T14:30:15.250000",
        "2024-03-05T14:30:15Z",
        "2024-03-05T14:30:15+08:00",
        "2024-03-05 14:30-0500",
        "2024-12-31T23:59:59+05:30",
    ]
    for text in samples:
        expected = dateutil_parser.parse(text)
        if expected.tzinfo is None:
            expected = expected.replace(tzinfo=local_zone())
        assert parse_datetime(text) == expected.astimezone(UTC), text


def test_iso_shaped_but_impossible_dates_are_invalid() -> None:
    import pytest

    from crmcli.core.errors import InvalidInput
    from crmcli.core.validate import parse_datetime

    for text in ("2024-02-30", "2024-13-01 10:00", "2024-01-01T25:00"):
        with pytest.raises(InvalidInput):
            parse_datetime(text)


# ---- parse_phone's fast path for the common forms (issue #12 speed) -------------------


def general_parse(text: str, region: str, country: str | None = None) -> object:
    """parse_phone with its common-forms fast path switched off."""
    from crmcli.core import validate

    saved = validate._common_phone
    validate._common_phone = lambda *_: None  # type: ignore[assignment]
    try:
        return validate.parse_phone(text, region, country)
    except InvalidInput:
        return "invalid"
    finally:
        validate._common_phone = saved  # type: ignore[assignment]


def fast_parse(text: str, region: str, country: str | None = None) -> object:
    from crmcli.core.validate import parse_phone

    try:
        return parse_phone(text, region, country)
    except InvalidInput:
        return "invalid"


def written_forms(national: str, plus: str) -> list[str]:
    """The ways people write one number: national digits grouped 3-4-4 (CN) or 3-3-4."""
    if len(national) == 11:
        a, b, c = national[:3], national[3:7], national[7:]
    else:
        a, b, c = national[:3], national[3:6], national[6:]
    return [
        national,
        f"{a} {b} {c}",
        f"{a}-{b}-{c}",
        f"+{plus}{national}",
        f"+{plus} {a} {b} {c}",
        f"+{plus}-{a}-{b}-{c}",
        f"+{plus} ({a}) {b}-{c}",
        f"00{plus}{national}",
        f"00{plus} {a} {b} {c}",
        f"({a}) {b}-{c}",
        f"{plus}{national}",
        f"{a}  {b} {c}",  # two spaces: the general path (two-numbers rule) decides
    ]


def read_as_north_american(got: object, text: str, region: str) -> bool:
    """Whether parse_phone read the cell as +1 because it is impossible in the default
    region (README, Phones), checked: libphonenumber calls it impossible there and a valid
    NANP number with '+' before it, and it is flagged suspect with a note."""
    if got == "invalid" or not got.note:  # type: ignore[attr-defined]
        return False
    assert reference(text, region) == "invalid", (text, region)
    digits = re.sub(r"[^0-9]", "", text)
    assert region not in ("US", "CA") and re.fullmatch(r"1[0-9]{10}", digits), (text, region)
    assert not re.search(r"[0-9]{4}\)", text), text  # grouped like NANP: 1 (415) 555-0100
    assert got.suspect, (text, region)  # type: ignore[attr-defined]
    assert got.e164 == reference("+" + digits, "US"), (text, region)  # type: ignore[attr-defined]
    return True


def check_forms(national: str, plus: str) -> tuple[int, int]:
    """Every form in every region: the fast path equals the general path, and where the
    general path accepts, its E.164 is libphonenumber's own. Returns (checked, valid)."""
    checked = valid = 0
    for text in written_forms(national, plus):
        for region, country in (("CN", None), ("US", None), ("GB", None), ("CN", "US")):
            got = fast_parse(text, region, country)
            assert got == general_parse(text, region, country), (text, region, country)
            checked += 1
            if got != "invalid" and (text.startswith(("+", "00")) or country is None):
                valid += 1
                reg = country or region
                if read_as_north_american(got, text, reg):
                    continue
                assert got.e164 == reference(text, reg), (text, region, country)  # type: ignore[attr-defined]
    return checked, valid


def test_common_phone_forms_match_libphonenumber_on_every_chinese_prefix() -> None:
    """Every 1xx prefix in every form and region, every 1xxx prefix (libphonenumber's CN
    mobile rules go down to 1740[0-5]) in the main forms: valid and invalid, random tails."""
    rnd = random.Random(12)
    checked = valid = 0
    for head in range(100, 200):
        c, v = check_forms(f"{head}{rnd.randrange(10**8):08d}", "86")
        checked += c
        valid += v
    for head in [*range(1000, 2000), *range(17400, 17410)]:
        national = f"{head}{rnd.randrange(10**10):010d}"[:11]
        for text in (national, f"+86 {national}", f"0086-{national}"):
            got = fast_parse(text, "CN")
            assert got == general_parse(text, "CN"), text
            if read_as_north_american(got, text, "CN"):
                checked += 1
                continue
            expected = reference(text, "CN")
            assert (got == "invalid") == (expected == "invalid"), text
            if got != "invalid":
                assert got.e164 == expected, text  # type: ignore[attr-defined]
                valid += 1
            checked += 1
    assert valid > 0 and checked > valid  # both outcomes were exercised


def test_common_phone_forms_match_libphonenumber_for_north_american_numbers() -> None:
    rnd = random.Random(13)
    checked = valid = 0
    for _ in range(150):
        c, v = check_forms(f"{rnd.randrange(10**10):010d}", "1")
        checked += c
        valid += v
    assert valid > 0 and checked > valid


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass
else:

    @settings(max_examples=400, deadline=None)
    @given(
        st.text(alphabet="0123456789+() -", min_size=1, max_size=22),
        st.sampled_from(["CN", "US", "DE"]),
        st.sampled_from([None, "", "US", "China", "DE", "Narnia", "Österreich", "UK", " "]),
    )
    def test_fast_path_equals_the_general_path_on_any_simple_cell(
        text: str, region: str, country: str | None
    ) -> None:
        text = text.strip()
        if text:
            assert fast_parse(text, region, country) == general_parse(text, region, country)

    @settings(max_examples=400, deadline=None)
    @given(
        st.text(alphabet="0123456789+() -.\t/x#,١３", min_size=1, max_size=22)
        | st.sampled_from(["13812345678", "+8613812345678", "+14155550100", "0014155550100"]).map(
            lambda s: s[:3] + " " + s[3:]
        ),
        st.sampled_from(["CN", "US", "DE"]),
        st.sampled_from([None, "", "US", "China", "DE", "Narnia", "Österreich", "UK", " "]),
    )
    def test_fast_path_equals_the_general_path_with_other_characters(
        text: str, region: str, country: str | None
    ) -> None:
        """The fast path checks no character set of its own: any other character (dots,
        slashes, an extension mark, Arabic-Indic or full-width digits) must leave the
        cell to the general path, whose answer it then is."""
        text = text.strip()
        if text:
            assert fast_parse(text, region, country) == general_parse(text, region, country)


# ---- the country column and letters (the phone's region is never guessed) -------------


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("England", "GB"), ("Scotland", "GB"), ("Wales", "GB"), ("UK", "GB"), ("gbr", "GB"),
        ("Holland", "NL"), ("the Netherlands", "NL"), ("Nederland", "NL"),
        ("USA", "US"), ("U.S.A.", "US"), ("America", "US"), ("United States", "US"),
        ("Deutschland", "DE"), ("Österreich", "AT"), ("Osterreich", "AT"), ("España", "ES"),
        ("Italia", "IT"), ("Schweiz", "CH"), ("Suisse", "CH"), ("Sverige", "SE"),
        ("Polska", "PL"), ("México", "MX"), ("Mexico", "MX"), ("Việt Nam", "VN"),
        ("Vietnam", "VN"), ("Korea, Republic of", "KR"), ("South Korea", "KR"),
        ("中国", "CN"), ("中华人民共和国", "CN"), ("香港", "HK"), ("台湾", "TW"),
        ("日本", "JP"), ("韩国", "KR"), ("美国", "US"), ("英国", "GB"), ("德国", "DE"),
        ("法国", "FR"), ("Россия", "RU"), ("Kosovo", "XK"), ("de", "DE"), (" cn ", "CN"),
    ],
)  # fmt: skip
def test_country_cells_name_their_region(cell: str, code: str) -> None:
    from crmcli.core.validate import country_region

    assert country_region(cell) == code


def test_every_iso_3166_name_and_code_names_its_country() -> None:
    import pycountry

    from crmcli.core.countries import country_code

    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                assert country_code(value) == country.alpha_2, (attr, value)
                assert country_code(value.upper()) == country.alpha_2, (attr, value)


@pytest.mark.parametrize("cell", ["Narnia", "Atlantis", "ZZ", "Europe", "Korea Republic"])
def test_a_country_cell_naming_no_country_is_refused_not_read_as_the_region(cell: str) -> None:
    from crmcli.core.validate import parse_phone

    for phone in ("020 7946 0958", "13812345678", "010-62532000"):
        with pytest.raises(InvalidInput, match="unknown country"):
            parse_phone(phone, "CN", cell)
    assert parse_phone("+44 20 7946 0958", "CN", cell).e164 == "+442079460958"  # type: ignore[union-attr]


def test_a_label_before_a_number_is_no_part_of_it() -> None:
    from crmcli.core.validate import parse_phone

    for cell in (
        "Tel 13812345678",
        "Tel: 138-1234-5678",
        "手机：13812345678",
        "Mobile +86 138 1234 5678",
    ):
        phone = parse_phone(cell, "CN")
        assert phone is not None and phone.e164 == "+8613812345678"


def test_a_country_without_a_numbering_plan_is_refused() -> None:
    from crmcli.core.validate import parse_phone

    with pytest.raises(InvalidInput, match="no phone numbering plan"):
        parse_phone("020 7946 0958", "CN", "Antarctica")


@pytest.mark.parametrize(
    "cell", ["1-800-FLOWERS", "+1 800 FLOWERS", "800-flowers", "138 1234 567a", "Tel 1381234567a"]
)
def test_letters_in_a_phone_are_refused(cell: str) -> None:
    from crmcli.core.validate import parse_phone

    with pytest.raises(InvalidInput, match="letters in a phone number"):
        parse_phone(cell, "US")


def test_nanp_with_its_leading_one_outside_north_america() -> None:
    from crmcli.core.validate import parse_phone

    for cell in ("1-415-555-0100", "14155550100", "1 (415) 555-0100", "1.415.555.0100"):
        got = parse_phone(cell, "CN")
        assert got is not None and (got.e164, got.suspect) == ("+14155550100", True), cell
        assert got.note and "North American" in got.note
    assert parse_phone("14155550100", "US") == ("+14155550100", None, False, None)
    for cell, region, country in (
        ("(141) 5555-0100", "CN", None),  # not written like a NANP number
        ("14155550100", "CN", "China"),  # the row says where the number is
        ("10005550100", "CN", None),  # no valid NANP number either
    ):
        with pytest.raises(InvalidInput, match="impossible phone"):
            parse_phone(cell, region, country)


if "given" in globals():

    @settings(max_examples=300, deadline=None)
    @given(
        st.sampled_from(["13812345678", "+14155550100", "020 7946 0958", "+49 30 1234567"]),
        st.integers(0, 13),
        st.characters(categories=["Lu", "Ll", "Lo"]),
    )
    def test_a_letter_anywhere_in_the_number_is_never_read_as_a_digit(
        number: str, at: int, letter: str
    ) -> None:
        from crmcli.core.validate import parse_phone

        cell = number[:at] + letter + number[at:]
        if cell.lower().strip() in ("x", "#") or not cell.strip():
            return
        try:
            got = parse_phone(cell, "GB")
        except InvalidInput:
            return
        # only an extension mark may be read (x, ext, 转 ... before digits at the end)
        assert got is not None and got.ext is not None, cell


def test_plain_amounts_read_as_the_general_path_reads_them() -> None:
    """parse_money_as / money_evidence take plain amounts (12, 12.5, 12,50) without
    _money_parts: the same value, the same evidence, the same refusals."""
    from crmcli.core import validate

    rnd = random.Random(21)
    cells = ["0", "7", "12", "12.5", "12,5", "12.50", "12,50", "1.234", "1,234", "0.05"]
    cells += ["999999999999", "999999999999.99", "1000000000000", " 42 ", "12.", ",5", "12.345"]
    for _ in range(3000):
        whole = str(rnd.randrange(10 ** rnd.randint(1, 13)))
        sep = rnd.choice(["", ".", ","])
        frac = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(0, 3))) if sep else ""
        cells.append(whole + sep + frac)

    def outcome(fn: object, *args: str) -> object:
        try:
            return fn(*args)  # type: ignore[operator]
        except InvalidInput as exc:
            return ("invalid", exc.message)

    def general_money(text: str, convention: str) -> object:
        saved = validate._PLAIN_MONEY
        validate._PLAIN_MONEY = re.compile(r"(?!)")  # matches nothing: the general path
        try:
            return (
                outcome(validate.parse_money_as, text, convention, "amount"),
                outcome(validate.money_evidence, text, "amount"),
            )
        finally:
            validate._PLAIN_MONEY = saved

    for text in cells:
        for convention in ("point", "comma"):
            fast = (
                outcome(validate.parse_money_as, text, convention, "amount"),
                outcome(validate.money_evidence, text, "amount"),
            )
            assert fast == general_money(text, convention), (text, convention)


def test_local_iso_times_read_as_the_general_path_reads_them() -> None:
    from crmcli.core import clock, validate

    zone = clock.local_zone()
    for text in ("2025-02-24 10:58:08", "2025-02-24T10:58", "2024-02-29 23:59:59",
                 "2025-03-30 02:30:00", "1999-12-31 23:59"):  # fmt: skip
        assert validate.parse_local_iso(text, zone) == validate.parse_datetime_as(text, None)
    # impossible, out of range in UTC, or another form: the general path decides
    for text in ("2025-02-30 10:00:00", "2025-13-01 10:00", "2025-02-24 24:00", "2025-02-24",
                 "0001-01-01 00:00", "2025-02-24 10:00+08:00"):  # fmt: skip
        assert validate.parse_local_iso(text, zone) is None


@pytest.mark.parametrize(
    ("cell", "currency", "ok"),
    [
        ("1,341.00", "CNY", True),
        ("$1,341 ", "USD", True),
        ("$1,341 ", "HKD", True),  # "$" is the dollar of several currencies
        ("$1,341 ", "CNY", False),
        ("€12,50", "EUR", True),
        ("12,50 EUR", "CNY", False),
        ("¥1,200", "CNY", True),
        ("¥1,200", "JPY", True),
        ("1200元", "CNY", True),
        ("1200元", "USD", False),
        ("(12.50)", "GBP", True),
        ("£12.50", "EUR", False),
    ],
)
def test_an_amount_written_in_another_currency_is_refused(
    cell: str, currency: str, ok: bool
) -> None:
    if ok:
        validate.check_amount_currency(cell, currency)
    else:
        with pytest.raises(InvalidInput, match=f"is not in {currency}"):
            validate.check_amount_currency(cell, currency)


# ---- dates must be whole, zones plain, durations read once ------------------------------

BASE = datetime(2024, 6, 10, 4, 0, tzinfo=UTC)  # Monday 2024-06-10 12:00 in Shanghai


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("March 5", "has no year"),
        ("5 Mar", "has no year"),
        ("05/03", "has no year"),
        ("30.06", "has no year or month"),
        ("March 2024", "has no day"),
        ("March 2024 Tuesday", "has no day"),
        ("2024", "has no month or day"),
        ("10:30", "has no date"),
        ("9am", "has no date"),
        ("Tuesday", "has no date"),
        ("Tuesday 10:30", "has no date"),
    ],
)
def test_a_date_without_year_month_or_day_is_refused(text: str, reason: str) -> None:
    """dateutil filled the missing fields from its default: 'March 5' was 2000-03-05."""
    with pytest.raises(InvalidInput, match=reason):
        validate.parse_datetime(text, base=BASE)
    with pytest.raises(InvalidInput, match=reason):  # an import cell takes the same path
        validate.parse_datetime_as(text, "dmy", "occurred_at")


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("March 5, 2024", "2024-03-05 00:00"),
        ("5 Mar 2024 10:00", "2024-03-05 10:00"),
        ("1 Mar 2024", "2024-03-01 00:00"),
        ("Jan 1 2024", "2024-01-01 00:00"),
        ("January 7, 2000 2pm", "2000-01-07 14:00"),
        ("5th of March 2024", "2024-03-05 00:00"),
        ("05-MAR-2024 10:00", "2024-03-05 10:00"),
        ("Tuesday, March 5, 2024", "2024-03-05 00:00"),
        ("2024/3/5", "2024-03-05 00:00"),
        ("2024.03.05", "2024-03-05 00:00"),
        ("20240305T101500", "2024-03-05 10:15"),
        ("2024年3月5日 14:30", "2024-03-05 14:30"),
        ("13/05/2024", "2024-05-13 00:00"),
        ("2024-03-05 at 10:30", "2024-03-05 10:30"),
        ("tomorrow 9am", "2024-06-11 09:00"),
        ("today 9:30pm", "2024-06-10 21:30"),
        ("yesterday 14:30", "2024-06-09 14:30"),
        ("明天", "2024-06-11 00:00"),
    ],
)
def test_complete_dates_and_day_words_with_a_time_still_read(text: str, local: str) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    got = validate.parse_datetime(text, base=BASE).astimezone(zone)
    assert got.strftime("%Y-%m-%d %H:%M") == local, text


@pytest.mark.parametrize(
    "text", ["tomorrow March 5", "today tuesday", "tomorrow 10:00 +08:00", "tomorrow 2024"]
)
def test_after_a_day_word_only_a_time_may_follow(text: str) -> None:
    """'tomorrow March 5' was tomorrow at 00:00, the date ignored; the offset was dropped."""
    with pytest.raises(InvalidInput, match="give only a time"):
        validate.parse_datetime(text, base=BASE)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("2024-03-05 10:00 PST", "PST"),
        ("2024-03-05 10:00 CET", "CET"),
        ("2024-03-05 10:00 CST", "CST"),
        ("March 5, 2024 10:00 AM EST", "EST"),
        ("2024年3月5日 10:00 PST", "PST"),
    ],
)
def test_a_zone_name_dateutil_cannot_resolve_is_refused_without_a_warning(
    text: str, name: str
) -> None:
    """These were read as local time (up to 9 hours wrong) with an UnknownTimezoneWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidInput, match=f"time zone '{name}' is ambiguous; write an offset"):
            validate.parse_datetime(text, base=BASE)


@pytest.mark.parametrize("text", ["2024-03-05 10:00 UTC+3", "2024-03-05 10:00 GMT-05:00",
                                  "2024-03-05 10:00 EST-0500", "2024-03-05 10:00 EST -05:00"])  # fmt: skip
def test_a_zone_name_with_a_signed_number_is_refused(text: str) -> None:
    """dateutil reads 'UTC+3' POSIX-style, as 03:00 behind UTC: the sign reads two ways."""
    with pytest.raises(InvalidInput, match="reads two ways"):
        validate.parse_datetime(text, base=BASE)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-03-05 10:00 UTC", "2024-03-05T10:00:00+00:00"),
        ("Tue, 05 Mar 2024 10:00:00 GMT", "2024-03-05T10:00:00+00:00"),
        ("2024-03-05 10:00Z", "2024-03-05T10:00:00+00:00"),
        ("March 5, 2024 10:00 AM UTC", "2024-03-05T10:00:00+00:00"),
        ("5 Mar 2024 10:00 -0800", "2024-03-05T18:00:00+00:00"),
        ("5 Mar 2024 10:00 +01:00", "2024-03-05T09:00:00+00:00"),
        ("March 5, 2024 10:00 AM -05:00", "2024-03-05T15:00:00+00:00"),
        ("2024-03-05 10:00:00 -0500 (EST)", "2024-03-05T15:00:00+00:00"),
        ("2024-03-05 10:00", "2024-03-05T02:00:00+00:00"),  # naive: $CRM_TZ
    ],
)
def test_utc_names_and_numeric_offsets_still_read(text: str, utc: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate.parse_datetime(text, base=BASE).isoformat() == utc


def test_a_weekday_that_is_not_the_dates_is_refused() -> None:
    with pytest.raises(InvalidInput, match="2024-03-05 is a Tuesday, not Mon"):
        validate.parse_datetime("Mon, 05 Mar 2024 10:00:00 GMT")
    assert validate.parse_datetime("Tue, 05 Mar 2024 10:00:00 GMT").day == 5


def test_a_dd_mm_date_with_a_zone_needs_the_date_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """'03/05/2024 10:00 +01:00' skipped the date-order check and dateutil read it month-first."""
    monkeypatch.delenv("CRM_DATE_ORDER", raising=False)
    with pytest.raises(InvalidInput, match="day or month first"):
        validate.parse_datetime("03/05/2024 10:00 +01:00")
    monkeypatch.setenv("CRM_DATE_ORDER", "dmy")
    assert validate.parse_datetime("03/05/2024 10:00 +01:00").isoformat() == (
        "2024-05-03T09:00:00+00:00"
    )
    monkeypatch.setenv("CRM_DATE_ORDER", "mdy")
    assert validate.parse_datetime("03/05/2024 10:00 UTC").isoformat() == (
        "2024-03-05T10:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2 hours", 7200),
        ("1 hour", 3600),
        ("30 min", 1800),
        ("90 sec", 90),
        ("1 hr", 3600),
        ("2hrs", 7200),
        ("3 mins", 180),
        ("5 minutes 30 seconds", 330),
        ("1 minute", 60),
        ("10 secs", 10),
        ("2 days", 172800),
        ("1 week", 604800),
        ("1hr30min", 5400),
        ("1h30m", 5400),
        ("2h 15m", 8100),
        ("15m", 900),
        ("90s", 90),
        ("1.5h", 5400),
        ("1d", 86400),
        ("1w", 604800),
        ("120", 120),
        ("0:45", 45),
        ("59:59", 3599),
        ("90:00", 5400),
        ("1:02:03", 3723),
        ("10:59:59", 39599),
    ],
)
def test_duration_forms(text: str, seconds: int) -> None:
    assert validate.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1:75", "1:75:99", "1:00:75", "1:60", "0:60:00"])
def test_colon_durations_need_minutes_and_seconds_below_60(text: str) -> None:
    """'1:75' was stored as 135 s and '1:75:99' as 8199 s."""
    with pytest.raises(InvalidInput, match="below 60"):
        validate.parse_duration(text)


@pytest.mark.parametrize("text", ["soon", "1ms", "2 hoursx", "5 minutes and 30 seconds", "h", ""])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        validate.parse_duration(text)
