"""The task pages: the inbox and its filters, claiming and giving back, and the task form."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from engine.config import Settings, secret_key
from engine.db import make_read_session_factory
from engine.dsl.pinning import pinned_hash, shared_forms_json
from engine.model import Membership, Person, Task, Team, WorkflowDefinition
from engine.model import auth as credentials
from engine.plugins import create_plugin_manager
from engine.web.app import create_app
from engine.web.auth import SESSION_COOKIE
from engine.web.csrf import session_token
from engine.web.temporal import TemporalLink
from tests.interpreter.conftest import harness, time_skipping  # noqa: F401 (fixtures)
from tests.interpreter.test_completion import _started
from tests.interpreter.test_steps import TRIAGE
from tests.web.conftest import form_token, sign_in


@dataclass
class World:
    ann: Person
    bob: Person
    helpdesk: Team
    other: Team
    mine_late: Task
    queued: Task
    elsewhere: Task
    form_task: Task


@pytest.fixture
def world(session: Session, make_person, make_team, make_work_item) -> World:
    """Ann and Bob, agents of the help desk; tasks in its queue, Ann's, and another team's."""
    ann = make_person(name="Ann Agent", roles={"agent"})
    bob = make_person(name="Bob Agent", roles={"agent"})
    helpdesk, other = make_team(name="Help desk"), make_team(name="Other team")
    session.add_all(Membership(team_id=helpdesk.id, person_id=p.id) for p in (ann, bob))
    forms = shared_forms_json({})
    definition = WorkflowDefinition(
        name="triage_flow", version="1", content_hash=pinned_hash(TRIAGE, forms), source=TRIAGE,
        shared_forms=forms, kind="ticket", active=True,
    )  # fmt: skip
    session.add(definition)
    session.flush()
    now = datetime.now(UTC)

    def task(reference: str, title: str, **columns) -> Task:
        item = make_work_item(
            reference=reference, title=f"{title} item", definition_id=definition.id, priority=2
        )
        row = Task(
            work_item_id=item.id, workflow_id=f"triage_flow/{reference}", step_id="triage",
            title=title, **columns,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row

    world = World(
        ann=ann,
        bob=bob,
        helpdesk=helpdesk,
        other=other,
        mine_late=task(
            "INC-0001",
            "Late one",
            team_id=helpdesk.id,
            assignee_id=ann.id,
            due_at=now - timedelta(hours=2),
        ),
        queued=task(
            "INC-0002", "Waiting one", team_id=helpdesk.id, due_at=now + timedelta(hours=2)
        ),
        elsewhere=task("INC-0003", "Foreign one", team_id=other.id),
        form_task=task(
            "INC-0004", "Triage printer", team_id=helpdesk.id, assignee_id=ann.id, form="triage"
        ),
    )
    session.commit()
    return world


def assignee(client: TestClient, task: Task) -> int | None:
    """The task's assignee now, read without taking SQLite's write lock."""
    with make_read_session_factory(client.app.state.db)() as db:
        return db.scalar(select(Task.assignee_id).filter_by(id=task.id))


def test_the_inbox_is_empty_for_someone_without_tasks(
    client: TestClient, make_person, session: Session
) -> None:
    assert client.get("/tasks").status_code in (302, 303)
    nobody = make_person(roles=())
    session.commit()
    sign_in(client, nobody)
    page = client.get("/tasks")
    assert page.status_code == 200
    assert "<h1>For my role</h1>" in page.text  # in no team: their role's queue first
    assert "No tasks match." in page.text
    assert "Team queues" not in page.text  # a member of no team has no team queue
    assert 'href="/tasks"' not in client.get("/").text  # nothing to do there: no link


def role_task(session: Session, make_work_item, requester: Person | None, role: str) -> Task:
    """An open task addressed to ``role`` (no team, nobody holding it) on a new item."""
    item = make_work_item(
        reference="ACC-0001", title="Access to the payroll share",
        requester_id=requester.id if requester else None,
    )  # fmt: skip
    task = Task(
        work_item_id=item.id, workflow_id="access_request/ACC-0001", step_id="approval",
        title="Approve access ACC-0001", role=role,
    )  # fmt: skip
    session.add(task)
    session.commit()
    return task


def test_a_task_for_a_role_is_in_its_holders_queue(
    client: TestClient, world: World, session: Session, make_person, make_work_item
) -> None:
    """A manager finds the approval under "For my role", opens it and sees its item."""
    mia = make_person(name="Mia Manager", roles={"manager"})
    task = role_task(session, make_work_item, world.bob, "manager")
    sign_in(client, mia)
    assert 'href="/tasks"' in client.get("/").text  # managers get the link
    queue = client.get("/tasks")
    assert queue.status_code == 200
    assert "<h1>For my role</h1>" in queue.text
    assert "Approve access ACC-0001" in queue.text
    assert "Claim" not in queue.text  # nothing to claim: the role holds it
    page = client.get(f"/tasks/{task.id}")
    assert page.status_code == 200
    assert "<dt>For the role</dt><dd>manager</dd>" in page.text
    assert 'name="csrf_token"' in page.text
    assert client.get(f"/items/{task.work_item_id}").status_code == 200
    # an agent holds no manager role: not in their queue, not theirs to open
    sign_in(client, world.ann)
    assert "Approve access" not in client.get("/tasks?view=role").text
    assert client.get(f"/tasks/{task.id}").status_code == 403


def test_an_agent_with_the_role_sees_it_too(
    client: TestClient, world: World, session: Session, make_work_item
) -> None:
    ann = session.get(Person, world.ann.id)
    ann.grant("manager")
    task = role_task(session, make_work_item, world.bob, "manager")
    sign_in(client, world.ann)
    assert "<h1>My tasks</h1>" in client.get("/tasks").text  # a team member starts with theirs
    assert "Approve access ACC-0001" in client.get("/tasks?view=role").text
    assert client.get(f"/tasks/{task.id}").status_code == 200


def test_nobody_approves_their_own_request(
    client: TestClient, session: Session, make_person, make_work_item
) -> None:
    """A manager who requested the item sees its approval but may not complete it: 403."""
    mia = make_person(name="Mia Manager", roles={"manager"})
    task = role_task(session, make_work_item, mia, "manager")
    token = sign_in(client, mia)
    page = client.get(f"/tasks/{task.id}")
    assert page.status_code == 200
    own = "You requested ACC-0001 yourself, so you cannot complete its task for the manager role"
    assert own in page.text
    assert 'name="outcome"' not in page.text  # no form to fill
    reply = client.post(f"/tasks/{task.id}", data={"csrf_token": token, "outcome": "approved"})
    assert reply.status_code == 403
    assert own in reply.text
    with make_read_session_factory(client.app.state.db)() as db:
        assert db.get(Task, task.id).status == "open"


def test_agents_find_my_tasks_in_the_navigation(client: TestClient, world: World) -> None:
    sign_in(client, world.ann)
    assert 'href="/tasks"' in client.get("/").text


def test_my_tasks_lists_mine_with_overdue_in_words(client: TestClient, world: World) -> None:
    sign_in(client, world.ann)
    page = client.get("/tasks")
    assert page.status_code == 200
    assert "INC-0001" in page.text
    assert "Late one" in page.text
    assert "INC-0004" in page.text
    assert "INC-0002" not in page.text
    assert "INC-0003" not in page.text
    assert "Overdue" in page.text
    assert "Help desk" in page.text
    assert "Ann Agent" in page.text
    overdue_only = client.get("/tasks", params={"overdue": "1"})
    assert "INC-0001" in overdue_only.text
    assert "INC-0004" not in overdue_only.text
    search = client.get("/tasks", params={"q": "printer"})
    assert "INC-0004" in search.text
    assert "INC-0001" not in search.text


def test_team_queue_and_its_filters(client: TestClient, world: World) -> None:
    sign_in(client, world.ann)
    queue = client.get("/tasks", params={"view": "team"})
    assert queue.status_code == 200
    assert "INC-0002" in queue.text
    assert "INC-0001" in queue.text
    assert "INC-0003" not in queue.text  # not Ann's team
    unassigned = client.get(
        "/tasks", params={"view": "team", "team": world.helpdesk.id, "unassigned": "1"}
    )
    assert "INC-0002" in unassigned.text
    assert "INC-0001" not in unassigned.text
    assert 'aria-label="Claim task' in unassigned.text
    foreign = client.get("/tasks", params={"view": "team", "team": world.other.id})
    assert foreign.status_code == 400
    assert "not a member" in foreign.text


def test_next_page_link_follows_the_cursor(
    client: TestClient, world: World, session: Session
) -> None:
    item = world.queued.work_item_id
    session.add_all(
        Task(work_item_id=item, workflow_id="triage_flow/x", step_id="triage", title=f"Bulk {n}",
             team_id=world.helpdesk.id, occurrence=n + 2)
        for n in range(60)
    )  # fmt: skip
    session.commit()
    sign_in(client, world.ann)
    first = client.get("/tasks", params={"view": "team", "sort": "-created", "q": "Bulk"})
    found = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    assert first.status_code == 200
    assert found
    link = html.unescape(found.group(1))
    assert "view=team" in link
    assert "q=Bulk" in link
    assert "after=" in link
    second = client.get("/tasks" + link)
    assert second.status_code == 200
    assert 'rel="next"' not in second.text
    shown = re.findall(r">Bulk (\d+)<", first.text) + re.findall(r">Bulk (\d+)<", second.text)
    assert sorted(map(int, shown)) == list(range(60))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": "colour"}, "sort"),
        ({"view": "everything"}, "unknown view"),
        ({"after": "not-a-cursor"}, ""),
        ({"view": "team", "team": "x"}, "not a team id"),
    ],
)
def test_bad_filters_are_400_with_the_message(
    client: TestClient, world: World, params: dict, message: str
) -> None:
    sign_in(client, world.ann)
    page = client.get("/tasks", params=params)
    assert page.status_code == 400
    assert 'role="alert"' in page.text
    assert message in page.text


def test_claim_and_give_back(client: TestClient, world: World, session: Session) -> None:
    sign_in(client, world.ann)
    queue = client.get("/tasks", params={"view": "team", "unassigned": "1"})
    token = form_token(queue.text)
    done = client.post(
        f"/tasks/{world.queued.id}/claim",
        data={"csrf_token": token, "back": "view=team&unassigned=1"},
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith("/tasks?view=team&unassigned=1&claimed=")
    assert assignee(client, world.queued) == world.ann.id
    shown = client.get(done.headers["location"])
    assert f"You claimed task {world.queued.id}" in shown.text

    back = client.post(f"/tasks/{world.queued.id}/unassign", data={"csrf_token": token})
    assert back.status_code == 303
    assert "unassigned_task=" in back.headers["location"]
    assert assignee(client, world.queued) is None


def test_claim_refusals_are_pages_not_errors(
    client: TestClient, world: World, session: Session
) -> None:
    token = sign_in(client, world.bob)
    taken = client.post(f"/tasks/{world.mine_late.id}/claim", data={"csrf_token": token})
    assert taken.status_code == 409
    assert "Ann Agent" in taken.text
    foreign = client.post(f"/tasks/{world.elsewhere.id}/claim", data={"csrf_token": token})
    assert foreign.status_code == 403
    not_his = client.post(f"/tasks/{world.mine_late.id}/unassign", data={"csrf_token": token})
    assert not_his.status_code == 403
    assert client.post("/tasks/999999/claim", data={"csrf_token": token}).status_code == 404
    no_token = client.post(f"/tasks/{world.queued.id}/claim")
    assert no_token.status_code == 403
    assert assignee(client, world.queued) is None


def test_the_task_form(client: TestClient, world: World) -> None:
    sign_in(client, world.ann)
    page = client.get(f"/tasks/{world.form_task.id}")
    assert page.status_code == 200
    assert "Triage printer" in page.text
    assert "INC-0004" in page.text
    assert '<label for="' in page.text
    assert 'name="note"' in page.text
    assert 'name="outcome" value="resolved"' in page.text
    assert 'name="csrf_token"' in page.text


def test_the_task_form_is_for_its_team_only(client: TestClient, world: World) -> None:
    sign_in(client, world.ann)
    assert client.get(f"/tasks/{world.elsewhere.id}").status_code == 403
    assert client.get("/tasks/999999").status_code == 404


def test_mistakes_come_back_with_422_input_kept(client: TestClient, world: World) -> None:
    token = sign_in(client, world.ann)
    reply = client.post(
        f"/tasks/{world.form_task.id}", data={"csrf_token": token, "note": "", "outcome": "maybe"}
    )
    assert reply.status_code == 422
    assert 'aria-invalid="true"' in reply.text
    assert "Please correct" in reply.text
    assert "Choose an outcome" in reply.text
    kept = client.post(
        f"/tasks/{world.form_task.id}",
        data={"csrf_token": token, "note": "<kept & typed>", "outcome": "maybe"},
    )
    assert kept.status_code == 422
    assert "&lt;kept &amp; typed&gt;" in kept.text


def test_a_closed_task_is_a_clear_conflict(
    client: TestClient, world: World, session: Session
) -> None:
    task = session.get(Task, world.form_task.id)
    task.status, task.completed_by_id = "completed", world.bob.id
    session.commit()
    token = sign_in(client, world.ann)
    page = client.get(f"/tasks/{world.form_task.id}")
    assert "already completed by Bob Agent" in page.text
    reply = client.post(
        f"/tasks/{world.form_task.id}",
        data={"csrf_token": token, "note": "x", "outcome": "resolved"},
    )
    assert reply.status_code == 409
    assert "already completed by Bob Agent" in reply.text


def test_without_temporal_nothing_is_saved_and_input_is_kept(
    client: TestClient, world: World
) -> None:
    token = sign_in(client, world.ann)
    reply = client.post(
        f"/tasks/{world.form_task.id}",
        data={"csrf_token": token, "note": "keep me", "outcome": "resolved"},
    )
    assert reply.status_code == 503
    assert "keep me" in reply.text


# ------------------------------------------------ completing, on Temporal ---


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(60)
async def test_completing_a_task_records_it_and_confirms(
    harness,  # noqa: F811 (the fixture imported above)
    tmp_path,
) -> None:
    """On the time-skipping test server: the form posted, the run's update, the confirmation."""
    with harness.sessions.begin() as db:  # a member before the task opens: it lists who may
        team = Team(slug="helpdesk-l1", name="Help desk L1")
        ann = Person(email="ann@example.org", name="Ann Agent")
        ann.grant("agent")
        db.add_all([team, ann])
        db.flush()
        db.add(Membership(team_id=team.id, person_id=ann.id))
        session_id = credentials.start_session(db, ann.id)
        ann_id = ann.id
    _, task_id = await _started(harness)
    with harness.sessions.begin() as db:
        reference = f"INC-{task_id:05d}"
        db.get(Task, task_id).work_item.reference = reference
    settings = Settings(data_dir=tmp_path, task_queue=harness.queue)
    app = create_app(
        settings,
        create_plugin_manager(entry_points=False),
        db=harness.sessions.kw["bind"],
        temporal=TemporalLink(client=harness.client),
    )
    token = session_token(secret_key(settings), session_id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies={SESSION_COOKIE: session_id}
    ) as browser:
        page = await browser.get(f"/tasks/{task_id}")
        assert page.status_code == 200
        assert 'name="note"' in page.text
        reply = await browser.post(
            f"/tasks/{task_id}",
            data={"csrf_token": token, "note": "fixed the VPN", "outcome": "resolved"},
        )
        assert reply.status_code == 303, reply.text
        assert reply.headers["location"] == f"/tasks?done={reference}"
        shown = await browser.get(reply.headers["location"])
        assert f"Task completed for {reference}" in shown.text
        again = await browser.post(
            f"/tasks/{task_id}", data={"csrf_token": token, "note": "x", "outcome": "resolved"}
        )
        assert again.status_code == 409
        assert "already completed by Ann Agent" in again.text
    with make_read_session_factory(harness.sessions.kw["bind"])() as db:
        done = db.get(Task, task_id)
        assert (done.status, done.outcome, done.completed_by_id) == (
            "completed",
            "resolved",
            ann_id,
        )
        assert done.data == {"note": "fixed the VPN"}
