"""The import screens' form fields and the names they show (units, types, users)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from assent.admin import words
from assent.domain.imports import IGNORE, ImportKind
from assent.domain.model import Channel, Evidence, LegalBasis
from assent.services import catalog, users

MAX_EXPLANATION = 4000


@dataclass(frozen=True)
class FormState:
    """The upload form as the user filled it (shown again after a refusal)."""

    kind: str = ImportKind.OPT_OUTS.value
    channel: str = Channel.EMAIL.value
    business_unit_id: int = 0
    legal_basis: str = ""
    legal_basis_explanation: str = ""
    processing_legal_basis: str = ""

    @property
    def kind_enum(self) -> ImportKind:
        return ImportKind(self.kind)

    @property
    def channel_enum(self) -> Channel:
        return Channel(self.channel)

    @property
    def evidence(self) -> Evidence:
        return Evidence(
            legal_basis=LegalBasis(self.legal_basis) if self.legal_basis else None,
            legal_basis_explanation=self.legal_basis_explanation or None,
            processing_legal_basis=LegalBasis(self.processing_legal_basis) if self.processing_legal_basis else None,
        )


def _choice(raw: Any, allowed: Any, default: str) -> str:
    return raw if isinstance(raw, str) and raw in allowed else default


def state_of(form: Any) -> FormState:
    unit = form.get("business_unit_id", "0")
    return FormState(
        kind=_choice(form.get("kind"), ImportKind.__members__, ImportKind.OPT_OUTS.value),
        channel=_choice(form.get("channel"), Channel.__members__, Channel.EMAIL.value),
        business_unit_id=int(unit) if isinstance(unit, str) and unit.isdecimal() and len(unit) < 10 else 0,
        legal_basis=_choice(form.get("legal_basis"), LegalBasis.__members__, ""),
        legal_basis_explanation=str(form.get("legal_basis_explanation") or "").strip()[:MAX_EXPLANATION],
        processing_legal_basis=_choice(form.get("processing_legal_basis"), LegalBasis.__members__, ""),
    )


def mapping_options(conn: Connection, kind: str) -> list[tuple[str, str]]:
    """What a column may be mapped to, as (field, words); property columns are added per column."""
    if kind == ImportKind.OPT_OUTS:
        return [("email", "Email address"), ("phone", "Phone number"), (IGNORE, "Ignore this column")]
    options = [
        ("email", "Email address"),
        ("phone", "Phone number"),
        ("first_name", "First name"),
        ("last_name", "Last name"),
        ("company", "Company"),
    ]
    units = {u["id"]: u["name"] for u in catalog.list_business_units(conn)}
    for ty in catalog.list_subscription_types(conn):
        channel = words.CHANNEL.get(ty["channel"], ty["channel"])
        unit = units.get(ty["business_unit_id"], "")
        options.append((f"subscription:{ty['id']}", f"Status of “{ty['name']}” ({channel}, {unit})"))
    for unit_id, name in units.items():
        options.append((f"unsubscribe_all:{unit_id}", f"Unsubscribed from all email in {name} (true/false)"))
    options.append((IGNORE, "Ignore this column"))
    return options


def unit_name(conn: Connection, business_unit_id: int) -> str:
    for unit in catalog.list_business_units(conn):
        if unit["id"] == business_unit_id:
            return str(unit["name"])
    return f"business unit {business_unit_id}"


def who_ran(conn: Connection, imports: list[dict[str, Any]]) -> dict[str, str]:
    """Actor ids of who uploaded and confirmed → the user's email (an API key stays its id)."""
    wanted = {i[k] for i in imports for k in ("created_by", "confirmed_by") if i.get(k)}
    if not any(str(w).startswith("user:") for w in wanted):
        return {}
    return {f"user:{u['id']}": str(u["email"]) for u in users.list_users(conn) if f"user:{u['id']}" in wanted}
