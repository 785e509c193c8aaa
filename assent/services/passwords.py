"""What makes a password acceptable for an admin UI user (issue 8, point 12)."""

from __future__ import annotations

from functools import cache
from importlib import resources

MIN_PASSWORD = 10


@cache
def _common() -> frozenset[str]:
    text = resources.files("assent").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("# "))


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why `password` may not be used by the user with `email`, in words; None when it may."""
    if not password.strip():
        return "a password of only spaces is not allowed"
    if len(password) < MIN_PASSWORD:
        return f"use at least {MIN_PASSWORD} characters"
    folded = password.strip().casefold()
    if folded in _common():
        return "this is one of the most common passwords; choose one that is harder to guess"
    if email:
        address = email.strip().casefold()
        if folded in (address, address.split("@")[0]):
            return "do not use your email address as your password"
    return None
