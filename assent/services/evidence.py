"""Evidence as requests carry it (R6): one parser for every interface's fields, and the
422 a one-address request answers when the rules refuse it for want of evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assent.domain.model import Evidence, LegalBasis, Reason
from assent.services.errors import Invalid, Problem

MAX_TEXT = 4000

#: the request field each evidence refusal names, and what it says
EVIDENCE_FIELDS = {
    Reason.EXPLANATION_REQUIRED: (
        "legal_basis_explanation",
        "an explanation is required: why you may send to this person",
    ),
    Reason.LEGAL_BASIS_REQUIRED: ("legal_basis", "data privacy mode is on: a legal basis to communicate is required"),
    Reason.PROCESSING_LEGAL_BASIS_REQUIRED: (
        "processing_legal_basis",
        "data privacy mode is on: a legal basis to process this person's data is required",
    ),
    Reason.NOTICE_REQUIRED: ("notice_text", "a person's own opt-in needs the consent notice text they saw"),
}


def parse_evidence(values: Mapping[str, Any]) -> Evidence:
    """Evidence from a request's fields — a posted form or a validated JSON body: legal
    bases by their code (anything else counts as none), texts trimmed and bounded."""

    def basis(name: str) -> LegalBasis | None:
        value = values.get(name)
        if isinstance(value, LegalBasis):
            return value
        text = str(value or "")
        return LegalBasis(text) if text in LegalBasis.__members__ else None

    def text(name: str) -> str | None:
        return str(values.get(name) or "").strip()[:MAX_TEXT] or None

    return Evidence(
        legal_basis=basis("legal_basis"),
        legal_basis_explanation=text("legal_basis_explanation"),
        processing_legal_basis=basis("processing_legal_basis"),
        notice_text=text("notice_text"),
        notice_version=text("notice_version"),
    )


def evidence_problem(reason: Reason | str) -> Problem:
    field, text = EVIDENCE_FIELDS[Reason(reason)]
    return Invalid(field, text, Reason(reason).value)
