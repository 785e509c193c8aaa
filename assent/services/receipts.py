"""Consent receipts (R31, issue 17): one ledger event as a signed JSON document.

The fields follow the Kantara Consent Receipt v1.1 (`version`, `consentTimestamp`,
`collectionMethod`, `consentReceiptID`, `piiPrincipalId`, `piiControllers`, `services` →
`purposes`, `sensitive`) and the record of ISO/IEC TS 27560 (who, what, when, how, the
notice shown, the legal basis) where they fit, with Assent's own codes as values
(`CONSENT_WITH_NOTICE`, `FORM`), not prose. `assent` holds the event itself as recorded,
its hash, and the checkpoint that covers it once one exists; the receipt is signed like a
checkpoint (verifier_standalone.sign), so the ledger's public key verifies both.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection

from assent.domain.model import ActorClass, EventKind, Status
from assent.services import checkpoints
from assent.services.errors import NotFound
from assent.storage import tables as t
from assent.verifier_standalone import canonical_time, sign

KANTARA_VERSION = "KI-CR-v1.1.0"
PROFILE = "assent-consent-receipt-1"
#: receipt ids are derived from the event's hash: the same event always has the same id
NAMESPACE = uuid.UUID("6f1f6a52-4a2e-5d0f-9a55-0d6c5e1c7a17")
EVENT_FIELDS = (
    "id", "at", "kind", "channel", "address", "business_unit_id", "subscription_type_id",
    "old_status", "new_status", "legal_basis", "legal_basis_explanation", "processing_legal_basis",
    "source", "actor_kind", "actor_id", "ip", "user_agent", "job_id", "notice_version", "notice_text",
    "redacted", "hash", "prev_hash",
)  # fmt: skip


def event_row(conn: Connection, event_id: int) -> Any:
    e = t.ledger_events
    return conn.execute(sa.select(e).where(e.c.id == event_id)).first()


def receipt(conn: Connection, event_id: int, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed receipt of one ledger event (404 if there is no such event)."""
    row = event_row(conn, event_id)
    if row is None:
        raise NotFound("Event", event_id)
    event = dict(row._mapping)
    type_ = _type(conn, event["subscription_type_id"])
    unit_id = event["business_unit_id"]
    if unit_id is None and type_ is not None:
        unit_id = type_["business_unit_id"]
    unit = _unit(conn, unit_id)
    covered = checkpoints.covering(conn, event_id)
    recorded = {name: event[name] for name in EVENT_FIELDS}
    recorded["at"] = canonical_time(event["at"])
    recorded["redacted"] = bool(event["redacted"])
    purposes = []
    if type_ is not None:
        purposes.append(
            {
                "purpose": type_["name"],
                "purposeCategory": [type_["purpose"]] if type_["purpose"] else [],
                "consentType": event["legal_basis"],
                "piiCategory": [event["channel"]],
                "primaryPurpose": True,
                "termination": "UNTIL_WITHDRAWN",
                "thirdPartyDisclosure": False,
                "status": event["new_status"],
                "subscription_type_id": type_["id"],
            }
        )
    document = {
        "version": KANTARA_VERSION,
        "profile": PROFILE,
        "consentReceiptID": str(uuid.uuid5(NAMESPACE, str(event["hash"]))),
        "consentTimestamp": int(event["at"].timestamp()),
        "collectionMethod": event["source"],
        "language": unit["default_language"] if unit else None,
        "piiPrincipalId": event["address"] or f"#{event['address_hash']}",
        "piiControllers": [
            {
                "piiController": (unit["company_name"] or unit["name"]) if unit else None,
                "address": unit["postal_address"] if unit else None,
            }
        ],
        "services": [{"service": unit["name"] if unit else None, "purposes": purposes}],
        "sensitive": False,
        "spiCat": [],
        "notice": {"text": event["notice_text"], "version": event["notice_version"]},
        "assent": {
            "event": recorded,
            "address_hash": event["address_hash"],
            "checkpoint": covered.as_dict() if covered else None,
        },
        "issued_at": canonical_time(t.now()),
    }
    return sign(document, key)


def _type(conn: Connection, type_id: int | None) -> dict[str, Any] | None:
    if type_id is None:
        return None
    st = t.subscription_types
    row = conn.execute(
        sa.select(st.c.id, st.c.name, st.c.purpose, st.c.business_unit_id).where(st.c.id == type_id)
    ).first()
    return None if row is None else dict(row._mapping)


def _unit(conn: Connection, unit_id: int | None) -> dict[str, Any] | None:
    if unit_id is None:
        return None
    bu = t.business_units
    row = conn.execute(
        sa.select(bu.c.name, bu.c.company_name, bu.c.postal_address, bu.c.default_language).where(bu.c.id == unit_id)
    ).first()
    return None if row is None else dict(row._mapping)


def own_opt_ins(conn: Connection, address_hash: str, source: str, after_id: int) -> list[int]:
    """The ids of the person's opt-ins through `source` (their preference center, a signup
    form) after event `after_id`: what a receipt email confirms."""
    e = t.ledger_events
    query = sa.select(e.c.id).where(
        e.c.address_hash == address_hash,
        e.c.id > after_id,
        e.c.source == source,
        e.c.actor_kind == ActorClass.CONTACT,
        e.c.kind == EventKind.STATUS,
        e.c.new_status == Status.SUBSCRIBED,
    )
    return list(conn.execute(query.order_by(e.c.id)).scalars())


def last_event_id(conn: Connection) -> int:
    return int(conn.execute(sa.select(t.ledger_counter.c.last_id)).scalar_one())


def sends_receipts(conn: Connection, business_unit_id: int) -> bool:
    bu = t.business_units
    return bool(conn.execute(sa.select(bu.c.consent_receipts).where(bu.c.id == business_unit_id)).scalar())
