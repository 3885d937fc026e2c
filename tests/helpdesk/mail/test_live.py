"""End to end: an incident worked on the real Temporal dev server, its requester's mails arriving.

The help desk's incident workflow runs as people work it (the lifecycle
tests' desk); the outbound mail service runs beside it the whole time,
holding created/status/resolved mails for a few seconds, against a real
aiosmtpd server. The requester gets exactly four mails: the receipt (in the
workflow's ``acknowledge`` words), the agent's public comment (the internal
one stays inside), the resolution (in ``tell_requester``'s words) and the
closing; each once, one thread.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.client import Client

from engine.comments import post_comment
from engine.config import Settings, secret_key
from engine.contrib import RequestType
from engine.db import make_session_factory
from engine.demo import ensure_person
from engine.model import WorkItem
from engine.plugins import create_plugin_manager, unique_by
from engine.runtime.activities import worker_activities
from engine.runtime.client import Runtime
from engine.runtime.interpreter import Interpreter
from engine.runtime.worker import build_worker
from engine.workflows import deploy_all
from plugins.helpdesk import demo
from plugins.helpdesk.mail import mail_extras
from plugins.helpdesk.mail.models import OutboxMail
from plugins.helpdesk.mail.sender import Runner, Sender
from plugins.helpdesk.survey.service import respondent
from tests.helpdesk.mail.conftest import SmtpServer, mail_settings
from tests.helpdesk.mail.test_delivery import text_of
from tests.helpdesk.test_lifecycle_live import ALICE, HANNAH, MANAGER, Desk

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(180),
    pytest.mark.slow,
]
HOLD = 8  # seconds: ample for a run to notify right after its status change


@pytest_asyncio.fixture(loop_scope="session")
async def live(temporal_client: Client, db_engine: Engine, tmp_path: Path) -> AsyncIterator[Desk]:
    pm = create_plugin_manager()
    sessions = make_session_factory(db_engine)
    with sessions.begin() as session:
        demo.load(session)
        ensure_person(session, MANAGER, name="Maria Keller", roles={"manager"}, is_staff=True)
        deployment = deploy_all(session, pm, by="test", workflows_dir=tmp_path)
    assert not deployment.problems, deployment.problems
    queue = f"mail-{uuid.uuid4()}"
    worker = build_worker(
        temporal_client, queue, activities=worker_activities(pm, sessions), workflows=[Interpreter]
    )
    types = unique_by(pm, "tierflow_register_request_types", "name", expect=RequestType)
    async with worker:
        yield Desk(temporal_client, Runtime(temporal_client, queue), pm, sessions, types)


async def test_an_incident_mails_its_requester_each_update_once(
    live: Desk, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(smtp.port, hold_seconds=HOLD)
    asks = mail_extras(Settings(data_dir=tmp_path), settings, live.sessions)
    runner = Runner(Sender(live.sessions, settings, tmp_path, extras=asks))
    assert await runner.start() == f"to 127.0.0.1:{smtp.port} (none)"
    try:
        item = await live.submit("incident", {
            "summary": "Printer on floor 3 jams", "details": "Since Monday.",
            "impact": "low", "urgency": "medium",
        })  # fmt: skip
        await live.task(item, "triage")
        agent = live.person(HANNAH)
        with live.sessions.begin() as session:
            for body, public in (("We ordered a new fuser.", True), ("Fuser is EOL", False)):
                post_comment(
                    session, live.pm, item, body=body, public=public, author_id=agent,
                    staff=True, visible=lambda _item: True,
                )  # fmt: skip
        await live.complete(item, "triage", HANNAH, "resolved", {
            "category": "hardware", "diagnosis": "Fuser unit worn (error 10.00.33).",
            "to_requester": "We replaced a worn part of the printer.",
        })  # fmt: skip
        # the help desk confirms once the requester has read the resolution mail
        assert len(await asyncio.to_thread(smtp.wait_for, 3, 4 * HOLD)) == 3
        await live.complete(item, "confirm", HANNAH, "confirmed", {"note": "Works."})
        assert (await live.ended(item))["outcome"] == "resolved"
        received = await asyncio.to_thread(smtp.wait_for, 4, 4 * HOLD)
        await asyncio.sleep(1)  # anything more would arrive now
    finally:
        await runner.stop()

    with live.sessions() as session:
        reference = session.get(WorkItem, item).reference
        rows = [(r.kind, r.state) for r in session.query(OutboxMail).order_by(OutboxMail.id)]
    assert len(smtp.received) == 4
    subjects = [str(mail["Subject"]) for mail in received]
    assert subjects == [
        f"[{reference}] New reply: Printer on floor 3 jams",  # not held: first out
        f"[{reference}] We received your request",
        f"[{reference}] Resolved",
        f"[{reference}] Now closed: Printer on floor 3 jams",
    ]
    comment, receipt, resolved, closed = received
    assert "We ordered a new fuser." in text_of(comment)
    assert "Fuser is EOL" not in "".join(text_of(mail) for mail in received)
    assert text_of(receipt).startswith("Hello Alice Moreau,\n\nwe received")
    assert 'we received "Printer on floor 3 jams" (priority' in text_of(receipt)
    # the resolution says what was done, in the words meant for the requester, not the team's
    assert text_of(resolved).startswith(
        'Hello Alice Moreau,\n\nwe believe "Printer on floor 3 jams" is fixed. What we did:\n\n'
        "We replaced a worn part of the printer.\n\nIf it is not, reply within 5 working days"
    )
    assert "error 10.00.33" not in text_of(resolved)
    # every link signs the requester in: the mail's own link to the request
    assert f"/helpdesk/open/{item}?t=" in text_of(resolved)
    # the resolution mail asks for a rating with a link that works for this requester only
    link = re.search(r"Rate our help from 1 to 5: (\S+)", text_of(resolved))
    assert link, text_of(resolved)
    token = parse_qs(urlsplit(link.group(1)).query)["t"][0]
    with live.sessions() as session:
        ticket = session.get(WorkItem, item)
        assert respondent(secret_key(Settings(data_dir=tmp_path)), ticket, token, None) == (
            ticket.requester_id
        )
    assert "is now closed." in text_of(closed)
    assert {mail["To"].addresses[0].addr_spec for mail in received} == {ALICE}
    assert len({mail["Message-ID"] for mail in received}) == 4
    assert rows == [
        ("created", "sent"), ("notice", "merged"), ("comment", "sent"),
        ("resolved", "sent"), ("notice", "merged"), ("status", "sent"),
    ]  # fmt: skip
