"""IMAP polling: for departments whose mail lives on a mail server, Tierflow reads the folder.

Every ``imap_poll_seconds`` the poller connects (TLS, STARTTLS or plain, as
configured), asks for the folder's unread mail by UID, and hands each mail to
the processing core. A mail taken (a ticket, a comment, dropped, refused) is
then marked read (``\\Seen``) or moved to ``imap_done_folder``; one that must
wait (the database or Temporal down) stays unread for the next poll. Reading
uses ``BODY.PEEK[]``, which does not mark anything read by itself.

A restart re-reads what was not yet marked: the mail's record (its
Message-ID) makes that a duplicate, so no ticket is made twice. imaplib is
blocking: every call runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import re
import ssl

from engine.errors import ConfigError, TierflowError
from plugins.helpdesk.inbound.process import Delivery, Inbox, TryLater
from plugins.helpdesk.inbound.settings import InboundSettings

log = logging.getLogger("tierflow.helpdesk.inbound.imap")

TIMEOUT = 30.0
BATCH = 50
"""Mails taken per poll at most (the rest on the next poll)."""
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapError(TierflowError):
    """The IMAP server could not be reached, refused the login, or has no such folder."""


class Mailbox:
    """One IMAP connection to the configured folder (blocking; use it from a thread)."""

    def __init__(self, settings: InboundSettings) -> None:
        self.settings = settings
        self.connection: imaplib.IMAP4 | None = None

    @property
    def where(self) -> str:
        s = self.settings
        return f"{s.imap_username}@{s.imap_host}:{s.imap_port}/{s.imap_folder}"

    def open(self) -> None:
        s = self.settings
        try:
            if s.imap_security == "tls":
                self.connection = imaplib.IMAP4_SSL(
                    s.imap_host, s.imap_port, ssl_context=self._tls(), timeout=TIMEOUT
                )
            else:
                self.connection = imaplib.IMAP4(s.imap_host, s.imap_port, timeout=TIMEOUT)
                if s.imap_security == "starttls":
                    self.connection.starttls(self._tls())
            self.connection.login(s.imap_username, s.imap_password.get_secret_value())
            # servers announce more after the login (MOVE, UIDPLUS): ask again
            status, answer = self.connection.capability()
            if status == "OK" and answer and isinstance(answer[0], bytes):
                self.connection.capabilities = tuple(answer[0].decode().upper().split())
            status, answer = self.connection.select(_quoted(s.imap_folder))
            if status != "OK":
                raise ImapError(f"IMAP {self.where}: no folder {s.imap_folder!r}: {answer}")
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise ImapError(f"IMAP {self.where}: {_said(exc)}") from exc

    def _tls(self) -> ssl.SSLContext:
        """Certificates and host names checked: the system's CAs and ``imap_ca_file``'s."""
        return ssl.create_default_context(cafile=self.settings.imap_ca_file or None)

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):  # already gone: nothing to do
                self.connection.logout()
            self.connection = None

    def _uid(self, command: str, *args: str) -> list:
        assert self.connection is not None
        status, data = self.connection.uid(command, *args)
        if status != "OK":
            raise ImapError(f"IMAP {self.where}: UID {command} failed: {data}")
        return data

    def unseen(self) -> list[str]:
        """The UIDs of the folder's unread mail, oldest first."""
        found = self._uid("SEARCH", "UNSEEN")
        return [uid.decode() for uid in (found[0] or b"").split()][:BATCH]

    def size(self, uid: str) -> int:
        data = self._uid("FETCH", uid, "(RFC822.SIZE)")
        match = _SIZE.search(b" ".join(part for part in data if isinstance(part, bytes)))
        return int(match.group(1)) if match else 0

    def fetch(self, uid: str, part: str = "BODY.PEEK[]") -> bytes:
        """The mail's bytes (``BODY.PEEK[HEADER]``: its header only), leaving it unread."""
        for item in self._uid("FETCH", uid, f"({part})"):
            if isinstance(item, tuple):
                return item[1]
        raise ImapError(f"IMAP {self.where}: mail {uid} has gone")

    def done(self, uid: str) -> None:
        """Mark the mail read, or move it to the done folder."""
        target = self.settings.imap_done_folder
        if not target:
            self._uid("STORE", uid, "+FLAGS", "(\\Seen)")
            return
        assert self.connection is not None
        self._uid("STORE", uid, "+FLAGS", "(\\Seen)")
        if "MOVE" in self.connection.capabilities:
            self._uid("MOVE", uid, _quoted(target))
        else:
            self._uid("COPY", uid, _quoted(target))
            self._uid("STORE", uid, "+FLAGS", "(\\Deleted)")
            self.connection.expunge()


def _said(exc: Exception) -> str:
    """What the server (or the network) said, as text."""
    said = exc.args[0] if exc.args else None
    return said.decode(errors="replace") if isinstance(said, bytes) else str(exc)


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapPoller:
    """Polls the folder as a service: :meth:`start` checks the login, then polls in a task."""

    def __init__(self, settings: InboundSettings, inbox: Inbox) -> None:
        self.settings = settings
        self.inbox = inbox
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        box = Mailbox(self.settings)
        try:
            await asyncio.to_thread(box.open)
        except ImapError as exc:
            raise ConfigError(
                f"{exc}; check the settings TIERFLOW_INBOUND__IMAP_HOST, IMAP_PORT, "
                "IMAP_SECURITY, IMAP_USERNAME, IMAP_PASSWORD and IMAP_FOLDER"
            ) from exc
        finally:
            await asyncio.to_thread(box.close)
        self.task = asyncio.create_task(self._run(), name="inbound IMAP polling")
        return f"{box.where} every {self.settings.imap_poll_seconds:g} s"

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except (ImapError, TryLater) as exc:  # tried again at the next poll
                log.warning("inbound IMAP poll: %s", exc)
            except Exception:  # a fault of ours: keep polling, the mail stays unread
                log.exception("inbound IMAP poll failed")
            await asyncio.sleep(self.settings.imap_poll_seconds)

    async def poll(self) -> int:
        """Take the folder's unread mail once; return how many were taken.

        Stops at the first mail that must wait (:class:`TryLater`), leaving it unread.
        """
        box = Mailbox(self.settings)
        taken = 0
        await asyncio.to_thread(box.open)
        try:
            for uid in await asyncio.to_thread(box.unseen):
                await self._take(box, uid)
                taken += 1
        finally:
            await asyncio.to_thread(box.close)
        return taken

    async def _take(self, box: Mailbox, uid: str) -> None:
        size = await asyncio.to_thread(box.size, uid)
        if size > self.settings.max_message_bytes:
            header = await asyncio.to_thread(box.fetch, uid, "BODY.PEEK[HEADER]")
            limit = self.settings.max_message_bytes
            why = f"it is {size} bytes long, more than max_message_bytes ({limit})"
            await self.inbox.receive(Delivery(header, "imap"), refuse=why)
        else:
            await self.inbox.receive(Delivery(await asyncio.to_thread(box.fetch, uid), "imap"))
        await asyncio.to_thread(box.done, uid)
