"""Finding contacts: words of a search box, and the status of a type or a business unit.

A page is ordered by id and paged by keyset (`id > cursor`), with no COUNT, so the first
page over a million contacts costs what the page costs. The hard case is a search that
matches few contacts: walking the table in id order until a page is full then reads every
row. So each criterion also knows how to list its matches through an index ("branches");
a capped count through those indexes tells whether it is selective, and a selective one
drives the query (its few matches, sorted), while a common one is checked row by row in
id order, which fills a page almost at once. The choice is made here, from counts, rather
than left to each database's planner: SQLite without statistics always walks the table.

Words match the *start* of a first name, last name, company, email address, email domain
or phone number (as HubSpot's search does), case-insensitively. That is what the search
indexes (storage/tables.py, migration 0004) serve; matching inside a word cannot use a B-tree and was measured at
1.2–1.7 s for a rare word over 1,000,000 contacts. On SQLite, only ASCII letters fold case.

Measured over 1,000,000 contacts (2 cores): every page below 120 ms on both backends, the
first page of the index 7 ms (SQLite) and 25 ms (PostgreSQL). The known slow case: several
words each too common to drive, that are rare *together* (two common surnames, "smith
johansson"): the walk then reads the whole table, 1 s on PostgreSQL and 2 s on SQLite.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from assent.domain.addresses import InvalidAddress
from assent.domain.model import Channel, Status
from assent.services.errors import Invalid
from assent.services.state import Account, SubscriptionType, load_type, load_types, require_business_unit
from assent.storage import tables as t

#: Below this many matches a criterion drives the query through its indexes.
SELECTIVE = 5000
MAX_WORDS = 5
OPTED = (Status.SUBSCRIBED.value, Status.UNSUBSCRIBED.value)

_PHONE_LIKE = re.compile(r"\+?[\d\s().-]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

c = t.contacts
s = t.subscription_statuses


@dataclass(frozen=True)
class Criterion:
    """One condition on contacts, and the index paths that list its matches ((): none)."""

    where: ColumnElement[bool]
    branches: tuple[sa.Select[tuple[int]], ...] = ()


@dataclass(frozen=True)
class ContactFilter:
    q: str | None = None
    business_unit_id: int | None = None
    subscription_type_id: int | None = None
    status: Status | None = None


def criteria(conn: Connection, account: Account, search: ContactFilter) -> list[Criterion]:
    """The criteria of a search; a 422 names a bad filter."""
    found = _words(conn, account, search.q or "")
    status = _status(conn, search)
    if status is not None:
        found.append(status)
    return found


def condition(conn: Connection, account: Account, search: ContactFilter) -> ColumnElement[bool]:
    """A WHERE clause over `contacts` for the whole search (for `INSERT … SELECT` of jobs)."""
    return sa.and_(sa.true(), *(crit.where for crit in criteria(conn, account, search)))


def page_query(
    conn: Connection, account: Account, search: ContactFilter, after: int | None, limit: int
) -> sa.Select[tuple[int]]:
    """Ids of one page (limit rows, plus one to tell whether more follow)."""
    found = criteria(conn, account, search)
    where = [crit.where for crit in found]
    if after is not None:
        where.append(c.c.id > after)
    driver = _most_selective(conn, found)
    if driver is None:
        return sa.select(c.c.id).where(*where).order_by(c.c.id).limit(limit + 1)
    branches = driver.branches
    matches = (sa.union(*branches) if len(branches) > 1 else branches[0]).subquery("matches")
    return (
        sa.select(c.c.id)
        .select_from(matches.join(c, c.c.id == matches.c.id))
        .where(*where)
        .order_by(c.c.id)
        .limit(limit + 1)
    )


def _most_selective(conn: Connection, found: Sequence[Criterion]) -> Criterion | None:
    best: tuple[int, Criterion] | None = None
    for crit in found:
        if not crit.branches:
            continue
        total = 0
        for branch in crit.branches:
            capped = branch.limit(SELECTIVE).subquery()
            total += conn.execute(sa.select(sa.func.count()).select_from(capped)).scalar_one()
            if total >= SELECTIVE:
                break
        if total < SELECTIVE and (best is None or total < best[0]):
            best = (total, crit)
    return best[1] if best else None


# --- words --------------------------------------------------------------------------------


def _words(conn: Connection, account: Account, q: str) -> list[Criterion]:
    text = q.strip()
    if not text:
        return []
    if len(text) > 200:
        raise Invalid("q", "at most 200 characters")
    postgres = conn.dialect.name == "postgresql"
    if _PHONE_LIKE.fullmatch(text) and sum(ch.isdigit() for ch in text) >= 3:
        return [_criterion([_prefix(t.collate_c(c.c.phone), _phone_prefix(account, text))])]
    words = text.split()[:MAX_WORDS]
    return [_word(word.lower() if postgres else word.translate(_ASCII_LOWER)) for word in words]


def _word(word: str) -> Criterion:
    domain = t.email_domain_c(c.c.email_key)
    email = t.collate_c(c.c.email_key)
    if word.startswith("@"):
        return _criterion([_prefix(domain, word[1:])] if word[1:] else [])
    if "@" in word:
        return _criterion([_prefix(email, word)])
    names = [t.lower_c(c.c.first_name), t.lower_c(c.c.last_name), t.lower_c(c.c.company)]
    return _criterion([_prefix(expression, word) for expression in [*names, email, domain]])


def _criterion(conditions: list[ColumnElement[bool]]) -> Criterion:
    if not conditions:
        return Criterion(sa.true())
    return Criterion(sa.or_(*conditions), tuple(sa.select(c.c.id).where(cond) for cond in conditions))


def _prefix(expression: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """`expression` starts with `prefix`, as a range an index can serve. The expressions are
    the search indexes' own (storage/tables.py), compared in the "C" collation on PostgreSQL
    (code point order, as SQLite does); any other collation would make a prefix range wrong."""
    upper = _successor(prefix)
    if upper is None:
        return expression >= prefix
    return sa.and_(expression >= prefix, expression < upper)


def _successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix`."""
    while prefix:
        code = ord(prefix[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            return prefix[:-1] + chr(code)
        prefix = prefix[:-1]
    return None


def _phone_prefix(account: Account, text: str) -> str:
    digits = re.sub(r"\D", "", text)
    if text.lstrip().startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    try:
        return account.normalize_raw(Channel.SMS, text).key
    except InvalidAddress:
        pass
    region = account.default_phone_region
    if digits.startswith("0") and region:
        # A national number being typed: "0701" is "+46701" in Sweden.
        return f"+{phonenumbers.country_code_for_region(region)}{digits[1:]}"
    return "+" + digits


# --- statuses -----------------------------------------------------------------------------


def _status(conn: Connection, search: ContactFilter) -> Criterion | None:
    """Contacts whose address has `status` for the type, or for any type of the business
    unit (or any type at all). Without a status: any opt-in or opt-out stored there."""
    if search.subscription_type_id is None and search.business_unit_id is None and search.status is None:
        return None
    types: list[SubscriptionType]
    if search.subscription_type_id is not None:
        one = load_type(conn, search.subscription_type_id)
        if search.business_unit_id is not None and one.business_unit_id != search.business_unit_id:
            raise Invalid(
                "business_unit_id",
                f"subscription type {one.id} belongs to business unit {one.business_unit_id}",
                "WRONG_BUSINESS_UNIT",
            )
        types = [one]
    else:
        if search.business_unit_id is not None:
            require_business_unit(conn, search.business_unit_id)
        types = [
            ty
            for ty in load_types(conn).values()
            if search.business_unit_id is None or ty.business_unit_id == search.business_unit_id
        ]
    email_ids = sorted(ty.id for ty in types if ty.channel is Channel.EMAIL)
    phone_ids = sorted(ty.id for ty in types if ty.channel is not Channel.EMAIL)
    groups = [(column, ids) for column, ids in ((c.c.email_key, email_ids), (c.c.phone, phone_ids)) if ids]
    if not groups:
        return Criterion(sa.false())
    if search.status is Status.NOT_SPECIFIED:
        # Nothing opted for any of the types on the contact's address (a stored
        # NOT_SPECIFIED, left by a resubscribe to NOT_SPECIFIED, counts as nothing).
        return Criterion(
            sa.or_(*(sa.and_(column.is_not(None), sa.not_(_stored(column, ids, OPTED))) for column, ids in groups))
        )
    wanted = (search.status.value,) if search.status else OPTED
    where = sa.or_(*(_stored(column, ids, wanted) for column, ids in groups))
    branches = tuple(
        sa.select(c.c.id)
        .join(s, s.c.address == column)
        .where(s.c.subscription_type_id.in_(ids), s.c.status.in_(wanted))
        for column, ids in groups
    )
    return Criterion(where, branches)


def _stored(column: ColumnElement[str | None], ids: list[int], statuses: Sequence[str]) -> ColumnElement[bool]:
    return sa.exists().where(s.c.address == column, s.c.subscription_type_id.in_(ids), s.c.status.in_(list(statuses)))
