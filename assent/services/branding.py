"""A business unit's branding as pages and emails show it: colours checked and paired with a
readable text colour (WCAG contrast), so a brand's pale primary never makes white-on-yellow
buttons."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.storage import tables as t

_HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
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
        )


def load_brand(conn: Connection, business_unit_id: int) -> Brand | None:
    row = conn.execute(sa.select(t.business_units).where(t.business_units.c.id == business_unit_id)).first()
    return Brand.from_row(row) if row is not None else None


def _color(value: str | None, default: str) -> str:
    if not value or not _HEX.fullmatch(value.strip()):
        return default
    value = value.strip().lower()
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value


def _luminance(hex_color: str) -> float:
    channels = []
    for start in (1, 3, 5):
        c = int(hex_color[start : start + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(background: str) -> str:
    """Black or white, whichever contrasts more with `background` (WCAG 2 ratio)."""
    return "#ffffff" if contrast(background, "#ffffff") >= contrast(background, "#111111") else "#111111"
