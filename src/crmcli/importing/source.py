"""CSV reading for every `import` command: encoding detection, delimiter sniffing, header
aliases (English and Chinese), `--map SRC=FIELD`, ragged-row detection and rejects files.

Streaming: rows are yielded one at a time, so memory stays constant whatever the file size.
The entity-specific parts (validation, upsert) live with each entity's import function.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import operator
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from crmcli.core.errors import InvalidInput, OperationalError
from crmcli.core.sanitize import uncsv_cell

csv.field_size_limit(16 * 1024 * 1024)

SAMPLE_BYTES = 1 << 20

# Header aliases shared by every import: normalized header text -> field name.
COMMON_ALIASES: dict[str, str] = {
    # customers
    "name": "name",
    "fullname": "name",
    "customer": "name",
    "customername": "name",
    "contact": "name",
    "姓名": "name",
    "名字": "name",
    "客户": "name",
    "客户名称": "name",
    "客户姓名": "name",
    "联系人": "name",
    "phone": "phone",
    "mobile": "phone",
    "tel": "phone",
    "telephone": "phone",
    "phonenumber": "phone",
    "cell": "phone",
    "电话": "phone",
    "手机": "phone",
    "手机号": "phone",
    "手机号码": "phone",
    "电话号码": "phone",
    "联系电话": "phone",
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "emailaddress": "email",
    "邮箱": "email",
    "电子邮件": "email",
    "电子邮箱": "email",
    "邮件": "email",
    "address": "address",
    "addr": "address",
    "地址": "address",
    "联系地址": "address",
    "住址": "address",
    "company": "company",
    "organization": "company",
    "organisation": "company",
    "companyname": "company",
    "公司": "company",
    "公司名称": "company",
    "单位": "company",
    "企业": "company",
    "tags": "tags",
    "tag": "tags",
    "labels": "tags",
    "标签": "tags",
    "externalid": "external_id",
    "extid": "external_id",
    "customerno": "external_id",
    "客户编号": "external_id",
    "编号": "external_id",
    "lifecycle": "lifecycle",
    "stage": "lifecycle",
    "status": "lifecycle",
    "阶段": "lifecycle",
    "owner": "owner",
    "负责人": "owner",
    "销售": "owner",
    "notes": "notes",
    "note": "notes",
    "remark": "notes",
    "remarks": "notes",
    "备注": "notes",
    "createdat": "created_at",
    "created": "created_at",
    "创建时间": "created_at",
    "id": "id",
    # references to a customer from other records: a header spelled as a field is that
    # field (`customer_id`, this database's id); another system's spelling (`Customer ID`,
    # `CustomerID`, 客户ID, `Kundennummer`) is that system's number: customer_external_id
    # (see CUSTOMER_NUMBER_HEADERS; the customer import reads them as its external_id)
    "customerid": "customer_external_id",
    "客户id": "customer_external_id",
    "customernumber": "customer_external_id",
    "kundennummer": "customer_external_id",
    "customerexternalid": "customer_external_id",
    "customeremail": "customer_email",
    "customerphone": "customer_phone",
    "客户邮箱": "customer_email",
    "客户电话": "customer_phone",
}


# --encoding names people use that Python's codecs spell differently (GBK and GB2312 are
# subsets of GB18030, which also decodes everything Excel on Chinese Windows writes).
ENCODING_ALIASES: dict[str, str] = {
    "utf-8-bom": "utf-8-sig",
    "utf8-bom": "utf-8-sig",
    "utf-8bom": "utf-8-sig",
    "utf8bom": "utf-8-sig",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
    "utf-16-bom": "utf-16",
}


def unneutralise(cell: str) -> str:
    """Undo output.neutralise: "'=1+1" -> "=1+1", "'+8613800138000" -> "+8613800138000".

    Our exports prefix risky cells with a quote (CSV injection); importing an export must
    give back the original value.
    """
    return uncsv_cell(cell)


def normalize_header(text: str) -> str:
    """Case-, space-, underscore- and BOM-insensitive form of a header cell."""
    return re.sub(r"[\s_\-./]", "", text.replace("\ufeff", "").strip().lower()) or text.strip()


@dataclass
class ColumnMap:
    """What the `--map` options say: {normalized header: field or IGNORE} for one-column
    maps, and {field: [normalized headers]} for joins (`A+B=field`)."""

    single: dict[str, str] = field(default_factory=dict)
    joins: dict[str, list[str]] = field(default_factory=dict)
    spelled: dict[str, str] = field(default_factory=dict)  # normalized -> as the user wrote it

    def targets(self) -> set[str]:
        return {f for f in self.single.values() if f != IGNORE} | set(self.joins)


IGNORE = "-"


def parse_mapping(items: Sequence[str] | None) -> ColumnMap:
    """`--map SRC=FIELD`, `--map "A+B=FIELD"` (join), `--map SRC=-` (ignore) -> ColumnMap.
    SRC is a header name or `#N`, column N by position (see _override_columns).

    Exact: a column mapped twice, or a field fed by two maps without `+`, is an error."""
    out = ColumnMap()
    fed_by: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise InvalidInput(f"--map takes SRC=FIELD, got {item!r}")
        src, dst = item.rsplit("=", 1)
        dst = dst.strip()
        parts = [p.strip() for p in src.split("+")] if "+" in src and dst != IGNORE else [src]
        if not dst or any(not p.strip() for p in parts):
            raise InvalidInput(f"--map takes SRC=FIELD, got {item!r}")
        for part in parts:
            key = normalize_header(part)
            if key in out.spelled:
                raise InvalidInput(f"--map: column {part.strip()!r} mapped twice")
            out.spelled[key] = part.strip()
        if dst != IGNORE:
            if dst in fed_by:
                raise InvalidInput(
                    f"--map: field {dst} fed by {fed_by[dst]!r} and {src.strip()!r}; join "
                    f'columns with + (--map "{fed_by[dst]}+{src.strip()}={dst}") or drop one'
                )
            fed_by[dst] = src.strip()
        if len(parts) > 1:
            out.joins[dst] = [normalize_header(p) for p in parts]
        else:
            out.single[normalize_header(parts[0])] = dst
    return out


def join_cells(parts: list[str]) -> str:
    """Joined columns: a space between parts, none between two CJK parts (张 + 伟 = 张伟)."""
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if out and not (_is_cjk(out[-1]) and _is_cjk(part[0])):
            out += " "
        out += part
    return out


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\u3040" <= ch <= "\u30ff"


def _common_hanzi(chars: list[str]) -> int:
    """How many of the characters are hanzi of GB2312, the 6,763 in everyday use.

    Western text in cp1252 often decodes as GBK too: a letter byte and the ASCII letter
    after it form a pair ("J\xfcrgen" reads as "J黵gen"), but such pairs land in GBK's
    extension areas of rare characters, never in GB2312's rows (both bytes >= 0xA1).
    Real Chinese text is almost all GB2312."""
    common = _gb2312_hanzi()
    return sum(ch in common for ch in chars)


@functools.cache
def _gb2312_hanzi() -> frozenset[str]:
    """The 6,763 hanzi of GB2312 (rows 0xB0-0xF7), for counting them fast."""
    rows = bytes(range(0xB0, 0xF8))
    cells = bytes(range(0xA1, 0xFF))
    pairs = b"".join(bytes((r, c)) for r in rows for c in cells)
    return frozenset(pairs.decode("gb2312", errors="ignore")) - {"\ufffd"}


def _ideograph(ch: str) -> bool:
    """A CJK Unified Ideograph of any block (extensions and compatibility forms too)."""
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x3134F
    )


def _reads_as_chinese(text: str) -> bool:
    """The GB18030 reading of a sample could be Chinese text: no private-use, unassigned
    or control characters (Big5 read as GBK gives private-use ones), and hanzi among them."""
    import unicodedata

    high = [ch for ch in text if ord(ch) > 127]
    if any(unicodedata.category(ch) in ("Co", "Cn", "Cc", "Cs") for ch in high):
        return False
    return any(_ideograph(ch) for ch in high)


def _reads_as_letters(text: str) -> bool:
    """The cp1252 reading of a sample reads as Western letters (and their usual symbols)."""
    upper = [ch for ch in text if ord(ch) > 127]
    return bool(upper) and (
        sum(ch.isalpha() or ch in "€£¥§°±·–—‘’“”" for ch in upper) / len(upper) > 0.8
    )


def _letters_stand_alone(text: str) -> bool:
    """Most non-ASCII characters of the cp1252 reading stand between ASCII ones (Jürgen,
    Besançon), as in Western text; GBK read as cp1252 gives them in pairs (张 = "ÕÅ")."""
    high = [i for i, ch in enumerate(text) if ord(ch) > 127]
    alone = sum(
        1
        for i in high
        if (i == 0 or ord(text[i - 1]) < 128) and (i + 1 == len(text) or ord(text[i + 1]) < 128)
    )
    return alone * 2 > len(high)


def _reads_as_korean(sample: bytes) -> bool:
    """The bytes read as Korean too: they decode as cp949 (Excel on Korean Windows; EUC-KR
    is its subset) and that reading is hangul, with at most a few hanja among them.

    Hangul in EUC-KR takes the lead bytes 0xB0-0xC8, which GBK reads as everyday hanzi, so
    a Korean file reads as plausible-looking GB2312 text. Chinese text read as cp949 comes
    out about half hanja (everyday hanzi with a lead byte of 0xCA and above), or fails to
    decode; a reading nine-tenths hangul is Korean or too short to tell."""
    text = _decoded(sample, "cp949")
    if text is None:
        return False
    high = [ch for ch in text if ord(ch) > 127]
    hangul = sum("\uac00" <= ch <= "\ud7a3" for ch in high)
    hanja = sum(_ideograph(ch) for ch in high)
    return hangul > 0 and hangul * 10 >= (hangul + hanja) * 9


# cp1252's letters among the bytes 0x80-0x9F (ƒ Š Œ Ž š œ ž Ÿ): rare in Western text,
# where accented letters are 0xC0-0xFF; but where Mac Roman puts é è ê ä ö ü ñ ç.
_CP1252_LOW_LETTERS = frozenset(b"\x83\x8a\x8c\x8e\x9a\x9c\x9e\x9f")


def _reads_as_mac_roman(sample: bytes) -> bool:
    """The bytes read as Mac Roman letters (Excel for Mac's "CSV" before UTF-8) rather
    than cp1252's: more of cp1252's rare 0x80-0x9F letters (`JosŽ`, `cafŽ`) than of its
    everyday accented ones (0xC0-0xFF), and the Mac Roman reading is letters."""
    low = sum(b in _CP1252_LOW_LETTERS for b in sample)
    accented = sum(b >= 0xC0 and b not in (0xD7, 0xF7) for b in sample)
    if low <= accented:
        return False
    text = _decoded(sample, "mac_roman")
    return text is not None and _reads_as_letters(text)


def _decoded(sample: bytes, encoding: str) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError:
        return None


def detect_encoding(sample: bytes) -> str:
    """BOM first; then UTF-16 without one; then UTF-8; then GB18030 (Excel on Chinese
    Windows) or cp1252 (on Western Windows) when the evidence says which; otherwise
    InvalidInput asking for --encoding (never a guess).

    Decided line by line: the lines that are not UTF-8 decide between GB18030 and cp1252
    (see _decide_legacy), and a line written in another encoding than the rest (a UTF-8 row
    appended to a GBK file, a cp1252 row to a UTF-8 one) refuses the file, naming it.
    """
    marked = _marked_encoding(sample)
    if marked is not None:
        return marked
    return decide_lines(
        _nonascii_lines(sample, 0, partial=True), lambda pos: sample.count(b"\n", 0, pos) + 1
    )


def _marked_encoding(sample: bytes) -> str | None:
    """The encoding a BOM or UTF-16's zero bytes say; InvalidInput for a binary file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if b"\x00" in sample[:4096]:
        # UTF-16 without a BOM: every other byte of ASCII text is zero.
        zeros_even = sample[0:4096:2].count(0)
        zeros_odd = sample[1:4096:2].count(0)
        if zeros_odd > zeros_even * 4:
            return "utf-16-le"
        if zeros_even > zeros_odd * 4:
            return "utf-16-be"
        raise InvalidInput("this looks like a binary file, not CSV")
    return None


# A line of a sample that is not ASCII: (its byte offset in the file, its bytes, whether it
# may be cut short at the sample's end).
Line = tuple[int, bytes, bool]


def _nonascii_lines(sample: bytes, start: int, partial: bool) -> list[Line]:
    """The sample's lines with a byte above 127, with their offsets in the file (`start`:
    the sample's own); `partial`: its last line may be cut short."""
    out: list[Line] = []
    if sample.isascii():
        return out
    pos = 0
    pieces = sample.split(b"\n")
    last = len(pieces) - 1
    for i, piece in enumerate(pieces):
        if not piece.isascii():
            out.append((start + pos, piece, partial and i == last))
        pos += len(piece) + 1
    return out


def _decodes(line: Line, encoding: str) -> str | None:
    """The line's text in the encoding, None when it does not decode (a line cut short by
    the sample's end may end in the middle of a character)."""
    if line[2]:
        return _decoded(line[1], encoding)
    try:
        return line[1].decode(encoding)
    except UnicodeDecodeError:
        return None


NAMES = {"utf-8": "UTF-8", "gb18030": "GB18030", "cp1252": "cp1252"}


def decide_lines(lines: list[Line], line_of: Callable[[int], int]) -> str:
    """The encoding of a file from its non-ASCII lines (`line_of`: a file offset -> its line
    number, for the message). UTF-8 when they all are; else the lines that are not UTF-8
    decide (_decide_legacy), and then every line must read as that encoding: a line whose
    bytes say it is written in another one refuses the file (InvalidInput naming it)."""
    utf8: list[Line] = []
    legacy: list[Line] = []
    for line in lines:
        (utf8 if _decodes(line, "utf-8") is not None else legacy).append(line)
    if not legacy:
        return "utf-8"
    joined = _first_mib(legacy)
    try:
        encoding = _decide_legacy(joined)
    except InvalidInput:
        first = next(
            (line for line in utf8 if _utf8_reads_well(_decodes(line, "utf-8") or "")), None
        )
        if first is None or first[0] > legacy[0][0]:
            raise
        raise InvalidInput(_mixed_message(line_of, first[0], "utf-8", legacy[0][0], None)) from None
    utf8_at = {line[0] for line in utf8}
    mixed = _first_foreign(lines, utf8_at, encoding)
    if mixed is not None:
        (at, reading), (other_at, other) = mixed
        raise InvalidInput(_mixed_message(line_of, at, reading, other_at, other))
    return encoding


def _first_mib(lines: list[Line]) -> bytes:
    """The first MiB of the lines, joined (what the encoding is decided from)."""
    out: list[bytes] = []
    size = 0
    for line in lines:
        if size >= SAMPLE_BYTES:
            break
        out.append(line[1])
        size += len(line[1]) + 1
    return b"\n".join(out)


def _first_foreign(
    lines: list[Line],
    utf8_at: set[int],
    encoding: str,
    first: tuple[int, str] | None = None,
) -> tuple[tuple[int, str], tuple[int, str]] | None:
    """((offset, encoding) of the first line whose encoding is certain, (offset, encoding)
    of the first line written in another one), or None when every line reads as
    `encoding`. A line valid as UTF-8 and as `encoding` that neither reading prefers is
    either (GBK text is sometimes valid UTF-8 by accident). `first`: the first certain line
    of the lines before these (the file read in blocks)."""
    for line in lines:
        reading = _certain(line, line[0] in utf8_at, encoding)
        if reading is None:
            continue
        if first is None:
            first = (line[0], reading)
        elif reading != first[1]:
            return first, (line[0], reading)
    return None


def _certain(line: Line, utf8: bool, encoding: str) -> str | None:
    """The encoding a line is certainly written in, or None when it reads as either."""
    return _foreign(line, utf8, encoding) or (None if utf8 else encoding)


def _mixed_message(
    line_of: Callable[[int], int], at: int, reading: str, other_at: int, other: str | None
) -> str:
    """One line: which line is not written as the one before it, and --encoding."""
    line, other_line = line_of(at), line_of(other_at)
    if reading == "utf-8":
        said = f"line {other_line} is not valid utf-8 like line {line} before it"
        said += f" (it reads as {NAMES[other]})" if other else ""
    else:
        said = f"line {other_line} reads as {NAMES[other or 'utf-8']}, not as {NAMES[reading]}"
        said += f" like line {line}"
    return (
        f"{said}: the file mixes encodings; save it again in one encoding, or give --encoding"
        " to read every line as one"
    )


def _foreign(line: Line, utf8: bool, encoding: str) -> str | None:
    """The encoding a line of a file read as `encoding` is written in instead, when its
    bytes say so: UTF-8 that reads as CJK or Western letters where the other reading is
    worse; in a GBK file, cp1252 letters inside Latin words where GBK reads no everyday
    hanzi; in a cp1252 file, a run of everyday hanzi where cp1252 reads no lone letter."""
    if utf8:
        text = line[1].decode("utf-8") if not line[2] else _decoded(line[1], "utf-8") or ""
        other = _decodes(line, encoding)
        if not _utf8_reads_well(text):
            return None
        if other is None or encoding == "cp1252":
            return "utf-8"  # cp1252 text is valid UTF-8 only as mojibake (Ã« for ë)
        return "utf-8" if _utf8_not_gbk(text, other) else None
    if encoding == "gb18030" and _WESTERN_IN_WORD.search(line[1]):
        return "cp1252" if _cp1252_in_gbk(line[1]) else None
    if encoding == "cp1252" and _HANZI_RUN.search(line[1]):
        return "gb18030" if _gbk_in_cp1252(line[1]) else None
    return None


# a cp1252 letter (0xC0-0xFF) between ASCII letters: "M\xfcller", which GBK reads as M黮ler
_WESTERN_IN_WORD = re.compile(rb"[A-Za-z][\xc0-\xff][A-Za-z]")
# two everyday hanzi (GB2312) in a row, in GBK bytes
_HANZI_RUN = re.compile(rb"[\xb0-\xf7][\xa1-\xfe][\xb0-\xf7][\xa1-\xfe]")


def _utf8_reads_well(text: str) -> bool:
    """The UTF-8 reading of a line is text: no control, private-use or unassigned
    characters among its non-ASCII ones."""
    import unicodedata

    return all(
        unicodedata.category(ch) not in ("Cc", "Cn", "Co", "Cs") for ch in text if ord(ch) > 127
    )


def _utf8_not_gbk(text: str, gbk: str) -> bool:
    """A line valid as UTF-8 and as GBK is UTF-8 when its UTF-8 reading has hanzi and more
    of them everyday ones (GB2312) than its GBK reading has (GBK text that happens to be
    valid UTF-8 reads as rare CJK or as Greek, Cyrillic, IPA ...), or when it reads as Latin
    letters inside Latin words (`Zoë`, which GBK reads as Zo毛)."""
    high = [ch for ch in text if ord(ch) > 127]
    if any(_ideograph(ch) for ch in high):
        other = [ch for ch in gbk if ord(ch) > 127]
        return _common_hanzi(high) / len(high) > _common_hanzi(other) / max(1, len(other))
    return all(
        ch.isalpha()
        and ord(ch) < 0x250
        and (
            (i > 0 and text[i - 1].isascii() and text[i - 1].isalpha())
            or (i + 1 < len(text) and text[i + 1].isascii() and text[i + 1].isalpha())
        )
        for i, ch in enumerate(text)
        if ord(ch) > 127
    )


def _cp1252_in_gbk(line: bytes) -> bool:
    """A line of a GBK file is cp1252: GBK reads no everyday hanzi in it, and cp1252 reads
    letters, each inside a Latin word (Müller, Jürgen)."""
    gbk = _decoded(line, "gb18030")
    western = _decoded(line, "cp1252")
    if gbk is None or western is None:
        return gbk is None and western is not None
    if _common_hanzi(list(gbk)):
        return False
    return all(
        ch.isalpha() and i > 0 and western[i - 1].isascii() and western[i - 1].isalpha()
        for i, ch in enumerate(western)
        if ord(ch) > 127
    )


def _gbk_in_cp1252(line: bytes) -> bool:
    """A line of a cp1252 file is GBK: it reads as everyday hanzi (and CJK punctuation)
    only, and cp1252 reads no letter of it standing alone (张伟 is ÕÅÎ°: letters in pairs)."""
    gbk = _decoded(line, "gb18030")
    western = _decoded(line, "cp1252")
    if gbk is None or western is None:
        return False
    high = [ch for ch in gbk if ord(ch) > 127]
    if _common_hanzi(high) < len([ch for ch in high if not "\u3000" <= ch <= "\u303f"]):
        return False
    return not any(
        (i == 0 or western[i - 1].isascii()) and (i + 1 == len(western) or western[i + 1].isascii())
        for i, ch in enumerate(western)
        if ord(ch) > 127
    )


def _decide_legacy(sample: bytes) -> str:
    """GB18030 or cp1252 for bytes that are not UTF-8, when the evidence says which.

    GB18030 needs a reading with hanzi and without private-use or unassigned characters;
    mostly everyday hanzi (GB2312) decide it, else at least a quarter of them and no reading
    as cp1252 letters. cp1252 needs letters, standing alone when the bytes read as hanzi too.
    """
    gbk = _decoded(sample, "gb18030")
    common = 0.0
    if gbk is not None:
        high = [ch for ch in gbk if ord(ch) > 127]
        common = _common_hanzi(high) / len(high) if high else 1.0
        if common > 0.5 and not _reads_as_korean(sample):
            return "gb18030"
    chinese = gbk is not None and _reads_as_chinese(gbk)
    western = _decoded(sample, "cp1252")
    if western is not None and _reads_as_letters(western):
        # Excel on Western Windows writes the ANSI code page, cp1252: prefer it over
        # look-alikes (cp850, latin-1) when it decodes the sample and reads as letters.
        if (not chinese or _letters_stand_alone(western)) and not _reads_as_mac_roman(sample):
            return "cp1252"
    elif chinese and common >= 0.25 and not _reads_as_korean(sample):
        return "gb18030"
    raise InvalidInput(_undecided(sample, gbk is not None, western is not None))


def _undecided(sample: bytes, gbk: bool, western: bool) -> str:
    """Why the encoding is not decided: the readings the sample has."""
    readings = (["GB18030"] if gbk else []) + (["cp1252"] if western else [])
    if gbk and _reads_as_korean(sample):
        readings.append("cp949 (Korean)")
    mac = _decoded(sample, "mac_roman")
    if mac is not None and _reads_as_letters(mac) and (not western or _reads_as_mac_roman(sample)):
        readings.append("mac_roman (Excel for Mac)")
    from charset_normalizer import from_bytes  # a hint for the message, never a decision

    best = from_bytes(sample[:65536]).best()
    if best is not None:
        name = best.encoding
        name = "GB18030" if name in ("gb2312", "gbk", "gb18030") else name
        name = "cp949 (Korean)" if name in ("cp949", "euc_kr") else name
        name = "mac_roman (Excel for Mac)" if name == "mac_roman" else name
        if name.startswith("mac_") and "mac_roman (Excel for Mac)" in readings:
            name = "mac_roman (Excel for Mac)"  # mac_iceland, mac_greek: its look-alikes
        if name not in readings:
            readings.append(name)
    if not readings:
        return "cannot detect the file's text encoding; give --encoding"
    said = ", as ".join(readings[:-1]) + " and as " if len(readings) > 1 else ""
    return f"cannot tell the file's encoding (it decodes as {said}{readings[-1]}); give --encoding"


def sniff_delimiter(first_line: str) -> str:
    """The most frequent of , ; tab | in the header line, outside quotes."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class CsvSource:
    """An opened CSV file: encoding, delimiter, header and its mapping to fields.

    rows() yields {field: text} per row (joined columns already joined); rewind() starts
    again (pass 1 of the pipeline reads the money and date columns whole first)."""

    path: Path
    display_name: str
    encoding: str
    delimiter: str
    header: list[str]
    fields: list[str | None]  # field name per column, None where not imported
    joins: dict[str, list[int]]  # field -> column indexes joined into it
    unknown_columns: list[str]
    ignored_columns: list[str]
    _text: IO[str]
    _raw: IO[bytes]
    size: int = 0
    line_no: int = 1
    spool: Path | None = None  # stdin copied to a private temporary file
    mapped_fields: set[str] = field(default_factory=set)  # fields named by --map
    # columns without a header, not yet seen with a value: all empty, they are ignored
    _blank_columns: list[int] = field(default_factory=list)

    def field_indexes(self) -> dict[str, list[int]]:
        """{field: [column indexes]} for the mapped columns, in header order."""
        out: dict[str, list[int]] = {}
        for index, name in enumerate(self.fields):
            if name is not None:
                out.setdefault(name, []).append(index)
        for name, cols in self.joins.items():
            out[name] = cols
        return out

    def drop_field(self, name: str) -> None:
        """An automatic match whose values do not fit: report the column as unknown."""
        for index, fld in enumerate(self.fields):
            if fld == name:
                self.fields[index] = None
                self.unknown_columns.append(self.header[index].strip())

    def cells(self) -> Iterator[tuple[int, list[str], str | None]]:
        """Yield (line number, cells, ragged-row reason or None). The line is the one the
        record starts on (a quoted cell can span lines). Blank lines are skipped; a row
        with only empty extra cells is trimmed to the header's width."""
        reader = csv.reader(self._text, delimiter=self.delimiter)
        width = len(self.header)
        unseen = self._blank_columns
        end = 0  # physical lines read after the header line
        try:
            for cells in reader:
                start, end = end + 2, reader.line_num
                if len(cells) != width:
                    if not cells or all(not c.strip() for c in cells):
                        continue
                    if len(cells) > width and all(not c.strip() for c in cells[width:]):
                        cells = cells[:width]
                    else:
                        self.line_no = start
                        yield (
                            start,
                            cells,
                            f"ragged row: {len(cells)} fields, header has {width}",
                        )
                        continue
                elif not any(cells):
                    continue
                if unseen and any(cells[i].strip() for i in unseen):
                    unseen = self._saw_blank_column_values(cells)
                self.line_no = start
                yield start, cells, None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise self._read_error(exc) from None

    def _saw_blank_column_values(self, cells: list[str]) -> list[int]:
        """A column without a header has values after all: reported as unknown (in place:
        the summary holds this list)."""
        for index in [i for i in self._blank_columns if cells[i].strip()]:
            self._blank_columns.remove(index)
            self.unknown_columns.append(f"column {index + 1} (no header)")
        return self._blank_columns

    def _read_error(self, exc: UnicodeDecodeError | csv.Error) -> InvalidInput:
        if isinstance(exc, UnicodeDecodeError):
            line = self._undecodable_line()
            where = f"line {line}" if line else f"after line {self.line_no}"
            return InvalidInput(
                f"{self.display_name}: {where} is not valid {self.encoding} "
                f"({exc.reason}); give --encoding"
            )
        return InvalidInput(f"{self.display_name}: malformed CSV near line {self.line_no}: {exc}")

    def _undecodable_line(self) -> int | None:
        """The physical line of the first byte that does not decode (the text layer reads
        ahead, so the last row read says only roughly where)."""
        try:
            self._raw.seek(0)
            decoder = codecs.getincrementaldecoder(self.encoding)()
            lines = 1
            while block := self._raw.read(SAMPLE_BYTES):
                try:
                    lines += decoder.decode(block).count("\n")
                except UnicodeDecodeError as exc:
                    good = block[: max(0, exc.start)]
                    return lines + good.decode(self.encoding, errors="replace").count("\n")
        except (OSError, ValueError, LookupError):
            return None
        return None

    def rows(self) -> Iterator[tuple[int, dict[str, str], list[str], str | None]]:
        """Yield (line, {field: raw text}, original cells, ragged-row reason or None).

        Several columns auto-matched to one field: the first non-empty wins; joined columns
        (`--map A+B=field`) are joined with join_cells."""
        single = [(f, i) for i, f in enumerate(self.fields) if f is not None]
        joins = list(self.joins.items())
        names = [f for f, _ in single]
        if not joins and len(set(names)) == len(names) and len(names) > 1:
            yield from self._plain_rows(names, operator.itemgetter(*(i for _, i in single)))
            return
        for line, cells, problem in self.cells():
            record: dict[str, str] = {}
            if problem is None:
                for name, index in single:
                    cell = cells[index]
                    if cell and cell[0] == "'":
                        cell = unneutralise(cell)
                    if name not in record or (not record[name].strip() and cell.strip()):
                        record[name] = cell
                for name, cols in joins:
                    record[name] = join_cells([unneutralise(cells[i]) for i in cols])
            yield line, record, cells, problem

    def _plain_rows(
        self, names: list[str], pick: Callable[[list[str]], tuple[str, ...]]
    ) -> Iterator[tuple[int, dict[str, str], list[str], str | None]]:
        """rows() when every field comes from one column of its own (the common header):
        the record in one dict(zip()); only a row with a quote in it looks for cells our
        exports neutralised ("'=1+1")."""
        for line, cells, problem in self.cells():
            if problem is not None:
                yield line, {}, cells, problem
                continue
            picked = pick(cells)
            record = dict(zip(names, picked))  # noqa: B905 - one name per picked cell
            if "'" in "".join(picked):
                for name, cell in zip(names, picked):  # noqa: B905
                    if cell and cell[0] == "'":
                        record[name] = unneutralise(cell)
            yield line, record, cells, problem

    def column_values(self, names: Sequence[str]) -> Iterator[dict[str, str]]:
        """Pass 1: only the named fields of every well-formed row."""
        wanted = set(names)
        single = [(f, i) for i, f in enumerate(self.fields) if f in wanted]
        for _, cells, problem in self.cells():
            if problem is None:
                record: dict[str, str] = {}
                for name, index in single:
                    if name not in record or not record[name].strip():
                        record[name] = cells[index]
                yield record

    def _single_columns(self, names: Sequence[str]) -> list[int] | None:
        """The one column index of each field; None when a field is fed by several columns
        (column_values() picks among them row by row)."""
        index = []
        for name in names:
            cols = [i for i, f in enumerate(self.fields) if f == name]
            if len(cols) != 1:
                return None
            index.append(cols[0])
        return index

    def column_chunks(
        self, names: Sequence[str], size: int = 50_000
    ) -> Iterator[dict[str, Counter[str]]] | None:
        """Pass 1, counted in C: for each `size` rows column_values() would yield, {field:
        how often each cell occurs among them} (memory bounded by the chunk, not the file);
        None when a field is fed by several columns."""
        index = self._single_columns(names)
        if index is None:
            return None
        return self._chunks(list(names), index, size)

    def _chunks(
        self, names: list[str], index: list[int], size: int
    ) -> Iterator[dict[str, Counter[str]]]:
        rows = self._well_formed()
        while chunk := list(itertools.islice(rows, size)):
            yield {
                name: Counter(map(operator.itemgetter(i), chunk))
                for name, i in zip(names, index, strict=True)
            }

    def _well_formed(self) -> Iterator[list[str]]:
        """The rows cells() yields without a problem (blank ones count only blank cells);
        a decoding or CSV error is the same one-line error as cells() gives."""
        width = len(self.header)
        reader = csv.reader(self._text, delimiter=self.delimiter)
        try:
            for cells in reader:
                if len(cells) == width:
                    yield cells
                elif len(cells) > width and all(not c.strip() for c in cells[width:]):
                    yield cells[:width]
        except (UnicodeDecodeError, csv.Error) as exc:
            self.line_no = reader.line_num + 1
            raise self._read_error(exc) from None

    def column_counts(self, names: Sequence[str]) -> dict[str, Counter[str]] | None:
        """Pass 1 for enum columns: {field: how often each cell occurs} over the rows
        column_values() would yield, counted by Counter in C; None when a field is fed by
        several columns (column_values() picks among them row by row)."""
        index = self._single_columns(names)
        if index is None:
            return None
        width = len(self.header)
        reader = csv.reader(self._text, delimiter=self.delimiter)

        def well_formed() -> Iterator[list[str]]:
            # the rows cells() yields without a problem; blank ones count only blank cells
            for cells in reader:
                if len(cells) == width:
                    yield cells
                elif len(cells) > width and all(not c.strip() for c in cells[width:]):
                    yield cells[:width]

        try:
            if len(index) == 1:
                counted = [Counter(map(operator.itemgetter(index[0]), well_formed()))]
            else:
                joint = Counter(map(operator.itemgetter(*index), well_formed()))
                counted = [Counter() for _ in index]
                for cells, n in joint.items():
                    for k, cell in enumerate(cells):
                        counted[k][cell] += n
        except (UnicodeDecodeError, csv.Error) as exc:
            self.line_no = reader.line_num + 1
            raise self._read_error(exc) from None
        return dict(zip(names, counted, strict=True))

    def rewind(self) -> None:
        """Back to the first data row (after the header)."""
        # keep the byte stream open (closing the old wrapper would close it)
        cast(io.TextIOWrapper, self._text).detach()
        self._raw.seek(0)
        self._text = io.TextIOWrapper(self._raw, encoding=self.encoding, newline="")
        self._text.readline()
        self.line_no = 1

    @property
    def estimated_rows(self) -> int:
        """Rows in the file, estimated from the bytes per line of its first MiB."""
        pos = self._raw.tell()
        self._raw.seek(0)
        sample = self._raw.read(SAMPLE_BYTES)
        self._raw.seek(pos)
        lines = sample.count(b"\n") or 1
        return int(self.size / (len(sample) / lines)) if len(sample) < self.size else lines

    def progress_fraction(self) -> float:
        try:
            return min(1.0, self._raw.tell() / self.size) if self.size else 1.0
        except (OSError, ValueError):
            return 0.0

    def close(self) -> None:
        self._text.close()
        if self.spool is not None:
            self.spool.unlink(missing_ok=True)


# The first columns of our own rejects files: an import of a rejects file skips them.
REJECTS_COLUMNS = (("line", "field", "value", "reason"), ("line", "reason"))


def _spool_stdin() -> Path:
    """Standard input copied to a private temporary file (two passes need to re-read it)."""
    import shutil
    import tempfile

    fd, name = tempfile.mkstemp(prefix="crm-import-", suffix=".csv")
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return Path(name)


def open_csv(
    path: Path | str,
    aliases: dict[str, str],
    known_fields: Sequence[str],
    encoding: str | None = None,
    mapping: Sequence[str] | None = None,
    delimiter: str | None = None,
) -> CsvSource:
    """Open a CSV file ('-' is standard input) for import: detect encoding and delimiter,
    map the header to fields. Raises InvalidInput before any row is read for a --map that
    does not fit the header or the fields."""
    overrides = parse_mapping(mapping)
    known = set(known_fields)
    bad_targets = sorted(overrides.targets() - known)
    if bad_targets:
        raise InvalidInput(
            f"--map names unknown field(s): {', '.join(bad_targets)}; known: "
            + ", ".join(sorted(known))
        )
    spool = None
    if str(path) == "-":
        spool = src = _spool_stdin()
        display = "-"
    else:
        src = Path(path)
        display = src.name
        if not src.exists():
            raise InvalidInput(f"no such file: {src}")
        if src.is_dir():
            raise InvalidInput(f"{src} is a directory, not a CSV file")
    try:
        return _open(src, display, spool, aliases, known, encoding, overrides, delimiter)
    except BaseException:
        if spool is not None:
            spool.unlink(missing_ok=True)
        raise


def _open(
    src: Path,
    display: str,
    spool: Path | None,
    aliases: dict[str, str],
    known: set[str],
    encoding: str | None,
    overrides: ColumnMap,
    delimiter: str | None,
) -> CsvSource:
    try:
        raw = open(src, "rb")  # noqa: SIM115 - closed by CsvSource.close
    except OSError as exc:
        raise OperationalError(f"cannot read {display}: {exc.strerror}") from exc
    size = os.fstat(raw.fileno()).st_size
    sample = raw.read(SAMPLE_BYTES)
    raw.seek(0)
    if not sample.strip():
        raw.close()
        raise InvalidInput(f"{display} is empty")
    if encoding:
        encoding = ENCODING_ALIASES.get(encoding.strip().lower(), encoding.strip())
        try:
            if not codecs.lookup(encoding)._is_text_encoding:  # base64, rot13, hex, zlib ...
                raise LookupError(encoding)
        except LookupError:
            raw.close()
            raise InvalidInput(f"unknown encoding {encoding!r} (or not a text encoding)") from None
        enc = encoding
    else:
        try:
            enc = detect_file_encoding(raw, size, sample)
        except InvalidInput as exc:
            raw.close()
            raise InvalidInput(f"{display}: {exc}") from None
        finally:
            if not raw.closed:
                raw.seek(0)
    text = io.TextIOWrapper(raw, encoding=enc, newline="", errors="strict")
    try:
        first = text.readline()
    except UnicodeDecodeError:
        text.close()
        raise InvalidInput(f"{display}: the header is not valid {enc}; give --encoding") from None
    first = first.lstrip("\ufeff")
    delim = delimiter or sniff_delimiter(first)
    try:
        header = next(csv.reader([first], delimiter=delim))
    except (csv.Error, StopIteration):
        text.close()
        raise InvalidInput(f"{display}: cannot read the header line") from None
    try:
        fields, joins, unknown, ignored = _map_header(header, aliases, known, overrides)
    except InvalidInput as exc:
        title = _title_line(raw, enc, header, display)
        text.close()
        raise InvalidInput(title) if title else exc from None
    if all(f is None for f in fields) and not joins:
        title = _title_line(raw, enc, header, display)
        if title:
            text.close()
            raise InvalidInput(title)
    # Columns without a header (Excel writes `name,email,,,` for formatted empty columns):
    # unknown only once a row has a value in one (cells() reports "column 4 (no header)").
    blank = [i for i, cell in enumerate(header) if fields[i] is None and not cell.strip()]
    unknown = [name for name in unknown if name]
    return CsvSource(
        src,
        display,
        enc,
        delim,
        header,
        fields,
        joins,
        unknown,
        ignored,
        text,
        raw,
        size,
        spool=spool,
        mapped_fields=overrides.targets(),
        _blank_columns=blank,
    )


def _title_line(raw: IO[bytes], encoding: str, header: list[str], display: str) -> str | None:
    """Why the first line is not the header, when it is a title above it (an Excel
    report's `Customer list 2024`): one cell at most, and one of the next lines has
    several. None when the first line may be the header."""
    cells = [c.strip() for c in header if c.strip()]
    if len(cells) > 1:
        return None
    head = os.pread(raw.fileno(), 65536, 0).decode(encoding, errors="replace")
    lines = head.lstrip("\ufeff").splitlines()[1:11]
    for number, line in enumerate(lines, start=2):
        row = next(csv.reader([line], delimiter=sniff_delimiter(line)), [])
        found = [c.strip() for c in row if c.strip()]
        if len(found) > 1:
            skip = number - 1
            read = f"{cells[0]!r}, one cell" if cells else "it is empty"
            return (
                f"{display}: line 1 does not look like a header ({read}; line"
                f" {number} has {len(found)}: {', '.join(found[:4])}{', ...' if len(found) > 4 else ''});"
                f" delete the {skip} line{'s' if skip > 1 else ''} above the header"
                + (
                    f", or read the file from line {number}: tail -n +{number} {_quoted(display)}"
                    " | crm ... import -"
                    if display != "-"
                    else ""
                )
            )
    return None


def _detection_sample(raw: IO[bytes], head: bytes) -> tuple[bytes, int]:
    """What detection reads first, and its offset: the first MiB, or, when that is all
    ASCII and the file goes on, the MiB from the line of the first non-ASCII byte (a list
    sorted by email with the Chinese names far down is decided by them, not by its ASCII
    head)."""
    if not head.isascii() or b"\x00" in head:
        return head, 0
    offset = len(head)
    raw.seek(offset)
    while block := raw.read(SAMPLE_BYTES):
        if not block.isascii():
            found = re.search(rb"[\x80-\xff]", block)
            line = block.rfind(b"\n", 0, found.start() if found else 0) + 1
            raw.seek(offset + line)
            return raw.read(SAMPLE_BYTES), offset + line
        offset += len(block)
    return head, 0


WINDOWS = 4
WINDOW_BYTES = 256 * 1024


def detect_file_encoding(raw: IO[bytes], size: int, head: bytes) -> str:
    """detect_encoding for a whole file: its first MiB (see _detection_sample) and four
    windows of 256 KiB spread over the rest, the last at its end (where rows appended in
    another encoding are), all of it when the rest is smaller. A file of UTF-8 blocks is
    decided without looking at its lines."""
    marked = _marked_encoding(head)
    if marked is not None:
        return marked
    sample, start = _detection_sample(raw, head)
    end = start + len(sample)
    blocks = [(sample, start, end < size)]
    rest = size - end
    spans = (
        [(end, rest)]
        if rest <= WINDOWS * WINDOW_BYTES
        else [(end + rest * k // WINDOWS - WINDOW_BYTES, WINDOW_BYTES) for k in range(1, 5)]
    )
    for at, length in spans if rest > 0 else []:
        raw.seek(at)
        block = raw.read(length)
        cut = block.find(b"\n") + 1  # the window starts inside a line: from the next one
        stop = len(block) if at + len(block) >= size else block.rfind(b"\n") + 1
        if 0 < cut <= stop:
            blocks.append((block[cut:stop], at + cut, False))
    if all(
        _decodes((at, block, cut_short), "utf-8") is not None for block, at, cut_short in blocks
    ):
        return "utf-8"
    lines = [line for block in blocks for line in _nonascii_lines(*block)]
    encoding = decide_lines(lines, lambda pos: _line_number(raw, pos))
    if encoding != "utf-8" and rest > WINDOWS * WINDOW_BYTES:
        _verify_lines(raw, encoding)
    return encoding


def _verify_lines(raw: IO[bytes], encoding: str) -> None:
    """Every line of a file decided to be GB18030 or cp1252 from its samples reads as
    that encoding (a row written in another one between the windows refuses the file, as
    in them): read in blocks, so memory stays flat. A UTF-8 file needs no such pass: a
    line in another encoding does not decode, which the reading refuses naming it."""
    raw.seek(0)
    first: tuple[int, str] | None = None
    pos, carry = 0, b""
    while True:
        block = raw.read(4 * SAMPLE_BYTES)
        data = carry + block
        cut = len(data) if not block else data.rfind(b"\n") + 1
        chunk, carry = data[:cut], data[cut:]
        lines = _nonascii_lines(chunk, pos, partial=False)
        pos += len(chunk)
        utf8_at = {line[0] for line in lines if _decodes(line, "utf-8") is not None}
        mixed = _first_foreign(lines, utf8_at, encoding, first)
        if mixed is not None:
            (at, reading), (other_at, other) = mixed
            line_of = functools.partial(_line_number, raw)
            raise InvalidInput(_mixed_message(line_of, at, reading, other_at, other))
        if first is None:  # the block's first certain line, if it has one
            first = next(
                (
                    (line[0], certain)
                    for line in lines
                    if (certain := _certain(line, line[0] in utf8_at, encoding)) is not None
                ),
                None,
            )
        if not block:
            raw.seek(0)
            return


def _line_number(raw: IO[bytes], offset: int) -> int:
    """The line a byte offset of the file is on (for a message: reads the file up to it)."""
    raw.seek(0)
    lines, done = 1, 0
    while done < offset and (block := raw.read(min(SAMPLE_BYTES, offset - done))):
        lines += block.count(b"\n")
        done += len(block)
    return lines


def _quoted(column: str) -> str:
    """A column name as a shell word in a --map suggestion."""
    return column if re.fullmatch(r"[\w.-]+", column) else "'" + column.replace("'", "'\\''") + "'"


def _map_header(
    header: list[str], aliases: dict[str, str], known: set[str], overrides: ColumnMap
) -> tuple[list[str | None], dict[str, list[int]], list[str], list[str]]:
    keys = [normalize_header(cell) for cell in header]
    single, joins = _override_columns(header, keys, overrides)
    own = 0
    for columns in REJECTS_COLUMNS:
        if tuple(k.lower() for k in keys[: len(columns)]) == columns:
            own = len(columns)
            break
    joined = {i for cols in joins.values() for i in cols}
    mapped = overrides.targets()
    shared = {k for k, n in Counter(keys).items() if n > 1}

    def label(index: int) -> str:  # a column as lists name it: by position when not unique
        name = header[index].strip()
        return f"{name} (column {index + 1})" if keys[index] in shared and name else name

    fields: list[str | None] = []
    unknown: list[str] = []
    ignored: list[str] = []
    matched: dict[str, int] = {}  # field -> the column matched to it by name or alias
    for index, (cell, key) in enumerate(zip(header, keys, strict=True)):
        target: str | None
        if index < own or index in joined:
            fields.append(None)
            continue
        if index in single:
            target = single[index]
            if target == IGNORE:
                ignored.append(label(index))
                target = None
            fields.append(target)
            continue
        target = _header_field(cell, key, aliases, known)
        if target is not None and (target not in known or target in mapped):
            target = None  # an explicit --map feeds that field: this column is not read
        if target is None:
            unknown.append(label(index))
        elif target in matched:
            raise InvalidInput(_both_read_as(header, keys, matched[target], index, target))
        else:
            matched[target] = index
        fields.append(target)
    return fields, joins, unknown, ignored


# Headers naming a customer by another system's number. In an import of records that
# name a customer (comm, order, ticket, campaign results, deal) they are that system's
# number, customer_external_id, before any other reading (COMMON_ALIASES reads 客户编号
# and `Customer No.` as external_id, the customer import's own number).
CUSTOMER_NUMBER_HEADERS = frozenset(
    {"customerid", "客户id", "customerno", "customernumber", "客户编号", "客户号", "kundennummer"}
)


def _header_field(cell: str, key: str, aliases: dict[str, str], known: set[str]) -> str | None:
    """The field a header cell names: spelled as a field it is that field (`customer_id`
    is this database's id in every import); else the import's own alias, a customer
    number (CUSTOMER_NUMBER_HEADERS: `Customer ID` is another system's), a common alias,
    or the field its normalized spelling is."""
    spelled = cell.strip().lower()
    if spelled == "customer_id" and cell.strip() != spelled and "customer_external_id" in known:
        # this database's exports write `customer_id`; an ERP's CUSTOMER_ID (Oracle, SAP
        # write upper case) or Customer_Id is that system's number
        return "customer_external_id"
    if spelled in known:
        return spelled
    if key in aliases:
        return aliases[key]
    if key in CUSTOMER_NUMBER_HEADERS and "customer_external_id" in known:
        return "customer_external_id"
    return COMMON_ALIASES.get(key) or (key if key in known else None)


def _both_read_as(header: list[str], keys: list[str], first: int, other: int, target: str) -> str:
    """Two columns matched to one field: the --map that says which (by position when the
    two have one name)."""
    a, b = header[first].strip(), header[other].strip()
    if keys[first] == keys[other]:
        return (
            f"columns {first + 1} and {other + 1} are both named {a!r} (both read as {target});"
            f" say which with --map '#{first + 1}={target}' or --map '#{other + 1}={target}'"
            f" (the other is then an unknown column), or rename one in the file"
        )
    return (
        f"columns {a!r} and {b!r} both read as {target}; say which with"
        f" --map {_quoted(a)}={target} or --map {_quoted(b)}={target}"
        f" (the other is then not read), or ignore one with --map {_quoted(b)}=-"
    )


_POSITION = re.compile(r"#([0-9]+)")


def _override_columns(
    header: list[str], keys: list[str], overrides: ColumnMap
) -> tuple[dict[int, str], dict[str, list[int]]]:
    """The columns the --map options name: {index: field or IGNORE} and {field: [indexes]}
    for joins. `#N` names column N (counted from 1); a name names the columns of that
    name not named by position, and must name exactly one, unless it ignores them all."""
    taken: dict[str, list[int]] = {}
    for key, spelled in overrides.spelled.items():
        if (position := _POSITION.fullmatch(key)) is not None:
            if key in keys:
                raise InvalidInput(f"--map {spelled}: a column of the header is named {spelled!r}")
            if not 1 <= int(position[1]) <= len(header):
                raise InvalidInput(f"--map {spelled}: the header has {len(header)} columns")
            taken[key] = [int(position[1]) - 1]
    by_position = {i for cols in taken.values() for i in cols}
    missing = []
    for key, spelled in overrides.spelled.items():
        if key in taken:
            continue
        cols = [i for i, k in enumerate(keys) if k == key]
        free = [i for i in cols if i not in by_position]
        if not cols:
            missing.append(spelled)
        elif not free:
            raise InvalidInput(f"--map: column {spelled!r} mapped twice (by name and position)")
        elif len(free) > 1 and overrides.single.get(key) != IGNORE:
            raise InvalidInput(_shared_name(spelled, free, overrides, key))
        taken[key] = free
    if missing:
        raise InvalidInput(
            f"--map names column(s) the header lacks: {', '.join(missing)}; header: "
            + ", ".join(c.strip() for c in header)
        )
    single = {i: dst for key, dst in overrides.single.items() for i in taken[key]}
    joins = {dst: [taken[k][0] for k in parts] for dst, parts in overrides.joins.items()}
    return single, joins


def _shared_name(spelled: str, columns: list[int], overrides: ColumnMap, key: str) -> str:
    """A --map naming a column by a name several columns have."""
    numbers = [str(i + 1) for i in columns]
    said = ", ".join(numbers[:-1]) + " and " + numbers[-1]
    target = overrides.single.get(key) or next(f for f, ks in overrides.joins.items() if key in ks)
    picks = " or ".join(f"--map '#{n}={target}'" for n in numbers[:2])
    return (
        f"--map {spelled}: columns {said} are {'both' if len(numbers) == 2 else 'all'} named"
        f" {spelled!r}, so the name cannot say"
        f" which; name the column by its position: {picks} (--map '#{numbers[-1]}=-' ignores one)"
    )
