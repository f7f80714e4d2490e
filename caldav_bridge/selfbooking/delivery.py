"""Deliver the customer-message outbox: SMTP (STARTTLS or implicit TLS, with authentication) or .eml files.

:func:`deliver_due` leases due messages in one short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), renders and sends them outside any transaction, and records each attempt in another: sent,
or retried after ``backoff * 2**(attempts-1)`` (capped), or parked as a dead letter (``dead``) after
``max_attempts`` or when there is nowhere to send. Every sending is audited (message id and kind; never
the address or the body). Bodies are never logged.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from caldav_bridge.clock import utcnow
from caldav_bridge.selfbooking.render import Sender, render
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.store.private_files import write_private
from caldav_bridge.store.tables import AuditRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "DeliveryReport",
    "FileTransport",
    "MessageOptions",
    "SmtpTransport",
    "Transport",
    "deliver_due",
    "transport_for",
]

log = logging.getLogger(__name__)
MAX_ERROR = 500


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int
    security: str  # starttls | tls | none
    username: str = ""
    password: str = ""
    timeout: float = 30.0
    #: Extra CA certificates (PEM) to trust for the relay, e.g. a private CA; empty: the system's.
    ca_file: str = ""

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context(cafile=self.ca_file or None)
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


@dataclass(frozen=True)
class FileTransport:
    """Writes each message as ``<directory>/<message id>.eml`` (the demo's mail sink, no server needed)."""

    directory: Path

    def send(self, message: EmailMessage) -> None:
        name = str(message["Message-ID"]).strip("<>").split("@")[0]
        write_private(self.directory / f"{name}.eml", bytes(message))  # customers' mail: 0600 in a 0700 directory


@dataclass(frozen=True)
class MessageOptions:
    sender: Sender
    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=60)
    backoff_max: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class DeliveryReport:
    attempted: int
    sent: int
    retrying: int
    dead: int


def transport_for(settings: Any) -> Transport:
    if not settings.smtp_host:
        return FileTransport(Path(settings.data_dir) / "mail")
    return SmtpTransport(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_security,
        settings.smtp_username,
        settings.smtp_password,
        float(settings.smtp_timeout_seconds),
        settings.smtp_ca_file,
    )


def _backoff(attempts: int, options: MessageOptions) -> timedelta:
    return min(options.backoff * (2 ** max(attempts - 1, 0)), options.backoff_max)


def _lease(make_uow: Callable[[], UnitOfWork], options: MessageOptions, now: datetime, limit: int) -> list[Any]:
    """Due messages rendered, each as ``(message id, kind, appointment id, email or error)``."""
    leased: list[Any] = []
    with make_uow() as uow:
        repo = uow.repo(SelfBookingRows)
        for message in repo.due_messages(now, limit):
            booking = repo.booking(message.booking_id)
            appointment = uow.appointments.including_deleted(booking.appointment_id) if booking else None
            message.next_attempt_at = now + timedelta(minutes=5)  # another worker skips it meanwhile
            if booking is None or not booking.email:
                leased.append((message.id, message.kind, None, "no address to send to"))
                continue
            location = (appointment.meta_extra or {}).get("location") if appointment is not None else None
            email = render(message, booking, options.sender, now, location if isinstance(location, str) else None)
            leased.append((message.id, message.kind, booking.appointment_id, email))
        uow.commit()
    return leased


def deliver_due(
    make_uow: Callable[[], UnitOfWork],
    transport: Transport,
    options: MessageOptions,
    *,
    limit: int = 50,
    now: Callable[[], datetime] = utcnow,
) -> DeliveryReport:
    """Attempt every message that is due (at most ``limit``), once each."""
    sent = retrying = dead = 0
    leased = _lease(make_uow, options, now(), limit)
    for message_id, kind, appointment_id, email in leased:
        error: str | None
        if isinstance(email, str):
            error, permanent = email, True
        else:
            try:
                transport.send(email)
                error, permanent = None, False
            except smtplib.SMTPRecipientsRefused as exc:
                error, permanent = f"recipient refused: {type(exc).__name__}", True
            except (smtplib.SMTPException, OSError) as exc:
                error, permanent = f"{type(exc).__name__}: {exc}"[:MAX_ERROR], False
        with make_uow() as uow:
            row = uow.repo(SelfBookingRows).message(message_id)
            if row is None:
                continue
            moment = now()
            row.attempts += 1
            row.last_error = error
            if error is None:
                row.state, row.sent_at = "sent", moment
                sent += 1
                log.info("message %s (%s) sent", message_id, kind)
            elif permanent or row.attempts >= options.max_attempts:
                row.state = "dead"
                dead += 1
            else:
                row.next_attempt_at = moment + _backoff(row.attempts, options)
                retrying += 1
            uow.audit.add_all(
                [
                    AuditRow(
                        at=moment,
                        actor="messages",
                        channel="email",
                        action="message-" + ("sent" if error is None else "failed"),
                        appointment_id=appointment_id,
                        detail=f"{kind} message {message_id}" + (f": {error}" if error else ""),
                    )
                ]
            )
            uow.commit()
        if error is not None:
            log.warning("message %s (%s) not sent: %s", message_id, kind, error)
    return DeliveryReport(len(leased), sent, retrying, dead)
