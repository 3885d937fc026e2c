"""Signals people send from the work item page and the API: who, when, the form, the errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from engine.db import make_read_session_factory
from engine.dsl.pinning import pinned_hash, shared_forms_json
from engine.model import Event, Membership, Person, WorkItem
from engine.model.definitions import WorkflowDefinition
from tests.web.conftest import sign_in

FLOW = """
name: reply_flow
kind: ticket
forms:
  reply:
    fields:
      - {name: comment, type: textarea, required: true, max: 50}
signals:
  requester_replied:
    label: Not fixed? Reply
    who: requester
    when: "item.status == 'resolved'"
    form: reply
    comment: true
  nudge:
    who: owner_team
steps:
  - id: wait
    wait: {signal: requester_replied}
  - id: nudged
    wait: {signal: nudge}
  - {id: done, end: resolved}
"""


@dataclass
class Case:
    rita: Person
    otto: Person
    ann: Person
    item: WorkItem


@pytest.fixture
def case(session: Session, make_person, make_team, make_work_item) -> Case:
    rita = make_person(name="Rita Requester", roles={"requester"})
    otto = make_person(name="Otto Requester", roles={"requester"})
    ann = make_person(name="Ann Agent", roles={"agent"})
    team = make_team(slug="helpdesk-l1", name="Help desk")
    session.add(Membership(team_id=team.id, person_id=ann.id))
    forms = shared_forms_json({})
    definition = WorkflowDefinition(
        name="reply_flow", version="1", content_hash=pinned_hash(FLOW, forms), source=FLOW,
        shared_forms=forms, kind="ticket", active=True,
    )  # fmt: skip
    session.add(definition)
    session.flush()
    item = make_work_item(
        reference="INC-00007", title="VPN down", status="resolved", requester_id=rita.id,
        owner_team_id=team.id, current_team_id=team.id, definition_id=definition.id,
        workflow_id="reply_flow/x",
    )  # fmt: skip
    session.commit()
    return Case(rita, otto, ann, item)


def signalled(client: TestClient, item: WorkItem) -> list[dict]:
    with make_read_session_factory(client.app.state.db)() as db:
        query = select(Event.data).filter_by(work_item_id=item.id, type="signalled")
        return list(db.scalars(query))


def path(item: WorkItem, name: str = "requester_replied") -> str:
    return f"/items/{item.id}/signals/{name}"


def test_only_the_people_who_may_send_a_signal_see_it(client: TestClient, case: Case) -> None:
    sign_in(client, case.rita)
    page = client.get(f"/items/{case.item.id}").text
    assert f'action="{path(case.item)}"' in page
    assert "Not fixed? Reply" in page
    assert f'action="{path(case.item, "nudge")}"' not in page  # the owner team's, not hers
    sign_in(client, case.ann)
    page = client.get(f"/items/{case.item.id}").text
    assert f'action="{path(case.item)}"' not in page
    assert f'action="{path(case.item, "nudge")}"' in page
    assert ">Nudge</button>" in page  # no label: the name, capitalised


def test_the_requester_reads_plain_words_not_workflow_jargon(
    client: TestClient, case: Case
) -> None:
    sign_in(client, case.rita)
    page = client.get(f"/items/{case.item.id}").text
    assert '<h2 id="signals-heading">Not fixed? Reply</h2>' in page  # the one signal's label
    assert "workflow" not in page.lower()
    done = client.get(f"/items/{case.item.id}?done=signalled").text
    assert "Sent. We have your reply." in done
    assert "workflow" not in done.lower()
    sign_in(client, case.ann)  # several signals (or one not a reply): plain "Reply"
    assert '<h2 id="signals-heading">Nudge</h2>' in client.get(f"/items/{case.item.id}").text


def test_when_decides_whether_it_is_offered(
    client: TestClient, case: Case, session: Session
) -> None:
    session.get(WorkItem, case.item.id).status = "open"
    session.commit()
    token = sign_in(client, case.rita)
    assert f'action="{path(case.item)}"' not in client.get(f"/items/{case.item.id}").text
    reply = client.post(path(case.item), data={"csrf_token": token, "comment": "still broken"})
    assert reply.status_code == 409
    assert "cannot be sent while INC-00007 is open" in reply.text
    assert signalled(client, case.item) == []


def test_refusals_are_403_404_and_need_csrf(client: TestClient, case: Case) -> None:
    token = sign_in(client, case.ann)
    reply = client.post(path(case.item), data={"csrf_token": token, "comment": "x"})
    assert reply.status_code == 403
    assert "may be sent by the requester only" in reply.text
    unknown = client.post(path(case.item, "nope"), data={"csrf_token": token})
    assert unknown.status_code == 404
    assert "offers no signal &#39;nope&#39;" in unknown.text
    token = sign_in(client, case.otto)  # may not even see the item
    assert client.post(path(case.item), data={"csrf_token": token}).status_code == 404
    sign_in(client, case.rita)
    assert client.post(path(case.item), data={"comment": "x"}).status_code == 403
    assert signalled(client, case.item) == []


def test_a_form_mistake_is_422_with_the_input_kept_and_escaped(
    client: TestClient, case: Case
) -> None:
    token = sign_in(client, case.rita)
    reply = client.post(path(case.item), data={"csrf_token": token, "comment": ""})
    assert reply.status_code == 422
    assert 'aria-invalid="true"' in reply.text
    typed = "<script>alert(1)</script> and much more text than fits"
    reply = client.post(path(case.item), data={"csrf_token": token, "comment": typed})
    assert reply.status_code == 422
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in reply.text
    assert "<script>alert(1)" not in reply.text
    assert signalled(client, case.item) == []


def test_temporal_down_is_503_with_the_input_kept_and_nothing_recorded(
    client: TestClient, case: Case
) -> None:
    token = sign_in(client, case.rita)
    reply = client.post(path(case.item), data={"csrf_token": token, "comment": "still down"})
    assert reply.status_code == 503
    assert "nothing was sent" in reply.text
    assert "still down</textarea>" in reply.text
    assert signalled(client, case.item) == []


def test_the_api_answers_the_same(client: TestClient, case: Case) -> None:
    token = sign_in(client, case.ann)
    url = f"/api/work-items/{case.item.id}/signals/requester_replied"
    headers = {"X-CSRF-Token": token}
    assert client.post(url, json={"data": {"comment": "x"}}, headers=headers).status_code == 403
    token = sign_in(client, case.rita)
    headers = {"X-CSRF-Token": token}
    bad = client.post(url, json={"data": {}}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "comment"
    down = client.post(url, json={"data": {"comment": "still down"}}, headers=headers)
    assert down.status_code == 503
    none = client.post(url.replace("requester_replied", "nope"), json={}, headers=headers)
    assert none.status_code == 404
    assert signalled(client, case.item) == []
