"""CSV reading for every `import` command: encoding detection, delimiter sniffing, header
aliases (English and Chinese), `--map SRC=FIELD`, ragged-row detection and rejects files.

Streaming: rows are yielded one at a time, so memory stays constant whatever the file size.
The entity-specific parts (validation, upsert) live with each entity's import function.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from crmcli.core.errors import InvalidInput, OperationalError
from crmcli.core.sanitize import csv_cell, csv_writer, uncsv_cell

csv.field_size_limit(16 * 1024 * 1024)

SAMPLE_BYTES = 1 << 20

# Header aliases shared by every import: normalised header text -> field name.
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


def normalise_header(text: str) -> str:
    """Case-, space-, underscore- and BOM-insensitive form of a header cell."""
    return re.sub(r"[\s_\-./]", "", text.replace("\ufeff", "").strip().lower()) or text.strip()


def parse_mapping(items: Sequence[str] | None) -> dict[str, str]:
    """`--map SRC=FIELD` options -> {normalised source header: field}."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise InvalidInput(f"--map takes SRC=FIELD, got {item!r}")
        src, dst = item.split("=", 1)
        if not src.strip() or not dst.strip():
            raise InvalidInput(f"--map takes SRC=FIELD, got {item!r}")
        out[normalise_header(src)] = dst.strip()
    return out


def detect_encoding(sample: bytes) -> str:
    """BOM first; then UTF-8; then GB18030 (Excel on Chinese Windows); then a guess."""
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
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
        high = sum(1 for ch in text if ord(ch) > 127)
        if high == 0 or cjk / high > 0.5:
            return "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise InvalidInput("cannot detect the file's text encoding; give --encoding")
    enc = best.encoding
    return "gb18030" if enc in ("gb2312", "gbk", "gb18030") else enc


def sniff_delimiter(first_line: str) -> str:
    """The most frequent of , ; tab | in the header line, outside quotes."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class CsvSource:
    """An opened CSV file: encoding, delimiter, header and its mapping to fields."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    fields: list[str | None]  # field name per column, None where unknown
    unknown_columns: list[str]
    _text: IO[str]
    _raw: IO[bytes]
    size: int = 0
    line_no: int = 1
    estimated_rows: int = 0  # from the first MiB: file size / bytes per line

    def rows(self) -> Iterator[tuple[int, dict[str, str], list[str], str | None]]:
        """Yield (line number, {field: raw text}, original cells, ragged-row reason or None).

        Blank lines are skipped. Duplicate mapped fields keep the first non-empty value.
        """
        reader = csv.reader(self._text, delimiter=self.delimiter)
        width = len(self.header)
        try:
            for cells in reader:
                line = reader.line_num + 1  # +1: the header was read before the reader
                if not cells or all(not c.strip() for c in cells):
                    continue
                problem = None
                if len(cells) != width:
                    extra = cells[width:]
                    if len(cells) > width and all(not c.strip() for c in extra):
                        cells = cells[:width]
                    else:
                        problem = f"ragged row: {len(cells)} fields, header has {width}"
                record: dict[str, str] = {}
                for name, cell in zip(self.fields, cells, strict=False):
                    if name is None:
                        continue
                    if name not in record or (not record[name].strip() and cell.strip()):
                        record[name] = cell
                self.line_no = line
                yield line, record, cells, problem
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{self.path.name}: not valid {self.encoding} after line {self.line_no} ({exc.reason}); "
                "give --encoding"
            ) from None
        except csv.Error as exc:
            raise InvalidInput(
                f"{self.path.name}: malformed CSV near line {self.line_no}: {exc}"
            ) from None

    def field_indexes(self) -> dict[str, list[int]]:
        """{field: [column indexes]} for the mapped columns, in header order."""
        out: dict[str, list[int]] = {}
        for index, name in enumerate(self.fields):
            if name is not None:
                out.setdefault(name, []).append(index)
        return out

    def cells(self) -> Iterator[tuple[int, list[str], str | None]]:
        """Yield (line number, cells, ragged-row reason or None): the fast path of rows().

        No dict per row: bulk imports index the cells with field_indexes(). Blank lines are
        skipped; a row with only empty extra cells is trimmed to the header's width.
        """
        reader = csv.reader(self._text, delimiter=self.delimiter)
        width = len(self.header)
        try:
            for cells in reader:
                if len(cells) != width:
                    if not cells or all(not c.strip() for c in cells):
                        continue
                    if len(cells) > width and all(not c.strip() for c in cells[width:]):
                        cells = cells[:width]
                    else:
                        self.line_no = reader.line_num + 1
                        yield (
                            self.line_no,
                            cells,
                            f"ragged row: {len(cells)} fields, header has {width}",
                        )
                        continue
                elif not any(cells):
                    continue
                self.line_no = reader.line_num + 1
                yield self.line_no, cells, None
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{self.path.name}: not valid {self.encoding} after line {self.line_no} "
                f"({exc.reason}); give --encoding"
            ) from None
        except csv.Error as exc:
            raise InvalidInput(
                f"{self.path.name}: malformed CSV near line {self.line_no}: {exc}"
            ) from None

    def progress_fraction(self) -> float:
        try:
            return min(1.0, self._raw.tell() / self.size) if self.size else 1.0
        except (OSError, ValueError):
            return 0.0

    def close(self) -> None:
        self._text.close()


def open_csv(
    path: Path | str,
    aliases: dict[str, str],
    known_fields: Sequence[str],
    encoding: str | None = None,
    mapping: Sequence[str] | None = None,
    delimiter: str | None = None,
) -> CsvSource:
    """Open a CSV file for import: detect encoding and delimiter, map the header to fields."""
    src = Path(path)
    if str(path) == "-":
        raise InvalidInput("reading CSV from standard input is not supported; give a file path")
    if not src.exists():
        raise InvalidInput(f"no such file: {src}")
    if src.is_dir():
        raise InvalidInput(f"{src} is a directory, not a CSV file")
    try:
        raw = open(src, "rb")  # noqa: SIM115 - closed by CsvSource.close
    except OSError as exc:
        raise OperationalError(f"cannot read {src}: {exc.strerror}") from exc
    size = os.fstat(raw.fileno()).st_size
    sample = raw.read(SAMPLE_BYTES)
    raw.seek(0)
    if not sample.strip():
        raw.close()
        raise InvalidInput(f"{src.name} is empty")
    if encoding:
        encoding = ENCODING_ALIASES.get(encoding.strip().lower(), encoding.strip())
        try:
            if not codecs.lookup(encoding)._is_text_encoding:  # base64, rot13, hex, zlib ...
                raise LookupError(encoding)
        except LookupError:
            raw.close()
            raise InvalidInput(f"unknown or non-text encoding {encoding!r}") from None
        enc = encoding
    else:
        try:
            enc = detect_encoding(sample)
        except InvalidInput:
            raw.close()
            raise
    text = io.TextIOWrapper(raw, encoding=enc, newline="", errors="strict")
    try:
        first = text.readline()
    except UnicodeDecodeError:
        text.close()
        raise InvalidInput(f"{src.name}: the header is not valid {enc}; give --encoding") from None
    first = first.lstrip("\ufeff")
    delim = delimiter or sniff_delimiter(first)
    try:
        header = next(csv.reader([first], delimiter=delim))
    except (csv.Error, StopIteration):
        text.close()
        raise InvalidInput(f"{src.name}: cannot read the header line") from None
    overrides = parse_mapping(mapping)
    known = set(known_fields)
    bad_targets = sorted(set(overrides.values()) - known)
    if bad_targets:
        text.close()
        raise InvalidInput(
            f"--map names unknown field(s): {', '.join(bad_targets)}; known: {', '.join(sorted(known))}"
        )
    fields: list[str | None] = []
    unknown: list[str] = []
    for cell in header:
        key = normalise_header(cell)
        target = overrides.get(key) or aliases.get(key) or COMMON_ALIASES.get(key)
        if target is None and cell.strip().lower() in known:
            target = cell.strip().lower()
        if target is None and key in known:
            target = key
        if target is not None and target not in known:
            target = None
        if target is None:
            unknown.append(cell.strip())
        fields.append(target)
    lines = sample.count(b"\n") or 1
    estimate = int(size / (len(sample) / lines)) if len(sample) < size else lines
    return CsvSource(
        src, enc, delim, header, fields, unknown, text, raw, size, estimated_rows=estimate
    )


class RejectWriter:
    """Collects rejected rows into a CSV (UTF-8 with BOM): line, reason, original cells.

    Written through core.files (an unguessable 0600 temporary file renamed into place on
    `finish`, removed on `discard`); cells neutralised like every CSV the CRM writes."""

    def __init__(self, path: Path, header: list[str]):
        self.path = path
        self.header = header
        self.count = 0
        self._file: Any = None
        self._writer: Any = None

    def add(self, line: int, reason: str, cells: list[str]) -> None:
        if self._file is None:
            from crmcli.core.files import AtomicFile, follow_default

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = AtomicFile(
                self.path, follow_symlinks=follow_default(), newline="", encoding="utf-8-sig"
            )
            self._writer = csv_writer(self._file.fh, lineterminator="\r\n")
            self._writer.writerow([csv_cell(c) for c in ["line", "reason", *self.header]])
        self._writer.writerow([line, csv_cell(reason), *(csv_cell(c) for c in cells)])
        self.count += 1

    def finish(self) -> Path | None:
        """Move the rejects file into place (only if there were rejects)."""
        if self._file is None:
            return None
        self._file.commit()
        return self.path

    def discard(self) -> None:
        if self._file is not None:
            self._file.discard()


class CountingRejects:
    """Counts rejects without writing a file (a dry run without an explicit --rejects);
    the same interface as RejectWriter."""

    path = None

    def __init__(self) -> None:
        self.count = 0

    def add(self, line: int, reason: str, cells: list[str]) -> None:
        self.count += 1

    def finish(self) -> None:
        return None

    def discard(self) -> None:
        return None


def default_rejects_path(src: Path) -> Path:
    return src.with_name(src.stem + ".rejects.csv")


@dataclass
class ImportSummary:
    """What an import did; printed on stderr, or as JSON with --format json."""

    file: str
    encoding: str
    delimiter: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    rejects_file: str | None = None
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "extra"}
        data["delimiter"] = {"\t": "tab"}.get(self.delimiter, self.delimiter)
        data.update(self.extra)
        return data

    def line(self) -> str:
        head = "Dry run: would import" if self.dry_run else "Imported"
        text = (
            f"{head} {self.file}: {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )
        if self.duplicates:
            text += f", {self.duplicates} duplicates"
        if self.rejects_file:
            text += f" (rejects in {self.rejects_file})"
        return text


class Progress:
    """A rich progress bar on a terminal (stderr), nothing on a pipe or with --quiet."""

    def __init__(self, description: str, enabled: bool | None = None):
        from crmcli.core.config import settings

        self.enabled = (sys.stderr.isatty() and not settings.quiet) if enabled is None else enabled
        self.description = description
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.progress import Progress as RichProgress

            from crmcli.output.emit import console

            self._progress = RichProgress(console=console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=1.0)
        return self

    def update(self, fraction: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=fraction)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
