"""The admin screens, one module per area."""

from __future__ import annotations

from fastapi import APIRouter

from assent.admin.views import activity, bulk, contact, contacts, login, settings, types, units, webhooks

# Order matters where paths overlap: /contacts/count and /contacts/bulk before
# /contacts/{contact_id}.
ROUTERS: list[APIRouter] = [
    login.router,
    contacts.router,
    bulk.router,
    contact.router,
    types.router,
    units.router,
    settings.router,
    webhooks.router,
    activity.router,
]
