"""CSV reading for every `import` command: encoding detection, delimiter sniffing, header
aliases (English and Chinese), `--map SRC=FIELD`, ragged-row detection and rejects files.

Streaming: rows are yielded one at a time, so memory stays constant whatever the file size.
The entity-specific parts (validation, upsert) live with each entity's import function.
"""

from __future__ import annotations

import codecs
import csv
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
    # references to a customer from other records
    "customerid": "customer_id",
    "客户id": "customer_id",
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
    n = 0
    for ch in chars:
        if "\u4e00" <= ch <= "\u9fff":
            try:
                ch.encode("gb2312")
            except UnicodeEncodeError:
                continue
            n += 1
    return n


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

    GB18030 needs a reading with hanzi and without private-use or unassigned characters;
    mostly everyday hanzi (GB2312) decide it, else at least a quarter of them and no reading
    as cp1252 letters. cp1252 needs letters, standing alone when the bytes read as hanzi too.
    """
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
    if _decoded(sample, "utf-8") is not None:
        return "utf-8"
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
            enc = detect_encoding(_detection_sample(raw, sample))
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
    except InvalidInput:
        text.close()
        raise
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


def _detection_sample(raw: IO[bytes], head: bytes) -> bytes:
    """What detect_encoding sees: the first MiB, or, when that is all ASCII and the file
    goes on, the MiB from the line of the first non-ASCII byte (a list sorted by email with
    the Chinese names far down is decided by them, not by its ASCII head)."""
    if not head.isascii() or b"\x00" in head:
        return head
    offset = len(head)
    raw.seek(offset)
    while block := raw.read(SAMPLE_BYTES):
        if not block.isascii():
            found = re.search(rb"[\x80-\xff]", block)
            line = block.rfind(b"\n", 0, found.start() if found else 0) + 1
            raw.seek(offset + line)
            return raw.read(SAMPLE_BYTES)
        offset += len(block)
    return head


def _quoted(column: str) -> str:
    """A column name as a shell word in a --map suggestion."""
    return column if re.fullmatch(r"[\w.-]+", column) else "'" + column.replace("'", "'\\''") + "'"


def _map_header(
    header: list[str], aliases: dict[str, str], known: set[str], overrides: ColumnMap
) -> tuple[list[str | None], dict[str, list[int]], list[str], list[str]]:
    keys = [normalize_header(cell) for cell in header]
    missing = [overrides.spelled[k] for k in overrides.spelled if k not in keys]
    if missing:
        raise InvalidInput(
            f"--map names column(s) the header lacks: {', '.join(missing)}; header: "
            + ", ".join(c.strip() for c in header)
        )
    own = 0
    for columns in REJECTS_COLUMNS:
        if tuple(k.lower() for k in keys[: len(columns)]) == columns:
            own = len(columns)
            break
    joined = {k for parts in overrides.joins.values() for k in parts}
    mapped = overrides.targets()
    fields: list[str | None] = []
    unknown: list[str] = []
    ignored: list[str] = []
    matched: dict[str, str] = {}  # field -> the column matched to it by name or alias
    for index, (cell, key) in enumerate(zip(header, keys, strict=True)):
        target: str | None
        if index < own:
            fields.append(None)
            continue
        if key in overrides.single:
            target = overrides.single[key]
            if target == IGNORE:
                ignored.append(cell.strip())
                target = None
            fields.append(target)
            continue
        if key in joined:
            fields.append(None)
            continue
        # a header spelled as a field is that field (an order import's `customer_id` is
        # this database's id, as in every import; `CustomerID` is an ERP's alias)
        target = cell.strip().lower() if cell.strip().lower() in known else None
        if target is None:
            target = aliases.get(key) or COMMON_ALIASES.get(key)
        if target is None and key in known:
            target = key
        if target is not None and (target not in known or target in mapped):
            target = None  # an explicit --map feeds that field: this column is not read
        if target is None:
            unknown.append(cell.strip())
        elif target in matched:
            # two columns read as one field: which one is meant is not guessed
            first = matched[target]
            raise InvalidInput(
                f"columns {first!r} and {cell.strip()!r} both read as {target}; say which with"
                f" --map {_quoted(first)}={target} or --map {_quoted(cell.strip())}={target}"
                f" (the other is then not read), or ignore one with --map {_quoted(cell.strip())}=-"
            )
        else:
            matched[target] = cell.strip()
        fields.append(target)
    joins = {f: [keys.index(k) for k in parts] for f, parts in overrides.joins.items()}
    return fields, joins, unknown, ignored
