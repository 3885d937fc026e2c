"""The inbound services (SMTP listener, IMAP polling) and ``tierflow mail-gateway``.

``tierflow serve`` and ``tierflow worker`` start the services the ``[inbound]``
settings turn on, beside the worker (:func:`services`). ``tierflow
mail-gateway`` runs them on their own, in a process that needs only the
database and a Temporal cluster (``TIERFLOW_TEMPORAL_ADDRESS``), like a worker
does: a site can put its mail gateway on the machine the MX record names.
"""

from __future__ import annotations

import asyncio
import signal

import click
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from engine.config import Settings
from engine.contrib import RequestType, Service
from engine.db import make_session_factory
from engine.errors import ConfigError
from engine.plugins import PluginManager, unique_by
from engine.progress import Steps
from engine.runtime.client import Runtime, connect
from engine.server import prepare_database
from plugins.helpdesk.inbound.imap import ImapPoller
from plugins.helpdesk.inbound.process import Inbox
from plugins.helpdesk.inbound.settings import InboundSettings
from plugins.helpdesk.inbound.smtp import SmtpListener


def services(
    settings: Settings, pm: PluginManager, sessions: sessionmaker[Session], client: Client
) -> list[Service]:
    """The listener and the poller the ``[inbound]`` settings turn on (none by default)."""
    inbound = settings.section("inbound", InboundSettings)
    if not (inbound.listening or inbound.polling):
        return []
    types = unique_by(pm, "tierflow_register_request_types", "name", expect=RequestType)
    inbox = Inbox(inbound, pm, sessions, Runtime(client, settings.task_queue), types)
    found = []
    if inbound.listening:
        listener = SmtpListener(inbound, inbox)
        found.append(Service("inbound mail listener (SMTP)", listener.start, listener.stop))
    if inbound.polling:
        poller = ImapPoller(inbound, inbox)
        found.append(Service("inbound mail polling (IMAP)", poller.start, poller.stop))
    return found


async def run_gateway(settings: Settings, pm: PluginManager, steps: Steps) -> None:
    """Connect to Temporal and the database, start the inbound services, run until stopped."""
    if settings.embedded_temporal:
        raise ConfigError(
            "TIERFLOW_TEMPORAL_ADDRESS: must be set to run the mail gateway on its own "
            "('tierflow serve' runs the inbound services itself)"
        )
    inbound = settings.section("inbound", InboundSettings)
    if not (inbound.listening or inbound.polling):
        raise ConfigError(
            "the mail gateway has nothing to do: set TIERFLOW_INBOUND__SMTP_PORT (a listener) "
            "or TIERFLOW_INBOUND__IMAP_HOST (polling), or [inbound] in tierflow.toml"
        )
    with steps.step(f"Connecting to Temporal at {settings.temporal_address}"):
        client = await connect(settings.temporal_address, settings.temporal_namespace)
    db = await asyncio.to_thread(prepare_database, settings, pm, steps)
    started: list[Service] = []
    try:
        for service in services(settings, pm, make_session_factory(db), client):
            with steps.step(f"Starting {service.name}") as detail:
                started.append(service)
                shown = await service.start()
                if shown:
                    detail.append(shown)
        steps.say("The mail gateway is running. Press Ctrl-C to stop.")
        await _until_stopped()
    finally:
        for service in reversed(started):
            with steps.step(f"Stopping {service.name}"):
                await service.stop()
        db.dispose()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@click.command("mail-gateway")
@click.pass_obj
def mail_gateway(context) -> None:
    """Run inbound e-mail only (SMTP listener, IMAP polling), against TIERFLOW_TEMPORAL_ADDRESS."""
    asyncio.run(run_gateway(context.settings(), context.pm, Steps()))


def commands(cli: click.Group) -> None:
    """Add ``tierflow mail-gateway``."""
    cli.add_command(mail_gateway)
