"""Check an Assent ledger against a signed checkpoint, with nothing of Assent installed.

This one file defines the evidence scheme (README, "Evidence") and checks it; it needs only
the standard library and `cryptography`. Assent itself hashes, signs and verifies with it,
so there is one definition of the scheme, which anyone can read and run:

    python verifier_standalone.py history.csv --checkpoint checkpoint.json \\
        --public-key ledger-key.pem [--digest-key HEX]

`history.csv` is `assent export history` (or GET /api/v1/exports/history), the checkpoint
one line that `assent ledger checkpoint` printed (or an item of GET /api/v1/ledger/checkpoints),
the key the PEM of GET /api/v1/ledger/public-key. Exit status 0: the export is intact and
covers the checkpoint; 1: it is not, and the first bad event is named, with what is wrong.

The scheme, version 1:
- Every event's `hash` is the SHA-256 (hex) of a JSON array (separators "," and ":", UTF-8,
  no ASCII escaping): the scheme version 1, then the event's recorded fields in the order
  of HASHED_FIELDS (ids, time, what changed, who, how), the keyed digests of its personal
  fields (DIGEST_FIELDS), and `prev_hash`, the hash of the event before it in id order
  (GENESIS before the first). Empty strings count as null.
- Personal fields (PERSONAL_FIELDS) enter only through their digest: HMAC-SHA256 keyed
  with the ledger's digest key over "assent-ledger-v1", the field name and the value, each
  followed by a NUL byte, the first 32 hex digits. Erasure blanks the fields and keeps the
  digests, so an erased event still verifies — as redacted.
- Times are UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ. Canonical JSON (for signatures): keys
  sorted, separators "," and ":", UTF-8, no ASCII escaping.
- Signatures (checkpoints, consent receipts): the object without its `signature` field,
  as canonical JSON, signed with Ed25519; `signature` holds the signature in base64.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import enum
import hashlib
import hmac
import json
import operator
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEME_VERSION = 1
GENESIS = "0" * 64
HASHED_FIELDS = (
    "id",
    "address_hash",
    "at",
    "kind",
    "channel",
    "business_unit_id",
    "subscription_type_id",
    "old_status",
    "new_status",
    "legal_basis",
    "processing_legal_basis",
    "source",
    "actor_kind",
    "actor_id",
    "job_id",
    "notice_version",
)
PERSONAL_FIELDS = ("address", "legal_basis_explanation", "ip", "user_agent", "notice_text")
DIGEST_FIELDS = tuple(f"{name}_digest" for name in PERSONAL_FIELDS)
INT_FIELDS = ("id", "business_unit_id", "subscription_type_id")
_PERSONAL_PAIRS = tuple(zip(PERSONAL_FIELDS, DIGEST_FIELDS, strict=True))
#: what a history export must hold for this check
EXPORT_FIELDS = (*HASHED_FIELDS, *PERSONAL_FIELDS, *DIGEST_FIELDS, "redacted", "prev_hash", "hash")

# Kinds of finding, in the words of the README.
EDITED, DELETED, INSERTED, REORDERED, TRUNCATED, BAD_SIGNATURE = (
    "edited", "deleted", "inserted", "reordered", "truncated", "bad_signature",
)  # fmt: skip


# --- the scheme -----------------------------------------------------------------------------


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=lambda o: _plain(o))


def canonical_json(value: Any) -> bytes:
    return _CANONICAL.encode(value).encode("utf-8")


_last_time: tuple[Any, str] = (None, "")


def canonical_time(value: dt.datetime | str) -> str:
    global _last_time
    last = _last_time
    if value is last[0]:  # the events of one transaction share their time
        return last[1]
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    if parsed.tzinfo is dt.UTC:  # the common case, quickly: "…+00:00" becomes "…Z"
        text = parsed.isoformat(timespec="microseconds")[:-6] + "Z"
    else:
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        text = parsed.isoformat(timespec="microseconds") + "Z"
    _last_time = (value, text)
    return text


def _plain(value: Any) -> Any:
    """Values as stored: an enum member counts as its value, an empty string as null."""
    if isinstance(value, enum.Enum):
        value = value.value
    return None if value == "" else value


class Digester:
    """Keyed digests of personal fields, memoized (one address has many events)."""

    def __init__(self, key: bytes) -> None:
        self._base = hmac.new(key, b"assent-ledger-v1\x00", hashlib.sha256)
        self._memo: dict[tuple[str, str], str] = {}

    def digest(self, name: str, value: Any) -> str | None:
        value = _plain(value)
        if value is None:
            return None
        found = self._memo.get((name, value))
        if found is None:
            mac = self._base.copy()
            mac.update(f"{name}\x00{value}\x00".encode())
            found = mac.hexdigest()[:32]
            if len(self._memo) > 100_000:
                self._memo.clear()
            self._memo[(name, value)] = found
        return found

    def digests(self, event: Mapping[str, Any]) -> dict[str, str | None]:
        return {f"{name}_digest": self.digest(name, event.get(name)) for name in PERSONAL_FIELDS}


def _getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    get: Callable[[Mapping[str, Any]], tuple[Any, ...]] = operator.itemgetter(*names)
    return get


def _getter_of(columns: Sequence[str], names: tuple[str, ...]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """The values of `names` from a tuple of `columns` (a tuple even for one name)."""
    positions = [columns.index(name) for name in names]
    if len(positions) == 1:
        position = positions[0]
        return lambda row: (row[position],)
    get: Callable[[Sequence[Any]], tuple[Any, ...]] = operator.itemgetter(*positions)
    return get


_BEFORE_AT = _getter(HASHED_FIELDS[: HASHED_FIELDS.index("at")])
_AFTER_AT = _getter((*HASHED_FIELDS[HASHED_FIELDS.index("at") + 1 :], *DIGEST_FIELDS, "prev_hash"))


def hashed_values(event: Mapping[str, Any]) -> list[Any]:
    """What an event's hash is computed over, in order (see the module docstring)."""
    values = [SCHEME_VERSION, *_BEFORE_AT(event), canonical_time(event["at"]), *_AFTER_AT(event)]
    return [None if value == "" else value for value in values]


def _array_encoder() -> Callable[[list[Any]], str]:
    """JSON of a flat array, as _COMPACT writes it: with the C encoder made once rather
    than once per call (json.dumps builds one each time), when this Python has it."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - pure-Python json
        return _COMPACT.encode
    encode = make(None, _COMPACT.default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda values: "".join(encode(values, 0))


_encode_array = _array_encoder()


def event_hash(event: Mapping[str, Any]) -> str:
    """The hash of an event that holds every field of `hashed_values` (None where null)."""
    return hashlib.sha256(_encode_array(hashed_values(event)).encode("utf-8")).hexdigest()


def unsigned(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "signature"}


def sign(obj: Mapping[str, Any], private_key: Any) -> dict[str, Any]:
    """`obj` with its Ed25519 `signature` (private_key: cryptography's Ed25519PrivateKey)."""
    body = unsigned(obj)
    return {**body, "signature": base64.b64encode(private_key.sign(canonical_json(body))).decode()}


def signature_ok(obj: Mapping[str, Any], public_key_pem: str | bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    try:
        signature = base64.b64decode(str(obj.get("signature", "")), validate=True)
        key.verify(signature, canonical_json(unsigned(obj)))
    except (InvalidSignature, ValueError):
        return False
    return True


# --- the check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    last_event_id: int
    last_hash: str
    at: str
    signature: str

    @classmethod
    def parse(cls, raw: str | Mapping[str, Any]) -> Checkpoint:
        """A checkpoint from its JSON (several lines: the last one, the newest, counts)."""
        if isinstance(raw, str):
            lines = [line for line in raw.strip().splitlines() if line.strip()]
            if not lines:
                raise ValueError("no checkpoint given")
            raw = json.loads(lines[-1])
        if not isinstance(raw, Mapping):
            raise ValueError("a checkpoint is a JSON object")
        try:
            return cls(int(raw["last_event_id"]), str(raw["last_hash"]), str(raw["at"]), str(raw["signature"]))
        except KeyError as missing:
            raise ValueError(f"the checkpoint has no {missing}") from None

    def as_dict(self) -> dict[str, Any]:
        return {
            "last_event_id": self.last_event_id,
            "last_hash": self.last_hash,
            "at": self.at,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class Finding:
    event_id: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"event {self.event_id}: {self.kind}: {self.detail}"


@dataclass
class ChainResult:
    events: int = 0
    redacted: int = 0
    bad_events: int = 0
    first_id: int | None = None
    last_id: int | None = None
    last_hash: str | None = None
    findings: list[Finding] = field(default_factory=list)
    more_findings: int = 0
    #: the checkpoint compared with, when its signature held
    checkpoint: Checkpoint | None = None
    digests_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.findings and not self.more_findings

    @property
    def first(self) -> Finding | None:
        return min(self.findings, key=lambda f: f.event_id) if self.findings else None


class ChainChecker:
    """Feed events in id order; `finish()` says what is wrong, first bad event first.

    Each event is checked on its own (its hash, its personal digests) and against its
    neighbours (its `prev_hash` names the event before it). The event after is looked at
    too, to tell an inserted event (the next one chains past it) from an edited one.
    `find_hash` (hash → the id of the event holding it) tells a reordering.
    """

    def __init__(
        self,
        *,
        digest_key: bytes | None = None,
        prev_hash: str = GENESIS,
        first_id: int = 1,
        find_hash: Callable[[str], int | None] | None = None,
        checkpoint: Checkpoint | None = None,
        limit: int = 1000,
    ) -> None:
        self.result = ChainResult(checkpoint=checkpoint, digests_checked=digest_key is not None)
        self._digester = Digester(digest_key) if digest_key is not None else None
        self._anchor = prev_hash
        self._prev_id = first_id - 1
        self._find_hash = find_hash
        self._checkpoint = checkpoint
        self._limit = limit
        self._pending: Mapping[str, Any] | None = None
        self._skip_link = False
        self._unexplained_redactions: dict[str, int] = {}

    def feed(self, event: Mapping[str, Any]) -> None:
        if self._pending is not None:
            self._check(self._pending, event)
        self._pending = event

    def feed_rows(self, rows: Iterable[Sequence[Any]], names: Sequence[str]) -> None:
        """Feed events given as tuples of the columns `names` (which hold EXPORT_FIELDS), as
        a database cursor gives them: the same verdicts as `feed`, quicker. An intact event
        (the next id, linked to the one before, its hash and digests right, neither redacted
        nor an erasure nor the checkpoint's) is checked right away from its tuple; it needs
        no look at the event after it. Any other is made a dict and goes the way of `feed`."""
        at = names.index("at")
        before_at = _getter_of(names, HASHED_FIELDS[: HASHED_FIELDS.index("at")])
        after_at = _getter_of(names, (*HASHED_FIELDS[HASHED_FIELDS.index("at") + 1 :], *DIGEST_FIELDS, "prev_hash"))
        i_id, i_hash, i_prev = names.index("id"), names.index("hash"), names.index("prev_hash")
        i_kind, i_redacted = names.index("kind"), names.index("redacted")
        pairs = [(name, names.index(name), names.index(digest)) for name, digest in _PERSONAL_PAIRS]
        memos: list[dict[Any, str | None]] = [{} for _ in pairs]
        encode, sha256, time_of = _encode_array, hashlib.sha256, canonical_time
        last_time: tuple[Any, str] = (None, "")

        def intact(row: Sequence[Any]) -> bool:
            nonlocal last_time
            if not self._plain_successor(row, i_id, i_prev, i_kind, i_redacted):
                return False
            when = row[at]
            if when != last_time[0]:  # the events of one write share their time
                last_time = (when, time_of(when))
            values = [SCHEME_VERSION, *before_at(row), last_time[1], *after_at(row)]
            text = encode(values)
            if '""' in text:  # an empty string counts as null (a `""` elsewhere only costs this)
                text = encode([None if value == "" else value for value in values])
            if sha256(text.encode("utf-8")).hexdigest() != row[i_hash]:
                return False
            return self._digests_hold(row, pairs, memos)

        for row in rows:
            if self._pending is not None:
                event = dict(zip(names, row, strict=True))
                self._check(self._pending, event)
                self._pending = None
                if not intact(row):
                    self._pending = event
                    continue
            elif not intact(row):
                self._pending = dict(zip(names, row, strict=True))
                continue
            self._take_intact(row, i_id, i_hash)

    def feed_encoded(
        self,
        rows: Iterable[Sequence[Any]],
        names: Sequence[str],
        full_row: Callable[[Any], Sequence[Any]],
        full_names: Sequence[str],
    ) -> None:
        """Feed events given as tuples of the columns `names`: `id`, `kind`, `redacted`,
        `prev_hash`, `hash`, `key`, `encoded` (what `_encode_array(hashed_values(event))`
        gives, when whoever read the rows could make it: a database, in SQL) and the
        personal fields with their digests. An intact event is checked from its tuple as
        in `feed_rows`; any other (or one whose `encoded` hashes to something else) is read
        whole, `full_row(key)` as a tuple of `full_names`, and goes the way of `feed_rows`:
        `encoded` only ever makes an event count as intact when its hash says it is what
        `feed_rows` would have hashed."""
        i_id, i_hash, i_prev = names.index("id"), names.index("hash"), names.index("prev_hash")
        i_key, i_kind, i_redacted, i_encoded = (names.index(name) for name in ("key", "kind", "redacted", "encoded"))
        pairs = [(name, names.index(name), names.index(digest)) for name, digest in _PERSONAL_PAIRS]
        memos: list[dict[Any, str | None]] = [{} for _ in pairs]
        sha256 = hashlib.sha256

        def intact(row: Sequence[Any]) -> bool:
            if not self._plain_successor(row, i_id, i_prev, i_kind, i_redacted):
                return False
            encoded = row[i_encoded]
            if not isinstance(encoded, str) or sha256(encoded.encode("utf-8")).hexdigest() != row[i_hash]:
                return False
            return self._digests_hold(row, pairs, memos)

        for row in rows:
            if self._pending is not None or not intact(row):
                self.feed_rows([full_row(row[i_key])], full_names)
                continue
            self._take_intact(row, i_id, i_hash)

    def _plain_successor(self, row: Sequence[Any], i_id: int, i_prev: int, i_kind: int, i_redacted: int) -> bool:
        """Whether an event is the next id, linked to the one before, neither redacted nor an
        erasure nor the checkpoint's: one that can be checked from its own row."""
        if row[i_id] != self._prev_id + 1 or row[i_prev] != self._anchor:
            return False
        if self._checkpoint is not None and row[i_id] == self._checkpoint.last_event_id:
            return False
        redacted = row[i_redacted]
        return row[i_kind] != "ERASURE" and (redacted is False or redacted == 0 or not _truthy(redacted))

    def _digests_hold(
        self, row: Sequence[Any], pairs: Sequence[tuple[str, int, int]], memos: Sequence[dict[Any, str | None]]
    ) -> bool:
        """Whether the stored digests of an event's personal fields are those of its values
        (each value's digest remembered per field: one address has many events)."""
        digester = self._digester
        if digester is None:
            return True
        for (name, i_value, i_digest), memo in zip(pairs, memos, strict=True):
            value, stored = row[i_value], row[i_digest]
            if value is None or value == "":
                if stored is not None and stored != "":
                    return False
                continue
            found = memo.get(value)
            if found is None:
                if len(memo) > 100_000:
                    memo.clear()
                found = memo[value] = digester.digest(name, value)
            if found != stored:
                return False
        return True

    def _take_intact(self, row: Sequence[Any], i_id: int, i_hash: int) -> None:
        """What `_check` does for an intact event."""
        result = self.result
        result.events += 1
        if result.first_id is None:
            result.first_id = int(row[i_id])
        self._prev_id = result.last_id = int(row[i_id])
        self._anchor = result.last_hash = str(row[i_hash])

    def finish(self) -> ChainResult:
        if self._pending is not None:
            self._check(self._pending, None)
            self._pending = None
        result, checkpoint = self.result, self._checkpoint
        if checkpoint is not None and checkpoint.last_event_id > self._prev_id:
            self._add(
                Finding(
                    self._prev_id + 1,
                    TRUNCATED,
                    f"the checkpoint of {checkpoint.at} covers events up to {checkpoint.last_event_id}, "
                    f"but the ledger ends at {self._prev_id}",
                )
            )
        for address_hash, event_id in self._unexplained_redactions.items():
            self._add(Finding(event_id, EDITED, f"redacted, but no erasure of #{address_hash} follows it"))
        result.findings.sort(key=lambda f: f.event_id)
        return result

    def _add(self, finding: Finding) -> None:
        if len(self.result.findings) < self._limit:
            self.result.findings.append(finding)
        else:
            self.result.more_findings += 1

    def _check(self, row: Mapping[str, Any], after: Mapping[str, Any] | None) -> None:
        result = self.result
        result.events += 1
        event_id = int(row["id"])
        if result.first_id is None:
            result.first_id = event_id
        expected, anchor = self._prev_id + 1, self._anchor
        skip_link, self._skip_link = self._skip_link, False
        if event_id > expected:
            missing = f"event {expected} is" if event_id == expected + 1 else f"events {expected}..{event_id - 1} are"
            self._add(Finding(expected, DELETED, f"{missing} missing: the ids jump from {expected - 1} to {event_id}"))
            skip_link = True  # this event chains to the one deleted
        elif event_id < expected:
            self._add(Finding(event_id, INSERTED, f"a second event with id {event_id}"))
        stored = row.get("hash")
        self_ok = stored == event_hash(row)
        link_ok = skip_link or row.get("prev_hash") == anchor
        bad_fields = self._personal(row)
        if not (self_ok and link_ok and not bad_fields):
            result.bad_events += 1
            inserted = self._classify(row, after, anchor, self_ok, link_ok, bad_fields)
            if inserted:
                # The next event chains to the one before this: keep that as its anchor.
                self._prev_id = event_id
                result.last_id, result.last_hash = event_id, str(stored)
                return
        checkpoint = self._checkpoint
        if checkpoint is not None and event_id == checkpoint.last_event_id and stored != checkpoint.last_hash:
            self._add(
                Finding(
                    event_id,
                    EDITED,
                    f"the checkpoint of {checkpoint.at} signed hash {checkpoint.last_hash} for this event, "
                    f"the ledger holds {stored}: the history up to it was rewritten",
                )
            )
        self._prev_id, self._anchor = event_id, str(stored)
        result.last_id, result.last_hash = event_id, str(stored)

    def _personal(self, row: Mapping[str, Any]) -> list[str]:
        """Personal fields that do not match their digests (or a redaction that is not one)."""
        if row["kind"] == "ERASURE":
            self._unexplained_redactions.pop(str(row["address_hash"]), None)
        if _truthy(row["redacted"]):
            self.result.redacted += 1
            self._unexplained_redactions.setdefault(str(row["address_hash"]), int(row["id"]))
            return [name for name in PERSONAL_FIELDS if _plain(row[name]) is not None]
        if self._digester is None:
            return []
        digest, bad = self._digester.digest, []
        for name, digest_name in _PERSONAL_PAIRS:
            value, stored = row[name], row[digest_name]
            if value is None or value == "":
                if stored is not None and stored != "":
                    bad.append(name)
            elif digest(name, value) != stored:
                bad.append(name)
        return bad

    def _classify(
        self,
        row: Mapping[str, Any],
        after: Mapping[str, Any] | None,
        anchor: str,
        self_ok: bool,
        link_ok: bool,
        bad_fields: list[str],
    ) -> bool:
        """Add the finding for a bad event; True when it is an inserted one."""
        event_id, previous = int(row["id"]), self._prev_id
        if not link_ok and self._find_hash is not None and row.get("prev_hash"):
            owner = self._find_hash(str(row.get("prev_hash")))
            if owner is not None and owner != previous:
                self._add(
                    Finding(
                        event_id,
                        REORDERED,
                        f"it was appended after event {owner}, but sits after event {previous}",
                    )
                )
                return False
        if after is not None and after.get("prev_hash") == anchor and after.get("prev_hash") != row.get("hash"):
            self._add(
                Finding(event_id, INSERTED, f"event {after['id']} chains to event {previous}: this one was slipped in")
            )
            return True
        if bad_fields and link_ok:
            changed = ", ".join(bad_fields)
            how = "set on a redacted event" if _truthy(row.get("redacted")) else "does not match its recorded digest"
            self._add(Finding(event_id, EDITED, f"{changed} {how}"))
        elif link_ok:
            self._add(Finding(event_id, EDITED, "a recorded field no longer matches the event's hash"))
        elif self_ok:
            self._add(
                Finding(
                    previous,
                    EDITED,
                    f"event {event_id} chains to a hash that no event has: event {previous} was rewritten and "
                    "its hash recomputed (or events after it were deleted and the later ids renumbered)",
                )
            )
        elif after is None:
            self._add(Finding(event_id, INSERTED, "the last event chains to no event and matches no hash"))
        else:
            self._add(Finding(event_id, EDITED, "neither its fields nor its link to the event before match"))
        return False


def _truthy(value: Any) -> bool:
    return value is True or value == 1 or (isinstance(value, str) and value.lower() in ("true", "1", "t"))


# --- an export ------------------------------------------------------------------------------


def read_export(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Events from a history CSV (empty cells are null)."""
    reader = csv.DictReader(lines)
    missing = [name for name in EXPORT_FIELDS if name not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"the export lacks the columns {', '.join(missing)}")
    for row in reader:
        event: dict[str, Any] = {name: (value if value != "" else None) for name, value in row.items()}
        for name in INT_FIELDS:
            if event.get(name) is not None:
                event[name] = int(event[name])
        event["redacted"] = _truthy(event.get("redacted"))
        yield event


def verify_export(
    path: str | Path,
    *,
    checkpoint: Checkpoint | str | None = None,
    public_key_pem: str | bytes | None = None,
    digest_key: bytes | None = None,
) -> ChainResult:
    """Check a history export (all of it, from event 1) against a checkpoint."""
    found_bad_signature: Finding | None = None
    if isinstance(checkpoint, str):
        checkpoint = Checkpoint.parse(checkpoint)
    if checkpoint is not None:
        if public_key_pem is None:
            raise ValueError("a checkpoint needs the public key to check its signature")
        if not signature_ok(checkpoint.as_dict(), public_key_pem):
            found_bad_signature = Finding(
                checkpoint.last_event_id, BAD_SIGNATURE, f"the checkpoint of {checkpoint.at} is not signed by this key"
            )
            checkpoint = None

    def find_hash(wanted: str) -> int | None:
        with open(path, newline="", encoding="utf-8") as again:
            return next((int(e["id"]) for e in read_export(again) if e.get("hash") == wanted), None)

    checker = ChainChecker(digest_key=digest_key, find_hash=find_hash, checkpoint=checkpoint)
    with open(path, newline="", encoding="utf-8") as export:
        for event in read_export(export):
            checker.feed(event)
    result = checker.finish()
    if found_bad_signature is not None:
        result.findings.insert(0, found_bad_signature)
        result.findings.sort(key=lambda f: f.event_id)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("export", help="history CSV (assent export history)")
    parser.add_argument("--checkpoint", help="a checkpoint: a file, or its JSON")
    parser.add_argument("--public-key", help="PEM file of the ledger's Ed25519 public key")
    parser.add_argument("--digest-key", help="hex: also check personal fields against their digests")
    args = parser.parse_args(argv)
    checkpoint = None
    if args.checkpoint:
        raw = args.checkpoint if args.checkpoint.lstrip().startswith("{") else Path(args.checkpoint).read_text()
        checkpoint = Checkpoint.parse(raw)
    public_key = Path(args.public_key).read_bytes() if args.public_key else None
    digest_key = bytes.fromhex(args.digest_key) if args.digest_key else None
    result = verify_export(args.export, checkpoint=checkpoint, public_key_pem=public_key, digest_key=digest_key)
    for finding in result.findings:
        print(finding)
    if result.more_findings:
        print(f"… and {result.more_findings} more")
    covered = f", covered by the checkpoint of {result.checkpoint.at}" if result.checkpoint else ""
    summary = f"{result.events} events ({result.redacted} redacted) up to event {result.last_id}{covered}"
    if result.ok:
        print(f"OK: {summary}", file=sys.stderr)
        return 0
    print(f"NOT OK: {result.bad_events} bad events among {summary}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
