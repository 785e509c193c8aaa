"""What a business unit's branding may be (issue 15): the colour grammar and the logo's
address, checked once here for the REST API and the admin form (both use the API's request
models), and the contrast of text on a colour (WCAG 2).

Colours: `#rgb`, `#rrggbb` (any case) or `rgb(r, g, b)` / `rgb(r g b)` with integers 0–255 —
a subset of CSS Color 4 that needs no table of names, and that every browser and mail client
reads. Each is stored as its canonical `#rrggbb` in lower case, so pages can pair it with a
readable text colour. Named colours ("navy") and alpha are refused with a reason that says
what is accepted.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_HEX = re.compile(r"#(?:[0-9a-f]{3}|[0-9a-f]{6})")
_RGB = re.compile(r"rgb\(\s*(\d{1,3})\s*(?:,\s*|\s+)(\d{1,3})\s*(?:,\s*|\s+)(\d{1,3})\s*\)")
COLOR_GRAMMAR = "#rgb, #rrggbb or rgb(r, g, b) with r, g, b from 0 to 255"
MAX_LOGO_URL = 2000


def parse_color(value: str) -> str:
    """A colour of the grammar above as `#rrggbb`; ValueError (with the reason) otherwise."""
    text = value.strip().lower()
    if _HEX.fullmatch(text):
        return "#" + "".join(c * 2 for c in text[1:]) if len(text) == 4 else text
    found = _RGB.fullmatch(text)
    if found and all(int(part) <= 255 for part in found.groups()):
        return "#" + "".join(f"{int(part):02x}" for part in found.groups())
    raise ValueError(f"must be a colour written as {COLOR_GRAMMAR}")


def check_logo_url(value: str) -> str:
    """A logo's address: an absolute `https://` URL with a host (the pages are served with
    a policy that loads no image over plain http from another host); ValueError otherwise."""
    text = value.strip()
    if len(text) > MAX_LOGO_URL:
        raise ValueError(f"must be at most {MAX_LOGO_URL} characters")
    if any(c.isspace() for c in text):
        raise ValueError("must be an https:// URL without spaces")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        raise ValueError("must be an https:// URL") from error
    if parts.scheme.lower() != "https":
        raise ValueError("must be an https:// URL")
    if not parts.hostname:
        raise ValueError("must be an https:// URL with a host name")
    return text


def luminance(color: str) -> float:
    """Relative luminance of a `#rrggbb` colour (WCAG 2.x)."""
    channels = []
    for start in (1, 3, 5):
        c = int(color[start : start + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG 2 contrast ratio of two `#rrggbb` colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


#: WCAG 2 AA for normal text
AA_TEXT = 4.5
