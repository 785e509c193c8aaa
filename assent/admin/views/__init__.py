"""The admin screens, one module per area."""

from __future__ import annotations

from fastapi import APIRouter

from assent.admin.views import (
    activity,
    audit,
    bulk,
    contact,
    contacts,
    enroll,
    evidence,
    imports,
    jobs,
    login,
    reviews,
    settings,
    types,
    units,
    webhooks,
    workflows,
)

# Order matters where paths overlap: /contacts/count and /contacts/bulk before
# /contacts/{contact_id}; /contacts/enroll too.
ROUTERS: list[APIRouter] = [
    login.router,
    contacts.router,
    bulk.router,
    enroll.router,
    contact.router,
    evidence.router,
    types.router,
    units.router,
    settings.router,
    audit.router,
    webhooks.router,
    activity.router,
    reviews.router,
    imports.router,
    jobs.router,
    workflows.router,
]
