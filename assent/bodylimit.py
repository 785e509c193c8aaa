"""Request-body limits for every route, enforced before anything else runs.

A pure ASGI middleware on the root app, outside authentication, idempotency and the
interfaces' own error handling: a body larger than its route's limit is refused with 413
before any of it is read when `Content-Length` says so, and by counting the chunks as they
arrive when the body is chunked (the app then sees a disconnect and stops reading; whatever
it tries to answer is dropped, the 413 has been sent).

JSON routes take `max_body_bytes` (1 MiB by default); the streamed uploads (the audience
filter, imports) take `max_upload_bytes` (1 GiB by default) and are spooled, never held in
memory; the batch routes take `BATCH_BYTES`, what their largest valid request needs.

The 413 is each interface's own: `app.py` hands in, by path prefix, the interface's renderer
of it (the API's problem document, HubSpot's error JSON, the admin's page, the public pages'
localized page); a path no prefix names gets a plain-text answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assent.config import Settings

log = logging.getLogger("assent.http")

#: streamed uploads: their own, larger limit (`ASSENT_MAX_UPLOAD_BYTES`)
UPLOAD_PATHS = ("/api/v1/audiences/filter", "/api/v1/imports")
#: the admin's import upload checks its own length first, to answer with its own page
ADMIN_UPLOAD = "/admin/imports"
#: JSON batches, sized for their largest valid request: 10,000 decisions or 1,000 addresses
#: of statuses (16 MiB), a bulk update of 100,000 addresses of up to 320 characters (40 MiB)
BATCH_BYTES = {
    "/api/v1/decisions/batch": 16 << 20,
    "/api/v1/statuses/batch": 16 << 20,
    "/api/v1/bulk-updates": 40 << 20,
}
#: sub-apps that bound their own bodies, to answer in their own error shape (HubSpot's JSON,
#: a provider's plain problem): this limit only backs theirs up, a little above it
OWN_LIMITS = {
    "/communication-preferences/": 2 << 20,  # hubspot/errors.py: 1 MiB
    "/inbound/": 9 << 20,  # inbound: 64 KiB to 8 MiB (a SendGrid batch of 10,000 events)
}


#: an interface's 413: the request's scope and the limit it went over → its answer
Refusal = Callable[[Scope, int], Response]


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, settings: Settings, refusals: Sequence[tuple[str, Refusal]] = ()) -> None:
        self.app = app
        self.default = settings.max_body_bytes
        self.upload = settings.max_upload_bytes
        #: the longest prefix first, so that `/admin` wins over the pages' `/`
        self.refusals = sorted(refusals, key=lambda pair: len(pair[0]), reverse=True)

    def limit_for(self, path: str) -> int:
        if path.startswith(UPLOAD_PATHS):
            return self.upload
        if path.startswith(ADMIN_UPLOAD):
            return self.upload + (1 << 20)
        for prefix, limit in OWN_LIMITS.items():
            if path.startswith(prefix):
                return limit
        return BATCH_BYTES.get(path, self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, limit)
            return

        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await self._refuse(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; the app's answer to the "disconnect" is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            log.debug("request to %s stopped at its body limit", scope["path"], exc_info=True)

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        """The 413 in the shape of the interface the path belongs to. The body is left
        unread: the connection closes after the answer."""
        path = scope["path"]
        found = next((refusal for prefix, refusal in self.refusals if path.startswith(prefix)), None)
        response = found(scope, limit) if found else _plain(limit)
        response.headers["connection"] = "close"

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)


def _plain(limit: int) -> Response:
    return PlainTextResponse(f"413 Content too large: the request body is over {limit:,} bytes.\n", status_code=413)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


