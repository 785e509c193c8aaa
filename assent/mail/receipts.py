"""The consent-receipt email after a person's own opt-in (issue 17): composed in the
transaction of the actions that write such an opt-in (`actions/contact_pages.save_preferences`,
`actions/signups.submit_form`) and queued there (R33), when the person's business unit asks
for it (`consent_receipts`, off by default)."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy.engine import Connection

from assent.config import Settings
from assent.mail import compose
from assent.services import checkpoints, receipts
from assent.services.branding import Brand, load_brand
from assent.services.links import LinkTarget


def receipt_message(
    conn: Connection,
    settings: Settings,
    *,
    target: LinkTarget,
    to: str,
    source: str,
    after_id: int,
    brand: Brand | None = None,
) -> EmailMessage | None:
    """The email with a signed receipt of each opt-in `source` wrote after `after_id`, or
    None when the unit sends no receipts or there was no opt-in. In the caller's transaction
    (the one that wrote them), so the email is queued with the change it proves (R33)."""
    if not receipts.sends_receipts(conn, target.business_unit_id):
        return None
    ids = receipts.own_opt_ins(conn, target.address_hash, source, after_id)
    if not ids:
        return None
    brand = brand or load_brand(conn, target.business_unit_id)
    if brand is None:
        return None
    key = checkpoints.private_key(conn, settings.ledger_signing_key)
    signed = [receipts.receipt(conn, event_id, key) for event_id in ids]
    return compose.receipt(settings, brand, target.language, to, target, signed)
