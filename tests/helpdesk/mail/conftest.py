"""Mail fixtures: a real SMTP server on loopback (aiosmtpd), tickets with requesters, settings.

``smtp`` is an aiosmtpd server on a free loopback port that keeps every mail
it accepts (``smtp.received``, parsed) and whose handler can be told to stall
or refuse (``smtp.handler``); ``tls_files`` makes a self-signed certificate
with the ``openssl`` command; ``desk`` records events through the real plugin
manager, so the mail part's subscriber writes the outbox as in production.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from engine.comments import post_comment
from engine.db import make_session_factory
from engine.events import record_event
from engine.model import Person, WorkItem
from engine.plugins import PluginManager, create_plugin_manager
from plugins.helpdesk.mail.models import OutboxMail
from plugins.helpdesk.mail.sender import Sender
from plugins.helpdesk.mail.settings import MailSettings
from tests.procs import free_port, self_signed_certificate

WAIT = 10.0
__all__ = ["free_port"]


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepts; it can stall or refuse on request."""

    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse_rcpt: str = ""
    """An SMTP reply (``"550 no such user"``) for every RCPT TO, or empty to accept."""
    stall_rcpt: threading.Event | None = None
    """When set: RCPT waits until this event is set (before any message data)."""
    stall_after_data: threading.Event | None = None
    """When set: the message is kept, then the final reply waits for this event."""
    stalled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.stall_rcpt is not None:
            self.stalled.set()
            while not self.stall_rcpt.is_set():
                await _nap()
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self.stall_after_data is not None:
            self.stalled.set()
            while not self.stall_after_data.is_set():
                await _nap()
        return "250 OK: queued"


async def _nap() -> None:
    await asyncio.sleep(0.02)


@dataclass
class SmtpServer:
    """A running aiosmtpd server and what it received."""

    controller: Controller
    handler: Recorder
    port: int

    @property
    def received(self) -> list[EmailMessage]:
        return self.handler.received

    def wait_for(self, count: int, timeout: float = WAIT) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)

    def stop(self) -> None:
        self.controller.stop()


def start_smtp(
    port: int | None = None, handler: Recorder | None = None, **kwargs: Any
) -> SmtpServer:
    """Start an aiosmtpd server on loopback (``kwargs``: ``tls_context``, ``ssl_context`` ...)."""
    handler = handler or Recorder()
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return SmtpServer(controller, handler, port)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = start_smtp()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1, made with the ``openssl`` command."""
    cert, key = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    return TlsFiles(cert, key)


def mail_settings(port: int, **overrides: Any) -> MailSettings:
    """Settings for the loopback server: plain SMTP, no hold, quick retries."""
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_timeout_seconds": 5,
        "from_address": "helpdesk@example.org",
        "from_name": "IT help desk",
        "site_url": "https://help.example.org",
        "hold_seconds": 0,
        "retry_base_seconds": 1,
        "retry_max_seconds": 60,
        "lease_seconds": 30,
    }
    return MailSettings(**values | overrides)


@dataclass
class Desk:
    """Tickets and their events, recorded through the real plugins (so the outbox fills)."""

    sessions: sessionmaker[DbSession]
    pm: PluginManager
    data_dir: Path

    def person(self, email: str, name: str = "", **fields: Any) -> int:
        with self.sessions.begin() as session:
            person = Person(email=email, name=name or email.partition("@")[0].title(), **fields)
            session.add(person)
            session.flush()
            return person.id

    def ticket(self, requester_id: int | None, title: str = "Printer jams", **fields: Any) -> int:
        """A new ticket and its ``created`` event (the intake's)."""
        with self.sessions.begin() as session:
            defaults = {"kind": "ticket", "type": "incident", "status": "new"}
            item = WorkItem(title=title, requester_id=requester_id, **defaults | fields)
            session.add(item)
            session.flush()
            item.reference = f"INC-{item.id:05d}"
            record_event(session, self.pm, work_item_id=item.id, type="created")
            return item.id

    def event(self, item_id: int, type: str, data: dict[str, Any], actor: int | None = None) -> int:
        with self.sessions.begin() as session:
            if type == "status_changed":
                session.get(WorkItem, item_id).status = data["to"]  # type: ignore[union-attr]
            event = record_event(
                session, self.pm, work_item_id=item_id, type=type, data=data, actor_id=actor
            )
            return event.id

    def status(self, item_id: int, old: str, new: str) -> int:
        return self.event(item_id, "status_changed", {"field": "status", "from": old, "to": new})

    def comment(self, item_id: int, author: int | None, body: str, public: bool = True) -> None:
        with self.sessions.begin() as session:
            post_comment(
                session, self.pm, item_id, body=body, public=public, author_id=author,
                staff=True, visible=lambda _item: True,
            )  # fmt: skip

    def notify(self, item_id: int, subject: str, body: str, to: tuple[str, ...] = ("requester",)):
        data = {"to": list(to), "subject": subject, "body": body}
        return self.event(item_id, "notified", data)

    def outbox(self, **filters: Any) -> list[OutboxMail]:
        with self.sessions() as session:
            query = select(OutboxMail).filter_by(**filters).order_by(OutboxMail.id)
            rows = list(session.scalars(query))
            session.expunge_all()
            return rows

    def sender(self, settings: MailSettings, **kwargs: Any) -> Sender:
        return Sender(self.sessions, settings, self.data_dir, **kwargs)


@pytest.fixture
def desk(db_engine: Engine, tmp_path: Path) -> Desk:
    return Desk(make_session_factory(db_engine), create_plugin_manager(), tmp_path)


def drain(sender: Sender, rounds: int = 10) -> None:
    """Run rounds until one claims nothing."""
    for _ in range(rounds):
        if not sender.round().claimed:
            return
    raise AssertionError(f"the outbox was not empty after {rounds} rounds")
