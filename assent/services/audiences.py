"""Audience filters: an upload of any length in, the sendable addresses out (SPEC §3, R11).

The upload has been spooled to a file and checked to be UTF-8 (see `Utf8Check`) before any
of this runs. It is then read back in blocks, decided `CHUNK` lines at a time in one read
transaction for the whole stream (R12), and written out as it goes: memory holds a chunk,
never the upload. Lines keep their order; blank lines are skipped; a first line that is a
header (`address`, `email` or `phone`) is dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from itertools import compress
from json.encoder import encode_basestring_ascii as json_string
from typing import IO

from assent.domain.addresses import normalize_many
from assent.domain.model import Reason
from assent.domain.quiet_hours import QUIET_HOURS_CHANNELS
from assent.services.decisions import Decider, Deferrals
from assent.services.errors import Invalid
from assent.services.state import load_account, load_quiet_window, load_type
from assent.storage.db import Database

CSV = "text/csv"
NDJSON = "application/x-ndjson"
HEADERS = frozenset({"address", "email", "phone"})
#: lines decided together: one query (or, after a preload, one pass over a dict)
CHUNK = 20_000
#: bytes read from the spooled upload at a time
BLOCK = 1 << 20
#: a stream at least this long reads the type's relevant state once instead of per chunk…
PRELOAD_MIN_LINES = 50_000
#: …if that state is at most this many rows per line of input, and this many in all
PRELOAD_ROWS_PER_LINE = 4
PRELOAD_MAX_ROWS = 2_000_000
REASONS_SEPARATOR = "|"


#: one line of an upload (an address, a few more CSV columns, or an NDJSON object) is far
#: shorter; the bound keeps a line without newlines from being held whole in memory
MAX_LINE_BYTES = 2 * BLOCK


class Utf8Check:
    """Checks an upload block by block, counting lines, so that bad bytes and over-long
    lines are reported with their line number before any output is sent (and before a line
    of any length is ever held in memory: reading splits the spooled upload at newlines)."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.tail = b""
        self.lines = 0  # newlines in the bytes checked so far
        self.max_line = max_line
        self.open_line = 0  # bytes of the current line (no newline yet)

    def feed(self, data: bytes) -> None:
        self._check_lines(data)
        data = self.tail + data
        cut = _complete_prefix(data)
        try:
            data[:cut].decode("utf-8")
        except UnicodeDecodeError as error:
            self._fail(data, error.start)
        self.lines += data.count(b"\n", 0, cut)
        self.tail = data[cut:]

    def close(self) -> None:
        if self.tail:
            self._fail(self.tail, 0)

    def _check_lines(self, data: bytes) -> None:
        """No line longer than `max_line` bytes. Jumps from the last newline of one window
        of `max_line + 1` bytes to the next: a few steps per block, not one per line."""
        start = -self.open_line  # where the current line began, relative to `data`
        while True:
            end = start + self.max_line + 1
            if end > len(data):
                found = data.rfind(b"\n", max(start, 0))
                self.open_line = len(data) - (found + 1 if found >= 0 else start)
                return
            found = data.rfind(b"\n", max(start, 0), end)
            if found < 0:
                line = self.lines + data.count(b"\n", 0, max(start, 0)) + 1
                raise Invalid("body", f"line {line}: longer than {self.max_line:,} bytes", "LINE_TOO_LONG")
            start = found + 1

    def _fail(self, data: bytes, position: int) -> None:
        line = self.lines + data.count(b"\n", 0, position) + 1
        raise Invalid("body", f"line {line}: not valid UTF-8", "INVALID_ENCODING")


def _complete_prefix(data: bytes) -> int:
    """Length of `data` without a multi-byte character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: the lead byte is further back
            continue
        needed = 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2 if byte >= 0xC0 else 1
        return len(data) - back if needed > back else len(data)
    return len(data)


def filter_audience(
    db: Database,
    type_id: int,
    upload: IO[bytes],
    *,
    media_type: str,
    output: str,
    include_blocked: bool,
    lines_expected: int,
    quiet_hours: bool = False,
) -> Iterator[bytes]:
    """The response body, chunk by chunk. Closes `upload` when done.

    No transaction stays open across a `yield`: a client that goes away leaves the stream
    suspended until it is collected, and it must not hold a snapshot (or a pooled
    connection) meanwhile. State read once for the stream comes from one transaction at its
    start; lookups chunk by chunk each have their own, so every decision reflects every
    change committed before the request (R12).

    With `quiet_hours` (the type's unit has a sending window, see `check_type`), blocked
    lines carry `defer_until`: a fourth CSV column, an NDJSON field (R28).
    """
    try:
        if output == CSV:  # at once: the client sees the answer has begun
            if not include_blocked:
                yield b"address\n"
            else:
                yield b"address,allowed,reasons,defer_until\n" if quiet_hours else b"address,allowed,reasons\n"
        with db.read_replica() as conn:
            account = load_account(conn)
            type_ = load_type(conn, type_id)
            decider = Decider(conn, account, type_)
            budget = min(PRELOAD_MAX_ROWS, PRELOAD_ROWS_PER_LINE * lines_expected)
            preloaded = lines_expected >= PRELOAD_MIN_LINES and decider.preload(budget)
        render = _Renderer(output, include_blocked, decider.default, quiet_hours)
        first = True
        for lines in _chunks(upload):
            values, malformed = _values(lines, media_type)
            if first and media_type == CSV and values and values[0].strip().lower() in HEADERS:
                values = values[1:]
            first = False
            keys, displays = normalize_many(type_.channel, values, account.default_phone_region)
            for index in malformed:
                keys[index] = None
            deferred: Deferrals = {}
            if preloaded:
                exceptions = decider.exceptions(keys, deferred)
            else:
                with db.read_replica() as conn:
                    exceptions = Decider(conn, account, type_).exceptions(keys, deferred)
            yield render(keys, displays, exceptions, deferred).encode()
    finally:
        upload.close()


def _chunks(upload: IO[bytes]) -> Iterator[list[str]]:
    """The upload's non-blank lines, about CHUNK at a time, without line endings or BOM."""
    leftover, rest = b"", ""
    pending: list[str] = []
    start = True
    while block := upload.read(BLOCK):
        # The upload was checked to be UTF-8; a character may still straddle two blocks.
        data = leftover + block
        cut = _complete_prefix(data)
        text, leftover = rest + data[:cut].decode("utf-8"), data[cut:]
        if start:
            text, start = text.removeprefix("\ufeff"), False
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        rest = lines.pop()
        pending += [line for line in lines if line and not line.isspace()]
        while len(pending) >= CHUNK:
            yield pending[:CHUNK]
            pending = pending[CHUNK:]
    if rest and not rest.isspace():
        pending.append(rest)
    if pending:
        yield pending


def _values(lines: list[str], media_type: str) -> tuple[list[str], set[int]]:
    """The address on each line, and the lines that are not well-formed for the media type
    (decided as invalid addresses, shown as they were sent)."""
    if media_type == CSV:
        if not any('"' in line or "," in line for line in lines):
            return lines, set()
        return [_first_field(line) for line in lines], set()
    # Most uploads are one plain object per line: read them all with one regex call.
    plain = _PLAIN_NDJSON.findall("\n".join(lines))
    if len(plain) == len(lines):
        return plain, set()
    values: list[str] = []
    malformed: set[int] = set()
    for index, line in enumerate(lines):
        value = _ndjson_address(line)
        if value is None:
            malformed.add(index)
            value = line
        values.append(value)
    return values, malformed


def _first_field(line: str) -> str:
    if '"' in line:
        row = next(csv.reader([line]), [])
        return row[0] if row else ""
    return line.partition(",")[0]


#: `{"address": "…"}` with JSON's own whitespace and a string without escapes
_PLAIN_NDJSON = re.compile(r'^[ \t]*\{[ \t]*"address"[ \t]*:[ \t]*"([^"\\\x00-\x1f]*)"[ \t]*\}[ \t]*$', re.MULTILINE)


def _ndjson_address(line: str) -> str | None:
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("address"), str):
        return str(parsed["address"])
    return None


class _Renderer:
    """Output lines for one chunk, in the requested media type."""

    def __init__(self, output: str, include_blocked: bool, default: tuple[Reason, ...], quiet_hours: bool) -> None:
        self.csv = output == CSV
        self.include_blocked = include_blocked
        self.quiet_hours = quiet_hours
        self.default = default
        self.invalid = (Reason.INVALID_ADDRESS,)

    def __call__(
        self,
        keys: list[str | None],
        displays: list[str],
        exceptions: dict[int, tuple[Reason, ...]],
        deferred: Deferrals | None = None,
    ) -> str:
        if self.include_blocked:
            if self.quiet_hours or deferred:
                return self._every_line_deferred(keys, displays, exceptions, deferred or {})
            return self._every_line(keys, displays, exceptions)
        if self.default:  # blocked unless stored state says otherwise: few lines to send
            allowed = [displays[i] for i, reasons in sorted(exceptions.items()) if not reasons]
        else:
            mask = [key is not None for key in keys]
            for index, reasons in exceptions.items():
                if reasons:
                    mask[index] = False
            allowed = list(compress(displays, mask))
        if not allowed:
            return ""
        if self.csv:
            # Normalized addresses hold no comma, quote or line break; keep the promise anyway.
            text = "\n".join(allowed)
            if '"' in text or "," in text:
                return "".join(_csv_line([display]) for display in allowed)
            return text + "\n"
        return '{"address":' + '}\n{"address":'.join(map(json_string, allowed)) + "}\n"

    def _every_line(
        self, keys: list[str | None], displays: list[str], exceptions: dict[int, tuple[Reason, ...]]
    ) -> str:
        out: list[str] = []
        default, invalid = self.default, self.invalid
        for index, (key, display) in enumerate(zip(keys, displays, strict=True)):
            reasons = invalid if key is None else exceptions.get(index, default)
            if self.csv:
                out.append(_csv_line([display, "false" if reasons else "true", REASONS_SEPARATOR.join(reasons)]))
            else:
                codes = ",".join(f'"{reason.value}"' for reason in reasons)
                allowed = "false" if reasons else "true"
                out.append(f'{{"address":{json_string(display)},"allowed":{allowed},"reasons":[{codes}]}}\n')
        return "".join(out)

    def _every_line_deferred(
        self,
        keys: list[str | None],
        displays: list[str],
        exceptions: dict[int, tuple[Reason, ...]],
        deferred: Deferrals,
    ) -> str:
        """`_every_line` with each blocked line's `defer_until` (quiet hours, R28)."""
        out: list[str] = []
        for index, (key, display) in enumerate(zip(keys, displays, strict=True)):
            reasons = self.invalid if key is None else exceptions.get(index, self.default)
            until = deferred.get(index)
            when = until.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if until else ""
            if self.csv:
                fields = [display, "false" if reasons else "true", REASONS_SEPARATOR.join(reasons)]
                out.append(_csv_line([*fields, when] if self.quiet_hours else fields))
            else:
                codes = ",".join(f'"{reason.value}"' for reason in reasons)
                extra = f',"defer_until":{json_string(when) if when else "null"}' if index in deferred else ""
                allowed = "false" if reasons else "true"
                out.append(f'{{"address":{json_string(display)},"allowed":{allowed},"reasons":[{codes}]{extra}}}\n')
        return "".join(out)


def _csv_line(fields: list[str]) -> str:
    return ",".join(_csv_field(field) for field in fields) + "\n"


def _csv_field(field: str) -> str:
    if any(c in field for c in ',"\n\r'):
        return '"' + field.replace('"', '""') + '"'
    return field


def check_type(db: Database, type_id: int) -> bool:
    """422 for an unknown type, before the upload is read. True when the type's unit has a
    sending window for its channel (quiet hours, R28): blocked lines then carry `defer_until`."""
    with db.read_replica() as conn:
        type_ = load_type(conn, type_id)
        if type_.channel not in QUIET_HOURS_CHANNELS:
            return False
        return load_quiet_window(conn, type_.business_unit_id, type_.channel) is not None
