"""One rule for every interface when the database cannot be reached: nothing was written,
the answer is a 503 with `Retry-After`, in the interface's own shape (its `render`)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from starlette.responses import Response

from assent.storage.db import RETRY_AFTER_SECONDS, UNAVAILABLE


def answer_unavailable(app: FastAPI, render: Callable[[Request], Response]) -> None:
    """Answer `render(request)`, a 503 in `app`'s shape, with `Retry-After` for every error
    that means the database cannot be reached (`storage.db.UNAVAILABLE`)."""

    def handler(request: Request, _exc: Exception) -> Response:
        response = render(request)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for error in UNAVAILABLE:
        app.add_exception_handler(error, handler)
