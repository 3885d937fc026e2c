"""The help desk asks the requester; the requester's answer from their page resumes the ticket.

On the real dev server: L1 triage asks a question (``need_info``), the ticket
waits for the requester (status ``waiting``, the SLA clock paused); the
requester, on the ticket's page, is offered "Reply to the help desk" and
answers; the run resumes the clock, the status is ``open`` again and the help
desk has a new triage task. The answer is the requester's public comment.
"""

from __future__ import annotations

import httpx2 as httpx
from sqlalchemy import select
from starlette.applications import Starlette

from engine.config import secret_key
from engine.model import Comment
from engine.model import auth as credentials
from engine.web.auth import SESSION_COOKIE
from engine.web.csrf import session_token
from engine.web.temporal import TemporalLink
from tests.helpdesk.test_lifecycle_live import ALICE, HANNAH, Desk, desk, pytestmark  # noqa: F401
from tests.web.conftest import MakeApp, make_app  # noqa: F401 (fixture)

REPLY = "reply to the help desk"


async def test_the_requester_answers_from_the_page_and_the_ticket_resumes(
    desk: Desk,  # noqa: F811 (the fixture imported above)
    make_app: MakeApp,  # noqa: F811
) -> None:
    item = await desk.submit("incident", {
        "summary": "Scanner on floor 2 is offline", "details": "Since this morning.",
        "impact": "low", "urgency": "medium",
    })  # fmt: skip
    await desk.complete(item, "triage", HANNAH, "need_info", {
        "category": "hardware", "diagnosis": "Could not reach it.",
        "question": "Which scanner: the one by the window or by the door?",
    })  # fmt: skip
    state = await desk.settled(item, "sla_paused")
    assert state["status"] == "waiting"
    assert state["owner"] == "helpdesk-l1"

    app: Starlette = make_app(entry_points=True, task_queue=desk.runtime.task_queue)
    app.state.temporal = TemporalLink(client=desk.client)
    alice = desk.person(ALICE)
    with desk.sessions.begin() as session:
        session_id = credentials.start_session(session, alice)
    token = session_token(secret_key(app.state.settings), session_id)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: session_id},
    ) as browser:
        page = await browser.get(f"/items/{item}")
        assert "<strong>waiting</strong>" in page.text
        assert "Reply to the help desk" in page.text
        reply = await browser.post(
            f"/items/{item}/signals/requester_replied",
            data={"csrf_token": token, "comment": "The one by the window."},
        )
        assert reply.status_code == 303, reply.text

    state = await desk.settled(item, "sla_resumed")
    second_triage = await desk.task(item, "triage")
    assert second_triage.occurrence == 2
    state = desk.state(item)
    assert state["status"] == "open"
    assert [(e["field"], e["to"]) for e in _status_changes(state)][-2:] == [
        ("status", "waiting"),
        ("status", "open"),
    ]
    with desk.sessions() as session:
        comments = session.scalars(select(Comment).filter_by(work_item_id=item)).all()
        assert [(c.body, c.public, c.author_id) for c in comments] == [
            ("The one by the window.", True, alice)
        ]


def _status_changes(state: dict) -> list[dict]:
    return [
        data
        for kind, data, _ in state["events"]
        if kind == "status_changed" and data.get("field") == "status"
    ]
