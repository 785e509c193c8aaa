"""The admin screens, one module per area."""

from __future__ import annotations

from fastapi import APIRouter

from assent.admin.views import activity, bulk, contacts, login, settings, types, units

ROUTERS: list[APIRouter] = [
    login.router,
    contacts.router,
    bulk.router,
    types.router,
    units.router,
    settings.router,
    activity.router,
]
