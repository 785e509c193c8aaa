"""Languages of the contact-facing pages and emails (SPEC R17), through Babel catalogs.

Catalogs live in `assent/locales/<lang>/LC_MESSAGES/messages.{po,mo}`; the compiled
`.mo` files are committed, so an install needs no build step. After changing a text:

    pybabel extract -F assent/babel.cfg -o assent/locales/messages.pot \
        --no-location --omit-header --sort-output .
    pybabel update -i assent/locales/messages.pot -d assent/locales -w 100
    # translate the new entries in sv/LC_MESSAGES/messages.po, then
    pybabel compile -d assent/locales

(tests/pages/test_i18n.py fails while a `.mo` is out of date with its `.po`.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import Translations
from jinja2 import Environment, PackageLoader, select_autoescape

LOCALES = Path(__file__).parent / "locales"
SUPPORTED = ("en", "sv")
DEFAULT = "en"
#: what the language switcher shows, in each language's own words
NATIVE_NAMES = {"en": "English", "sv": "Svenska"}


def N_(message: str) -> str:  # noqa: N802 - the name gettext's tools look for
    """Marks a text for extraction; it is translated where it is shown."""
    return message


def catalog_language(language: str | None) -> str:
    """The catalog a text in `language` is rendered from: its own, or English. Every
    renderer goes through this, so a language without a catalog can never fail a page or an
    email (callers that know more of R17's order use `choose`)."""
    return supported(language) or DEFAULT


@cache
def translations(language: str) -> Translations:
    loaded = Translations.load(str(LOCALES), [catalog_language(language)], domain="messages")
    assert isinstance(loaded, Translations)
    return loaded


def gettext(language: str, message: str, **values: Any) -> str:
    text: str = translations(language).ugettext(message)
    return text % values if values else text


def supported(tag: str | None) -> str | None:
    """Our catalog for a language tag ("sv-SE" → "sv"), or None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in SUPPORTED else None


def accept_language(header: str | None) -> list[str]:
    """The languages of an Accept-Language header, best first (RFC 9110 §12.5.4)."""
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def choose(
    *,
    explicit: str | None = None,
    link: str | None = None,
    business_unit: str | None = None,
    accept: str | None = None,
) -> str:
    """R17. The person's own pick on the page (the language switcher) comes first; then the
    link's language, which the sender chose for this person; then the business unit's
    default language; then what the browser asks for; then English. Each counts only when
    we have a catalog for it."""
    for candidate in (explicit, link, business_unit, *accept_language(accept)):
        found = supported(candidate)
        if found:
            return found
    return DEFAULT


def localized_type(row: Mapping[str, Any], language: str) -> tuple[str, str]:
    """A subscription type's name and description in `language`, from its translations."""
    translated = (row.get("translations") or {}).get(language) or {}
    name = translated.get("name") or row["name"]
    description = translated.get("description") or row.get("description") or ""
    return str(name), str(description)


def environment(package: str, language: str) -> Environment:
    """A Jinja environment per (template package, language), with gettext installed."""
    return _environment(package, catalog_language(language))


@cache
def _environment(package: str, language: str) -> Environment:
    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(("html",), default_for_string=False),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = language
    return env


def languages(current: str) -> Iterable[tuple[str, str, bool]]:
    """(code, native name, is current) for the language switcher."""
    return [(code, NATIVE_NAMES[code], code == current) for code in SUPPORTED]
