"""Which languages Assent knows: those of the Unicode CLDR, through Babel's locale data.

Knowing a language is not having texts in it (`assent.i18n.SUPPORTED` lists the catalogs):
a unit or a link may name any known language, and pages and emails fall back along R17's
order to one with a catalog. A tag whose primary subtag names no language at all ("xx") is
refused at the edge, before anything is written.
"""

from __future__ import annotations

import re
from functools import cache

from babel import localedata

_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
MAX_TAG_LENGTH = 35


@cache
def _known() -> frozenset[str]:
    return frozenset(name.split("_")[0].lower() for name in localedata.locale_identifiers())


def primary(tag: str) -> str | None:
    """The primary subtag of a well-formed tag Assent knows ("sv-SE" → "sv"), else None."""
    if len(tag) > MAX_TAG_LENGTH or not _TAG.fullmatch(tag):
        return None
    found = re.split(r"[-_]", tag)[0].lower()
    return found if found in _known() else None


def check(tag: str) -> str:
    """For pydantic validators: the tag unchanged, or a ValueError that says why."""
    if primary(tag) is None:
        raise ValueError(f"{tag!r} is not a language Assent knows (a tag such as 'en', 'de' or 'sv-SE')")
    return tag
