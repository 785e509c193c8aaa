"""Providers as the tests play them: their own keys and certificates, their own signing.

- SendGrid: a P-256 key pair made here; requests signed ECDSA-SHA256 over timestamp + body.
- SNS: a CA, a TLS certificate for 127.0.0.1 and an RSA signing certificate made here; a real
  HTTPS server on loopback serves the signing certificate and answers SubscribeURLs (it
  records every request), and ASSENT_SNS_CERT_URL_PREFIXES points at it. SSL_CERT_FILE
  makes the app trust the test CA, as an operator with a private CA would.
- Mailgun: HMAC-SHA256 of timestamp + token with a signing key made here.
- Postmark: Basic credentials.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import http.server
import ipaddress
import json
import secrets
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.inbound import sns
from assent.storage.db import Database

POSTMARK_USER, POSTMARK_PASSWORD = "postmark-hook", "s3cret-pa55word"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool = False, ip: str | None = None
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class SnsServer:
    """The HTTPS side of SNS on loopback: signing certificate and SubscribeURLs."""

    def __init__(self, directory: Path) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("Assent test CA", ca_key, "Assent test CA", ca_key, ca=True)
        tls_key = ec.generate_private_key(ec.SECP256R1())
        tls = _certificate("127.0.0.1", tls_key, "Assent test CA", ca_key, ip="127.0.0.1")
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.signing_cert = _certificate("sns.amazonaws.com", self.signing_key, "Assent test CA", ca_key)
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(_pem(ca))
        (directory / "tls.pem").write_bytes(
            _pem(tls)
            + tls_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.requests: list[str] = []
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.requests.append(self.path)
                if self.path.startswith("/cert.pem"):
                    body = _pem(served.signing_cert)
                elif self.path.startswith("/confirm") or self.path.startswith("/unsubscribe"):
                    body = b"<ConfirmSubscriptionResponse/>"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "tls.pem")
        # The handshake happens in the handler thread, not in accept(): a client that refuses
        # the certificate does not hold up the server.
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.base = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, message: dict[str, Any], version: int = 1, cert_url: str | None = None) -> dict[str, Any]:
        """Sign as SNS does: the string to sign, RSA PKCS#1 v1.5, SHA1 (v1) or SHA256 (v2)."""
        signed = {**message, "SignatureVersion": str(version), "SigningCertURL": cert_url or f"{self.base}/cert.pem"}
        algorithm = hashes.SHA1() if version == 1 else hashes.SHA256()  # noqa: S303 - SNS's SignatureVersion 1
        signature = self.signing_key.sign(sns.string_to_sign(signed), padding.PKCS1v15(), algorithm)
        return {**signed, "Signature": base64.b64encode(signature).decode()}

    def notification(self, ses: dict[str, Any], *, message_id: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "Type": "Notification",
            "MessageId": message_id or f"{secrets.token_hex(4)}-5678-90ab-cdef-{secrets.token_hex(6)}",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback",
            "Message": json.dumps(ses),
            "Timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "UnsubscribeURL": f"{self.base}/unsubscribe?SubscriptionArn=arn:aws:sns:us-east-1:123456789012:x",
            **extra,
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def sns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnsServer]:
    server = SnsServer(tmp_path_factory.mktemp("sns"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def mailgun_key() -> str:
    return "key-" + secrets.token_hex(16)


@pytest.fixture
def feedback_settings(
    settings: Settings, sns_server: SnsServer, sendgrid_key: ec.EllipticCurvePrivateKey, mailgun_key: str
) -> Settings:
    public = sendgrid_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return dataclasses.replace(
        settings,
        sns_cert_url_prefixes=(sns_server.base,),
        sendgrid_public_key=base64.b64encode(public).decode(),
        postmark_webhook_user=POSTMARK_USER,
        postmark_webhook_password=POSTMARK_PASSWORD,
        mailgun_signing_key=mailgun_key,
    )


@pytest.fixture
def inbound(
    feedback_settings: Settings, db: Database, sns_server: SnsServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The whole app, configured for every provider, trusting the test CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(sns_server.ca_file))
    with TestClient(create_app(feedback_settings, db)) as client:
        yield client


def sendgrid_headers(key: ec.EllipticCurvePrivateKey, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(dt.datetime.now(dt.UTC).timestamp()))
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def mailgun_body(
    key: str, event_data: dict[str, Any], *, token: str | None = None, timestamp: int | None = None
) -> dict[str, Any]:
    stamp = str(timestamp if timestamp is not None else int(dt.datetime.now(dt.UTC).timestamp()))
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": stamp, "token": token, "signature": signature}, "event-data": event_data}


def basic(user: str = POSTMARK_USER, password: str = POSTMARK_PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def subscriber(client: TestClient, headers: dict[str, str], address: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/subscribers/EMAIL/{address}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def status_of(view: dict[str, Any], type_id: int) -> str:
    return str(next(s["status"] for s in view["statuses"] if s["subscription_type_id"] == type_id))


def wides(view: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(w["business_unit_id"], w["set_by"], w["source"]) for w in view["wide_opt_outs"]]
