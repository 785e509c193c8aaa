"""Reading an uploaded CSV file: encoding, delimiter, header, records with line numbers.

The file is read from a (spooled) file object, one bounded line at a time, so memory stays
flat whatever its size and however long a single line is. Refusals of the whole file (not
UTF-8, empty, too large, no header) are `FileRefused` 422s naming why; problems of one line
are reported on that line and the rest of the file still goes in (R21).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

from assent.domain.imports import LineReason
from assent.services.errors import Invalid

#: The longest physical line read whole; a longer one is reported and skipped.
MAX_LINE_CHARS = 64 * 1024
#: The longest cell kept; a longer one makes its line INVALID (FIELD_TOO_LONG).
MAX_FIELD_CHARS = 2000
_DELIMITERS = (",", ";", "\t")
_READ = 1 << 16


class FileRefused(Invalid):
    def __init__(self, reason: str, code: str = "INVALID_FILE") -> None:
        super().__init__("file", reason, code)


class Record(NamedTuple):
    """One record of the file (a tuple: one is made per line)."""

    line: int
    fields: list[str]


@dataclass
class LineProblem:
    line: int
    column: str
    value: str | None
    reason: LineReason


@dataclass
class Scan:
    """What a first pass over the file found: it is readable, and how it is laid out."""

    delimiter: str
    columns: list[str]
    encoding: str
    size: int = 0
    rows: int = 0
    last_line: int = 1
    problems: list[LineProblem] = field(default_factory=list)

    def add(self, line: int, record: bool) -> None:
        """Count one record (or one line problem, which may be reported out of order)."""
        self.rows += 1
        self.last_line = line if record else max(self.last_line, line)


def check_encoding(stream: BinaryIO, encoding: str, max_bytes: int) -> tuple[str, int]:
    """Decode the whole file once (in blocks): a byte that is not `encoding` refuses it,
    naming the first bad line. Returns the codec to read it with (BOM-aware) and its size."""
    stream.seek(0)
    head = stream.read(4)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise FileRefused(
            'the file is UTF-16, not UTF-8: save it as "CSV UTF-8" (or convert it) and upload it again',
            "NOT_UTF8",
        )
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    except LookupError:
        raise Invalid("encoding", f"unknown encoding {encoding!r}") from None
    stream.seek(0)
    size, lines = 0, 1
    while block := stream.read(_READ):
        size += len(block)
        if size > max_bytes:
            raise FileRefused(f"the file is larger than the limit of {max_bytes:,} bytes", "FILE_TOO_LARGE")
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError as error:
            bad_line = lines + block[: error.start].count(b"\n")
            byte = block[error.start]
            raise FileRefused(
                f"the file is not {encoding.upper()}: line {bad_line} has the byte 0x{byte:02X}, which "
                f"{encoding.upper()} does not allow (is it Latin-1 / Windows-1252? convert it to UTF-8, or use "
                "the CLI's --encoding)",
                "NOT_UTF8",
            ) from None
        lines += text.count("\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise FileRefused(
            f"the file is not {encoding.upper()}: it ends in the middle of a character (line {lines})", "NOT_UTF8"
        ) from None
    if size == 0 or (size <= 3 and head.startswith(codecs.BOM_UTF8)):
        raise FileRefused("the file is empty", "EMPTY_FILE")
    return codec, size


def _physical_lines(text: io.TextIOBase, counter: list[int], too_long: list[int]) -> Iterator[str]:
    """Lines of at most MAX_LINE_CHARS; a longer one is skipped (and noted) whole."""
    while True:
        line = text.readline(MAX_LINE_CHARS)
        if not line:
            return
        counter[0] += 1
        if len(line) >= MAX_LINE_CHARS and not line.endswith("\n"):
            while (rest := text.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                pass
            too_long.append(counter[0])
            yield "\n"
            continue
        yield line


def sniff_delimiter(header: str) -> str:
    """`,`, `;` or tab: whichever the header line holds most of, outside quotes."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def records(stream: BinaryIO, codec: str, delimiter: str | None = None) -> Iterator[Record | LineProblem | Scan]:
    """The header first (as a `Scan`), then every record and line problem in file order."""
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=codec, newline="")
    counter: list[int] = [0]
    too_long: list[int] = []
    lines = _physical_lines(text, counter, too_long)
    first = next(lines, "")
    while first.strip() == "" and first:
        first = next(lines, "")
    if not first.strip():
        text.detach()
        raise FileRefused("the file has no header line", "EMPTY_FILE")
    chosen = delimiter or sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=chosen))
    columns = [c.strip() for c in header]
    if not any(columns):
        text.detach()
        raise FileRefused("the header line names no column", "NO_HEADER")
    yield Scan(chosen, columns, codec, last_line=counter[0])
    reader = csv.reader(lines, delimiter=chosen, strict=False)
    start = counter[0] + 1
    try:
        for fields in reader:
            line = start
            start = counter[0] + 1
            while too_long and too_long[0] < line:
                yield LineProblem(too_long.pop(0), "", None, LineReason.LINE_TOO_LONG)
            if too_long and too_long[0] == line:
                too_long.pop(0)
                yield LineProblem(line, "", None, LineReason.LINE_TOO_LONG)
                continue
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # a blank line
            yield Record(line, fields)
        for line in too_long:
            yield LineProblem(line, "", None, LineReason.LINE_TOO_LONG)
    finally:
        text.detach()


def scan(stream: BinaryIO, *, encoding: str = "utf-8", max_bytes: int, count: bool = True) -> Scan:
    """The first pass: readable? which delimiter and columns? how many rows?

    With `count=False` the records are read only up to the first (to refuse a file with none)
    and none is counted: a caller that reads them all anyway counts them with `Scan.add`."""
    codec, size = check_encoding(stream, encoding, max_bytes)
    found: Scan | None = None
    some = False
    for item in records(stream, codec):
        if isinstance(item, Scan):
            found = item
            found.size = size
            continue
        assert found is not None
        some = True
        if not count:
            break
        found.add(item.line, isinstance(item, Record))
    assert found is not None
    if not some:
        raise FileRefused("the file has a header but no rows", "EMPTY_FILE")
    return found
