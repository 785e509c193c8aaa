"""Cells of the CSV files people open in a spreadsheet (exports, job reports), safe from
formula injection: a text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is
prefixed with a single quote, as OWASP advises ("CSV Injection"), so that Excel, LibreOffice
and Google Sheets show it instead of evaluating it. A User-Agent `=HYPERLINK(…)` or an
address `=1+2@example.com` stays visible text. Numbers are written as they are, and so is
text that is just a signed number — an E.164 phone number `+46701234501` or `-5` runs
nothing in any spreadsheet and must stay what it is.

Not used for the audience filter's answer: that is a machine API whose address cells must
round-trip exactly (a sender mails what it returns), and every address in it is the caller's
own input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"[+-][0-9]+(?:\.[0-9]+)?")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _SIGNED_NUMBER.fullmatch(value):
        return "'" + value
    return value


def row(values: Iterable[Any]) -> list[Any]:
    return [cell(value) for value in values]
