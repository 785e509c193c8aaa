"""The admin screens, one module per area."""

from __future__ import annotations

from fastapi import APIRouter

from assent.admin.views import activity, bulk, contact, contacts, evidence, login, settings, types, units

# Order matters where paths overlap: /contacts/count and /contacts/bulk before
# /contacts/{contact_id}.
ROUTERS: list[APIRouter] = [
    login.router,
    contacts.router,
    bulk.router,
    contact.router,
    evidence.router,
    types.router,
    units.router,
    settings.router,
    activity.router,
]
