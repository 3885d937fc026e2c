"""The work item page: who sees what, the timeline, comments, open tasks and cancelling."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from engine.config import secret_key
from engine.db import make_read_session_factory
from engine.dsl.pinning import pinned_hash, shared_forms_json
from engine.model import Comment, Event, Membership, Person, Task, Team, WorkItem
from engine.model import auth as credentials
from engine.model.definitions import WorkflowDefinition
from engine.runtime.client import Runtime
from engine.web.auth import SESSION_COOKIE
from engine.web.csrf import session_token
from engine.web.item_page import custom_fields, intake_form
from engine.web.temporal import TemporalLink
from engine.web.timeline import Names, for_requester, sentence
from tests.interpreter.conftest import harness, time_skipping  # noqa: F401 (fixtures)
from tests.interpreter.test_completion import _started
from tests.web.conftest import MakeApp, sign_in

PRINTER = """
name: printer_flow
kind: ticket
start: {form: report}
forms:
  report:
    fields:
      - {name: summary, label: "In one line, what is wrong?"}
      - name: impact
        type: choice
        label: Who is affected?
        choices: [{value: me, label: Only me}, {value: team, label: My team}]
steps:
  - id: done
    end: resolved
"""


@dataclass
class Desk:
    rita: Person  # the requester
    otto: Person  # another requester
    ann: Person  # agent of the owner team (help desk)
    dan: Person  # agent of the current team (desktop support)
    zed: Person  # agent of neither
    helpdesk: Team
    desktop: Team
    item: WorkItem
    late: Task  # desktop support's, overdue, Dan's
    queued: Task  # the help desk's, unassigned


@pytest.fixture
def desk(session: Session, make_person, make_team, make_work_item) -> Desk:
    """An escalated ticket of Rita's: owned by the help desk, worked by desktop support."""
    people = {
        "rita": make_person(name="Rita Requester", roles={"requester"}),
        "otto": make_person(name="Otto Requester", roles={"requester"}),
        "ann": make_person(name="Ann Agent", roles={"agent"}),
        "dan": make_person(name="Dan Desktop", roles={"agent"}),
        "zed": make_person(name="Zed Elsewhere", roles={"agent"}),
    }
    helpdesk = make_team(slug="helpdesk-l1", name="Help desk (L1)")
    desktop = make_team(slug="desktop-support", name="Desktop support (L2)")
    session.add(Membership(team_id=helpdesk.id, person_id=people["ann"].id))
    session.add(Membership(team_id=desktop.id, person_id=people["dan"].id))
    forms = shared_forms_json({})
    definition = WorkflowDefinition(
        name="printer_flow", version="1", content_hash=pinned_hash(PRINTER, forms),
        source=PRINTER, shared_forms=forms, kind="ticket", active=True,
    )  # fmt: skip
    session.add(definition)
    session.flush()
    item = make_work_item(
        reference="INC-00042", title="Printer jams", description="It jams on page 2.",
        status="escalated", priority=2, channel="portal", requester_id=people["rita"].id,
        owner_team_id=helpdesk.id, current_team_id=desktop.id, assignee_id=people["dan"].id,
        definition_id=definition.id,
        custom={"summary": "Printer jams", "impact": "team", "asset_tag": "PC-7"},
    )  # fmt: skip
    ann = people["ann"]
    late = Task(
        work_item_id=item.id, workflow_id="printer_flow/x", step_id="fix", title="Fix printer",
        team_id=desktop.id, assignee_id=people["dan"].id,
        due_at=datetime.now(UTC) - timedelta(hours=3),
    )  # fmt: skip
    queued = Task(
        work_item_id=item.id, workflow_id="printer_flow/x", step_id="follow_up",
        title="Follow up", team_id=helpdesk.id,
    )  # fmt: skip
    session.add_all([late, queued])
    session.flush()
    session.add_all([
        Event(work_item_id=item.id, type="created", data={"channel": "portal"}),
        Event(work_item_id=item.id, type="owner_changed",
              data={"field": "owner_team", "from": None, "to": "helpdesk-l1"}),
        Event(work_item_id=item.id, type="escalated", actor_id=ann.id,
              data={"to": "desktop-support", "reason": "needs hands on the printer"}),
        Event(work_item_id=item.id, type="task_opened",
              data={"task": late.id, "step": "fix", "team": "desktop-support"}),
        Event(work_item_id=item.id, type="commented", actor_id=ann.id, data={"public": False}),
        Event(work_item_id=item.id, type="commented", actor_id=ann.id, data={"public": True}),
        Comment(work_item_id=item.id, author_id=ann.id, body="internal note", public=False),
        Comment(work_item_id=item.id, author_id=ann.id, body="we are on it", public=True),
    ])  # fmt: skip
    session.commit()
    return Desk(**people, helpdesk=helpdesk, desktop=desktop, item=item, late=late, queued=queued)


def shown(client: TestClient, person: Person, item: WorkItem) -> str:
    """The work item page as ``person`` sees it (signed in for it)."""
    sign_in(client, person)
    page = client.get(f"/items/{item.id}")
    assert page.status_code == 200, page.text
    return page.text


def read(client: TestClient, query):
    with make_read_session_factory(client.app.state.db)() as db:
        return db.execute(query).all()


def comments(client: TestClient, item: WorkItem) -> list[tuple[str, bool]]:
    query = select(Comment.body, Comment.public).filter_by(work_item_id=item.id)
    return [tuple(row) for row in read(client, query.order_by(Comment.id))]


def events(client: TestClient, item: WorkItem) -> list[str]:
    query = select(Event.type).filter_by(work_item_id=item.id).order_by(Event.id)
    return [row[0] for row in read(client, query)]


def item_state(client: TestClient, item: WorkItem) -> tuple:
    query = select(WorkItem.status, WorkItem.closed_at).filter_by(id=item.id)
    return tuple(read(client, query)[0])


# ------------------------------------------------------------------ seeing ---


def test_a_requester_sees_their_item_with_public_comments_only(
    client: TestClient, desk: Desk
) -> None:
    text = shown(client, desk.rita, desk.item)
    assert "<h1>INC-00042: Printer jams</h1>" in text
    assert "Owner team (responsible from start to finish)</dt><dd>Help desk (L1)" in text
    assert "Current team</dt><dd>Desktop support (L2)" in text
    assert "It jams on page 2." in text
    # custom fields labelled by the intake form, choices by their label; the rest by key
    assert "<dt>In one line, what is wrong?</dt><dd>Printer jams</dd>" in text
    assert "<dt>Who is affected?</dt><dd>My team</dd>" in text
    assert "<dt>asset_tag</dt><dd>PC-7</dd>" in text
    assert "we are on it" in text
    assert "internal note" not in text
    assert "Internal comment added" not in text
    assert "Public comment added by Ann Agent" in text
    assert "Escalated to" not in text  # the staff's workings are not the requester's
    assert "Open tasks" not in text
    assert "/cancel" not in text
    assert 'name="visibility"' not in text  # a requester's comment is public
    assert 'name="csrf_token"' in text


def test_other_peoples_items_and_missing_ids_are_the_same_404(
    client: TestClient, desk: Desk
) -> None:
    assert client.get(f"/items/{desk.item.id}").status_code == 303  # sign in first
    sign_in(client, desk.otto)
    hidden = client.get(f"/items/{desk.item.id}")
    missing = client.get("/items/99999999")
    assert (hidden.status_code, missing.status_code) == (404, 404)
    said = [re.search(r'<p role="alert">(.*?)</p>', r.text).group(1) for r in (hidden, missing)]
    assert said[0].replace(f"item {desk.item.id},", "item N,") == said[1].replace(
        "item 99999999,", "item N,"
    )
    assert client.get("/items/99999999999999999999999").status_code == 404
    assert client.get("/items/0").status_code == 404
    sign_in(client, desk.zed)  # an agent of neither team
    assert client.get(f"/items/{desk.item.id}").status_code == 404


def test_an_agent_of_the_current_team_sees_internal_comments_and_tasks(
    client: TestClient, desk: Desk
) -> None:
    text = shown(client, desk.dan, desk.item)
    assert "internal note" in text
    assert "Internal</strong> (staff only)" in text
    assert "Escalated to Desktop support (L2) by Ann Agent — reason: needs hands" in text
    assert "Owner team set to Help desk (L1)" in text
    assert "Task &#39;Fix printer&#39; opened for Desktop support (L2)" in text
    assert f'<a href="/tasks/{desk.late.id}">Fix printer</a>' in text
    assert "Overdue" in text
    assert "Follow up" in text
    assert f'href="/tasks/{desk.queued.id}"' not in text  # another team's task: no link
    assert "Claim task" not in text
    assert "/cancel" not in text  # not the owner team
    assert re.search(r'<ol class="timeline">.*<time datetime="[^"]+T', text, re.S)


def test_an_agent_of_the_owner_team_may_claim_and_cancel(client: TestClient, desk: Desk) -> None:
    text = shown(client, desk.ann, desk.item)
    assert "internal note" in text
    assert f'action="/tasks/{desk.queued.id}/claim"' in text
    assert f'action="/items/{desk.item.id}/cancel"' in text
    assert '<label for="cancel-confirm">' in text


def test_inbox_and_task_page_link_to_the_item(client: TestClient, desk: Desk) -> None:
    sign_in(client, desk.dan)
    assert f'href="/items/{desk.item.id}"' in client.get("/tasks").text
    assert f'href="/items/{desk.item.id}"' in client.get(f"/tasks/{desk.late.id}").text


# ---------------------------------------------------------------- comments ---


def test_staff_comment_internal_by_default_or_public(client: TestClient, desk: Desk) -> None:
    token = sign_in(client, desk.ann)
    path = f"/items/{desk.item.id}/comments"
    done = client.post(path, data={"csrf_token": token, "body": "checked the toner"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/items/{desk.item.id}?done=commented#comments"
    client.post(path, data={"csrf_token": token, "body": "fixed soon", "visibility": "public"})
    assert comments(client, desk.item)[-2:] == [("checked the toner", False), ("fixed soon", True)]
    assert events(client, desk.item)[-2:] == ["commented", "commented"]
    shown = client.get(done.headers["location"])
    assert "Your comment was added." in shown.text
    client.post(path, data={"csrf_token": token, "body": "one\r\ntwo\r\n\r\nthree <b>"})
    lines_kept = client.get(f"/items/{desk.item.id}").text
    assert '<p class="comment-body">one<br>two</p>' in lines_kept
    assert '<p class="comment-body">three &lt;b&gt;</p>' in lines_kept


def test_a_requesters_comment_is_always_public(client: TestClient, desk: Desk) -> None:
    token = sign_in(client, desk.rita)
    reply = client.post(
        f"/items/{desk.item.id}/comments",
        data={"csrf_token": token, "body": "still jams", "visibility": "internal"},
    )
    assert reply.status_code == 303
    assert comments(client, desk.item)[-1] == ("still jams", True)


def test_comment_mistakes_are_422_with_the_input_kept(client: TestClient, desk: Desk) -> None:
    token = sign_in(client, desk.ann)
    path = f"/items/{desk.item.id}/comments"
    before = comments(client, desk.item)
    empty = client.post(path, data={"csrf_token": token, "body": "   ", "visibility": "public"})
    assert empty.status_code == 422
    assert 'id="comment-body-error"' in empty.text
    assert "Write something." in empty.text
    assert 'aria-invalid="true"' in empty.text
    assert 'value="public" checked' in empty.text  # the choice is kept too
    long = "x" * 20_001
    too_long = client.post(path, data={"csrf_token": token, "body": long})
    assert too_long.status_code == 422
    assert "At most 20000 characters (20001 given)." in too_long.text
    assert f">{long}</textarea>" in too_long.text
    nul = client.post(path, data={"csrf_token": token, "body": "a\x00b"})
    assert nul.status_code == 422
    assert "Remove the NUL character" in nul.text
    odd = client.post(path, data={"csrf_token": token, "body": "hi", "visibility": "secret"})
    assert odd.status_code == 422
    assert "Choose whether the comment is internal or public." in odd.text
    assert comments(client, desk.item) == before


def test_comments_need_the_csrf_token_and_a_visible_item(client: TestClient, desk: Desk) -> None:
    token = sign_in(client, desk.otto)
    before = (comments(client, desk.item), events(client, desk.item))
    path = f"/items/{desk.item.id}/comments"
    assert client.post(path, data={"csrf_token": token, "body": "mine?"}).status_code == 404
    assert client.post("/items/99999999999/comments", data={"csrf_token": token}).status_code == 404
    sign_in(client, desk.rita)
    refused = client.post(path, data={"body": "no token"})
    assert refused.status_code == 403
    assert (comments(client, desk.item), events(client, desk.item)) == before


def test_what_people_typed_comes_back_escaped(
    client: TestClient, desk: Desk, session: Session
) -> None:
    evil = "<script>alert(1)</script>"
    item = session.get(WorkItem, desk.item.id)
    item.title, item.description = evil, evil
    item.custom = {"summary": evil, evil: "key"}
    session.add(Comment(work_item_id=item.id, author_id=desk.rita.id, body=evil, public=True))
    session.add(Event(work_item_id=item.id, type=evil, data={evil: evil}))
    session.commit()
    text = shown(client, desk.ann, desk.item)
    assert "<script>" not in text
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6


# ------------------------------------------------------------------ cancel ---


def test_only_the_owner_team_and_admins_may_cancel(
    client: TestClient, desk: Desk, make_person, session: Session
) -> None:
    admin = make_person(name="Ada Admin", roles={"admin"})
    session.commit()
    assert f'action="/items/{desk.item.id}/cancel"' in shown(client, admin, desk.item)
    for person in (desk.rita, desk.dan):
        token = sign_in(client, person)
        reply = client.post(
            f"/items/{desk.item.id}/cancel", data={"csrf_token": token, "confirm": "yes"}
        )
        assert reply.status_code == 403
        assert "owner team (Help desk (L1))" in reply.text
    token = sign_in(client, desk.ann)
    unconfirmed = client.post(
        f"/items/{desk.item.id}/cancel", data={"csrf_token": token, "reason": "dup of 41"}
    )
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm" in unconfirmed.text
    assert ">dup of 41</textarea>" in unconfirmed.text
    nul = client.post(
        f"/items/{desk.item.id}/cancel",
        data={"csrf_token": token, "confirm": "yes", "reason": "\x00"},
    )
    assert nul.status_code == 422
    assert "Remove the NUL character" in nul.text
    no_token = client.post(f"/items/{desk.item.id}/cancel", data={"confirm": "yes"})
    assert no_token.status_code == 403
    assert item_state(client, desk.item) == ("escalated", None)


def test_cancel_with_temporal_down_changes_nothing(
    client: TestClient, desk: Desk, session: Session
) -> None:
    session.get(WorkItem, desk.item.id).workflow_id = "printer_flow/x"
    session.commit()
    before = events(client, desk.item)
    token = sign_in(client, desk.ann)
    reply = client.post(
        f"/items/{desk.item.id}/cancel",
        data={"csrf_token": token, "confirm": "yes", "reason": "keep me"},
    )
    assert reply.status_code == 503
    assert "cannot be reached" in reply.text
    assert "nothing was changed" in reply.text
    assert ">keep me</textarea>" in reply.text
    assert item_state(client, desk.item) == ("escalated", None)
    assert events(client, desk.item) == before


def test_cancelling_an_item_without_a_run_closes_it_once(client: TestClient, desk: Desk) -> None:
    token = sign_in(client, desk.ann)
    path = f"/items/{desk.item.id}/cancel"
    reply = client.post(path, data={"csrf_token": token, "confirm": "yes", "reason": "duplicate"})
    assert reply.status_code == 303
    status, closed_at = item_state(client, desk.item)
    assert status == "cancelled"
    assert closed_at is not None
    assert events(client, desk.item)[-3:] == ["cancelled", "status_changed", "status_changed"]
    page = client.get(reply.headers["location"]).text
    assert "The work item is cancelled" in page
    assert "Cancelled by Ann Agent — reason: duplicate" in page
    assert "Status changed from escalated to cancelled by Ann Agent" in page
    assert "Closed by Ann Agent" in page
    assert 'action="/items/' + str(desk.item.id) + '/cancel"' not in page
    again = client.post(path, data={"csrf_token": token, "confirm": "yes"})
    assert again.status_code == 409
    assert "already cancelled" in again.text
    rita_sees = shown(client, desk.rita, desk.item)
    assert "Cancelled by Ann Agent — reason: duplicate" in rita_sees


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(60)
async def test_cancelling_a_running_item_ends_its_run_and_closes_its_tasks(
    harness,  # noqa: F811 (the fixture imported above)
    make_app: MakeApp,
    session: Session,
    make_person,
    make_team,
) -> None:
    """On the time-skipping test server: the run is cancelled, its open task closed."""
    owners = make_team(slug="helpdesk-l1", name="Help desk (L1)")  # before the task opens
    ann = make_person(name="Ann Agent", roles={"agent"})
    session.add(Membership(team_id=owners.id, person_id=ann.id))
    team_id, session_id = owners.id, credentials.start_session(session, ann.id)
    session.commit()
    _, task_id = await _started(harness)
    with harness.sessions.begin() as db:
        task = db.get(Task, task_id)
        item = task.work_item
        item.workflow_id, item.owner_team_id, item.status = task.workflow_id, team_id, "open"
        item.reference = f"INC-{item.id:05d}"
        item_id, workflow_id = item.id, task.workflow_id
    app = make_app(task_queue=harness.queue)
    app.state.temporal = TemporalLink(client=harness.client)  # the test server, not a closed port
    token = session_token(secret_key(app.state.settings), session_id)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: session_id},
    ) as browser:
        before = await browser.get(f"/items/{item_id}")
        assert f'action="/tasks/{task_id}/claim"' in before.text
        reply = await browser.post(
            f"/items/{item_id}/cancel",
            data={"csrf_token": token, "confirm": "yes", "reason": "sent by mistake"},
        )
        assert reply.status_code == 303, reply.text
        state = await Runtime(harness.client, harness.queue).describe(workflow_id)
        assert state.status == "canceled"  # Temporal's spelling
        page = (await browser.get(reply.headers["location"])).text
    assert "<strong>cancelled</strong>" in page
    assert "Task &#39;Triage VPN down&#39; cancelled — reason: no longer needed" in page
    assert "No open tasks." in page
    with make_read_session_factory(harness.sessions.kw["bind"])() as db:
        assert db.get(Task, task_id).status == "cancelled"
        assert db.get(WorkItem, item_id).status == "cancelled"
        cancelled = select(func.count()).select_from(Event).filter_by(type="cancelled")
        assert db.scalar(cancelled.filter_by(work_item_id=item_id)) == 1


# ------------------------------------------------- timeline and fields (pure) ---

NAMES = Names(
    teams={"helpdesk-l1": "Help desk (L1)", "desktop-support": "Desktop support (L2)"},
    people={"hannah.lee@example.org": "Hannah Lee"},
    tasks={7: "Triage"},
)


@pytest.mark.parametrize(
    ("type", "data", "actor", "expected"),
    [
        ("created", {"channel": "portal"}, "Rita", "Created through the portal by Rita"),
        ("created", {"channel": "email"}, "Rita", "Created from an e-mail by Rita"),
        ("created", {"channel": "phone"}, "Hannah", "Created from a phone call by Hannah"),
        ("created", {"channel": "kiosk"}, None, "Created through the kiosk"),
        ("escalated", {"to": "desktop-support", "reason": "disk failing"}, "Hannah Lee",
         "Escalated to Desktop support (L2) by Hannah Lee — reason: disk failing"),
        ("escalated", {"from_team": "helpdesk-l1", "to_team": "desktop-support", "from_tier": "L1",
                       "to_tier": "L2", "reason": "dock"}, "Hannah Lee",
         "Escalated to Desktop support (L2) by Hannah Lee — reason: dock"),
        ("de_escalated", {"from_team": "desktop-support", "to_team": "helpdesk-l1",
                          "reason": "a password reset"}, None,
         "De-escalated to Help desk (L1) — reason: a password reset"),
        ("status_changed", {"field": "status", "from": "open", "to": "resolved"}, None,
         "Status changed from open to resolved"),
        ("status_changed", {"field": "closed", "from": False, "to": True}, None, "Closed"),
        ("status_changed", {"field": "closed", "from": True, "to": False}, None, "Reopened"),
        ("owner_changed", {"field": "owner_team", "from": None, "to": "helpdesk-l1"}, None,
         "Owner team set to Help desk (L1)"),
        ("team_changed", {"from": "helpdesk-l1", "to": "desktop-support"}, None,
         "Current team changed from Help desk (L1) to Desktop support (L2)"),
        ("priority_changed", {"from": 3, "to": 1}, None, "Priority changed from 3 to 1"),
        ("assigned", {"from": None, "to": "hannah.lee@example.org"}, None,
         "Assigned to Hannah Lee"),
        ("assigned", {"from": "hannah.lee@example.org", "to": None}, None,
         "Unassigned (was Hannah Lee)"),
        ("updated", {"field": "title", "from": "a", "to": "b"}, None,
         "Title changed from a to b"),
        ("updated", {"field": "due_at", "from": None, "to": "2030-01-02T03:04:00+00:00"}, None,
         "Due time set to 2030-01-02 03:04 UTC"),
        ("updated", {"field": "custom", "from": {"a": 1}, "to": {"a": 2, "b": 3}}, None,
         "Fields changed: a, b"),
        ("task_opened", {"task": 7, "step": "triage", "team": "helpdesk-l1"}, None,
         "Task 'Triage' opened for Help desk (L1)"),
        ("task_opened", {"task": 8, "step": "approve", "role": "manager",
                         "due_at": "2030-01-02T03:04:00+00:00"}, None,
         "Task 'approve' opened for the manager role, due 2030-01-02 03:04 UTC"),
        ("task_completed", {"task": 7, "outcome": "resolved"}, "Hannah Lee",
         "Task 'Triage' completed by Hannah Lee — outcome: resolved"),
        ("task_cancelled", {"task": 7, "reason": "the run was cancelled"}, None,
         "Task 'Triage' cancelled — reason: the run was cancelled"),
        ("task_claimed", {"task": 7}, "Hannah Lee", "Task 'Triage' claimed by Hannah Lee"),
        ("task_unassigned", {"task": 7}, "Hannah Lee",
         "Task 'Triage' given back to its team's queue by Hannah Lee"),
        ("task_reassigned", {"task": 7, "to": {"team": "desktop-support"}}, None,
         "Task 'Triage' moved to Desktop support (L2)"),
        ("notified", {"to": "requester", "subject": "Resolved"}, None,
         "Notification sent to requester: “Resolved”"),
        ("commented", {"public": False}, "Hannah Lee", "Internal comment added by Hannah Lee"),
        ("commented", {"public": True}, "Rita", "Public comment added by Rita"),
        ("cancelled", {"reason": "duplicate"}, "Hannah Lee",
         "Cancelled by Hannah Lee — reason: duplicate"),
        ("sla_breached", {"target": "response", "late_by": [1, 2]}, None,
         "Sla breached (target: response, late_by: [1, 2])"),
        ("ping", {}, None, "Ping"),
        ("odd", ["not", "a", "mapping"], None, 'Odd (value: ["not", "a", "mapping"])'),
    ],
)  # fmt: skip
def test_each_event_reads_as_a_sentence(type, data, actor, expected) -> None:
    assert sentence(type, data, actor, NAMES) == expected


def test_long_values_are_cut_and_unknown_names_shown_as_given() -> None:
    text = sentence("escalated", {"to": "network-l3", "reason": "x" * 500})
    assert text.startswith("Escalated to network-l3 — reason: xxx")
    assert text.endswith("…")
    assert len(text) < 260


def test_requesters_see_what_happened_to_their_request_only() -> None:
    assert for_requester("created", {}, "r@x.org")
    assert for_requester("status_changed", {"field": "status"}, "r@x.org")
    assert for_requester("commented", {"public": True}, "r@x.org")
    assert not for_requester("commented", {"public": False}, "r@x.org")
    assert not for_requester("escalated", {"to": "l2"}, "r@x.org")
    assert not for_requester("task_opened", {}, "r@x.org")
    assert for_requester("notified", {"to": "requester"}, "r@x.org")
    assert for_requester("notified", {"to": "r@x.org"}, "r@x.org")
    assert not for_requester("notified", {"to": "helpdesk-l1"}, "r@x.org")


def test_custom_fields_follow_the_intake_form(session: Session, desk: Desk) -> None:
    form = intake_form(session, session.get(WorkItem, desk.item.id))
    assert form is not None
    shown = custom_fields({"other": [1, "b"], "impact": "me", "summary": None, "ok": True}, form)
    assert [(f.label, f.value) for f in shown] == [
        ("In one line, what is wrong?", "—"),
        ("Who is affected?", "Only me"),
        ("other", "1, b"),
        ("ok", "Yes"),
    ]
    assert [(f.label, f.value) for f in custom_fields({"a": {"b": 1}}, None)] == [("a", '{"b": 1}')]
    assert custom_fields("not a mapping", None) == []


@pytest.mark.parametrize(
    ("query", "notice"),
    [
        ("submitted=1", "Your request was received."),
        ("done=call_logged", "The call was logged."),
        ("done=commented", "Your comment was added."),
        ("done=%3Cscript%3E", None),
    ],
)
def test_the_page_confirms_what_brought_the_viewer_here(
    full_app, everyone, query: str, notice: str | None
) -> None:
    with TestClient(full_app, follow_redirects=False) as client:
        sign_in(client, everyone.people["requester"])
        page = client.get(f"/items/{everyone.items['own'].id}?{query}")
    assert page.status_code == 200
    if notice is None:
        assert 'role="status"' not in page.text
        assert "<script>" not in page.text
    else:
        assert notice in page.text
