"""Keyword parsing and "any reasonable means" (R18, R27), as tables: no database."""

from __future__ import annotations

import pytest

from assent.domain.keywords import (
    Act,
    Keyword,
    MessageKind,
    RevocationPolicy,
    check_extra_keywords,
    classify,
    keyword_set,
    reply_text,
    respond,
    words,
)

DEFAULT = keyword_set()
SWEDISH = keyword_set({"opt_out": ["STOPP", "AVSLUTA"], "opt_in": ["BÖRJA"], "help": ["HJÄLP"]})


@pytest.mark.parametrize(
    ("text", "kind", "keyword"),
    [
        # every default opt-out keyword, whole message
        ("STOP", MessageKind.OPT_OUT, "STOP"),
        ("STOPALL", MessageKind.OPT_OUT, "STOPALL"),
        ("STOP ALL", MessageKind.OPT_OUT, "STOP ALL"),
        ("UNSUBSCRIBE", MessageKind.OPT_OUT, "UNSUBSCRIBE"),
        ("UNSUB", MessageKind.OPT_OUT, "UNSUB"),
        ("CANCEL", MessageKind.OPT_OUT, "CANCEL"),
        ("END", MessageKind.OPT_OUT, "END"),
        ("QUIT", MessageKind.OPT_OUT, "QUIT"),
        ("REVOKE", MessageKind.OPT_OUT, "REVOKE"),
        ("OPTOUT", MessageKind.OPT_OUT, "OPTOUT"),
        ("OPT OUT", MessageKind.OPT_OUT, "OPT OUT"),
        ("OPT-OUT", MessageKind.OPT_OUT, "OPT OUT"),
        # case, spacing, surrounding punctuation
        ("stop", MessageKind.OPT_OUT, "STOP"),
        ("  Stop  ", MessageKind.OPT_OUT, "STOP"),
        ("Stop!", MessageKind.OPT_OUT, "STOP"),
        ("'STOP.'", MessageKind.OPT_OUT, "STOP"),
        ("\tstop\n", MessageKind.OPT_OUT, "STOP"),
        ("stop   all", MessageKind.OPT_OUT, "STOP ALL"),
        ("Opt-Out!!", MessageKind.OPT_OUT, "OPT OUT"),
        ("opt out.", MessageKind.OPT_OUT, "OPT OUT"),
        ("¡Unsubscribe!", MessageKind.OPT_OUT, "UNSUBSCRIBE"),
        # opt-in and help
        ("START", MessageKind.OPT_IN, "START"),
        ("yes", MessageKind.OPT_IN, "YES"),
        ("Unstop.", MessageKind.OPT_IN, "UNSTOP"),
        ("HELP", MessageKind.HELP, "HELP"),
        ("info?", MessageKind.HELP, "INFO"),
        # any reasonable means: a STOP-family word among other words
        ("please stop texting me", MessageKind.REVOCATION, "STOP"),
        ("Unsubscribe me now", MessageKind.REVOCATION, "UNSUBSCRIBE"),
        ("I want to opt out of this", MessageKind.REVOCATION, "OPT OUT"),
        ("STOP PLEASE", MessageKind.REVOCATION, "STOP"),
        ("Stop all of these, thanks", MessageKind.REVOCATION, "STOP ALL"),
        # nothing to act on
        ("What time do you open?", MessageKind.OTHER, None),
        ("Stopped by the shop yesterday", MessageKind.OTHER, None),
        ("Nonstop fun", MessageKind.OTHER, None),
        ("Help me find my order", MessageKind.OTHER, None),
        ("Yes please, book me in", MessageKind.OTHER, None),
        ("", MessageKind.OTHER, None),
        ("!!!", MessageKind.OTHER, None),
    ],
)
def test_it_classifies_default_keywords(text: str, kind: MessageKind, keyword: str | None) -> None:
    found = classify(text, DEFAULT)
    assert (found.kind, found.keyword) == (kind, keyword)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Stopp", MessageKind.OPT_OUT),
        ("avsluta!", MessageKind.OPT_OUT),
        ("Snälla avsluta mina sms", MessageKind.REVOCATION),
        ("börja", MessageKind.OPT_IN),
        ("BORJA", MessageKind.OPT_IN),  # accents are ignored both ways
        ("hjälp", MessageKind.HELP),
        ("STOP", MessageKind.OPT_OUT),  # the defaults stay
        ("Stoppa inte", MessageKind.OTHER),
    ],
)
def test_it_classifies_a_units_extra_keywords(text: str, kind: MessageKind) -> None:
    assert classify(text, SWEDISH).kind is kind


def test_it_reads_accents_and_case_as_the_same_word() -> None:
    assert words("Arrêt") == ("ARRET",)
    assert classify("arrêt", keyword_set({"opt_out": ["ARRET"]})).kind is MessageKind.OPT_OUT
    assert classify("arrêt", DEFAULT).kind is MessageKind.OTHER


@pytest.mark.parametrize(
    ("kind", "policy", "act", "reply"),
    [
        (MessageKind.OPT_OUT, RevocationPolicy.OPT_OUT, Act.SET_WIDE_OPT_OUT, Keyword.OPT_OUT),
        (MessageKind.OPT_OUT, RevocationPolicy.REVIEW, Act.SET_WIDE_OPT_OUT, Keyword.OPT_OUT),
        (MessageKind.OPT_IN, RevocationPolicy.OPT_OUT, Act.REMOVE_WIDE_OPT_OUT, Keyword.OPT_IN),
        (MessageKind.OPT_IN, RevocationPolicy.REVIEW, Act.REMOVE_WIDE_OPT_OUT, Keyword.OPT_IN),
        (MessageKind.HELP, RevocationPolicy.OPT_OUT, Act.NOTHING, Keyword.HELP),
        (MessageKind.HELP, RevocationPolicy.REVIEW, Act.NOTHING, Keyword.HELP),
        (MessageKind.REVOCATION, RevocationPolicy.OPT_OUT, Act.SET_WIDE_OPT_OUT, Keyword.OPT_OUT),
        (MessageKind.REVOCATION, RevocationPolicy.REVIEW, Act.QUEUE_FOR_REVIEW, None),
        (MessageKind.OTHER, RevocationPolicy.OPT_OUT, Act.NOTHING, None),
        (MessageKind.OTHER, RevocationPolicy.REVIEW, Act.NOTHING, None),
    ],
)
def test_it_answers_each_kind_under_each_policy(
    kind: MessageKind, policy: RevocationPolicy, act: Act, reply: Keyword | None
) -> None:
    response = respond(kind, policy)
    assert (response.act, response.reply) == (act, reply)


@pytest.mark.parametrize(
    ("extra", "cleaned", "problems"),
    [
        ({"opt_out": ["stopp", " Avsluta ", "STOPP"]}, {"opt_out": ["STOPP", "AVSLUTA"]}, {}),
        ({"opt_in": ["STOP"]}, {"opt_in": []}, {"opt_in": "'STOP' is already a opt_out keyword"}),
        ({"help": ["start"]}, {"help": []}, {"help": "'START' is already a opt_in keyword"}),
        ({"opt_out": ["SLUTA"], "opt_in": ["sluta"]}, {"opt_out": ["SLUTA"], "opt_in": []}, {"opt_in": "'SLUTA' is already a opt_out keyword"}),
        ({"opt_out": ["!!"]}, {"opt_out": []}, {"opt_out": "'!!' holds no letters or digits"}),
        ({"opt_out": ["A B C D E"]}, {"opt_out": []}, {"opt_out": "'A B C D E' is too long (at most 40 characters, 4 words)"}),
        ({"stop": ["X"]}, {}, {"stop": "not a keyword family; use opt_out, opt_in, help"}),
    ],
)
def test_it_checks_extra_keywords(extra: dict[str, list[str]], cleaned: dict[str, list[str]], problems: dict[str, str]) -> None:
    assert check_extra_keywords(extra) == (cleaned, problems)


@pytest.mark.parametrize(
    ("kind", "language", "custom", "help_contact", "text"),
    [
        (Keyword.OPT_OUT, "en", None, None, "You are unsubscribed from Acme. No more messages will be sent. Reply START to resubscribe, HELP for help."),
        (Keyword.OPT_OUT, "sv", None, None, "Du är avregistrerad från Acme. Inga fler meddelanden skickas. Svara START för att prenumerera igen, HELP för hjälp."),
        (Keyword.OPT_OUT, "de", None, None, "You are unsubscribed from Acme. No more messages will be sent. Reply START to resubscribe, HELP for help."),
        (Keyword.HELP, "en", None, "support@acme.test", "Acme: support@acme.test. Msg&data rates may apply. Reply STOP to cancel."),
        (Keyword.HELP, "en", None, None, "Acme. Msg&data rates may apply. Reply STOP to cancel."),
        (Keyword.OPT_IN, "en", {"opt_in": "Welcome back to {company}."}, None, "Welcome back to Acme."),
        (Keyword.OPT_IN, "en", {"opt_in": "  "}, None, "You are subscribed to messages from Acme again. Msg&data rates may apply. Reply STOP to cancel, HELP for help."),
    ],
)
def test_it_writes_the_one_reply(kind: Keyword, language: str, custom: dict[str, str] | None, help_contact: str | None, text: str) -> None:
    assert reply_text(kind, company="Acme", language=language, custom=custom, help_contact=help_contact) == text
