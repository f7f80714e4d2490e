"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives: plain, STARTTLS or implicit TLS,
optionally with authentication; and a throwaway self-signed certificate for it (openssl)."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.processes import free_port

__all__ = ["MailSink", "Received", "self_signed", "smtp_sink"]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    authenticated_as: str | None


@dataclass
class MailSink:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
        return list(self.received)


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        login = session.auth_data.login.decode() if getattr(session, "auth_data", None) else None
        with self.sink.arrived:
            self.sink.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, login))
            self.sink.arrived.notify_all()
        return "250 OK"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1/localhost, made by openssl."""
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextmanager
def smtp_sink(
    *, security: str = "none", cert: tuple[Path, Path] | None = None, login: tuple[str, str] | None = None
) -> Iterator[MailSink]:
    """Serve SMTP on 127.0.0.1 until the block ends: ``none``, ``starttls`` (required) or ``tls`` (implicit)."""
    sink = MailSink("127.0.0.1", free_port())
    kwargs: dict[str, Any] = {}
    context = None
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    if security == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    elif security == "tls":
        kwargs.update(ssl_context=context)
    if login is not None:

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=security != "none")
    controller = Controller(_Handler(sink), hostname="127.0.0.1", port=sink.port, **kwargs)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
