"""Opening a signed link on a page: the token checked, its person and brand loaded."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.engine import Connection
from starlette.datastructures import FormData
from starlette.requests import ClientDisconnect

from assent.domain.addresses import Address
from assent.pages.web import PageError, language_for, signer_of
from assent.services import links
from assent.services.branding import Brand, load_brand
from assent.services.links import BadLink, ExpiredLink, LinkTarget, Purpose


@dataclass(frozen=True, slots=True)
class Opened:
    token: str
    purpose: Purpose
    target: LinkTarget
    address: Address
    brand: Brand
    language: str


def open_link(request: Request, conn: Connection, token: str, *purposes: Purpose) -> Opened:
    """The link behind `token` for one of `purposes`, or a friendly 404 (forged, altered,
    truncated, another purpose's token, or a person no longer known) / 410 (expired)."""
    signer = signer_of(request)
    for purpose in purposes:
        try:
            target = signer.loads(purpose, token)
        except ExpiredLink:
            raise PageError(410, "expired_link", language=language_for(request)) from None
        except BadLink:
            continue
        address = links.subject(conn, target.address_hash)
        brand = load_brand(conn, target.business_unit_id)
        if address is None or brand is None:
            break
        language = language_for(request, link=target.language, brand=brand)
        return Opened(token, purpose, target, address, brand, language)
    raise PageError(404, "bad_link", language=language_for(request))


async def read_form(request: Request) -> FormData:
    """The posted form, url-encoded or multipart; a body we cannot read is a friendly 400."""
    try:
        return await request.form()
    except ClientDisconnect:
        raise
    except Exception:  # any unreadable body gets the same friendly page
        raise PageError(400, "bad_request", language=language_for(request)) from None
