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
replaced; undeclared 8-bit text is windows-1252.

Bounds per message: the first 1,000 recipients (To + Cc) are read, the rest ignored with a
warning; MIME nested deeper than 50 levels, a Date more than a day ahead, or any message
that cannot be read is skipped with its reason, never the file.
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
import mailbox
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
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@crmcli.generated>"


def sent_at(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000": the zone is unknown; RFC 5322 says UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


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
    moment = sent_at(date_text)
    if moment is None:
        return Skipped(where, "no readable Date header")
    if moment > now + FUTURE_SLACK:
        return Skipped(where, f"Date {date_text!r} is more than a day in the future")
    notes: list[str] = []
    others: list[Party] = []
    chunks: list[str] = []
    total = 0
    for name in ("To", "Cc"):
        for value in headers.texts(name):
            got, count = split_addresses(value, MAX_RECIPIENTS - len(chunks))
            chunks += got
            total += count
    for chunk in chunks:
        others += parse_parties(chunk)
    if total > MAX_RECIPIENTS:
        notes.append(f"{total:,} recipients; only the first {MAX_RECIPIENTS:,} were read")
    body = body_text(msg)
    subject = headers.text("Subject") or None
    if headers.charsets.doubt:
        notes.append(headers.charsets.doubt)
    return Item(
        key=f"mail:{ident}",
        channel="email",
        sender=senders[0],
        others=others,
        occurred_at=moment,
        subject=subject,
        content=body,
        source=where,
        senders=senders,
        notes=notes,
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
    if not _ENVELOPE.match(data) and not re.search(rb"^[A-Za-z-]+[ \t]*:", data[:1000], re.M):
        raise InvalidInput(f"{path} is neither an mbox file nor a mail message")
    yield from _one_file(data, path.name, now, path, charset)


_ENVELOPE = re.compile(rb"From [^\s:]")  # an mbox "From sender date" line, not "From  : x"


def _one_file(
    data: bytes,
    name: str,
    now: datetime | None,
    path: Path | None = None,
    charset: str | None = None,
) -> Iterator[Item | Skipped]:
    envelope = bool(_ENVELOPE.match(data))
    if not envelope or path is None:
        if envelope and b"\nFrom " in data:
            yield from _mbox_bytes(data, name, now, charset)
            return
        if envelope:  # one message with its envelope line
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        yield to_item(data, name, now, charset)
        return
    box = mailbox.mbox(str(path), create=False)
    try:
        for n, key in enumerate(box.iterkeys(), start=1):
            # mboxrd: writers escaped body lines starting "From " as ">From "; undo one level.
            raw = _ESCAPED_FROM.sub(rb"\1", box.get_bytes(key))
            yield to_item(raw, f"{name}#{n}", now, charset)
    finally:
        box.close()


def _mbox_bytes(
    data: bytes, name: str, now: datetime | None, charset: str | None
) -> Iterator[Item | Skipped]:
    """An mbox held in memory (found inside a directory)."""
    parts = re.split(rb"(?:^|\n)From [^\n]*\n", data)
    for n, part in enumerate((p for p in parts if p.strip()), start=1):
        yield to_item(_ESCAPED_FROM.sub(rb"\1", part), f"{name}#{n}", now, charset)


def check_source(path: Path) -> None:
    """Fail early (before a transaction) on a path that cannot be a mailbox."""
    if not path.exists():
        raise InvalidInput(f"no such file or directory: {path}")
