"""The contact-facing pages' fixtures, for the receipt emails."""

from tests.pages.conftest import shop  # noqa: F401
