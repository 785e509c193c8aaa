"""A business unit's branding as pages and emails show it: colours paired with a readable
text colour (WCAG contrast), so a brand's pale primary never makes white-on-yellow buttons,
and the consent notice in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.branding import contrast, parse_color
from assent.storage import tables as t

DEFAULT_PRIMARY = "#1f5f8b"
DEFAULT_ACCENT = "#f3f6f9"


@dataclass(frozen=True, slots=True)
class Brand:
    id: int
    name: str
    company_name: str
    postal_address: str | None
    logo_url: str | None
    primary: str
    on_primary: str
    accent: str
    on_accent: str
    default_language: str
    notice_text: str | None
    notice_version: str | None
    #: the notice in other languages, {language: text} (`notice_translations` of the unit)
    notice_translations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Any) -> Brand:
        primary = _color(row.primary_color, DEFAULT_PRIMARY)
        accent = _color(row.accent_color, DEFAULT_ACCENT)
        logo = row.logo_url if row.logo_url and row.logo_url.startswith(("https://", "http://")) else None
        return cls(
            id=row.id,
            name=row.name,
            # One line: it goes into mail headers (From, Subject) as well as pages.
            company_name=" ".join((row.company_name or row.name).split()) or row.name,
            postal_address=row.postal_address,
            logo_url=logo,
            primary=primary,
            on_primary=readable_on(primary),
            accent=accent,
            on_accent=readable_on(accent),
            default_language=row.default_language or "en",
            notice_text=(row.notice_text or "").strip() or None,
            notice_version=row.notice_version,
            notice_translations={
                str(language): str(text["text"]).strip()
                for language, text in (row.notice_translations or {}).items()
                if isinstance(text, dict) and str(text.get("text") or "").strip()
            },
        )

    def notice(self, language: str) -> tuple[str, str] | None:
        """The unit's own consent notice in `language` (its translation, else the text the
        unit wrote), with the notice's version; None when the unit wrote none. A translation
        is of the same notice, so it keeps the version; the ledger keeps the exact text."""
        primary = language.replace("_", "-").split("-")[0].lower()
        text = self.notice_translations.get(language) or self.notice_translations.get(primary) or self.notice_text
        return (text, self.notice_version or "1") if text else None


def load_brand(conn: Connection, business_unit_id: int) -> Brand | None:
    row = conn.execute(sa.select(t.business_units).where(t.business_units.c.id == business_unit_id)).first()
    return Brand.from_row(row) if row is not None else None


def _color(value: str | None, default: str) -> str:
    """A stored colour as `#rrggbb`; a value the grammar refuses (written before it was
    checked) shows the default."""
    try:
        return parse_color(value) if value else default
    except ValueError:
        return default


def readable_on(background: str) -> str:
    """Black or white, whichever contrasts more with `background`. One of the two always
    reaches at least 4.58:1 (√21), so text on a brand colour meets WCAG AA (4.5:1)."""
    return "#ffffff" if contrast(background, "#ffffff") >= contrast(background, "#000000") else "#000000"
