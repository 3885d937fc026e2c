"""``tierflow mail-gateway``: inbound mail on its own, against a Temporal cluster and the
database; and the services ``serve`` and ``worker`` start when ``[inbound]`` turns them on."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client

from engine.config import settings_class
from engine.contrib import SettingsSection
from engine.db import create_db_engine
from engine.model import Person, WorkItem
from engine.plugins import create_plugin_manager
from engine.runtime.devserver import EmbeddedTemporal
from plugins.helpdesk.inbound.service import services
from plugins.helpdesk.inbound.settings import InboundSettings
from tests.conftest import Tierflow
from tests.helpdesk.inbound.conftest import DESK, message
from tests.procs import free_port, stop

TIERFLOW = Path(sys.executable).with_name("tierflow")
SECTION = SettingsSection("inbound", InboundSettings)


def test_the_gateway_alone_needs_a_temporal_address_and_something_to_do(
    tierflow: Tierflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIERFLOW_TEMPORAL_ADDRESS", raising=False)
    done = tierflow("mail-gateway")
    assert done.rc == 1
    assert "TIERFLOW_TEMPORAL_ADDRESS: must be set to run the mail gateway" in done.err
    monkeypatch.setenv("TIERFLOW_TEMPORAL_ADDRESS", "127.0.0.1:7233")
    done = tierflow("mail-gateway")
    assert "the mail gateway has nothing to do: set TIERFLOW_INBOUND__SMTP_PORT" in done.err
    monkeypatch.setenv("TIERFLOW_INBOUND__SMTP_PORT", "2525")
    done = tierflow("mail-gateway")
    assert "accepts no recipient: set addresses" in done.err


def test_the_services_follow_the_settings() -> None:
    pm = create_plugin_manager(entry_points=False)
    model = settings_class((SECTION,))
    assert services(model(), pm, None, None) == []  # type: ignore[arg-type]
    both = model(inbound=InboundSettings(smtp_port=2525, domains=["example.org"], imap_host="mx"))
    found = services(both, pm, None, None)  # type: ignore[arg-type]
    assert [s.name for s in found] == [
        "inbound mail listener (SMTP)",
        "inbound mail polling (IMAP)",
    ]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(180)
@pytest.mark.slow
async def test_the_gateway_turns_mail_into_help_desk_incidents(
    temporal_server: EmbeddedTemporal,
    temporal_client: Client,
    database_url: str,
    tmp_path: Path,
    tierflow: Tierflow,
) -> None:
    assert tierflow("demo", database_url=database_url).rc == 0  # teams, people, workflows
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")} | {
        "TIERFLOW_TEMPORAL_ADDRESS": str(temporal_server.address),
        "TIERFLOW_DATABASE_URL": database_url,
        "TIERFLOW_DATA_DIR": str(tmp_path / "gateway"),
        "TIERFLOW_INBOUND__SMTP_PORT": str(port),
        "TIERFLOW_INBOUND__ADDRESSES": f'["{DESK}"]',
    }
    log = tmp_path / "gateway.log"
    with log.open("w") as out:
        gateway = subprocess.Popen(
            [str(TIERFLOW), "mail-gateway"], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        for _ in range(300):
            if "mail gateway is running" in log.read_text() or gateway.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert "The mail gateway is running" in log.read_text(), log.read_text()
        mail = message("Projector in room 4 is dead", sender="Pat Person <pat@example.net>")

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.send_message(mail)

        await asyncio.to_thread(send)
        gateway.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(gateway.wait, 30) == 0, log.read_text()
    finally:
        stop(gateway)
    text = log.read_text()
    assert "Starting inbound mail listener (SMTP) … done" in text
    assert f"on 127.0.0.1:{port}" in text
    assert "Stopping inbound mail listener (SMTP)" in text
    db = create_db_engine(database_url)
    try:
        with Session(db) as session:
            item = session.scalars(select(WorkItem).filter_by(title=mail["Subject"])).one()
            pat = session.scalars(select(Person).filter_by(email="pat@example.net")).one()
            assert (item.type, item.channel, item.requester_id) == ("incident", "email", pat.id)
            workflow_id = item.workflow_id
    finally:
        db.dispose()
    run = await temporal_client.get_workflow_handle(workflow_id).describe()
    assert run.status is not None
    assert run.status.name == "RUNNING"  # started by the gateway; a worker would run it
