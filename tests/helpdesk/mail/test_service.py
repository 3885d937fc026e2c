"""The outbound mail service as serve and worker start it: off without a server, else sending."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from engine.cli import plugin_sections
from engine.config import Settings, load_settings
from engine.plugins import create_plugin_manager
from engine.progress import Steps
from engine.server import _Running, _stop, start_services
from tests.helpdesk.mail.conftest import Desk, SmtpServer


async def _started(settings: Settings, desk: Desk) -> tuple[_Running, str]:
    running, shown = _Running(), io.StringIO()
    pm = create_plugin_manager()
    await start_services(
        settings, pm, sessions=desk.sessions, client=None, steps=Steps(shown), running=running
    )  # type: ignore[arg-type]
    return running, shown.getvalue()


async def test_without_a_server_the_service_says_mails_wait(desk: Desk, tmp_path: Path) -> None:
    running, shown = await _started(Settings(data_dir=tmp_path), desk)
    assert "Starting outbound mail (helpdesk)" in shown
    assert "off ([mail] smtp_host is empty): mails wait in the outbox" in shown
    await _stop(running, Steps(io.StringIO()))


async def test_configured_through_the_environment_it_sends(
    desk: Desk, smtp: SmtpServer, tmp_path: Path, monkeypatch
) -> None:
    for name, value in {
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SECURITY": "none",
        "FROM_ADDRESS": "helpdesk@example.org", "HOLD_SECONDS": "0", "POLL_SECONDS": "0.1",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"TIERFLOW_MAIL__{name}", value)
    monkeypatch.chdir(tmp_path)
    pm = create_plugin_manager()
    settings = load_settings(plugin_sections(pm), data_dir=tmp_path)
    running, shown = await _started(settings, desk)
    try:
        assert f"to 127.0.0.1:{smtp.port} (none)" in shown
        desk.ticket(desk.person("alice@example.org"))
        received = await asyncio.to_thread(smtp.wait_for, 1)
        assert len(received) == 1
    finally:
        await _stop(running, Steps(io.StringIO()))
