"""Inbound mail against real servers: the SMTP listener on a loopback port, Temporal's
time-skipping server running the runs, and (``dovecot``) a private Dovecot IMAP server.

The test workflow ``mail_ticket`` takes requests by e-mail, resolves each at
once, then waits for the requester's reply (``requester_replied``), which
reopens it: what the help desk's workflows do, in four steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import grp
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.contrib import RequestType
from engine.db import make_read_session_factory
from engine.model import Comment, WorkItem
from engine.people import add_person, person_details
from engine.plugins import PluginManager, create_plugin_manager
from engine.runtime.client import Runtime
from plugins.helpdesk.inbound.models import InboundAttachment, InboundMessage
from plugins.helpdesk.inbound.process import Inbox
from plugins.helpdesk.inbound.settings import InboundSettings
from plugins.helpdesk.inbound.smtp import SmtpListener
from tests.interpreter.conftest import Harness, harness, time_skipping  # noqa: F401 (fixtures)
from tests.procs import free_port, self_signed_certificate

DESK = "help@example.org"
CLIENTS = ThreadPoolExecutor(max_workers=20, thread_name_prefix="smtp-client")
FLOW = """
name: mail_ticket
kind: ticket
start:
  form: mail_form
  channels: [portal, email]
forms:
  mail_form:
    fields:
      - {name: summary, label: Summary, required: true, max: 200}
      - {name: details, type: textarea, label: Details, required: true}
  reply:
    fields:
      - {name: comment, type: textarea, label: What is still wrong?, required: true, max: 5000}
signals:
  requester_replied:
    who: requester
    when: "item.status == 'resolved'"
    form: reply
    comment: true
steps:
  - id: resolve
    action: engine.update_work_item
    with: {status: resolved}
  - id: confirm
    wait: {signal: requester_replied, timeout: 5d}
    next:
      - {when: timed_out, goto: close}
      - {otherwise: reopen}
  - id: reopen
    action: engine.update_work_item
    with: {status: reopened}
  - {id: reopened, end: reopened}
  - id: close
    action: engine.update_work_item
    with: {status: closed}
  - {id: closed, end: closed}
"""
TYPES = {"mail_ticket": RequestType("mail_ticket", "Mail ticket", workflow="mail_ticket")}


def message(
    subject: str,
    body: str = "The printer on floor 3 jams on every page.",
    *,
    sender: str = "Nora New <nora@example.net>",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    html: str | None = None,
) -> EmailMessage:
    """A mail to the help desk, as a mail program writes it."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = DESK
    mail["Subject"] = subject
    mail["Message-ID"] = message_id or make_msgid(domain="example.net")
    for name, value in (headers or {}).items():
        mail[name] = value
    if html is not None and body:
        mail.set_content(body)
        mail.add_alternative(html, subtype="html")
    elif html is not None:
        mail.set_content(html, subtype="html")
    else:
        mail.set_content(body)
    return mail


@dataclass
class Gateway:
    """The SMTP listener of a help desk, on a loopback port, and what it wrote."""

    port: int
    settings: InboundSettings
    inbox: Inbox
    harness: Harness
    pm: PluginManager

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.harness.sessions

    def send_now(self, mail: EmailMessage, *, mail_from: str | None = None, to: str = DESK) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            client.send_message(mail, from_addr=mail_from, to_addrs=[to])

    async def send(self, mail: EmailMessage, **options: Any) -> None:
        """Send ``mail`` over SMTP: a blocking client in a thread of the clients' own (the
        listener is on this loop, and its database work needs the loop's default threads)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(CLIENTS, functools.partial(self.send_now, mail, **options))

    def read(self) -> Session:
        return make_read_session_factory(self.sessions.kw["bind"])()

    def records(self) -> list[InboundMessage]:
        with self.read() as db:
            return list(db.scalars(select(InboundMessage).order_by(InboundMessage.id)))

    def record(self, message_id: str) -> InboundMessage:
        with self.read() as db:
            return db.scalars(select(InboundMessage).filter_by(message_id=message_id)).one()

    async def signals(self, item: WorkItem) -> int:
        """How many signals the item's run received (its history's signalled events)."""
        handle = self.harness.client.get_workflow_handle(item.workflow_id or "")
        events = [event async for event in handle.fetch_history_events()]
        return sum(e.HasField("workflow_execution_signaled_event_attributes") for e in events)

    def person(self, email: str, name: str, roles: set[str]) -> int:
        """A person with ``roles`` (staff: ``{"agent"}``), their id."""
        with self.sessions.begin() as db:
            return add_person(db, person_details(name=name, email=email, roles=roles)).id

    def items(self) -> list[WorkItem]:
        with self.read() as db:
            return list(db.scalars(select(WorkItem).order_by(WorkItem.id)))

    def comments(self, item_id: int) -> list[tuple[str, bool, int | None]]:
        with self.read() as db:
            rows = db.scalars(select(Comment).filter_by(work_item_id=item_id).order_by(Comment.id))
            return [(c.body, c.public, c.author_id) for c in rows]

    def files(self, item_id: int) -> list[InboundAttachment]:
        with self.read() as db:
            query = select(InboundAttachment).filter_by(work_item_id=item_id)
            return list(db.scalars(query.order_by(InboundAttachment.id)))

    async def status(self, item_id: int, status: str) -> WorkItem:
        """The item once its run has set ``status``."""
        for _ in range(300):
            with self.read() as db:
                item = db.get(WorkItem, item_id)
                if item is not None and item.status == status:
                    return item
            await asyncio.sleep(0.05)
        raise AssertionError(f"work item {item_id} never became {status}")


def inbound_settings(**overrides: Any) -> InboundSettings:
    return InboundSettings(
        **{
            "smtp_port": free_port(),
            "addresses": [DESK],
            "domains": ["desk.example.org"],
            "request_type": "mail_ticket",
            "per_sender_per_hour": 4,
            "per_sender_per_day": 8,
            "max_attachment_bytes": 64 * 1024,
            "max_message_bytes": 1024 * 1024,
        }
        | overrides
    )


@contextlib.asynccontextmanager
async def listening(
    harness: Harness,  # noqa: F811 (the fixture)
    *,
    inbox_class: type[Inbox] = Inbox,
    types: dict[str, RequestType] = TYPES,
    **overrides: Any,
) -> AsyncIterator[Gateway]:
    """A listener of ``inbox_class`` with the settings ``overrides``, on a port of its own."""
    settings = inbound_settings(**overrides)
    pm = create_plugin_manager(entry_points=False)
    runtime = Runtime(harness.client, harness.queue)
    inbox = inbox_class(settings, pm, harness.sessions, runtime, types)
    listener = SmtpListener(settings, inbox)
    await listener.start()
    try:
        yield Gateway(settings.smtp_port, settings, inbox, harness, pm)
    finally:
        await listener.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(harness: Harness) -> AsyncIterator[Gateway]:  # noqa: F811 (the fixture above)
    """The listener, its runs on the time-skipping server, the workflow deployed."""
    harness.deploy(FLOW)
    async with listening(harness) as found:
        yield found


# ------------------------------------------------------------------ dovecot ---


@dataclass(frozen=True)
class Dovecot:
    """A private Dovecot IMAP server on loopback: one user, maildir under a temporary folder."""

    port: int
    """IMAP, with STARTTLS offered."""
    tls_port: int
    """IMAP over TLS from the first byte."""
    username: str
    password: str
    ca_file: str
    """The server's self-signed certificate (for 127.0.0.1), to trust."""


DOVECOT = "/usr/sbin/dovecot"
CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """``dovecot -F -c <conf>`` with a config of its own (root runs it as Debian's dovecot
    and dovenull users, anyone else as themselves); stopped after the test.

    Its folder is made in the system's temporary folder, not pytest's: Dovecot's
    unprivileged processes must be able to reach it, and pytest's is private to its owner.
    """
    if not os.path.exists(DOVECOT):
        pytest.fail(f"{DOVECOT} is missing: apt-get install dovecot-imapd (.ci/run does)")
    root = Path(tempfile.mkdtemp(prefix="tierflow-dovecot-"))
    me = pwd.getpwuid(os.getuid())
    if os.getuid() == 0:  # Dovecot refuses to run its login and mail processes as root
        mail_user, login = pwd.getpwnam("dovecot"), "dovenull"
    else:
        mail_user, login = me, me.pw_name
    for folder in ("mail", "home"):
        (root / folder).mkdir()
        os.chown(root / folder, mail_user.pw_uid, mail_user.pw_gid)
    root.chmod(0o755)
    (root / "passwd").write_text("helpdesk:{PLAIN}mail-secret-1::::::\n")
    self_signed_certificate(root)
    port, tls_port = free_port(), free_port()
    (root / "dovecot.conf").write_text(
        CONFIG.format(
            root=root,
            port=port,
            tls_port=tls_port,
            internal=mail_user.pw_name,
            group=grp.getgrgid(mail_user.pw_gid).gr_name,
            login=login,
            uid=mail_user.pw_uid,
            gid=mail_user.pw_gid,
        )
    )
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")])
    try:
        _wait_for_port(port, process, root / "dovecot.log")
        yield Dovecot(port, tls_port, "helpdesk", "mail-secret-1", str(root / "cert.pem"))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise AssertionError(f"dovecot exited ({process.returncode}): {_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"dovecot did not answer on port {port}: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text()[-2000:] if log.exists() else "(no log)"
