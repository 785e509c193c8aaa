"""SMS and WhatsApp keywords (SPEC R18, R27): what an inbound text asks for, and the one reply.

Pure functions over plain values. A message is read as a sequence of words — letters and
digits, any case, accents ignored — so surrounding punctuation and spacing never matter and
`OPT-OUT`, `opt out` and `Opt  out!` are the same words.

- A **whole-message keyword** (the message is nothing but the keyword's words) acts at once:
  the STOP family sets the wide opt-out, START lifts it, HELP answers with the help text.
- The FCC's **"any reasonable means"** (47 CFR 64.1200(a)(10)): a message that is not a
  whole keyword but contains a STOP-family keyword as a word sequence ("please stop texting
  me") is a revocation — an opt-out, or a review item, as the account's policy says.
  "Stopped by the shop" holds no such word and changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Keyword(StrEnum):
    """The three keyword families, as stored per business unit."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


class MessageKind(StrEnum):
    OPT_OUT = "OPT_OUT"  # a whole-message STOP-family keyword
    OPT_IN = "OPT_IN"  # START, YES, UNSTOP
    HELP = "HELP"  # HELP, INFO
    REVOCATION = "REVOCATION"  # a STOP-family word among other words (64.1200(a)(10))
    OTHER = "OTHER"  # nothing to act on


class RevocationPolicy(StrEnum):
    """The account setting `sms_revocation_policy`: what a REVOCATION message does."""

    OPT_OUT = "OPT_OUT"  # treated as an opt-out at once (the default)
    REVIEW = "REVIEW"  # queued for a person to confirm or dismiss


#: SPEC R18, CTIA and the FCC's per-se list (standards §6: TC-02, CT-07, CT-08, TW-01/02).
DEFAULT_KEYWORDS: Mapping[Keyword, tuple[str, ...]] = {
    Keyword.OPT_OUT: (
        "STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "UNSUB", "CANCEL", "END", "QUIT", "REVOKE",
        "OPTOUT", "OPT OUT", "OPT-OUT",
    ),
    Keyword.OPT_IN: ("START", "YES", "UNSTOP"),
    Keyword.HELP: ("HELP", "INFO"),
}  # fmt: skip

MAX_KEYWORD_LENGTH = 40
MAX_KEYWORD_WORDS = 4
MAX_EXTRA_KEYWORDS = 20

_WORD = re.compile(r"[^\W_]+")

Words = tuple[str, ...]


def words(text: str) -> Words:
    """The words of a text: letters and digits, upper case, accents dropped ("Arrêt" → ARRET)."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return tuple(word.upper() for word in _WORD.findall(plain))


@dataclass(frozen=True, slots=True)
class KeywordSet:
    """The keywords one business unit answers to: the defaults plus its extra ones."""

    opt_out: frozenset[Words]
    opt_in: frozenset[Words]
    help: frozenset[Words]

    @property
    def longest_opt_out(self) -> int:
        return max((len(w) for w in self.opt_out), default=0)


def keyword_set(extra: Mapping[str, Iterable[str]] | None = None) -> KeywordSet:
    """The defaults and a unit's extra keywords (already checked by `check_extra_keywords`)."""
    extra = extra or {}

    def family(kind: Keyword) -> frozenset[Words]:
        spelled = (*DEFAULT_KEYWORDS[kind], *extra.get(kind.value, ()))
        return frozenset(w for w in map(words, spelled) if w)

    return KeywordSet(family(Keyword.OPT_OUT), family(Keyword.OPT_IN), family(Keyword.HELP))


@dataclass(frozen=True, slots=True)
class Classified:
    kind: MessageKind
    #: the keyword as matched (its words joined by a space), for the evidence and the screens
    keyword: str | None = None


def classify(text: str, keywords: KeywordSet) -> Classified:
    """What an inbound message asks for (R18, R27)."""
    found = words(text)
    if not found:
        return Classified(MessageKind.OTHER)
    matched = " ".join(found)
    if found in keywords.opt_out:
        return Classified(MessageKind.OPT_OUT, matched)
    if found in keywords.opt_in:
        return Classified(MessageKind.OPT_IN, matched)
    if found in keywords.help:
        return Classified(MessageKind.HELP, matched)
    # "Any reasonable means": a STOP-family keyword as a run of whole words anywhere.
    for size in range(min(keywords.longest_opt_out, len(found)), 0, -1):
        for start in range(len(found) - size + 1):
            run = found[start : start + size]
            if run in keywords.opt_out:
                return Classified(MessageKind.REVOCATION, " ".join(run))
    return Classified(MessageKind.OTHER)


class Act(StrEnum):
    """What an inbound message makes Assent do."""

    SET_WIDE_OPT_OUT = "SET_WIDE_OPT_OUT"
    REMOVE_WIDE_OPT_OUT = "REMOVE_WIDE_OPT_OUT"
    QUEUE_FOR_REVIEW = "QUEUE_FOR_REVIEW"
    NOTHING = "NOTHING"


@dataclass(frozen=True, slots=True)
class Response:
    act: Act
    #: which reply to send (exactly one, or none)
    reply: Keyword | None


def respond(kind: MessageKind, policy: RevocationPolicy) -> Response:
    """The act and the reply for a message (R18: exactly one confirmation, R27: the policy).

    A whole-message keyword acts at once under either policy; only a revocation in other
    words depends on it. Under REVIEW nothing is replied yet: the one confirmation text may
    only confirm an opt-out that has happened (64.1200(a)(12)).
    """
    if kind is MessageKind.OPT_OUT:
        return Response(Act.SET_WIDE_OPT_OUT, Keyword.OPT_OUT)
    if kind is MessageKind.OPT_IN:
        return Response(Act.REMOVE_WIDE_OPT_OUT, Keyword.OPT_IN)
    if kind is MessageKind.HELP:
        return Response(Act.NOTHING, Keyword.HELP)
    if kind is MessageKind.REVOCATION:
        if policy is RevocationPolicy.REVIEW:
            return Response(Act.QUEUE_FOR_REVIEW, None)
        return Response(Act.SET_WIDE_OPT_OUT, Keyword.OPT_OUT)
    return Response(Act.NOTHING, None)


def is_marketing_purpose(purpose: str | None) -> bool:
    """WhatsApp's "stop marketing messages" (error 131050, standards §7 WA-06) reaches the
    types whose purpose is marketing: the word "marketing" in the type's purpose."""
    return "MARKETING" in words(purpose or "")


# --- a unit's extra keywords ----------------------------------------------------------------


def check_extra_keywords(extra: Mapping[str, Iterable[str]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """A unit's extra keywords, cleaned (upper case, single spaces, no duplicates), and the
    problems found as {field: reason}. A keyword may belong to one family only, the defaults
    included: "STOP" can never be made to mean START."""
    cleaned: dict[str, list[str]] = {}
    problems: dict[str, str] = {}
    owner: dict[Words, Keyword] = {w: kind for kind, spelled in DEFAULT_KEYWORDS.items() for w in map(words, spelled)}
    for raw_kind, spelled in extra.items():
        try:
            kind = Keyword(raw_kind)
        except ValueError:
            problems[raw_kind] = f"not a keyword family; use {', '.join(k.value for k in Keyword)}"
            continue
        field = kind.value
        out: list[str] = []
        for text in spelled:
            found = words(text)
            if not found:
                problems[field] = f"{text!r} holds no letters or digits"
            elif len(text.strip()) > MAX_KEYWORD_LENGTH or len(found) > MAX_KEYWORD_WORDS:
                limits = f"at most {MAX_KEYWORD_LENGTH} characters, {MAX_KEYWORD_WORDS} words"
                problems[field] = f"{text!r} is too long ({limits})"
            elif owner.get(found, kind) is not kind:
                problems[field] = f"{' '.join(found)!r} is already a {owner[found].value} keyword"
            else:
                owner[found] = kind
                if " ".join(found) not in out:
                    out.append(" ".join(found))
        if len(out) > MAX_EXTRA_KEYWORDS:
            problems[field] = f"at most {MAX_EXTRA_KEYWORDS} extra keywords"
        cleaned[field] = out
    return cleaned, problems


# --- replies ---------------------------------------------------------------------------------

#: The default confirmation texts, by language (R18; CTIA CT-06/CT-07): no marketing content,
#: the program name, and how to get out or back in.
DEFAULT_REPLIES: Mapping[str, Mapping[Keyword, str]] = {
    "en": {
        Keyword.OPT_OUT: "You are unsubscribed from {company}. No more messages will be sent. "
        "Reply START to resubscribe, HELP for help.",
        Keyword.OPT_IN: "You are subscribed to messages from {company} again. Msg&data rates may apply. "
        "Reply STOP to cancel, HELP for help.",
        Keyword.HELP: "{company}{help}. Msg&data rates may apply. Reply STOP to cancel.",
    },
    "sv": {
        Keyword.OPT_OUT: "Du är avregistrerad från {company}. Inga fler meddelanden skickas. "
        "Svara START för att prenumerera igen, HELP för hjälp.",
        Keyword.OPT_IN: "Du får meddelanden från {company} igen. Msg&data rates may apply "
        "(operatörens avgifter kan tillkomma). Svara STOP för att avsluta, HELP för hjälp.",
        Keyword.HELP: "{company}{help}. Msg&data rates may apply (operatörens avgifter kan tillkomma). "
        "Svara STOP för att avsluta.",
    },
}
MAX_REPLY_LENGTH = 320


def reply_text(
    kind: Keyword,
    *,
    company: str,
    language: str,
    custom: Mapping[str, str | None] | None = None,
    help_contact: str | None = None,
) -> str:
    """The one reply for `kind`: the unit's own text if it set one, else the default in its
    language (English when there is none). `{company}` in a custom text is the unit's name."""
    own = (custom or {}).get(kind.value)
    template = own if own and own.strip() else _defaults(language)[kind]
    contact = f": {help_contact.strip()}" if help_contact and help_contact.strip() else ""
    return template.replace("{company}", company).replace("{help}", contact)


def _defaults(language: str) -> Mapping[Keyword, str]:
    return DEFAULT_REPLIES.get(language.split("-")[0].lower(), DEFAULT_REPLIES["en"])
