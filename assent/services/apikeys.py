"""API keys: scoped, stored as a hash, shown once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.services.errors import Invalid
from assent.storage import tables as t

SCOPES = ("read", "write", "admin")
PREFIX = "assent"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an API key (or, in the admin UI, a signed-in user)."""

    id: str
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        # admin implies write implies read
        rank = SCOPES.index(scope)
        return any(SCOPES.index(s) >= rank for s in self.scopes if s in SCOPES)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(conn: Connection, name: str, scopes: Iterable[str]) -> tuple[str, str]:
    """Returns (key id, the whole key). The key is not stored; only its hash is."""
    scope_list = sorted(set(scopes))
    if not scope_list:
        raise Invalid("scopes", "give at least one of read, write, admin")
    for scope in scope_list:
        if scope not in SCOPES:
            raise Invalid("scopes", f"unknown scope {scope!r}; use read, write or admin")
    if not name.strip():
        raise Invalid("name", "a name is required")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    conn.execute(
        t.api_keys.insert().values(
            id=key_id,
            name=name.strip(),
            secret_hash=_hash(secret),
            scopes=scope_list,
            created_at=t.now(),
        )
    )
    return key_id, f"{PREFIX}_{key_id}_{secret}"


def authenticate(conn: Connection, token: str) -> Principal | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    _, key_id, secret = parts
    row = conn.execute(
        sa.select(t.api_keys).where(t.api_keys.c.id == key_id, t.api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    return Principal(f"api_key:{row.id}", row.name, frozenset(row.scopes))


#: How long a valid key is remembered by a process: a revoked key stops working within this
#: many seconds (README, "API keys"). Unknown and revoked keys are never remembered.
KEY_CACHE_SECONDS = 2.0
_KEY_CACHE_SIZE = 1024


class KeyCache:
    """Valid keys seen in the last KEY_CACHE_SECONDS, by the SHA-256 of the whole key: a
    sender's hottest paths (the single decision, HubSpot's batch calls) pay no transaction
    to authenticate. Each interface's app keeps one."""

    def __init__(self) -> None:
        self._found: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> str:
        return _hash(token)

    def get(self, token: str) -> Principal | None:
        found = self._found.get(self._key(token))
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, token: str, principal: Principal) -> None:
        with self._lock:
            if len(self._found) >= _KEY_CACHE_SIZE:
                self._found.clear()
            self._found[self._key(token)] = (time.monotonic() + KEY_CACHE_SECONDS, principal)


def list_api_keys(conn: Connection) -> list[dict[str, object]]:
    k = t.api_keys
    return [
        {"id": r.id, "name": r.name, "scopes": r.scopes, "created_at": r.created_at, "revoked_at": r.revoked_at}
        for r in conn.execute(sa.select(k).order_by(k.c.created_at))
    ]


def revoke_api_key(conn: Connection, key_id: str) -> bool:
    k = t.api_keys
    done = conn.execute(sa.update(k).where(k.c.id == key_id, k.c.revoked_at.is_(None)).values(revoked_at=t.now()))
    return done.rowcount == 1
