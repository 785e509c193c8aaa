"""Admin UI users (audited) and their sign-ins and sessions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from assent.domain.audit import AuditActor, AuditTag
from assent.services import audit, users
from assent.services.errors import Invalid, NotFound
from assent.services.ledger import RequestContext
from assent.services.users import DEMO_EMAIL, Role, User
from assent.storage import tables as t
from assent.storage.db import Database


def create_user(
    db: Database, email: str, role: str, password: str, by: AuditActor, context: RequestContext | None = None
) -> User:
    with db.write() as conn:
        created = users.create_user(conn, email, role, password)
        audit.record(
            conn,
            AuditTag.USER_CREATED,
            by,
            context,
            subject_id=created.id,
            after={"email": created.email, "role": created.role.value},
        )
    return created


def change_role(db: Database, user_id: int, role: str, by: AuditActor, context: RequestContext | None = None) -> User:
    with db.write() as conn:
        current = users.get_user(conn, user_id)
        changed = users.update_user(conn, user_id, role=role)
        if changed.role is not current.role:
            audit.record(
                conn,
                AuditTag.USER_ROLE_CHANGED,
                by,
                context,
                subject_id=user_id,
                before={"email": current.email, "role": current.role.value},
                after={"email": changed.email, "role": changed.role.value},
            )
    return changed


def reset_password(
    db: Database, user_id: int, password: str, by: AuditActor, context: RequestContext | None = None
) -> User:
    """A new password: the user's sessions end, and any sign-in lockout of theirs is lifted."""
    with db.write() as conn:
        return _reset_password(conn, user_id, password, by, context)


def reset_password_by_email(db: Database, email: str, password: str, by: AuditActor) -> User:
    """`assent user reset-password`: the way back for a locked-out (or forgetful) owner."""
    with db.write() as conn:
        user_id = conn.execute(sa.select(t.users.c.id).where(t.users.c.email == email.strip().lower())).scalar()
        if user_id is None:
            raise NotFound("User", email.strip())
        return _reset_password(conn, user_id, password, by, None)


def _reset_password(
    conn: sa.Connection, user_id: int, password: str, by: AuditActor, context: RequestContext | None
) -> User:
    if not password:
        raise Invalid("password", "enter the new password")
    changed = users.update_user(conn, user_id, password=password)
    users.clear_sign_in_throttle(conn, changed.email)
    audit.record(conn, AuditTag.USER_PASSWORD_RESET, by, context, subject_id=user_id, after={"email": changed.email})
    return changed


def set_disabled(
    db: Database, user_id: int, disabled: bool, by: AuditActor, context: RequestContext | None = None
) -> User:
    """Disable (their sessions end at once) or enable a user."""
    with db.write() as conn:
        current = users.get_user(conn, user_id)
        was_disabled = users.is_disabled(conn, user_id)
        changed = users.update_user(conn, user_id, disabled=disabled)
        if was_disabled != disabled:
            audit.record(
                conn,
                AuditTag.USER_DISABLED if disabled else AuditTag.USER_ENABLED,
                by,
                context,
                subject_id=user_id,
                before={"email": current.email, "disabled": was_disabled},
                after={"email": changed.email, "disabled": disabled},
            )
    return changed


def ensure_demo_admin(db: Database, by: AuditActor) -> tuple[str, str]:
    """The demo's admin user with a fresh random password, shown once by `assent serve
    --demo` (a rerun sets a new one rather than keeping a printed password valid)."""
    password = secrets.token_hex(8)  # plain characters: easy to copy from a terminal
    with db.write() as conn:
        user_id = conn.execute(sa.select(t.users.c.id).where(t.users.c.email == DEMO_EMAIL)).scalar()
    if user_id is None:
        create_user(db, DEMO_EMAIL, Role.ADMIN.value, password, by)
        return DEMO_EMAIL, password
    change_role(db, user_id, Role.ADMIN.value, by)
    set_disabled(db, user_id, False, by)
    reset_password(db, user_id, password, by)
    return DEMO_EMAIL, password


# --- signing in ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignIn:
    #: the session cookie's token, when the password was right
    token: str | None = None
    #: too many attempts: the password was not even checked
    throttled: bool = False


def sign_in(db: Database, email: str, password: str, ip: str | None) -> SignIn:
    """Count the attempt (committed before the slow hash, so parallel guesses each see the
    others), check the password outside any write lock, then start a session."""
    with db.write() as conn:
        allowed = users.count_sign_in_attempt(conn, email, ip)
    if not allowed:
        return SignIn(throttled=True)
    with db.read() as conn:
        user = users.authenticate(conn, email, password)
    if user is None:
        return SignIn()
    with db.write() as conn:
        users.forgive_sign_in_attempt(conn, email, ip)
        return SignIn(token=users.start_session(conn, user, password))


def sign_out(db: Database, token: str) -> None:
    with db.write() as conn:
        users.end_session(conn, token)


def touch_session(db: Database, token: str) -> None:
    with db.write() as conn:
        users.touch_session(conn, token)
