"""Reading mail: mbox files and directories of .eml messages -> office Items.

Headers are decoded per RFC 2047 (B and Q encodings; GB2312/GBK labels read as GB18030, the
superset Chinese mailers actually send), bodies per Content-Transfer-Encoding (base64,
quoted-printable) and charset. text/plain is preferred; an HTML-only message is converted
to text with the standard library's html.parser. Attachments are ignored.
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.policy
import email.utils
import hashlib
import mailbox
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from crmcli.core.errors import InvalidInput
from crmcli.importing.office import Item, Party, Skipped

CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "utf8": "utf-8",
}
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_MSGID = re.compile(r"<[^<>\s]+>")
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.M)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset -> text; wrong or unknown labels fall back sensibly."""
    label = (charset or "utf-8").strip().strip('"').lower()
    label = CHARSET_ALIASES.get(label, label)
    try:
        return data.decode(label)
    except (LookupError, UnicodeDecodeError):
        pass
    for fallback in ("utf-8", "gb18030"):
        try:
            return data.decode(fallback)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def decode_header_text(value: object) -> str:
    """An RFC 2047 header (encoded words in B or Q, any charset) -> text."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        parts = email.header.decode_header(value)
    else:
        text = _FOLD.sub("", str(value))
        try:
            parts = email.header.decode_header(text)
        except (ValueError, LookupError):
            return text.strip()
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, charset))
    return "".join(out).strip()


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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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
    return decode_bytes(payload, part.get_content_charset())


def body_text(msg: email.message.Message) -> str | None:
    """The message's text: the first text/plain part, else its HTML converted to text."""
    plain: str | None = None
    html: str | None = None
    for part in msg.walk():
        if part.is_multipart():
            continue
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


def parties(msg: email.message.Message, *headers: str) -> list[Party]:
    raw: list[str] = []
    for header in headers:
        raw += [str(v) for v in msg.get_all(header) or []]
    out: list[Party] = []
    for name, addr in email.utils.getaddresses([_FOLD.sub("", v) for v in raw]):
        addr = addr.strip().lower()
        if "@" not in addr:
            continue
        out.append(Party(decode_header_text(name) or None, addr))
    return out


def message_id(msg: email.message.Message, raw: bytes) -> str:
    """<id@host> from Message-ID, or a stable one made from the message's bytes."""
    value = _FOLD.sub("", str(msg.get("Message-ID") or "")).strip()
    found = _MSGID.search(value)
    if found:
        return found.group(0)
    if value and " " not in value:
        return f"<{value.strip('<>')}>"
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@crmcli.generated>"


def sent_at(msg: email.message.Message) -> datetime | None:
    value = msg.get("Date")
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(_FOLD.sub("", str(value)).strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": the zone is unknown; RFC 5322 says UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_item(raw: bytes, source: str) -> Item | Skipped:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    senders = parties(msg, "From")
    if not senders:
        return Skipped(source, "no From address")
    moment = sent_at(msg)
    if moment is None:
        return Skipped(source, "no readable Date header")
    subject = decode_header_text(msg.get("Subject")) or None
    return Item(
        key=f"mail:{message_id(msg, raw)}",
        channel="email",
        sender=senders[0],
        others=parties(msg, "To", "Cc"),
        occurred_at=moment,
        subject=subject,
        content=body_text(msg),
        source=source,
    )


def iter_messages(path: Path) -> Iterator[Item | Skipped]:
    """Every message of an mbox file, a single .eml file, or a directory of .eml files."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.eml") if p.is_file())
        if not files:
            raise InvalidInput(f"{path} holds no .eml files")
        for file in files:
            name = str(file.relative_to(path))
            try:
                data = file.read_bytes()
            except OSError as exc:
                yield Skipped(name, f"unreadable: {exc.strerror}")
                continue
            yield to_item(data, name)
        return
    if not path.is_file():
        raise InvalidInput(f"no such file or directory: {path}")
    with open(path, "rb") as fh:
        head = fh.read(5)
    if head != b"From ":
        data = path.read_bytes()
        if not re.search(rb"^[A-Za-z-]+:", data[:1000], re.M):
            raise InvalidInput(f"{path} is neither an mbox file nor an .eml message")
        yield to_item(data, path.name)
        return
    box = mailbox.mbox(str(path), create=False)
    try:
        for n, key in enumerate(box.iterkeys(), start=1):
            # mboxrd: writers escaped body lines starting "From " as ">From "; undo one level.
            raw = _ESCAPED_FROM.sub(rb"\1", box.get_bytes(key))
            yield to_item(raw, f"{path.name}#{n}")
    finally:
        box.close()


def check_source(path: Path) -> None:
    """Fail early (before a transaction) on a path that cannot be a mailbox."""
    if not path.exists():
        raise InvalidInput(f"no such file or directory: {path}")
