"""The email fast path takes only what email-validator takes, and normalizes it the same way.

Inputs are generated from a grammar biased towards the edges of the fast path: local parts
near 64 characters, labels near 63, hyphens and double hyphens, special-use and numeric
TLDs, capitals, whitespace, non-ASCII letters, stray "@" and quotes.
"""

from __future__ import annotations

import string

from hypothesis import example, given, settings
from hypothesis import strategies as st

from assent.domain.addresses import (
    _FAST_EMAIL,
    _MAX_FAST_LENGTH,
    InvalidAddress,
    _validated_email,
    normalize,
    normalize_many,
)
from assent.domain.model import Channel

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
ODD = " \"(),:;<>@[\\]\t\u00e9\u00df\u0130\u212a"  # ends up only in slow-path inputs

ALNUM = string.ascii_letters + string.digits


def _text(alphabet: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=low, max_size=high)


# what the fast path is for: plain dot-atoms, LDH labels, alphabetic TLDs
plain_labels = st.one_of(_text(ALNUM, 1, 8), st.tuples(_text(ALNUM, 1, 4), _text(ALNUM + "-", 0, 3), _text(ALNUM, 1, 4)).map("-".join))
plain = st.tuples(
    st.lists(_text(ATEXT, 1, 10), min_size=1, max_size=3).map(".".join),
    st.lists(plain_labels, min_size=1, max_size=3).map(".".join),
    _text(string.ascii_letters, 2, 6),
).map(lambda p: f"{p[0]}@{p[1]}.{p[2]}")

# its edges: lengths near the limits, hyphens, special-use and odd TLDs, IDN
edge_locals = st.one_of(_text(ATEXT, 60, 66), st.tuples(_text(ATEXT, 30, 34), _text(ATEXT, 28, 34)).map(".".join))
edge_labels = st.one_of(
    _text(ALNUM, 61, 65),
    st.sampled_from(["xn--bcher-kva", "a--b", "-a", "a-", "B\u00fccher", "EXAMPLE", ""]),
)
edge_tlds = st.one_of(
    _text(string.ascii_letters, 1, 1),
    _text(string.ascii_letters, 62, 64),
    st.sampled_from(["test", "Local", "LOCALHOST", "onion", "invalid", "arpa", "c0m", "123", "tests", "xn--p1ai"]),
)
edges = st.tuples(
    st.one_of(edge_locals, _text(ATEXT, 1, 8)),
    st.lists(st.one_of(edge_labels, plain_labels), min_size=0, max_size=4),
    st.one_of(edge_tlds, _text(string.ascii_letters, 2, 4)),
).map(lambda p: f"{p[0]}@{'.'.join([*p[1], p[2]])}")


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(plain)
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from(ODD + ".@-")) + text[at:]


emails = st.one_of(
    plain,
    edges,
    st.tuples(edge_locals, plain).map(lambda p: f"{p[0]}@{p[1].partition('@')[2]}"),
    mutated(),
    st.tuples(st.sampled_from(["", " ", "\t", "\u00a0"]), plain, st.sampled_from(["", " ", "\n"])).map("".join),
    _text(ATEXT + ODD + ".@", 0, 40),
)


def _outcome(raw: str) -> tuple[str, str] | None:
    try:
        address = normalize(Channel.EMAIL, raw)
    except InvalidAddress:
        return None
    return address.key, address.display


@settings(max_examples=1000, deadline=None)
@given(emails)
@example("Alice.Smith+news@Example.COM")
@example("a" * 64 + "@example.com")
@example("a" * 65 + "@example.com")
@example("a@" + "b" * 63 + ".com")
@example("a@" + "b" * 64 + ".com")
@example("a@" + ("b" * 60 + ".") * 4 + "com")
@example("a" * 32 + "." + "b" * 32 + "@example.com")
@example("a@mail.test")
@example("a@x.y")
def test_it_takes_the_fast_path_only_where_email_validator_agrees(raw: str) -> None:
    text = raw.strip()
    match = _FAST_EMAIL.fullmatch(text) if len(text) <= _MAX_FAST_LENGTH else None
    if match is None:
        return
    slow = _validated_email(text)  # must not raise: the fast path took it
    fast = normalize(Channel.EMAIL, raw)
    assert (fast.key, fast.display) == (slow.key, slow.display)


@settings(max_examples=150, deadline=None)
@given(st.lists(emails, max_size=40))
@example(["", "a@b.com", "", "A@B.COM", "x@bücher.de"])
@example(["a@b.com\nc@d.com", "e@f.com"])
@example(["a@mail.test", "b@example.com", "c@x.localhost", "d@e.onion"])
@example(["a" * 300 + "@b.com", "c@d.com"])
def test_it_normalizes_a_block_as_it_normalizes_each_address(raws: list[str]) -> None:
    keys, displays = normalize_many(Channel.EMAIL, raws)
    for raw, key, display in zip(raws, keys, displays, strict=True):
        expected = _outcome(raw)
        assert ((key, display) if key is not None else None) == expected
        if key is None:
            assert display == raw
