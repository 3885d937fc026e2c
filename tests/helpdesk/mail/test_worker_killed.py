"""A worker killed mid-send: the mail is not duplicated unless the server may have taken it.

The guarantee (docs/email.md): a worker lost *before* it hands the message
over (``DATA``) leaves a mail that the next worker sends once; a worker lost
*while* handing it over leaves a mail whose fate nobody knows, which is sent
again with the same Message-ID and the same bytes, and counted as
``unconfirmed``. Each test kills a real worker process (SIGKILL) while a real
aiosmtpd server holds it at that point, then lets a second worker take over
once the first one's lease has run out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from engine.model import utcnow
from tests.helpdesk.mail.conftest import (
    Desk,
    Recorder,
    SmtpServer,
    drain,
    mail_settings,
    start_smtp,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
LEASE = 16  # seconds; more than three SMTP timeouts of 5 s


@pytest.fixture
def stalling() -> Iterator[tuple[SmtpServer, threading.Event]]:
    """A server whose handler holds the client when told to; the event lets it go."""
    release = threading.Event()
    server = start_smtp(handler=Recorder())
    try:
        yield server, release
    finally:
        release.set()
        server.stop()


def start_worker(db_engine: Engine, desk: Desk, port: int) -> subprocess.Popen[str]:
    settings = mail_settings(port, lease_seconds=LEASE)
    url = db_engine.url.render_as_string(hide_password=False)
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.helpdesk.mail.worker", url, str(desk.data_dir)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert worker.stdin is not None
    assert worker.stdout is not None
    worker.stdin.write(settings.model_dump_json())
    worker.stdin.close()
    assert worker.stdout.readline().strip() == "ready"
    return worker


def kill(worker: subprocess.Popen[str]) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(10) == -signal.SIGKILL
    assert worker.stdout is not None
    worker.stdout.close()


def take_over(desk: Desk, port: int) -> None:
    """A second worker, once the first one's lease has run out."""
    later = utcnow() + timedelta(seconds=LEASE + 1)
    drain(desk.sender(mail_settings(port, lease_seconds=LEASE), clock=lambda: later))


def test_killed_before_handing_the_message_over_it_arrives_once(
    db_engine: Engine, desk: Desk, stalling: tuple[SmtpServer, threading.Event]
) -> None:
    server, release = stalling
    server.handler.stall_rcpt = release  # the worker waits for RCPT's answer, before DATA
    desk.ticket(desk.person("alice@example.org"))
    worker = start_worker(db_engine, desk, server.port)
    try:
        assert server.handler.stalled.wait(20), "the worker never reached RCPT"
        [row] = desk.outbox()
        assert (row.state, row.attempts, row.phase) == ("sending", 1, None)
    finally:
        kill(worker)
    server.handler.stall_rcpt = None
    release.set()
    take_over(desk, server.port)
    assert len(server.wait_for(1)) == 1
    assert len(server.wait_for(2, timeout=1)) == 1
    [row] = desk.outbox()
    assert (row.state, row.attempts, row.unconfirmed, row.note) == ("sent", 2, 0, "")


def test_killed_while_handing_it_over_it_is_resent_with_the_same_message_id(
    db_engine: Engine, desk: Desk, stalling: tuple[SmtpServer, threading.Event]
) -> None:
    server, release = stalling
    server.handler.stall_after_data = release  # the server kept it; its 250 never comes
    desk.ticket(desk.person("alice@example.org"))
    worker = start_worker(db_engine, desk, server.port)
    try:
        assert server.handler.stalled.wait(20), "the worker never handed the message over"
        [row] = desk.outbox()
        assert (row.state, row.attempts, row.phase) == ("sending", 1, "data")
    finally:
        kill(worker)
    server.handler.stall_after_data = None
    release.set()
    take_over(desk, server.port)
    first, second = server.wait_for(2)
    assert first["Message-ID"] == second["Message-ID"]
    assert first.as_bytes() == second.as_bytes()
    assert len(server.wait_for(3, timeout=1)) == 2
    [row] = desk.outbox()
    assert (row.state, row.attempts, row.unconfirmed) == ("sent", 2, 1)
    assert row.message_id == first["Message-ID"]
    assert "sent again with the same Message-ID" in row.note
