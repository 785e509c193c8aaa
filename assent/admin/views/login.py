"""Signing in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from assent.actions import users as user_actions
from assent.admin import security
from assent.admin.security import LOGIN_COOKIE, SESSION_COOKIE, SignedIn, viewer
from assent.admin.web import base, redirect, render
from assent.services.users import SESSION_MAX
from assent.storage.db import Database

router = APIRouter()


def _safe_next(request: Request, target: str | None) -> str:
    """Only a path inside the admin: never another site (open redirect)."""
    root = base(request)
    if target and target.startswith(root + "/") and not target.startswith("//") and "\\" not in target:
        return target[len(root) :]
    return "/contacts"


@router.get("/")
def home(request: Request) -> Response:
    return redirect(request, "/contacts")


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    if security.signed_in(request) is not None:
        return redirect(request, _safe_next(request, next))
    return _form(request, next)


def _form(request: Request, next: str | None, *, error: str = "", email: str = "", status: int = 200) -> Response:
    nonce = security.new_login_nonce()
    response = render(
        request, "login.html", None, status_code=status, nonce=nonce, next=next or "", error=error, email=email
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        path=base(request) or "/",
        httponly=True,
        samesite="lax",
        secure=security.cookie_secure(request.app.state.settings),
    )
    return response


@router.post("/login", dependencies=[Depends(security.check_login_csrf)])
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    db: Database = request.app.state.db
    ip = request.client.host if request.client else None
    attempt = user_actions.sign_in(db, email, password, ip)
    if attempt.throttled:
        return _form(
            request,
            next,
            email=email,
            status=429,
            error="Too many failed sign-ins. Wait 15 minutes and try again, or ask an admin to reset your password.",
        )
    if attempt.token is None:
        return _form(request, next, email=email, status=401, error="That email and password do not match.")
    token = attempt.token
    response = redirect(request, _safe_next(request, next))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_MAX.total_seconds()),
        path=base(request) or "/",
        httponly=True,
        samesite="lax",
        secure=security.cookie_secure(request.app.state.settings),
    )
    response.delete_cookie(LOGIN_COOKIE, path=base(request) or "/")
    return response


@router.post("/logout")
def logout(request: Request, me: SignedIn = Depends(viewer)) -> Response:
    db: Database = request.app.state.db
    user_actions.sign_out(db, me.token)
    response = redirect(request, "/login", "You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path=base(request) or "/")
    return response
