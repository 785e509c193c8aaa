"""`GET /`: a small landing page instead of a 404 (issue 15).

It lives with the public pages because they own the root: the pages sub-app is mounted last
and answers every path no other interface claims, with the same language choice, stylesheet
and security headers as every other page. The root app keeps only the operations endpoints
and the API's documents, which this page links to. It does not redirect signed-in admins:
the admin's session cookie is scoped to `/admin`, so `/` never sees it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from assent.pages.web import language_for, render

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "home.html", language=language_for(request))
