"""The SMTP listener (aiosmtpd): mail servers deliver the help desk's mail straight to Tierflow.

It runs on the event loop of the process that starts it (``tierflow serve``,
``tierflow worker`` or ``tierflow mail-gateway``), so the Temporal client is
shared. It accepts only the configured recipient addresses and domains
(``550`` for others: it is no relay), refuses mail over the size limit
(``552``), and answers ``250`` only once the mail is recorded and taken (a
ticket, a comment, held, or dropped as a loop); while the database or Temporal
is down, or another delivery of the same mail is being taken at that moment,
it answers ``451`` and the sending server tries again later.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from aiosmtpd.smtp import SMTP, Envelope, Session

from engine.errors import ConfigError
from plugins.helpdesk.inbound.process import Delivery, Inbox, InProgress, TryLater
from plugins.helpdesk.inbound.settings import InboundSettings

log = logging.getLogger("tierflow.helpdesk.inbound.smtp")

TRY_LATER = "451 4.3.0 The help desk cannot take mail just now; try again later"
IN_PROGRESS = "451 4.3.0 This mail is being taken by another delivery (in progress); try later"
STOP_TIMEOUT = 5.0


class Handler:
    """aiosmtpd's handler: which recipients are taken, and what happens to a mail's data."""

    def __init__(self, settings: InboundSettings, inbox: Inbox) -> None:
        self.settings = settings
        self.inbox = inbox

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if not self.settings.accepts(address):
            return f"550 5.1.1 <{address[:100]}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            result = await self.inbox.receive(Delivery(raw, "smtp", envelope.mail_from))
        except InProgress as exc:
            log.info("inbound mail from %s deferred (451): %s", session.peer, exc)
            return IN_PROGRESS
        except TryLater as exc:
            log.warning("inbound mail from %s deferred (451): %s", session.peer, exc)
            return TRY_LATER
        except Exception:  # a fault of ours: the mail is not lost, its sender retries
            log.exception("inbound mail from %s failed; answered 451", session.peer)
            return TRY_LATER
        if result.outcome == "refused":
            return f"550 5.7.1 Not taken: {_one_line(result.reason)}"
        return f"250 2.0.0 OK: {result.outcome}"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300].encode("ascii", "replace").decode()


class SmtpListener:
    """The listener as a service: :meth:`start` binds the port, :meth:`stop` closes it."""

    def __init__(self, settings: InboundSettings, inbox: Inbox) -> None:
        self.settings = settings
        self.handler = Handler(settings, inbox)
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> str:
        host, port = self.settings.smtp_host, self.settings.smtp_port
        loop = asyncio.get_running_loop()
        name = socket.gethostname()

        def protocol() -> SMTP:
            return SMTP(
                self.handler, data_size_limit=self.settings.max_message_bytes,
                enable_SMTPUTF8=True, hostname=name, ident="Tierflow inbound mail", loop=loop,
            )  # fmt: skip

        try:
            self.server = await loop.create_server(protocol, host=host, port=port)
        except OSError as exc:
            raise ConfigError(
                f"TIERFLOW_INBOUND__SMTP_PORT / SMTP_HOST: cannot listen on {host}:{port}: "
                f"{exc.strerror or exc} (is another mail server using the port?)"
            ) from exc
        return f"on {host}:{port}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            try:
                await asyncio.wait_for(self.server.wait_closed(), STOP_TIMEOUT)
            except TimeoutError:
                log.warning("the SMTP listener's clients did not leave within %ss", STOP_TIMEOUT)
