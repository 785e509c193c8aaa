"""Activity › Account changes (admins: it names users and keys): the audit log of settings,
the catalog, users and keys,
newest first, filterable by what changed."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assent.admin import audit_words
from assent.admin.security import SignedIn, admin
from assent.admin.web import render
from assent.services import apikeys, audit, catalog, users
from assent.storage.db import Database

router = APIRouter()
PAGE = 50


@router.get("/activity/account")
def account_changes(
    request: Request, subject: str = "", before: int | None = None, me: SignedIn = Depends(admin)
) -> Response:
    db: Database = request.app.state.db
    chosen = subject if subject in audit_words.SUBJECTS else ""
    cursor = before if before is not None and 0 < before < 2**63 else None
    with db.read() as conn:
        page = audit.page(conn, tag=chosen or None, after=cursor, limit=PAGE, newest_first=True)
        people = users.list_users(conn)
        keys = apikeys.list_api_keys(conn)
        units = catalog.list_business_units(conn)
        types = catalog.list_subscription_types(conn, include_inactive=True)
    names = {f"user:{u['id']}": str(u["email"]) for u in people}
    names |= {f"api_key:{k['id']}": f"API key “{k['name']}”" for k in keys}
    names |= {f"subject:user:{u['id']}": str(u["email"]) for u in people}
    names |= {f"subject:api_key:{k['id']}": f"“{k['name']}”" for k in keys}
    names |= {f"subject:business_unit:{u['id']}": f"“{u['name']}”" for u in units}
    names |= {f"subject:form_key:{u['id']}": f"for “{u['name']}”" for u in units}
    names |= {f"subject:subscription_type:{ty['id']}": f"“{ty['name']}”" for ty in types}
    return render(
        request,
        "activity_account.html",
        me,
        section="activity",
        title="Account changes",
        rows=[audit_words.describe(row, names) for row in page["results"]],
        older=page["next"],
        subjects=audit_words.SUBJECTS,
        subject=chosen,
    )
