"""Who is signed in, what their role lets them do, and CSRF — checked on every route.

Every admin route takes `Depends(viewer)`, `Depends(editor)` or `Depends(admin)` (a test
walks the routes to make sure). The same dependency checks the CSRF token on every
non-GET request, so a form cannot forget it. The CSRF token is an HMAC of the session
token: nothing to store, and it dies with the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from assent.actions import users as user_actions
from assent.config import Settings
from assent.domain.audit import AuditActor
from assent.domain.model import ActorClass
from assent.services import users
from assent.services.ledger import RequestContext
from assent.services.users import Role, User
from assent.storage.db import Database

SESSION_COOKIE = "assent_session"
#: before sign-in there is no session to tie a CSRF token to: a random value in a cookie,
#: echoed by the sign-in form (double submit), stands in for it
LOGIN_COOKIE = "assent_signin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """No valid session: GET goes to the sign-in page, anything else is a 401."""


class NotAllowed(Exception):
    def __init__(self, needed: Role) -> None:
        super().__init__(needed.value)
        self.needed = needed


class BadCsrf(Exception):
    """A state-changing request without this session's CSRF token."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    token: str
    csrf: str

    def can(self, role: Role | str) -> bool:
        return self.user.role.allows(Role(role))

    @property
    def by(self) -> AuditActor:
        """How this user's account changes are audited (as the ledger names them)."""
        return AuditActor(ActorClass.USER, self.user.actor_id)


def request_context(request: Request) -> RequestContext:
    """The truncated IP address and the user agent, as the ledger keeps them."""
    ip = request.client.host if request.client else None
    return RequestContext.from_client(ip, request.headers.get("user-agent"))


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def csrf_for(settings: Settings, token: str, key_index: int = 0) -> str:
    key = settings.secret_keys[key_index].encode()
    return hmac.new(key, f"admin-csrf:{token}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(settings: Settings, token: str, offered: str) -> bool:
    # Any listed key verifies, so a key rotation does not break forms already open.
    return any(
        hmac.compare_digest(csrf_for(settings, token, index), offered) for index in range(len(settings.secret_keys))
    )


def cookie_secure(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def signed_in(request: Request) -> SignedIn | None:
    """The signed-in user of this request (looked up once per request)."""
    if hasattr(request.state, "signed_in"):
        cached: SignedIn | None = request.state.signed_in
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token and len(token) < 200:
        db = _db(request)
        with db.read() as conn:
            found = users.session_user(conn, token)
        if found is not None and found[1]:
            user_actions.touch_session(db, token)
    result = SignedIn(found[0], token, csrf_for(_settings(request), token)) if found and token else None
    request.state.signed_in = result
    return result


async def _offered_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached by Starlette: the route reads the same form
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def require(role: Role) -> Callable[[Request], Awaitable[SignedIn]]:
    async def dependency(request: Request) -> SignedIn:
        me = await run_in_threadpool(signed_in, request)
        if me is None:
            raise SignInRequired()
        if request.method not in SAFE_METHODS:
            offered = await _offered_csrf(request)
            if not offered or not csrf_matches(_settings(request), me.token, offered):
                raise BadCsrf()
        if not me.user.role.allows(role):
            raise NotAllowed(role)
        return me

    dependency.__name__ = f"require_{role.value}"
    return dependency


viewer = require(Role.VIEWER)
editor = require(Role.EDITOR)
admin = require(Role.ADMIN)


# --- the sign-in form's CSRF (no session yet) -------------------------------------------


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


async def check_login_csrf(request: Request) -> None:
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    offered = await _offered_csrf(request)
    if not cookie or not offered or not hmac.compare_digest(cookie, offered):
        raise BadCsrf()
