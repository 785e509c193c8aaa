"""Amazon SNS message signatures, as AWS documents them ("Verifying the signatures of
Amazon SNS messages"), checked with `cryptography`.

- The string to sign is `Name\\nvalue\\n` for each signed field in byte order of the names:
  Message, MessageId, Subject (if present), Timestamp, TopicArn, Type for a Notification;
  Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type for a
  (Un)SubscriptionConfirmation.
- SignatureVersion 1 is RSA PKCS#1 v1.5 with SHA-1, version 2 with SHA-256; `Signature` is
  base64.
- The certificate comes from `SigningCertURL`, which must be HTTPS on an
  `sns.<region>.amazonaws.com` host (or start with one of ASSENT_SNS_CERT_URL_PREFIXES),
  fetched with TLS verified against the system's trust store, never following a redirect;
  it is cached by URL. `SubscribeURL` passes the same rule before it is visited;
  `UnsubscribeURL` is never visited.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import re
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_AWS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_FIELDS = {
    "Notification": _NOTIFICATION_FIELDS,
    "SubscriptionConfirmation": _CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": _CONFIRMATION_FIELDS,
}
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_FETCH = 64 * 1024
CACHE_SECONDS = 24 * 3600


class Untrusted(Exception):
    """The message is not verifiably from SNS: refuse it (4xx)."""


class Unreachable(Exception):
    """A URL that passed the rules could not be fetched (the request may be retried)."""


def allowed_url(url: object, prefixes: Sequence[str]) -> bool:
    """HTTPS, and on an SNS host — or, when prefixes are configured, under one of them."""
    if not isinstance(url, str) or len(url) > 2000:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "https" or parts.username is not None or parts.password is not None:
        return False
    if prefixes:
        return any(url.startswith(_as_prefix(p)) for p in prefixes)
    return port in (None, 443) and bool(_AWS_HOST.fullmatch(parts.hostname or ""))


def _as_prefix(prefix: str) -> str:
    # "https://host:port" alone must not admit "https://host:port.evil.example/": end it at "/".
    return prefix if urlsplit(prefix).path else prefix.rstrip("/") + "/"


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    fields = SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise Untrusted(f"Type {message.get('Type')!r} is not an SNS message type")
    lines = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue
            raise Untrusted(f"{name}: missing")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


def fetch(url: str, limit: int = MAX_FETCH) -> bytes:
    """GET an allowed URL over verified TLS: no redirect followed, at most `limit` bytes."""
    parts = urlsplit(url)
    # The trust store is read per call, so SSL_CERT_FILE set after start-up is honoured.
    context = ssl.create_default_context()
    connection = http.client.HTTPSConnection(parts.hostname or "", parts.port or 443, context=context, timeout=10)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection.request("GET", target, headers={"User-Agent": "Assent SNS endpoint"})
        response = connection.getresponse()
        body = response.read(limit + 1)
    except (OSError, http.client.HTTPException) as error:
        raise Unreachable(f"{parts.hostname}: {error}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise Unreachable(f"{parts.hostname} answered {response.status}")
    if len(body) > limit:
        raise Unreachable(f"{parts.hostname} answered more than {limit} bytes")
    return body


class Verifier:
    """Checks SNS signatures; keeps the certificates' public keys (by URL) for a day."""

    def __init__(self, prefixes: Sequence[str]) -> None:
        self.prefixes = tuple(prefixes)
        self._keys: dict[str, tuple[float, rsa.RSAPublicKey]] = {}
        self._lock = threading.Lock()

    def verify(self, message: Mapping[str, Any]) -> None:
        """Raise Untrusted unless the message carries a valid SNS signature."""
        version = str(message.get("SignatureVersion"))
        algorithm = _HASHES.get(version)
        if algorithm is None:
            raise Untrusted(f"SignatureVersion {message.get('SignatureVersion')!r} is not 1 or 2")
        cert_url = message.get("SigningCertURL")
        if not allowed_url(cert_url, self.prefixes):
            raise Untrusted(f"SigningCertURL {str(cert_url)[:200]!r} is not an allowed SNS certificate URL")
        assert isinstance(cert_url, str)
        try:
            signature = base64.b64decode(str(message.get("Signature")), validate=True)
        except (binascii.Error, ValueError):
            raise Untrusted("Signature: not base64") from None
        data = string_to_sign(message)
        try:
            self.key(cert_url).verify(signature, data, padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise Untrusted("the signature does not match the message") from None

    def key(self, url: str) -> rsa.RSAPublicKey:
        now = time.monotonic()
        with self._lock:
            found = self._keys.get(url)
        if found is not None and found[0] > now:
            return found[1]
        try:
            certificate = x509.load_pem_x509_certificate(fetch(url))
        except ValueError:
            raise Untrusted("SigningCertURL does not serve a PEM certificate") from None
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise Untrusted("the signing certificate's key is not RSA")
        with self._lock:
            if len(self._keys) >= 64:
                self._keys.clear()
            self._keys[url] = (now + CACHE_SECONDS, key)
        return key

    def confirm(self, message: Mapping[str, Any]) -> None:
        """Confirm a subscription by visiting its SubscribeURL (only an allowed one)."""
        url = message.get("SubscribeURL")
        if not allowed_url(url, self.prefixes):
            raise Untrusted(f"SubscribeURL {str(url)[:200]!r} is not an allowed SNS URL")
        assert isinstance(url, str)
        fetch(url)
