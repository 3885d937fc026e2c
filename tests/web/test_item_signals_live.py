"""A requester's reply from the work item page reaches the run, on Temporal's time-skipping server.

The run resolves its item and waits for ``requester_replied`` (or five days);
the requester, seeing the item resolved, replies through the page; the run
takes the reopen branch, the reply is a public comment and a ``signalled``
event, and a second reply is refused because the item is no longer resolved.
"""

from __future__ import annotations

import asyncio

import httpx2 as httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.config import secret_key
from engine.db import make_read_session_factory
from engine.model import Comment, Event, WorkflowDefinition, WorkItem
from engine.model import auth as credentials
from engine.web.auth import SESSION_COOKIE
from engine.web.csrf import session_token
from engine.web.temporal import TemporalLink
from tests.interpreter.conftest import harness, time_skipping  # noqa: F401 (fixtures)
from tests.web.conftest import MakeApp

FLOW = """
name: reply_live
kind: ticket
forms:
  reply:
    fields:
      - {name: comment, type: textarea, label: What is still wrong?, required: true}
signals:
  requester_replied:
    label: Not fixed? Reply
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


async def until_status(harness, item_id: int, status: str) -> None:  # noqa: F811
    for _ in range(200):
        with make_read_session_factory(harness.sessions.kw["bind"])() as db:
            if db.get(WorkItem, item_id).status == status:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"work item {item_id} never became {status}")


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(60)
async def test_a_requester_reply_from_the_page_reopens_through_the_run(
    harness,  # noqa: F811 (the fixture imported above)
    make_app: MakeApp,
    session: Session,
    make_person,
) -> None:
    rita = make_person(name="Rita Requester", roles={"requester"})
    session_id = credentials.start_session(session, rita.id)
    session.commit()
    handle = await harness.start(FLOW)
    with harness.sessions.begin() as db:
        item = db.scalars(select(WorkItem).order_by(WorkItem.id.desc())).first()
        definition = db.scalars(select(WorkflowDefinition).filter_by(name="reply_live")).one()
        item.requester_id, item.workflow_id = rita.id, handle.id
        item.definition_id, item_id = definition.id, item.id
    await until_status(harness, item_id, "resolved")
    app = make_app(task_queue=harness.queue)
    app.state.temporal = TemporalLink(client=harness.client)
    token = session_token(secret_key(app.state.settings), session_id)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: session_id},
    ) as browser:
        page = await browser.get(f"/items/{item_id}")
        assert "Not fixed? Reply" in page.text
        path = f"/items/{item_id}/signals/requester_replied"
        reply = await browser.post(
            path, data={"csrf_token": token, "comment": "Still black after docking."}
        )
        assert reply.status_code == 303, reply.text
        assert (await handle.result())["outcome"] == "reopened"
        await until_status(harness, item_id, "reopened")
        again = await browser.post(path, data={"csrf_token": token, "comment": "And again."})
    assert again.status_code == 409  # no longer resolved: the signal is not offered now
    with make_read_session_factory(harness.sessions.kw["bind"])() as db:
        comments = db.scalars(select(Comment).filter_by(work_item_id=item_id)).all()
        assert [(c.body, c.public, c.author_id) for c in comments] == [
            ("Still black after docking.", True, rita.id)
        ]
        signalled = (
            select(func.count())
            .select_from(Event)
            .filter_by(work_item_id=item_id, type="signalled")
        )
        assert db.scalar(signalled) == 1
