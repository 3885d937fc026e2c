"""IMAP polling against a real Dovecot on loopback: mail appended to the folder becomes
tickets, is marked read (or moved), and is never taken twice, not even after a restart or
when the same mail also came by SMTP."""

from __future__ import annotations

import asyncio
import imaplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from engine.contrib import RequestType
from engine.errors import ConfigError
from plugins.helpdesk.inbound.imap import ImapPoller
from plugins.helpdesk.inbound.process import TryLater
from tests.helpdesk.inbound.conftest import Dovecot, Gateway, message

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(90)]


def poller(gateway: Gateway, dovecot: Dovecot, **overrides: object) -> ImapPoller:
    """A poller of the dovecot user's INBOX feeding the gateway's processing core."""
    settings = gateway.settings.model_copy(
        update={
            "imap_host": "127.0.0.1",
            "imap_port": dovecot.port,
            "imap_security": "none",
            "imap_username": dovecot.username,
            "imap_password": SecretStr(dovecot.password),
            "imap_poll_seconds": 0.2,
            **overrides,
        }
    )
    gateway.inbox.settings = settings
    return ImapPoller(settings, gateway.inbox)


class Folder:
    """The mail server's side, as another mail program sees it."""

    def __init__(self, dovecot: Dovecot) -> None:
        self.connection = imaplib.IMAP4("127.0.0.1", dovecot.port)
        self.connection.login(dovecot.username, dovecot.password)

    def close(self) -> None:
        self.connection.logout()

    def append(self, *mails: EmailMessage, folder: str = "INBOX") -> None:
        for mail in mails:
            status, _ = self.connection.append(folder, None, None, mail.as_bytes())
            assert status == "OK"

    def unseen(self, folder: str = "INBOX") -> int:
        self.connection.select(folder)
        return len(self.connection.search(None, "UNSEEN")[1][0].split())

    def count(self, folder: str) -> int:
        status, data = self.connection.select(folder)
        return int(data[0]) if status == "OK" else -1


@pytest.fixture
def folder(dovecot: Dovecot) -> Iterator[Folder]:
    mailbox = Folder(dovecot)
    try:
        yield mailbox
    finally:
        mailbox.close()


async def test_polling_makes_tickets_and_marks_the_mail_read(
    gateway: Gateway, dovecot: Dovecot, folder: Folder
) -> None:
    by_both = message("Sent to both", sender="rita@example.net")
    await gateway.send(by_both)  # the same mail also arrives over SMTP
    automatic = message("Out", headers={"Auto-Submitted": "auto-replied"})
    folder.append(message("Laptop will not boot"), by_both, automatic)
    imap = poller(gateway, dovecot)
    assert await imap.poll() == 3
    assert folder.unseen() == 0
    assert [item.title for item in gateway.items()] == ["Sent to both", "Laptop will not boot"]
    assert [(r.transport, r.outcome, r.deliveries) for r in gateway.records()] == [
        ("smtp", "ticket", 2),
        ("imap", "ticket", 1),
        ("imap", "dropped", 1),
    ]
    assert gateway.items()[1].channel == "email"
    assert await imap.poll() == 0  # nothing unread: nothing taken again


async def test_a_restart_before_the_mail_was_marked_makes_no_second_ticket(
    gateway: Gateway, dovecot: Dovecot, folder: Folder
) -> None:
    mail = message("Taken, then the gateway stopped")
    folder.append(mail)
    first = poller(gateway, dovecot)
    assert await first.poll() == 1
    folder.connection.select("INBOX")
    folder.connection.store("1", "-FLAGS", "(\\Seen)")  # as if the mark had never been sent
    again = poller(gateway, dovecot)  # a new process
    assert await again.poll() == 1
    assert len(gateway.items()) == 1
    assert gateway.record(mail["Message-ID"]).deliveries == 2
    assert folder.unseen() == 0


async def test_taken_mail_is_moved_to_the_done_folder(
    gateway: Gateway, dovecot: Dovecot, folder: Folder
) -> None:
    folder.connection.create("Processed")
    folder.append(message("One"), message("Two"))
    assert await poller(gateway, dovecot, imap_done_folder="Processed").poll() == 2
    assert (folder.count("INBOX"), folder.count("Processed")) == (0, 2)
    assert len(gateway.items()) == 2


async def test_mail_that_must_wait_stays_unread_until_it_can_be_taken(
    gateway: Gateway, dovecot: Dovecot, folder: Folder
) -> None:
    folder.append(message("Waits for the deployment"))
    imap = poller(gateway, dovecot, request_type="later")
    gateway.inbox.request_types |= {"later": RequestType("later", "Later", "later")}
    with pytest.raises(TryLater, match="not deployed"):
        await imap.poll()
    assert folder.unseen() == 1
    assert gateway.records()[0].outcome == "pending"
    imap = poller(gateway, dovecot)  # the administrator fixed the settings
    assert await imap.poll() == 1
    assert (folder.unseen(), len(gateway.items())) == (0, 1)


async def test_the_polling_service_polls_until_stopped(
    gateway: Gateway, dovecot: Dovecot, folder: Folder
) -> None:
    imap = poller(gateway, dovecot)
    shown = await imap.start()
    assert shown == f"helpdesk@127.0.0.1:{dovecot.port}/INBOX every 0.2 s"
    try:
        folder.append(message("Found by the service"))
        for _ in range(100):
            if gateway.items():
                break
            await asyncio.sleep(0.05)
        assert [item.title for item in gateway.items()] == ["Found by the service"]
    finally:
        await imap.stop()
    assert imap.task is not None
    assert imap.task.done()


async def test_a_wrong_password_stops_the_start_with_what_to_check(
    gateway: Gateway, dovecot: Dovecot
) -> None:
    imap = poller(gateway, dovecot, imap_password=SecretStr("wrong"))
    where = f"IMAP helpdesk@127.0.0.1:{dovecot.port}/INBOX"
    with pytest.raises(ConfigError, match=rf"{where}: \[AUTHENTICATIONFAILED\].*IMAP_PASSWORD"):
        await imap.start()
    assert imap.task is None


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_polling_over_tls_checks_the_server_certificate(
    gateway: Gateway, dovecot: Dovecot, folder: Folder, security: str
) -> None:
    port = dovecot.tls_port if security == "tls" else dovecot.port
    folder.append(message(f"Over {security}"))
    untrusted = poller(gateway, dovecot, imap_security=security, imap_port=port)
    with pytest.raises(ConfigError, match="CERTIFICATE_VERIFY_FAILED"):
        await untrusted.start()
    trusted = poller(
        gateway, dovecot, imap_security=security, imap_port=port, imap_ca_file=dovecot.ca_file
    )
    assert await trusted.poll() == 1
    assert [item.title for item in gateway.items()] == [f"Over {security}"]
