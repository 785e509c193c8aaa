"""Twilio: `POST /inbound/twilio` (inbound SMS and WhatsApp messages) and
`POST /inbound/twilio/status` (message status callbacks). SPEC R18, R27; standards §6.3.

Every request is checked with the `twilio` package's RequestValidator against the public URL
(ASSENT_BASE_URL + path) and ASSENT_TWILIO_AUTH_TOKEN before anything is read into the
database: a missing or wrong `X-Twilio-Signature` is a 403 with nothing written and nothing
replied. Parameters Twilio adds later are ignored (and still part of the signature).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from assent.actions import sms
from assent.config import Settings
from assent.domain.model import Channel
from assent.inbound.common import Refused, public_url, read_form
from assent.storage.db import Database

router = APIRouter()

TOKEN_SETTING = "ASSENT_TWILIO_AUTH_TOKEN"  # noqa: S105 - the name of the setting, not its value
WHATSAPP = "whatsapp:"
TWIML = "text/xml"


async def _verified(request: Request) -> ImmutableMultiDict[str, str]:
    settings: Settings = request.app.state.settings
    if not settings.twilio_auth_token:
        raise Refused(503, f"Twilio webhooks are off: {TOKEN_SETTING} is not set.", setting=TOKEN_SETTING)
    params = await read_form(request)
    signature = request.headers.get("x-twilio-signature")
    algorithm = get_signature_algorithm(request.headers.get("x-twilio-webhooks-signature-settings"))
    validator = RequestValidator(settings.twilio_auth_token)
    if not signature or not validator.validate(public_url(settings, request), params, signature, algorithm):
        raise Refused(403, "X-Twilio-Signature is missing or does not match this request.")
    return params


def _required(params: ImmutableMultiDict[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not params.get(name, "").strip()]
    if missing:
        raise Refused(422, f"{missing[0]} is required", field=missing[0])
    return [params[name].strip() for name in names]


def _channel_of(address: str) -> tuple[Channel, str]:
    if address.lower().startswith(WHATSAPP):
        return Channel.WHATSAPP, address[len(WHATSAPP) :]
    return Channel.SMS, address


def twiml(text: str | None) -> Response:
    """`<Response><Message>…</Message></Response>`, or an empty `<Response/>`."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return Response(str(response), media_type=TWIML)


@router.post("/twilio", summary="Twilio inbound message (SMS and WhatsApp)")
async def inbound_message(request: Request) -> Response:
    params = await _verified(request)
    sid, sender, receiver = _required(params, "MessageSid", "From", "To")
    channel, sender = _channel_of(sender)
    _, receiver = _channel_of(receiver)
    message = sms.InboundMessage(sid, channel, sender, receiver, params.get("Body", ""))
    db: Database = request.app.state.db
    received = await run_in_threadpool(sms.receive_message, db, message)
    return twiml(received.reply)


@router.post("/twilio/status", summary="Twilio message status callback")
async def status_callback(request: Request) -> Response:
    params = await _verified(request)
    sid, status, recipient, sender = _required(params, "MessageSid", "MessageStatus", "To", "From")
    channel, recipient = _channel_of(recipient)
    _, sender = _channel_of(sender)
    callback = sms.StatusCallback(sid, status, params.get("ErrorCode", "").strip() or None, channel, recipient, sender)
    db: Database = request.app.state.db
    await run_in_threadpool(sms.record_status, db, callback)
    return Response(status_code=204)
