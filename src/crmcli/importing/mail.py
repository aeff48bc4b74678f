"""Reading mail: mbox files and directories of messages -> office Items.

Headers are read from their raw bytes, one header at a time: RFC 2047 encoded words in their
own charset (adjacent words joined before decoding, GB2312/GBK labels read as GB18030, a
malformed word kept as written); raw 8-bit text in the message's declared charsets, then
UTF-8 (RFC 6532), then the charset charset-normalizer detects over the message's 8-bit
header bytes. Addresses: a whole From encoded as one word (what email.mime writes for a
non-ASCII name) is decoded before parsing; Mailman's ``user at host (Name)``, two bare
addresses separated by a space, quoted local parts and the obsolete ``From  :`` form are
read. Bodies: the message's own text/plain part (HTML converted to text when there is none;
attached messages and attachments are not its text), in the declared charset with bad bytes
replaced; undeclared 8-bit text is windows-1252. Recipients: To, Cc and Bcc (a sent copy
keeps its Bcc). Reply-To is read with the reason it may not name the sender (list or bulk
mail); importing.office decides whether it does (a contact form's ``noreply@`` From).

Date: zones as +hhmm, +hh:mm, +hh, GMT+hhmm (JavaScript) or an RFC 5322 name; AM/PM read.
A Date without a zone or with a name RFC 5322 does not define (JST), or before 1900, is no
known moment: the message is skipped with that reason (never read as UTC).

mbox: split at "From " lines; when the first carries a date, only at those carrying one or
following a blank line before a header line (mboxo writers leave "From " body lines
unescaped); mboxrd's ">From " is undone one level.
A message without a Message-ID gets an id hashed over its bytes with LF line ends and no
final newlines, so its CRLF .eml and its mbox copy are one message. A Message-ID is not
trusted alone: importing.office takes two messages under one id for one only when their
Date, Subject and text agree, and stores a different one under a variant key with a warning
(a reused id never loses a message; its docstring says why stored, not refused).

Bounds per message: the first 1,000 recipients (To + Cc + Bcc) are read, the rest ignored
with a warning; MIME nested deeper than 50 levels, a Date more than a day ahead, or any
message that cannot be read is skipped with its reason, never the file.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.message
import email.policy
import email.utils
import fnmatch
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from crmcli.core.errors import InvalidInput
from crmcli.core.validate import normalize_email
from crmcli.importing.office import Item, Party, Skipped

MAX_RECIPIENTS = 1_000
MAX_MIME_DEPTH = 50
FUTURE_SLACK = timedelta(days=1)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # as every import (importing.pipeline)

CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "utf8": "utf-8",
    "iso-8859-1": "windows-1252",  # what every mailer means by latin-1 (RFC 8-bit practice)
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
}
UNDECLARED = {"unknown-8bit", "x-unknown", "8bit", "unknown", "x-user-defined", ""}
SINGLE_BYTE = re.compile(r"^(windows-125\d|cp125\d|iso-8859-\d+|koi8-[ru]|mac-?roman)$")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_MSGID = re.compile(r"<[^<>\s]+>")
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.M)
_OBSOLETE_COLON = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:", re.M)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"\?=[ \t\r\n]+=\?")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_MAILMAN = re.compile(
    r"^\s*([^\s@<>(),\"]+) at ([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)\s*(?:\((.*)\))?\s*$"
)
_ADDRESS_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|\((?:[^()\\]|\\.)*\)?|<[^>]*>?|,|[^",(<]+')


class _TooDeep(Exception):
    """MIME nested deeper than MAX_MIME_DEPTH."""


def charset_label(charset: str | None) -> str | None:
    """A declared charset label as a Python codec name, or None (undeclared or unknown)."""
    label = (charset or "").strip().strip('"').lower()
    if "*" in label:  # RFC 2231 language suffix: utf-8*en
        label = label.split("*", 1)[0]
    if label in UNDECLARED:
        return None
    label = CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset -> text, bad bytes replaced (never re-guessed); undeclared
    or unknown: UTF-8 when the bytes are UTF-8, else windows-1252."""
    label = charset_label(charset)
    if label is not None:
        return data.decode(label, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("windows-1252", errors="replace")


def _is_single_byte(label: str) -> bool:
    return bool(SINGLE_BYTE.match(label.replace("_", "-")))


class _Charsets:
    """The order in which one message's raw 8-bit headers are tried: the declared charsets,
    UTF-8, the --charset the user gave, then charset-normalizer over all 8-bit header bytes
    (a detection that another language fits as well is reported, never silent)."""

    def __init__(self, declared: list[str], headers_8bit: bytes, fallback: str | None = None):
        self.declared = declared
        self.blob = headers_8bit
        self.fallback = fallback
        self._detected: str | None | bool = False
        self.doubt: str | None = None  # set when the detection was ambiguous and used
        self._rivals: list[str] = []

    def detected(self) -> str | None:
        if self._detected is False:
            self._detected = None
            if self.blob:
                from charset_normalizer import from_bytes

                matches = list(from_bytes(self.blob))
                if matches:
                    best = matches[0]
                    self._detected = charset_label(best.encoding)
                    rivals = [
                        m.encoding
                        for m in matches[1:]
                        if m.chaos <= best.chaos + 0.05 and m.language != best.language
                    ]
                    self._rivals = rivals
        return self._detected if isinstance(self._detected, str) else None

    def decode(self, data: bytes) -> str:
        try:
            as_utf8: str | None = data.decode("utf-8")
        except UnicodeDecodeError:
            as_utf8 = None
        for label in self.declared:
            if as_utf8 is not None and (label == "utf-8" or _is_single_byte(label)):
                return as_utf8  # valid UTF-8 is not latin-1 text
            try:
                return data.decode(label)
            except UnicodeDecodeError:
                continue
        if as_utf8 is not None:
            return as_utf8
        if self.fallback is not None:
            try:
                return data.decode(self.fallback)
            except UnicodeDecodeError:
                pass
        guess = self.detected()
        if guess is not None:
            try:
                text = data.decode(guess)
            except UnicodeDecodeError:
                pass
            else:
                if self._rivals and self.doubt is None:
                    self.doubt = (
                        f"undeclared 8-bit headers read as {guess}, but"
                        f" {', '.join(self._rivals)} fit as well: --charset decides"
                    )
                return text
        return data.decode("windows-1252", errors="replace")


def _decode_word(encoding: str, text: str) -> bytes:
    if encoding in "bB":
        text = text + "=" * (-len(text) % 4)
        return base64.b64decode(text, validate=True)
    return _decode_q(text)


def _decode_q(text: str) -> bytes:
    out = bytearray()
    i = 0
    data = text.replace("_", " ")
    while i < len(data):
        ch = data[i]
        if ch == "=" and _HEX2.fullmatch(data[i + 1 : i + 3]):
            out.append(int(data[i + 1 : i + 3], 16))
            i += 3
            continue
        out += ch.encode("utf-8")
        i += 1
    return bytes(out)


def decode_words(text: str) -> str:
    """RFC 2047: every encoded word decoded in its charset; adjacent words (only white space
    between them) joined first, so a character split across two words survives; a word that
    does not decode is kept as written."""
    text = _BETWEEN_WORDS.sub("?==?", text)
    out: list[str] = []
    pos = 0
    pending: list[tuple[str, bytes]] = []

    def flush() -> None:
        while pending:
            label = pending[0][0]
            n = 1
            while n < len(pending) and pending[n][0] == label:
                n += 1
            out.append(decode_bytes(b"".join(p[1] for p in pending[:n]), label))
            del pending[:n]

    for found in _ENCODED_WORD.finditer(text):
        if found.start() > pos:
            flush()
            out.append(text[pos : found.start()])
        charset, encoding, payload = found.groups()
        try:
            data = _decode_word(encoding, payload)
        except (binascii.Error, ValueError):
            flush()
            out.append(found.group(0))
        else:
            pending.append((charset, data))
        pos = found.end()
    flush()
    out.append(text[pos:])
    return "".join(out)


def decode_header_text(value: object) -> str:
    """An RFC 2047 header value (already text) -> text: words decoded, folding undone."""
    if value is None:
        return ""
    text = re.sub(r"\r?\n(?=[ \t])", "", str(value))
    return decode_words(text).strip()


def unfold(value: bytes) -> bytes:
    return _FOLD.sub(b"", value)


@dataclass
class _Headers:
    """A message's headers as raw bytes, decoded on demand with the message's charsets."""

    raw: dict[str, list[bytes]]
    charsets: _Charsets
    notes: list[str] = field(default_factory=list)

    def texts(self, name: str) -> list[str]:
        """Every value of a header, 8-bit decoded (encoded words left for the caller)."""
        out = []
        for value in self.raw.get(name.lower(), []):
            data = unfold(value).strip()
            out.append(data.decode("ascii") if data.isascii() else self.charsets.decode(data))
        return out

    def text(self, name: str) -> str:
        values = self.texts(name)
        return decode_header_text(values[0]) if values else ""


def _raw_headers(msg: email.message.Message) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for name, value in msg.raw_items():
        data = str(value).encode("ascii", "surrogateescape")
        out.setdefault(name.strip().lower(), []).append(data)
    return out


class _HtmlText(HTMLParser):
    BLOCK = {
        "p", "div", "li", "tr", "table", "ul", "ol", "blockquote", "pre", "hr", "section",
        "article", "header", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt",
    }  # fmt: skip
    SKIP = {"script", "style", "head", "title", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, _attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCK:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, _attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: blocks become lines, scripts and styles vanish."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return tidy("".join(parser.parts), fold_spaces=True)


def tidy(text: str, fold_spaces: bool = False) -> str:
    """Normalise line ends, trim lines, squeeze runs of blank lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if fold_spaces:
        lines = [" ".join(line.split()) for line in lines]
    else:
        lines = [line.rstrip() for line in lines]
    out: list[str] = []
    for line in lines:
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    return "\n".join(out).strip()


def _part_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload, part.get_param("charset"))  # type: ignore[arg-type]


def _leaves(part: email.message.Message, depth: int = 0) -> Iterator[email.message.Message]:
    """The message's own leaf parts: attached messages (message/*) are not descended into."""
    if depth > MAX_MIME_DEPTH:
        raise _TooDeep
    if part.get_content_maintype() == "message" and depth > 0:
        return
    if part.is_multipart():
        payload = part.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, email.message.Message):
                yield from _leaves(sub, depth + 1)
        return
    yield part


def body_text(msg: email.message.Message) -> str | None:
    """The message's text: its first text/plain part, else its HTML converted to text."""
    plain: str | None = None
    html: str | None = None
    for part in _leaves(msg):
        disposition = str(part.get("Content-Disposition") or "").lower()
        if disposition.startswith("attachment"):
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = _part_text(part)
        elif ctype == "text/html" and html is None:
            html = _part_text(part)
    if plain and plain.strip():
        return tidy(plain)
    if html:
        return html_to_text(html) or None
    return None


def split_addresses(text: str, limit: int) -> tuple[list[str], int]:
    """(the first `limit` comma-separated addresses, how many there are), cutting only at
    commas outside quotes, comments and angle brackets (linear time)."""
    chunks: list[str] = []
    current: list[str] = []
    total = 0
    for token in _ADDRESS_TOKENS.findall(text):
        if token == ",":
            if "".join(current).strip():
                total += 1
                if len(chunks) < limit:
                    chunks.append("".join(current))
            current = []
        elif total < limit or not current:
            current.append(token)
    if "".join(current).strip():
        total += 1
        if len(chunks) < limit:
            chunks.append("".join(current))
    return chunks, total


def _party(name: str, addr: str) -> Party | None:
    addr = addr.strip()
    if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        return None
    try:
        email_addr = normalize_email(addr) or addr.lower()
    except InvalidInput:
        email_addr = addr.lower()
    display = " ".join(decode_words(name).split()).strip().strip('"').strip() or None
    return Party(display, email_addr)


def parse_parties(text: str) -> list[Party]:
    """The addresses in one (8-bit decoded) address header's value."""
    text = text.strip()
    if not text:
        return []
    mailman = _MAILMAN.match(text)
    if mailman and "@" not in text:
        found = _party(mailman.group(3) or "", f"{mailman.group(1)}@{mailman.group(2)}")
        return [found] if found else []
    if not any(c in text for c in ',<>"()') and len(text.split()) > 1:
        tokens = text.split()
        if all("@" in t for t in tokens):  # "a@x.com b@x.com": two bare addresses
            return [p for p in (_party("", t) for t in tokens) if p is not None]
    out = [p for p in (_party(n, a) for n, a in email.utils.getaddresses([text])) if p]
    if not out and _ENCODED_WORD.search(text):  # the whole value was one encoded word
        decoded = decode_words(text)
        if decoded != text:
            return parse_parties(decoded)
    return out


def message_id(headers: _Headers | email.message.Message, raw: bytes) -> str:
    """<id@host> from Message-ID, or a stable one made from the message's bytes."""
    if isinstance(headers, email.message.Message):
        headers = _headers(headers)
    value = headers.text("Message-ID")
    found = _MSGID.search(value)
    if found:
        return found.group(0)
    if value and " " not in value:
        return f"<{value.strip('<>')}>"
    # the same message saved as CRLF .eml, or kept in an mbox (LF, a newline added): one id
    basis = raw.replace(b"\r\n", b"\n").rstrip(b"\n")
    return _generated_id(basis)


def _generated_id(data: bytes) -> str:
    return f"<{hashlib.sha256(data).hexdigest()[:32]}@crmcli.generated>"


def _legacy_keys(ident: str, raw: bytes) -> list[str]:
    """The key crmcli up to 2026-03 made for a message without a Message-ID (a hash of its
    bytes as read), so a mailbox imported then is still a duplicate now."""
    if not ident.endswith("@crmcli.generated>"):
        return []
    old = f"mail:{_generated_id(raw)}"
    return [] if old == f"mail:{ident}" else [old]


_DATE_COMMENT = re.compile(r"\([^()]*\)")
_DATE_TIME = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])")
_DATE_YEAR = re.compile(r"(?<![\d:+-])\d{3,4}(?![\d:])")
_DATE_ISO = re.compile(r"(\d{4}-\d\d-\d\d)[T ]?")
_AM_PM = re.compile(r"^([AaPp])\.?[Mm]\.?$")
_NUMERIC_ZONE = re.compile(r"^(?:(?:GMT|UTC|UT)(?=[+-]))?([+-])(\d{2}):?(\d{2})?$", re.I)
# RFC 5322 section 4.3: the only zone names with a meaning ("-0000" and these)
_ZONE_NAMES = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -300, "EDT": -240, "CST": -360,
    "CDT": -300, "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
}  # fmt: skip


class _BadDate(Exception):
    """A Date header whose moment cannot be known; the message is the reason."""


def _date_zone(tokens: list[str], value: str) -> tuple[int, str | None]:
    """(the zone's offset in minutes, AM/PM) from the tokens after a Date's time of day."""
    offset: int | None = None
    ampm: str | None = None
    unknown: str | None = None
    for token in tokens:
        found = _NUMERIC_ZONE.match(token)
        if _AM_PM.match(token):
            ampm = token[0].upper()
        elif found and offset is None:
            sign, hours, minutes = found.groups()
            if int(hours) > 23 or int(minutes or 0) > 59:
                raise _BadDate(f"Date {value!r} has an impossible time zone {token!r}")
            offset = (int(hours) * 60 + int(minutes or 0)) * (-1 if sign == "-" else 1)
        elif token.upper() in _ZONE_NAMES and offset is None:
            offset = _ZONE_NAMES[token.upper()]
        elif not token.isdigit() and offset is None and unknown is None:
            unknown = token
    if offset is None:
        if unknown is not None:
            raise _BadDate(f"Date {value!r} has an unknown time zone {unknown!r}")
        raise _BadDate(f"Date {value!r} has no time zone")
    return offset, ampm


def sent_at(value: str) -> datetime | None:
    """A Date header -> its UTC moment, None when it is no date at all. Zones: +hhmm,
    +hh:mm, +hh, GMT+hhmm (JavaScript's form), the RFC 5322 names; "-0000" is UTC (RFC 5322:
    the time is UTC, the sender's zone unknown). A time without a zone, or with a zone name
    RFC 5322 does not define (JST, MEZ), raises _BadDate: its moment is unknown. AM/PM is read.
    """
    text = " ".join(_DATE_COMMENT.sub(" ", value or "").split())
    clock = _DATE_TIME.search(text)
    if not text or clock is None:
        return None
    offset, ampm = _date_zone(text[clock.end() :].split(), value.strip())
    head = text[: clock.start()].strip()
    kept = [t for t in text[clock.end() :].split() if t.isdigit() and len(t) == 4]  # asctime
    year = _DATE_YEAR.search(" ".join([head, *kept]))
    if year and int(year.group(0)) < 1900:  # 0001-01-01: "no date" (parsedate reads 2001)
        raise _BadDate(f"Date {value.strip()!r} is before 1900: a placeholder, not a date")
    hour = int(clock.group(1))
    if ampm is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "P" else 0)
    wall = f"{hour:02d}:{clock.group(2)}:{clock.group(3) or '00'}"
    iso = _DATE_ISO.fullmatch(head)
    try:
        if iso:
            moment = datetime.fromisoformat(f"{iso.group(1)}T{wall}+00:00")
        else:
            moment = email.utils.parsedate_to_datetime(" ".join([head, *kept, wall, "+0000"]))
        if moment.tzinfo is None:
            return None
        return (moment - timedelta(minutes=offset)).replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


LIST_HEADERS = ("List-Id", "List-Post", "Mailing-List", "List-Unsubscribe")
BULK_PRECEDENCE = {"list", "bulk", "junk"}


def reply_to_parties(headers: _Headers) -> tuple[list[Party], str | None]:
    """(the distinct Reply-To addresses, why they may not stand for the sender or None).

    A list's or a bulk sender's Reply-To names the list or a department, not the person the
    message is from: mail with a List-* header (RFC 2369/2919, ezmlm's Mailing-List) or
    ``Precedence: list|bulk|junk`` gives the reason."""
    parties: list[Party] = []
    for value in headers.texts("Reply-To"):
        chunks, _ = split_addresses(value, MAX_RECIPIENTS)
        for chunk in chunks:
            parties += parse_parties(chunk)
    parties = list({p.email: p for p in parties}.values())  # each address once, in order
    if not parties:
        return [], None
    for name in LIST_HEADERS:
        if headers.texts(name):
            return parties, f"mailing-list or bulk mail ({name} header)"
    precedence = headers.text("Precedence").strip().lower()
    if precedence in BULK_PRECEDENCE:
        return parties, f"bulk mail (Precedence: {precedence})"
    return parties, None


def _declared_charsets(msg: email.message.Message) -> list[str]:
    out: list[str] = []
    try:
        parts = list(_leaves(msg))
    except _TooDeep:
        parts = []
    for part in [msg, *parts]:
        label = charset_label(part.get_param("charset"))  # type: ignore[arg-type]
        if label and label not in out:
            out.append(label)
    return out


def _headers(msg: email.message.Message, charset: str | None = None) -> _Headers:
    raw = _raw_headers(msg)
    eight_bit = b" ".join(unfold(v) for values in raw.values() for v in values if not v.isascii())
    return _Headers(raw, _Charsets(_declared_charsets(msg), eight_bit, charset))


def to_item(
    raw: bytes, source: str, now: datetime | None = None, charset: str | None = None
) -> Item | Skipped:
    """One message -> an Item, or Skipped with the reason; never raises for bad input."""
    try:
        return _to_item(raw, source, now or datetime.now(UTC), charset)
    except _TooDeep:
        return Skipped(source, f"MIME parts nested deeper than {MAX_MIME_DEPTH} levels")
    except RecursionError:
        return Skipped(source, f"MIME parts nested deeper than {MAX_MIME_DEPTH} levels")
    except Exception as exc:  # noqa: BLE001 - one unreadable message never costs the file
        return Skipped(source, f"unreadable message ({type(exc).__name__}: {exc})")


def _fix_obsolete(raw: bytes) -> bytes:
    """RFC 822 obsolete syntax allowed white space before a header's colon (`From  :`)."""
    end = _HEADER_END.search(raw)
    head_end = end.start() if end else len(raw)
    head = raw[:head_end]
    if b" :" not in head and b"\t:" not in head:
        return raw
    return _OBSOLETE_COLON.sub(rb"\1:", head) + raw[head_end:]


def _to_item(raw: bytes, source: str, now: datetime, charset: str | None) -> Item | Skipped:
    raw = _fix_obsolete(raw)
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    headers = _headers(msg, charset)
    ident = message_id(headers, raw)
    where = f"{source} {ident}" if not ident.endswith("@crmcli.generated>") else source
    senders: list[Party] = []
    for value in headers.texts("From"):
        senders += parse_parties(value)
    if not senders:
        return Skipped(where, "no From address")
    date_text = headers.text("Date")
    try:
        moment = sent_at(date_text)
    except _BadDate as exc:
        return Skipped(where, str(exc))
    if moment is None:
        return Skipped(where, "no readable Date header")
    if moment < EARLIEST:
        return Skipped(where, f"Date {date_text!r} is before 1900: a placeholder, not a date")
    if moment > now + FUTURE_SLACK:
        return Skipped(where, f"Date {date_text!r} is more than a day in the future")
    notes: list[str] = []
    others: list[Party] = []
    chunks: list[str] = []
    total = 0
    for name in ("To", "Cc", "Bcc"):  # a sent copy keeps its Bcc: they got it too
        for value in headers.texts(name):
            got, count = split_addresses(value, MAX_RECIPIENTS - len(chunks))
            chunks += got
            total += count
    for chunk in chunks:
        others += parse_parties(chunk)
    if total > MAX_RECIPIENTS:
        notes.append(f"{total:,} recipients; only the first {MAX_RECIPIENTS:,} were read")
    reply_to, refused = reply_to_parties(headers)
    body = body_text(msg)
    subject = headers.text("Subject") or None
    if headers.charsets.doubt:
        notes.append(headers.charsets.doubt)
    return Item(
        key=f"mail:{ident}",
        aliases=_legacy_keys(ident, raw),
        channel="email",
        sender=senders[0],
        others=others,
        occurred_at=moment,
        subject=subject,
        content=body,
        source=where,
        senders=senders,
        notes=notes,
        reply_to=reply_to,
        reply_to_refused=refused,
    )


def _files(path: Path, glob: str | None) -> list[Path]:
    if glob:
        return sorted(p for p in path.rglob("*") if p.is_file() and (
            fnmatch.fnmatch(p.name, glob) or fnmatch.fnmatch(str(p.relative_to(path)), glob)
        ))  # fmt: skip
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".eml")


def iter_messages(
    path: Path,
    glob: str | None = None,
    now: datetime | None = None,
    charset: str | None = None,
) -> Iterator[Item | Skipped]:
    """Every message of an mbox file, a single message file, or a directory of messages
    (``*.eml`` in any case, or the files matching `glob`)."""
    if path.is_dir():
        files = _files(path, glob)
        if not files:
            what = (
                f"files matching {glob!r}"
                if glob
                else ".eml files (--glob PATTERN for other names)"
            )
            raise InvalidInput(f"{path} holds no {what}")
        for file in files:
            name = str(file.relative_to(path))
            try:
                data = file.read_bytes()
            except OSError as exc:
                yield Skipped(name, f"unreadable: {exc.strerror}")
                continue
            yield from _one_file(data, name, now, None, charset)
        return
    if not path.is_file():
        raise InvalidInput(f"no such file or directory: {path}")
    data = path.read_bytes()
    if not _ENVELOPE.match(data) and not _looks_like_mail(data):
        raise InvalidInput(f"{path} is neither an mbox file nor a mail message")
    yield from _one_file(data, path.name, now, path, charset)


_ENVELOPE = re.compile(rb"From [^\s:]")  # an mbox "From sender date" line, not "From  : x"
_HEADER_LINE = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
MAIL_HEADERS = {
    b"from", b"date", b"message-id", b"received", b"return-path", b"subject", b"to", b"cc",
    b"sender", b"reply-to", b"mime-version", b"delivered-to", b"in-reply-to", b"x-mailer",
}  # fmt: skip


def _looks_like_mail(data: bytes) -> bool:
    """A message starts with a header line and has a header of mail (an .ics or .vcf has
    "NAME:" lines too, never From/Date/Subject...)."""
    end = _HEADER_END.search(data, 0, 65536)
    head = data[: end.start() if end else 65536].lstrip(b"\xef\xbb\xbf")
    if not _HEADER_LINE.match(head):
        return False
    names = {
        m.group(1).lower() for m in re.finditer(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:", head, re.M)
    }
    return bool(names & MAIL_HEADERS)


_SEPARATOR = re.compile(rb"^From [^\n]*", re.M)
_DAYS = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?"
_MONTHS = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
# "From sender asctime-date": Mailman's "jgb at example.com", Thunderbird's "-", Gmail's zone
_ENVELOPE_DATE = re.compile(
    rb"^From (?:.*\s)?" + _DAYS + rb" +" + _MONTHS
    + rb" +\d{1,2},? +\d{1,2}:\d\d(?::\d\d)?(?: +\S+)? +\d{4}(?: +\S+)?\s*$"
)  # fmt: skip


def _is_envelope(data: bytes, line: re.Match[bytes]) -> bool:
    """A "From " line that starts a message: it carries a date, or (another writer's
    envelope) follows a blank line and is followed by a header line."""
    if line.start() == 0 or _ENVELOPE_DATE.match(line.group(0).rstrip(b"\r")):
        return True
    before = data[max(0, line.start() - 3) : line.start()]
    blank = before.endswith(b"\n\n") or before.endswith(b"\n\r\n")
    return blank and bool(_HEADER_LINE.match(data, line.end() + 1))


def split_mbox(data: bytes) -> list[bytes]:
    """An mbox's messages, as Python's mailbox reads them (the blank line before each "From "
    line is the separator's). When the first "From " line carries a date, only envelopes
    (_is_envelope) separate: an unescaped "From the desk of..." in a body is text, not a new
    message (mboxo). mboxrd's ">From " escaping is undone one level."""
    lines = list(_SEPARATOR.finditer(data))
    if not lines or lines[0].start() != 0:
        return []
    strict = bool(_ENVELOPE_DATE.match(lines[0].group(0).rstrip(b"\r")))
    cuts = [m for m in lines if not strict or _is_envelope(data, m)]
    out = []
    for n, cut in enumerate(cuts):
        start = cut.end() + 1
        stop = cuts[n + 1].start() if n + 1 < len(cuts) else len(data)
        part = data[start:stop]
        if part.endswith(b"\n\n"):
            part = part[:-1]
        if part.strip():
            out.append(_ESCAPED_FROM.sub(rb"\1", part))
    return out


def _one_file(
    data: bytes,
    name: str,
    now: datetime | None,
    path: Path | None = None,
    charset: str | None = None,
) -> Iterator[Item | Skipped]:
    envelope = bool(_ENVELOPE.match(data))
    if not envelope:
        yield to_item(data, name, now, charset)
        return
    if path is None and b"\nFrom " not in data:  # one message with its envelope line
        yield to_item(data.split(b"\n", 1)[1] if b"\n" in data else b"", name, now, charset)
        return
    for n, raw in enumerate(split_mbox(data), start=1):
        yield to_item(raw, f"{name}#{n}", now, charset)


def check_source(path: Path) -> None:
    """Fail early (before a transaction) on a path that cannot be a mailbox."""
    if not path.exists():
        raise InvalidInput(f"no such file or directory: {path}")
