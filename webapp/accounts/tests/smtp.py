"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), plain, STARTTLS or implicit TLS,
optionally requiring a login; and a certificate for it that clients can be told to trust."""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.waiting import free_port

LINK = re.compile(r"https?://testserver(/\S+)")


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage
    login: str  # the user the client logged in as; "" when it did not

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content())

    def link(self) -> str:
        """The path of the one link in the mail (to the test server)."""
        found = LINK.findall(self.text)
        assert len(found) == 1, self.text
        return str(found[0])


@dataclass
class Inbox:
    """aiosmtpd's handler: keeps every message the server accepted."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        login = session.auth_data.login.decode() if session.authenticated else ""
        self.received.append(Received(list(envelope.rcpt_tos), message, login))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@dataclass
class RunningSmtp:
    inbox: Inbox
    port: int


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own issuer, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "usp test mail server")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _authenticator(login: str, password: str) -> Any:
    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        good = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (login, password)
        return AuthResult(success=good, handled=False, auth_data=auth_data)

    return authenticate


@contextmanager
def smtp_server(
    *,
    tls: str = "",
    certificate: tuple[Path, Path] | None = None,
    credentials: tuple[str, str] | None = None,
) -> Iterator[RunningSmtp]:
    """An SMTP server on a free port of 127.0.0.1. `tls`: "" (plain), "starttls" (the
    client must upgrade) or "implicit" (TLS from the first byte), with `certificate`;
    `credentials` (login, password): mail is accepted only after that login."""
    inbox = Inbox()
    options: dict[str, Any] = {}
    context = None
    if tls:
        assert certificate is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
    if tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    elif tls == "implicit":
        options.update(ssl_context=context)
    if credentials is not None:
        options.update(
            authenticator=_authenticator(*credentials),
            auth_required=True,
            # aiosmtpd knows of TLS it started itself (STARTTLS) only.
            auth_require_tls=tls == "starttls",
        )
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield RunningSmtp(inbox=inbox, port=port)
    finally:
        controller.stop()
