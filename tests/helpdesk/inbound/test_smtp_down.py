"""While the database or Temporal is down the listener answers 451, so the sending mail
server keeps the mail and tries again; once they are back the same mail is taken, once."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from engine.db import create_db_engine, make_session_factory
from engine.runtime.client import Runtime, connect
from engine.runtime.devserver import EmbeddedTemporal
from plugins.helpdesk.inbound.process import Inbox
from plugins.helpdesk.inbound.smtp import SmtpListener
from tests.helpdesk.inbound.conftest import TYPES, Gateway, inbound_settings, message
from tests.procs import free_port

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(120)]


async def test_the_database_down_is_451_and_nothing_is_lost(gateway: Gateway) -> None:
    nowhere = create_db_engine(f"postgresql+psycopg://tierflow@127.0.0.1:{free_port()}/none")
    settings = inbound_settings()
    inbox = Inbox(settings, gateway.pm, make_session_factory(nowhere), gateway.inbox.runtime, TYPES)
    listener = SmtpListener(settings, inbox)
    await listener.start()
    down = Gateway(settings.smtp_port, settings, inbox, gateway.harness, gateway.pm)
    mail = message("Sent while the database was down")
    try:
        with pytest.raises(smtplib.SMTPDataError) as later:
            await down.send(mail)
    finally:
        await listener.stop()
        nowhere.dispose()
    assert later.value.smtp_code == 451
    await gateway.send(mail)  # the sending server's next try reaches a working help desk
    assert [item.title for item in gateway.items()] == ["Sent while the database was down"]


@pytest.mark.slow
async def test_temporal_down_is_451_and_the_retry_starts_the_run(
    gateway: Gateway, tmp_path: Path
) -> None:
    server = EmbeddedTemporal(tmp_path / "temporal")
    client = await connect(await server.start())
    await server.stop()
    settings = inbound_settings()
    inbox = Inbox(settings, gateway.pm, gateway.sessions, Runtime(client, "nowhere"), TYPES)
    listener = SmtpListener(settings, inbox)
    await listener.start()
    down = Gateway(settings.smtp_port, settings, inbox, gateway.harness, gateway.pm)
    mail = message("Sent while Temporal was down")
    try:
        with pytest.raises(smtplib.SMTPDataError) as later:
            await down.send(mail)
    finally:
        await listener.stop()
    assert later.value.smtp_code == 451
    record = gateway.record(mail["Message-ID"])
    assert record.outcome == "pending"
    assert record.reason.startswith("waiting: request ")
    [item] = gateway.items()  # recorded, its run not started
    await gateway.send(mail)  # the retry: the same ticket, its run started now
    assert [i.id for i in gateway.items()] == [item.id]
    assert gateway.record(mail["Message-ID"]).outcome == "ticket"
    await gateway.status(item.id, "resolved")  # its run took its first step
