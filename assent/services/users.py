"""Admin UI users: argon2-hashed passwords, roles, server-side sessions, sign-in throttling.

Sessions live in the database rather than in a signed cookie alone: a signed cookie cannot
be taken back, and signing out, disabling a user or changing a password must end a session
at once in every process that serves the admin UI. The cookie carries a random token; the
table keeps only its SHA-256, so a copy of the database opens no session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from assent.services.errors import Conflict, Invalid, NotFound
from assent.services.passwords import MIN_PASSWORD, password_problem
from assent.storage import tables as t


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """admin may do what an editor may, an editor what a viewer may."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


__all__ = ["MIN_PASSWORD", "Role", "User"]

SESSION_IDLE = dt.timedelta(hours=12)
SESSION_MAX = dt.timedelta(days=7)
# Sliding expiry is refreshed at most this often, so reading pages does not write each time.
_TOUCH_EVERY = dt.timedelta(minutes=5)

_hasher = PasswordHasher()
# Verified against when the email is unknown, so that a wrong email costs as long as a wrong
# password and response times do not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    role: Role

    @property
    def actor_id(self) -> str:
        """How the ledger names this user (Actor.id)."""
        return f"user:{self.id}"


def _email(raw: str) -> str:
    email = raw.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise Invalid("email", "enter an email address, like name@example.com")
    return email


def _role(raw: str) -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        raise Invalid("role", "choose admin, editor or viewer") from None


def _password(raw: str, email: str) -> str:
    problem = password_problem(raw, email)
    if problem is not None:
        raise Invalid("password", problem, "WEAK_PASSWORD")
    return _hasher.hash(raw)


def _user(row: Any) -> User:
    return User(row.id, row.email, Role(row.role))


def create_user(conn: Connection, email: str, role: str, password: str) -> User:
    address = _email(email)
    values = {"email": address, "role": _role(role).value, "password_hash": _password(password, address)}
    u = t.users
    if conn.execute(sa.select(u.c.id).where(u.c.email == address)).first() is not None:
        raise Conflict("USER_EXISTS", f"A user {address} already exists.")
    now = t.now()
    user_id = conn.execute(u.insert().values(**values, created_at=now, updated_at=now).returning(u.c.id)).scalar_one()
    return get_user(conn, user_id)


def get_user(conn: Connection, user_id: int) -> User:
    row = conn.execute(sa.select(t.users).where(t.users.c.id == user_id)).first()
    if row is None:
        raise NotFound("User", user_id)
    return _user(row)


def is_disabled(conn: Connection, user_id: int) -> bool:
    u = t.users
    return conn.execute(sa.select(u.c.disabled_at).where(u.c.id == user_id)).scalar() is not None


def list_users(conn: Connection) -> list[dict[str, Any]]:
    u = t.users
    rows = conn.execute(
        sa.select(u.c.id, u.c.email, u.c.role, u.c.created_at, u.c.last_login_at, u.c.disabled_at).order_by(u.c.email)
    )
    return [dict(r._mapping) for r in rows]


def update_user(
    conn: Connection,
    user_id: int,
    *,
    role: str | None = None,
    password: str | None = None,
    disabled: bool | None = None,
) -> User:
    current = get_user(conn, user_id)
    values: dict[str, Any] = {}
    if role is not None:
        values["role"] = _role(role).value
    if password:
        values["password_hash"] = _password(password, current.email)
    if disabled is not None:
        values["disabled_at"] = t.now() if disabled else None
    if values.get("role", Role.ADMIN) != Role.ADMIN or disabled:
        _keep_an_admin(conn, current)
    if values:
        conn.execute(sa.update(t.users).where(t.users.c.id == user_id).values(**values, updated_at=t.now()))
    if password or disabled:
        revoke_sessions(conn, user_id)
    return get_user(conn, user_id)


def _keep_an_admin(conn: Connection, changing: User) -> None:
    """Nobody may demote or disable the last active admin: the account would be locked."""
    if changing.role is not Role.ADMIN:
        return
    u = t.users
    others = conn.execute(
        sa.select(sa.func.count()).where(u.c.role == Role.ADMIN.value, u.c.disabled_at.is_(None), u.c.id != changing.id)
    ).scalar_one()
    if not others:
        raise Invalid("role", "this is the last admin; make another user admin first", "LAST_ADMIN")


def authenticate(conn: Connection, email: str, password: str) -> User | None:
    """The user, when the password is right and the user is not disabled. Reads only: the
    slow hash check need not hold a write lock."""
    row = conn.execute(sa.select(t.users).where(t.users.c.email == email.strip().lower())).first()
    try:
        _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled_at is not None:
        return None
    return _user(row)


# --- sessions -----------------------------------------------------------------------------


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: Connection, user: User, password: str | None = None) -> str:
    """Sign `user` in: a new session, their failed attempts forgotten, the password hash
    upgraded if the hashing parameters changed. Returns the cookie's token (not stored)."""
    u = t.users
    now = t.now()
    values: dict[str, Any] = {"last_login_at": now}
    if password is not None:
        current = conn.execute(sa.select(u.c.password_hash).where(u.c.id == user.id)).scalar_one()
        if _hasher.check_needs_rehash(current):
            values["password_hash"] = _hasher.hash(password)
    conn.execute(sa.update(u).where(u.c.id == user.id).values(**values))
    token = secrets.token_urlsafe(32)
    conn.execute(
        t.admin_sessions.insert().values(
            id=_token_id(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_IDLE,
        )
    )
    return token


def session_user(conn: Connection, token: str) -> tuple[User, bool] | None:
    """The signed-in user of a session token, and whether its idle expiry is due a refresh
    (`touch_session`, in a write transaction). None when the token is unknown, expired or
    revoked, or its user was disabled."""
    s, u = t.admin_sessions, t.users
    row = conn.execute(
        sa.select(u.c.id, u.c.email, u.c.role, s.c.last_seen_at)
        .join(u, u.c.id == s.c.user_id)
        .where(
            s.c.id == _token_id(token),
            s.c.revoked_at.is_(None),
            s.c.expires_at > t.now(),
            u.c.disabled_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    return _user(row), t.now() - row.last_seen_at > _TOUCH_EVERY


def touch_session(conn: Connection, token: str) -> None:
    """Slide the idle expiry, never past the session's maximum age."""
    s = t.admin_sessions
    now = t.now()
    row = conn.execute(sa.select(s.c.created_at).where(s.c.id == _token_id(token))).first()
    if row is not None:
        expires = min(now + SESSION_IDLE, row.created_at + SESSION_MAX)
        conn.execute(sa.update(s).where(s.c.id == _token_id(token)).values(last_seen_at=now, expires_at=expires))


def end_session(conn: Connection, token: str) -> None:
    s = t.admin_sessions
    conn.execute(sa.update(s).where(s.c.id == _token_id(token), s.c.revoked_at.is_(None)).values(revoked_at=t.now()))


def revoke_sessions(conn: Connection, user_id: int) -> None:
    s = t.admin_sessions
    conn.execute(sa.update(s).where(s.c.user_id == user_id, s.c.revoked_at.is_(None)).values(revoked_at=t.now()))


# --- sign-in throttling -------------------------------------------------------------------

THROTTLE_WINDOW = dt.timedelta(minutes=15)
#: sign-in attempts allowed per window: per account from one client, per client (across
#: accounts), and per account from all clients together. Past the last, an account is
#: locked only for the clients that already failed on it: its owner, signing in from a
#: client with no failures, still gets in with the right password (one guess per fresh
#: client is all an attacker gains, and the per-client limit bounds that).
THROTTLE_LIMITS = {"pair": 5, "ip": 30, "account": 20}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _throttle_keys(email: str, ip: str | None) -> dict[str, str]:
    # Hashed: the table needs to match keys, not to keep people's addresses and IPs.
    account = _digest(f"email:{email.strip().lower()}")
    client = _digest(f"ip:{ip or 'unknown'}")
    return {"pair": "p" + account[:31] + client[:32], "ip": "i" + client[:63], "account": "a" + account[:63]}


def _count(conn: Connection, key: str, now: dt.datetime) -> int:
    """One attempt more on `key`, in one statement that the database serializes (the
    upsert locks the row): the count this attempt made, a window opening at the first."""
    lt = t.login_throttle
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(lt)
    expired = lt.c.window_started_at <= now - THROTTLE_WINDOW
    statement = (
        insert.values(key=key, failures=1, window_started_at=now)
        .on_conflict_do_update(
            index_elements=["key"],
            set_={
                "failures": sa.case((expired, 1), else_=lt.c.failures + 1),
                "window_started_at": sa.case((expired, now), else_=lt.c.window_started_at),
            },
        )
        .returning(lt.c.failures)
    )
    return int(conn.execute(statement).scalar_one())


def count_sign_in_attempt(conn: Connection, email: str, ip: str | None) -> bool:
    """Count an attempt *before* its password is checked (call in its own write transaction,
    committed before hashing: parallel attempts each see the others). True when it may go on
    to the password check; a wrong password then stays counted, a right one is forgiven."""
    now = t.now()
    counts = {kind: _count(conn, key, now) for kind, key in _throttle_keys(email, ip).items()}
    if secrets.randbelow(50) == 0:
        # Now and then, forget windows that ended; no job needed to keep the table small.
        conn.execute(sa.delete(t.login_throttle).where(t.login_throttle.c.window_started_at < now - THROTTLE_WINDOW))
    if counts["pair"] > THROTTLE_LIMITS["pair"] or counts["ip"] > THROTTLE_LIMITS["ip"]:
        return False
    return counts["account"] <= THROTTLE_LIMITS["account"] or counts["pair"] == 1


def forgive_sign_in_attempt(conn: Connection, email: str, ip: str | None) -> None:
    """A successful sign-in: this client's failures on the account are forgotten, and the
    attempt no longer counts against the client or the account."""
    lt = t.login_throttle
    keys = _throttle_keys(email, ip)
    conn.execute(sa.delete(lt).where(lt.c.key == keys["pair"]))
    conn.execute(
        sa.update(lt)
        .where(lt.c.key.in_([keys["ip"], keys["account"]]), lt.c.failures > 0)
        .values(failures=lt.c.failures - 1)
    )


def clear_sign_in_throttle(conn: Connection, email: str) -> None:
    """Unlock an account for every client (a password reset by an admin or on the CLI)."""
    lt = t.login_throttle
    keys = _throttle_keys(email, None)
    conn.execute(sa.delete(lt).where(lt.c.key == keys["account"]))
    conn.execute(sa.delete(lt).where(lt.c.key.startswith(keys["pair"][:32], autoescape=True)))


DEMO_EMAIL = "admin@example.com"
