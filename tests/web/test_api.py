"""The JSON API: requests, work items, the task inbox, completing and commenting."""

from __future__ import annotations

import httpx2 as httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from engine.config import Settings
from engine.contrib import RequestType
from engine.db import make_read_session_factory
from engine.hookspecs import hookimpl
from engine.model import Comment, Event, Membership, Person, Task, Team, WorkItem
from engine.model.auth import issue_token
from engine.plugins import create_plugin_manager
from engine.web.app import create_app
from engine.web.temporal import TemporalLink
from tests.interpreter.conftest import harness, time_skipping  # noqa: F401 (fixtures)
from tests.interpreter.test_completion import _started
from tests.web.conftest import MakeApp, sign_in
from tests.web.test_task_pages import World, world  # noqa: F401 (fixture)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_of(session: Session, person: Person) -> dict[str, str]:
    token = issue_token(session, person.id, "test")
    session.commit()
    return bearer(token)


def count(client: TestClient, model: type) -> int:
    with make_read_session_factory(client.app.state.db)() as db:
        return db.scalar(select(func.count()).select_from(model))


def assert_error(reply, status: int) -> dict:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["status"] == status
    assert isinstance(body["error"], str)
    assert body["error"]
    return body


@pytest.fixture
def desk(world: World) -> World:  # noqa: F811 (the fixture imported above)
    """Ann and Bob of the help desk, with tasks (see tests/web/test_task_pages.py)."""
    return world


class Printers:
    @hookimpl
    def tierflow_register_request_types(self):
        return [RequestType("vpn", "VPN problem", workflow="triage_flow")]


# ------------------------------------------------------------------ access ---


def test_anonymous_calls_are_401_json(client: TestClient) -> None:
    for method, path in [
        ("POST", "/api/requests"),
        ("GET", "/api/work-items/1"),
        ("POST", "/api/work-items/1/comments"),
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks/1/complete"),
    ]:
        reply = client.request(method, path, json={})
        assert_error(reply, 401)


def test_requesters_may_not_use_the_agent_endpoints(
    client: TestClient, session: Session, make_person
) -> None:
    rita = make_person(name="Rita", roles={"requester"})
    headers = token_of(session, rita)
    assert_error(client.get("/api/tasks", headers=headers), 403)
    assert_error(client.post("/api/tasks/1/complete", json={}, headers=headers), 403)


# -------------------------------------------------------------- work items ---


@pytest.fixture
def ticket(session: Session, make_person, make_team, make_work_item) -> dict:
    rita = make_person(name="Rita Requester", roles={"requester"})
    other = make_person(name="Otto Requester", roles={"requester"})
    agent = make_person(name="Ann Agent", roles={"agent"})
    team = make_team(slug="helpdesk", name="Help desk")
    session.add(Membership(team_id=team.id, person_id=agent.id))
    item = make_work_item(
        reference="INC-00042", requester_id=rita.id, owner_team_id=team.id,
        current_team_id=team.id, assignee_id=agent.id, priority=2, custom={"summary": "VPN"},
    )  # fmt: skip
    session.add_all([
        Event(work_item_id=item.id, type="created", data={"channel": "api"}),
        Comment(work_item_id=item.id, author_id=agent.id, body="internal note", public=False),
        Comment(work_item_id=item.id, author_id=agent.id, body="we are on it", public=True),
    ])  # fmt: skip
    session.flush()
    persons = {"rita": rita, "other": other, "agent": agent}
    tokens = {name: token_of(session, person) for name, person in persons.items()}
    return {"people": tokens, "persons": persons, "item_id": item.id}


def test_a_requester_reads_their_item_without_internal_comments(
    client: TestClient, ticket: dict
) -> None:
    people = ticket["people"]
    reply = client.get(f"/api/work-items/{ticket['item_id']}", headers=people["rita"])
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["reference"] == "INC-00042"
    assert (body["status"], body["priority"]) == ("new", 2)
    assert (body["owner_team"], body["current_team"]) == ("helpdesk", "helpdesk")
    assert body["assignee"]["name"] == "Ann Agent"
    assert body["requester"]["name"] == "Rita Requester"
    assert body["fields"] == {"summary": "VPN"}
    assert [e["type"] for e in body["events"]] == ["created"]
    assert body["events"][0]["data"] == {"channel": "api"}
    assert "T" in body["events"][0]["occurred_at"]
    assert [c["body"] for c in body["comments"]] == ["we are on it"]
    as_agent = client.get(f"/api/work-items/{ticket['item_id']}", headers=people["agent"]).json()
    assert [c["body"] for c in as_agent["comments"]] == ["internal note", "we are on it"]


def test_a_requester_reads_in_the_api_exactly_the_timeline_of_their_page(
    client: TestClient, ticket: dict, session: Session
) -> None:
    """The internal audit trail (owner-team notices, escalation reasons, staff e-mails) is
    left out of the API as it is of the page: one filter decides for both."""
    rita, agent = ticket["persons"]["rita"], ticket["persons"]["agent"]
    item_id = ticket["item_id"]
    internal = [
        ("notified", {"to": "team:helpdesk", "subject": "Owner notice", "body": "SECRET body"}),
        ("escalated", {"to_team": "desktop", "reason": "SECRET reason"}),
        ("assigned", {"from": None, "to": "ann.secret@example.org"}),
        ("task_opened", {"task": 1, "step": "triage", "team": "helpdesk"}),
        ("commented", {"public": False}),
    ]
    public = [
        ("commented", {"public": True}),
        ("notified", {"to": "requester", "subject": "We are on it"}),
        ("status_changed", {"field": "status", "from": "new", "to": "open"}),
    ]
    session.add_all(
        Event(work_item_id=item_id, type=type, data=data) for type, data in [*internal, *public]
    )
    session.commit()
    events = client.get(f"/api/work-items/{item_id}", headers=ticket["people"]["rita"]).json()[
        "events"
    ]
    assert [e["type"] for e in events] == ["created", "commented", "notified", "status_changed"]
    assert "SECRET" not in str(events)
    assert "ann.secret" not in str(events)
    sign_in(client, rita)
    page = client.get(f"/items/{item_id}").text
    timeline = page.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]
    assert timeline.count("<li>") == len(events)  # the same events, one line each
    assert "SECRET" not in page
    assert "ann.secret" not in page
    staff = client.get(f"/api/work-items/{item_id}", headers=ticket["people"]["agent"]).json()
    assert len(staff["events"]) == 1 + len(internal) + len(public)  # staff see everything
    sign_in(client, agent)
    shown = client.get(f"/items/{item_id}").text.split('<ol class="timeline">', 1)[1]
    assert shown.split("</ol>", 1)[0].count("<li>") == len(staff["events"])


def test_nobody_approves_their_own_request_through_the_api(
    client: TestClient, session: Session, make_person, make_work_item
) -> None:
    boss = make_person(name="Agent Manager", roles={"agent", "manager"})
    item = make_work_item(reference="ACC-00007", requester_id=boss.id)
    task = Task(work_item_id=item.id, workflow_id="access_request/7", step_id="approval",
                title="Approve", role="manager")  # fmt: skip
    session.add(task)
    session.commit()
    reply = client.post(
        f"/api/tasks/{task.id}/complete",
        json={"outcome": "approved"},
        headers=token_of(session, boss),
    )
    refused = assert_error(reply, 403)
    assert "You requested ACC-00007 yourself" in refused["error"]


def test_someone_elses_item_and_missing_ids_are_404(client: TestClient, ticket: dict) -> None:
    other = ticket["people"]["other"]
    hidden = assert_error(client.get(f"/api/work-items/{ticket['item_id']}", headers=other), 404)
    missing = assert_error(client.get("/api/work-items/99999999", headers=other), 404)
    assert hidden["error"].replace(str(ticket["item_id"]), "N") == missing["error"].replace(
        "99999999", "N"
    )
    assert_error(client.get("/api/work-items/99999999999999999999999", headers=other), 404)
    assert_error(client.get("/api/work-items/0", headers=other), 404)


# ---------------------------------------------------------------- comments ---


def test_commenting_with_a_token_writes_the_comment_and_an_event(
    client: TestClient, ticket: dict
) -> None:
    people, item_id = ticket["people"], ticket["item_id"]
    reply = client.post(
        f"/api/work-items/{item_id}/comments",
        json={"body": "still broken", "public": True},
        headers=people["rita"],
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["body"] == "still broken"
    body = client.get(f"/api/work-items/{item_id}", headers=people["rita"]).json()
    assert body["events"][-1]["type"] == "commented"
    assert body["comments"][-1]["body"] == "still broken"


def test_commenting_with_a_session_needs_the_csrf_token(client: TestClient, ticket: dict) -> None:
    token = sign_in(client, ticket["persons"]["agent"])
    path = f"/api/work-items/{ticket['item_id']}/comments"
    before = count(client, Comment)
    refused = client.post(path, json={"body": "internal", "public": False})
    assert refused.status_code == 403
    assert count(client, Comment) == before
    reply = client.post(
        path, json={"body": "internal", "public": False}, headers={"X-CSRF-Token": token}
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["public"] is False


def test_bad_comments_are_refused(client: TestClient, ticket: dict) -> None:
    people, item_id = ticket["people"], ticket["item_id"]
    path = f"/api/work-items/{item_id}/comments"
    before = count(client, Comment)
    private = assert_error(
        client.post(path, json={"body": "psst", "public": False}, headers=people["rita"]), 422
    )
    assert private["errors"] == [{"field": "public", "message": "must be true"}]
    wrong = assert_error(
        client.post(path, json={"body": 5, "public": "yes"}, headers=people["rita"]), 422
    )
    assert {e["field"] for e in wrong["errors"]} == {"body", "public"}
    headers = people["rita"] | {"Content-Type": "application/json"}
    assert_error(client.post(path, content=b"{not json", headers=headers), 400)
    assert_error(client.post(path, content=b"\xff\xfe", headers=headers), 400)
    assert_error(client.post(path, json=["a list"], headers=people["rita"]), 400)
    for raw in (
        b'{"body": "nul \\u0000 here", "public": true}',
        b'{"body": "x", "public": true, "n": NaN}',
        b'{"body": "x", "public": true, "n": 1e999}',
        b"[" * 100_000,
    ):
        assert_error(client.post(path, content=raw, headers=headers), 400)
    assert_error(
        client.post(path, json={"body": "x", "public": True}, headers=people["other"]), 404
    )
    assert_error(
        client.post("/api/work-items/99999999999/comments", json={}, headers=people["rita"]), 404
    )
    assert count(client, Comment) == before


# ------------------------------------------------------------------- tasks ---


def test_the_task_list_is_the_viewers_teams(
    client: TestClient, desk: World, session: Session
) -> None:
    headers = token_of(session, desk.ann)
    reply = client.get("/api/tasks", headers=headers)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    references = {row["work_item"]["reference"] for row in body["items"]}
    assert references == {"INC-0001", "INC-0002", "INC-0004"}
    assert body["next"] is None
    mine = client.get("/api/tasks", params={"assignee": "me"}, headers=headers).json()
    assert {row["work_item"]["reference"] for row in mine["items"]} == {"INC-0001", "INC-0004"}
    paged = client.get("/api/tasks", params={"sort": "created"}, headers=headers).json()
    assert paged["items"]


def test_bad_task_filters_are_400_with_the_message(
    client: TestClient, desk: World, session: Session
) -> None:
    headers = token_of(session, desk.ann)
    other = assert_error(
        client.get("/api/tasks", params={"team": desk.other.slug}, headers=headers), 400
    )
    assert "not a member" in other["error"]
    assert (
        "status"
        in assert_error(client.get("/api/tasks", params={"status": "nope"}, headers=headers), 400)[
            "error"
        ]
    )
    for params in (
        {"sort": "nope"},
        {"after": "garbage"},
        {"assignee": "someone"},
        {"assignee": "9" * 30},
        {"team": "9" * 30},
    ):
        assert_error(client.get("/api/tasks", params=params, headers=headers), 400)


def test_odd_numbers_and_nul_in_task_filters_are_400_not_500(
    client: TestClient, desk: World, session: Session
) -> None:
    """Found probing beyond schemathesis's inputs: each of these answered 500 before."""
    headers = token_of(session, desk.ann)
    for params in (
        {"team": "9" * 5000},  # int() refuses more than 4300 digits
        {"assignee": "9" * 5000},
        {"team": "\u00b2"},  # '²'.isdigit() is true, int('²') fails
        {"assignee": "\u00b2"},
        {"assignee": "\u0663"},  # an Arabic-Indic three is no person id either
        {"team": "\x00"},  # PostgreSQL refuses NUL in text
        {"status": "open\x00"},
    ):
        assert_error(client.get("/api/tasks", params=params, headers=headers), 400)
    by_id = client.get("/api/tasks", params={"team": str(desk.helpdesk.id)}, headers=headers)
    assert by_id.status_code == 200, by_id.text


def test_lone_surrogates_in_a_body_are_400_not_500(
    client: TestClient, desk: World, session: Session
) -> None:
    """JSON may escape half a UTF-16 pair, which no database or response can encode."""
    headers = token_of(session, desk.ann) | {"Content-Type": "application/json"}
    item = desk.form_task.work_item_id
    for path, raw in (
        ("/api/requests", b'{"type": "\\ud800"}'),
        (f"/api/work-items/{item}/comments", b'{"body": "\\udfff broken", "public": true}'),
        (f"/api/tasks/{desk.form_task.id}/complete", b'{"outcome": "x", "data": {"\\ud800": 1}}'),
    ):
        body = assert_error(client.post(path, content=raw, headers=headers), 400)
        assert "surrogate" in body["error"]
    assert count(client, Comment) == 0
    emoji = client.post(
        "/api/requests", content=b'{"type": "\\ud83d\\ude00"}', headers=headers
    )  # a whole pair is a character: no such request type, but no 400 either
    assert_error(emoji, 404)


def test_completion_refusals(client: TestClient, desk: World, session: Session) -> None:
    headers = token_of(session, desk.ann)
    path = f"/api/tasks/{desk.form_task.id}/complete"
    json_headers = headers | {"Content-Type": "application/json"}
    assert_error(client.post(path, content=b"{", headers=json_headers), 400)
    wrong = assert_error(client.post(path, json={"outcome": 1, "data": []}, headers=headers), 422)
    assert {e["field"] for e in wrong["errors"]} == {"outcome", "data"}
    invalid = assert_error(
        client.post(path, json={"outcome": "maybe", "data": {}}, headers=headers), 422
    )
    assert {e["field"] for e in invalid["errors"]} == {"outcome", "note"}
    # another team's task on an item Ann may not see: not found, like a missing one
    assert_error(
        client.post(f"/api/tasks/{desk.elsewhere.id}/complete", json={}, headers=headers), 404
    )
    assert_error(client.post("/api/tasks/99999999/complete", json={}, headers=headers), 404)
    assert_error(client.post("/api/tasks/99999999999999/complete", json={}, headers=headers), 404)
    # valid, but Temporal is down in these tests: nothing saved
    down = client.post(path, json={"outcome": "resolved", "data": {"note": "ok"}}, headers=headers)
    assert_error(down, 503)
    task = session.get(Task, desk.form_task.id)
    session.refresh(task)
    assert task.status == "open"
    task.status, task.completed_by_id = "completed", desk.bob.id
    session.commit()
    assert_error(
        client.post(path, json={"outcome": "resolved", "data": {"note": "x"}}, headers=headers),
        409,
    )


def test_completion_with_a_session_needs_the_csrf_token(client: TestClient, desk: World) -> None:
    token = sign_in(client, desk.ann)
    path = f"/api/tasks/{desk.form_task.id}/complete"
    assert client.post(path, json={"outcome": "maybe"}).status_code == 403
    reply = client.post(path, json={"outcome": "maybe"}, headers={"X-CSRF-Token": token})
    assert_error(reply, 422)


# ---------------------------------------------------------------- requests ---


def test_request_mistakes_need_no_temporal(
    make_app: MakeApp, session: Session, make_person
) -> None:
    rita = make_person(name="Rita", roles={"requester"})
    headers = token_of(session, rita)
    with TestClient(make_app(("vpn", Printers())), raise_server_exceptions=False) as client:
        before = count(client, WorkItem)
        json_headers = headers | {"Content-Type": "application/json"}
        assert_error(client.post("/api/requests", content=b"[1,", headers=json_headers), 400)
        wrong = assert_error(
            client.post("/api/requests", json={"type": 3, "data": "x"}, headers=headers), 422
        )
        assert {e["field"] for e in wrong["errors"]} == {"type", "data"}
        assert_error(client.post("/api/requests", json={"type": "nope"}, headers=headers), 404)
        # the type's workflow is not deployed
        assert_error(client.post("/api/requests", json={"type": "vpn"}, headers=headers), 404)
        long_key = headers | {"Idempotency-Key": "k" * 500}
        assert_error(client.post("/api/requests", json={"type": "nope"}, headers=long_key), 404)
        assert count(client, WorkItem) == before


# ------------------------------------------------------------ on Temporal ---


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(60)
async def test_submitting_once_per_key_and_completing(
    harness,  # noqa: F811 (the fixture imported above)
    tmp_path,
) -> None:
    """On the time-skipping test server: a request submitted (twice), a task completed."""
    with harness.sessions.begin() as db:
        team = db.scalars(select(Team).filter_by(slug="helpdesk-l1")).first()
        if team is None:
            team = Team(slug="helpdesk-l1", name="Help desk L1")
            db.add(team)
        ann = Person(email="ann.api@example.org", name="Ann Agent")
        ann.grant("agent")
        db.add(ann)
        db.flush()
        db.add(Membership(team_id=team.id, person_id=ann.id))
        token = issue_token(db, ann.id, "test")
        ann_id = ann.id
    _, task_id = await _started(harness)
    settings = Settings(data_dir=tmp_path, task_queue=harness.queue)
    app = create_app(
        settings,
        create_plugin_manager(entry_points=False, plugins=[("vpn", Printers())]),
        db=harness.sessions.kw["bind"],
        temporal=TemporalLink(client=harness.client),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=bearer(token)
    ) as api:
        first = await api.post(
            "/api/requests",
            json={"type": "vpn", "data": {"summary": "VPN down"}},
            headers={"Idempotency-Key": "abc-1"},
        )
        assert first.status_code == 201, first.text
        created = first.json()
        assert created["created"] is True
        assert created["reference"].startswith("TIC-")
        again = await api.post(
            "/api/requests",
            json={"type": "vpn", "data": {"summary": "VPN down"}},
            headers={"Idempotency-Key": "abc-1"},
        )
        assert again.status_code == 200, again.text
        assert again.json() == created | {"created": False, "status": again.json()["status"]}
        with make_read_session_factory(harness.sessions.kw["bind"])() as db:
            assert db.scalar(
                select(func.count()).select_from(WorkItem).filter_by(title="VPN down",
                                                                      requester_id=ann_id)
            ) == 1  # fmt: skip

        done = await api.post(
            f"/api/tasks/{task_id}/complete",
            json={"outcome": "resolved", "data": {"note": "fixed the VPN"}},
        )
        assert done.status_code == 200, done.text
        assert done.json() == {"task": task_id, "step": "triage", "outcome": "resolved"}
        repeat = await api.post(
            f"/api/tasks/{task_id}/complete",
            json={"outcome": "resolved", "data": {"note": "x"}},
        )
        assert repeat.status_code == 409
    with make_read_session_factory(harness.sessions.kw["bind"])() as db:
        task = db.get(Task, task_id)
        assert (task.status, task.outcome, task.completed_by_id) == (
            "completed",
            "resolved",
            ann_id,
        )
