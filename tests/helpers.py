"""Shared test helpers (import from tests.helpers)."""

from __future__ import annotations

from tests.conftest import count_rows

__all__ = ["count_rows"]
