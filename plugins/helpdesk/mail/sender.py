"""Sending the outbox over SMTP: one round at a time, and the service that repeats rounds.

A round claims the due mails (:class:`Outbox`), renders each at its first
attempt (stored, so every later attempt sends the same bytes), and hands them
to the server over one connection with :mod:`smtplib` (run in a thread: it
blocks). Per mail: ``MAIL FROM``, ``RCPT TO``, then the row is marked
``data`` and only then the message goes out with ``DATA``; the ``250`` after
it marks the row ``sent``. A 5xx answer fails the mail for good; anything
else (a refused connection, a timeout, a 4xx) retries it after a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.model import utcnow
from plugins.helpdesk.mail.outbox import Claimed, Outbox
from plugins.helpdesk.mail.render import Envelope, Renderer, RenderError, build, message_id
from plugins.helpdesk.mail.settings import MailSettings

log = logging.getLogger(__name__)


class Refused(smtplib.SMTPResponseException):
    """The server answered a command with an error code."""


class ClaimLost(Exception):
    """Another worker took the mail over (this worker's lease ran out): stop, send nothing."""


@dataclass
class Round:
    """What one round did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def connect(settings: MailSettings) -> smtplib.SMTP:
    """A connection to the configured server: TLS as configured, signed in if configured."""
    timeout, host, port = settings.smtp_timeout_seconds, settings.smtp_host, settings.smtp_port
    context = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
    name = settings.domain
    if settings.smtp_security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, local_hostname=name, timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(host, port, local_hostname=name, timeout=timeout)
    try:
        smtp.ehlo()
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
    except BaseException:
        smtp.close()
        raise
    return smtp


def hang_up(smtp: smtplib.SMTP | None) -> None:
    """Say goodbye if the connection still listens; close it either way."""
    if smtp is None:
        return
    with contextlib.suppress(smtplib.SMTPException, OSError):  # it may be gone already
        smtp.quit()
    smtp.close()


class Sender:
    """Sends due mails, a round at a time (:meth:`round`); blocking, so call it in a thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: MailSettings,
        data_dir: Path,
        *,
        clock: Callable[[], datetime] = utcnow,
        extras: Callable[[Claimed], dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = Outbox(sessions, settings)
        self.renderer = Renderer(settings, data_dir)
        self.clock = clock
        self.extras = extras
        """More template values for a mail at its first attempt (a signed survey link …)."""

    def round(self) -> Round:
        """Claim the due mails and attempt each once."""
        done = Round()
        claimed = self.outbox.claim(self.clock())
        done.claimed = len(claimed)
        smtp: smtplib.SMTP | None = None
        try:
            for mail in claimed:
                smtp = self._attempt(mail, smtp, done)
        finally:
            hang_up(smtp)
        return done

    def _attempt(
        self, mail: Claimed, smtp: smtplib.SMTP | None, done: Round
    ) -> smtplib.SMTP | None:
        try:
            message = self._message(mail)
            smtp = smtp or connect(self.settings)
            self._deliver(smtp, mail, message)
        except ClaimLost:
            log.warning("mail %s was taken over by another worker; this one stops", mail.id)
            return smtp
        except (RenderError, smtplib.SMTPException, OSError) as exc:
            self._failed(mail, exc, done)
            return self._reusable(smtp, exc)
        if self.outbox.sent(mail, self.clock()):
            done.sent += 1
        else:
            log.warning("mail %s was sent, but its claim had run out meanwhile", mail.id)
        return smtp

    def _message(self, mail: Claimed) -> str:
        """The stored message, or (first attempt) the rendered one, stored now."""
        if mail.message is not None:
            return mail.message
        extra = self.extras(mail) if self.extras is not None else {}
        values = {**mail.context, "recipient": mail.to_name, **extra}
        rendered = self.renderer.render(mail.kind, values)
        ident = mail.message_id or message_id(mail.message_key, self.settings)
        envelope = Envelope(mail.to_name, mail.to_address, ident, self.outbox.thread_of(mail))
        text = build(rendered, self.settings, envelope).as_string()
        if not self.outbox.prepare(mail, message_id=ident, subject=rendered.subject, message=text):
            raise ClaimLost(mail.id)
        return text

    def _deliver(self, smtp: smtplib.SMTP, mail: Claimed, message: str) -> None:
        code, reply = smtp.mail(self.settings.from_address)
        if code != 250:
            raise Refused(code, reply)
        code, reply = smtp.rcpt(mail.to_address)
        if code not in (250, 251):
            raise Refused(code, reply)
        if not self.outbox.phase(mail, "data"):
            smtp.rset()
            raise ClaimLost(mail.id)
        smtp.data(message.encode("ascii"))  # raises SMTPDataError unless the server says 250

    def _failed(self, mail: Claimed, exc: Exception, done: Round) -> None:
        permanent = isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
        error = _describe(exc)
        state = self.outbox.failed(mail, error, self.clock(), permanent=permanent)
        if state == "failed":
            done.failed += 1
            log.error("mail %s to %s failed for good: %s", mail.id, mail.to_address, error)
        elif state == "queued":
            done.retrying += 1
            log.warning("mail %s to %s will be retried: %s", mail.id, mail.to_address, error)

    @staticmethod
    def _reusable(smtp: smtplib.SMTP | None, exc: Exception) -> smtplib.SMTP | None:
        """The connection after a failed mail: kept after a refusal (reset), else dropped."""
        if smtp is None or not isinstance(exc, smtplib.SMTPResponseException):
            hang_up(smtp)
            return None
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            hang_up(smtp)
            return None
        return smtp


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return f"the server answered {exc.smtp_code} {text}"
    if isinstance(exc, RenderError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Runner:
    """The service: rounds every ``poll_seconds`` (at once again while mails were due)."""

    def __init__(self, sender: Sender, *, problem: str = "") -> None:
        self.sender = sender
        self.problem = problem
        """A configuration problem to warn about at start (replies that would not come back)."""
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        settings = self.sender.settings
        if not settings.sending:
            return "off ([mail] smtp_host is empty): mails wait in the outbox"
        if self.problem:
            log.warning("outbound mail: %s", self.problem)
        self._stop.clear()
        self._task = asyncio.create_task(self._loop(), name="outbound mail")
        where = f"to {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})"
        return f"{where}; warning: {self.problem}" if self.problem else where

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                done = await asyncio.to_thread(self.sender.round)
            except Exception:  # the database may be down for a while: keep the service alive
                log.exception("outbound mail: a round failed; trying again shortly")
                done = Round()
            if done.claimed:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.sender.settings.poll_seconds)
