"""The emails Assent itself sends to contacts, each with a plain-text and an HTML part in the
business unit's branding and the person's language:

- `preference_link` — "get my link" (R14); asked for by the person, so no list headers;
- `confirmation` — double opt-in (R16);
- `resubscribe` — a user's invitation to lift an "unsubscribe from all" (R8);
- `receipt` — the signed consent receipts of a person's own opt-in (issue 17), attached as
  JSON, when their business unit sends them.

The last two are about a list, so they carry their own one-click List-Unsubscribe headers
(RFC 8058) for the business unit.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any

from assent import i18n
from assent.config import Settings
from assent.i18n import N_
from assent.mail import POLICY
from assent.services.branding import Brand
from assent.services.links import LinkTarget, urls_for

SUBJECTS = {
    "preference_link": N_("Your email preferences for %(company)s"),
    "confirmation": N_("Please confirm your subscription to %(company)s"),
    "resubscribe": N_("Would you like to hear from %(company)s again?"),
    "receipt": N_("Your consent receipt from %(company)s"),
}


def compose(
    kind: str,
    *,
    settings: Settings,
    brand: Brand,
    language: str,
    to: str,
    context: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    # R17's order for mail: the link's language, then the unit's, then English — the first
    # one we have a catalog for (a unit may speak a language Assent has no texts in).
    language = i18n.choose(link=language, business_unit=brand.default_language)
    env = i18n.environment("assent.mail", language)
    values = {"brand": brand, "address": to, **context}
    text = env.get_template(f"{kind}.txt").render(**values)
    html = env.get_template(f"{kind}.html").render(**values)

    message = EmailMessage(policy=POLICY)
    _, sender = parseaddr(settings.mail_from)
    message["From"] = formataddr((brand.company_name, sender or "no-reply@localhost"))
    message["To"] = to
    message["Subject"] = i18n.gettext(language, SUBJECTS[kind], company=brand.company_name)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    # Automatic mail: no vacation replies back to us (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message["Content-Language"] = language  # after the parts: set_content clears Content-*
    return message


def preference_link(settings: Settings, brand: Brand, language: str, to: str, target: LinkTarget) -> EmailMessage:
    urls = urls_for(settings)
    return compose(
        "preference_link",
        settings=settings,
        brand=brand,
        language=language,
        to=to,
        context={"preferences_url": urls.preferences(target)},
    )


def confirmation(settings: Settings, brand: Brand, language: str, to: str, target: LinkTarget) -> EmailMessage:
    urls = urls_for(settings)
    return compose(
        "confirmation",
        settings=settings,
        brand=brand,
        language=language,
        to=to,
        context={
            "confirm_url": urls.confirm(target),
            "preferences_url": urls.preferences(target),
            "unsubscribe_url": urls.unsubscribe_all(target),
        },
        headers=urls.list_unsubscribe_headers(_wide(target)),
    )


def resubscribe(settings: Settings, brand: Brand, language: str, to: str, target: LinkTarget) -> EmailMessage:
    urls = urls_for(settings)
    invitation = LinkTarget(target.address_hash, target.business_unit_id, target.language, resubscribe=True)
    return compose(
        "resubscribe",
        settings=settings,
        brand=brand,
        language=language,
        to=to,
        context={"preferences_url": urls.preferences(invitation)},
        headers=urls.list_unsubscribe_headers(_wide(target)),
    )


def receipt(
    settings: Settings, brand: Brand, language: str, to: str, target: LinkTarget, signed: list[dict[str, Any]]
) -> EmailMessage:
    """Receipts of one opt-in, each attached as `consent-receipt-<event id>.json`."""
    urls = urls_for(settings)
    names = [p["purpose"] for r in signed for s in r["services"] for p in s["purposes"]]
    message = compose(
        "receipt",
        settings=settings,
        brand=brand,
        language=language,
        to=to,
        context={"subscribed": names, "preferences_url": urls.preferences(target)},
    )
    for document in signed:
        body = json.dumps(document, indent=2, ensure_ascii=False).encode()
        name = f"consent-receipt-{document['assent']['event']['id']}.json"
        message.add_attachment(body, maintype="application", subtype="json", filename=name)
    return message


def _wide(target: LinkTarget) -> LinkTarget:
    return LinkTarget(target.address_hash, target.business_unit_id, target.language)


def follow_up(settings: Settings, brand: Brand, kind: str | None, to: str, target: LinkTarget) -> EmailMessage | None:
    """The email a signup outcome names ("confirm", "resubscribe"), if any."""
    if kind == "confirm":
        return confirmation(settings, brand, target.language, to, target)
    if kind == "resubscribe":
        return resubscribe(settings, brand, target.language, to, target)
    return None
