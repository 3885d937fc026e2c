"""Requests come in through the intake: one work item and one run per idempotency key."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from engine.contrib import RequestType
from engine.intake import (
    IntakeError,
    IntakeInvalid,
    Submission,
    UnknownRequestType,
    record_request,
    submit_request,
)
from engine.model import Event, Person, Team, WorkItem
from engine.plugins import create_plugin_manager
from engine.runtime.client import Runtime
from tests.interpreter.test_steps import open_tasks

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]

LAPTOP = """
name: laptop_flow
kind: ticket
start:
  form: laptop_intake
  channels: [portal, phone]
forms:
  laptop_intake:
    fields:
      - {name: summary, type: text, required: true}
      - {name: model, type: choice, choices: [small, large], required: true}
  handle: {outcomes: [done]}
steps:
  - id: handle
    task: {team: helpdesk-l1, form: handle, title: "{{ input.summary }} ({{ input.model }})"}
"""
TYPES = {"laptop": RequestType(name="laptop", title="New laptop", workflow="laptop_flow")}
GOOD = {"summary": "My laptop is slow", "model": "large"}


def _record(harness, submission: Submission):
    pm = create_plugin_manager(entry_points=False)
    return record_request(harness.sessions, pm, TYPES, submission)[0]


def _count(harness) -> int:
    with harness.sessions() as session:
        return session.scalar(select(func.count()).select_from(WorkItem))


async def test_a_request_becomes_a_work_item_and_a_run(harness) -> None:
    harness.deploy(LAPTOP)
    with harness.sessions() as session, session.begin():
        session.add(Team(slug="helpdesk-l1", name="Help desk"))
    runtime = Runtime(harness.client, harness.queue)
    pm = create_plugin_manager(entry_points=False)
    key = f"k-{uuid.uuid4()}"
    submission = Submission("laptop", GOOD, requester_id=None, channel="portal", key=key)
    first = await submit_request(harness.sessions, pm, runtime, TYPES, submission)
    again = await submit_request(harness.sessions, pm, runtime, TYPES, submission)
    assert first.created
    assert not again.created
    assert (again.work_item_id, again.workflow_id) == (first.work_item_id, first.workflow_id)
    handle = harness.client.get_workflow_handle(first.workflow_id)
    [task] = await open_tasks(handle)
    await handle.terminate("done with it")
    assert task.title == "My laptop is slow (large)"
    with harness.sessions() as session:
        item = session.get(WorkItem, first.work_item_id)
        assert (item.title, item.channel, item.status) == ("My laptop is slow", "portal", "new")
        assert item.reference == first.reference == f"TIC-{item.id:05d}"
        events = session.scalars(select(Event).filter_by(work_item_id=item.id)).all()
        assert [event.type for event in events].count("created") == 1


async def test_bad_submissions_are_refused_and_change_nothing(harness) -> None:
    harness.deploy(LAPTOP)
    cases = [
        (Submission("laptp", GOOD), UnknownRequestType, "did you mean 'laptop'"),
        (Submission("laptop", {"summary": "x"}), IntakeInvalid, "model:"),
        (Submission("laptop", {**GOOD, "model": "huge"}), IntakeInvalid, "model:"),
        (Submission("laptop", GOOD, channel="email"), IntakeError, "by: api, phone, portal"),
        (Submission("laptop", GOOD, key=""), IntakeError, "idempotency key"),
    ]
    for submission, error, words in cases:
        with pytest.raises(error, match=words):
            _record(harness, submission)
    with pytest.raises(IntakeInvalid) as invalid:
        _record(harness, Submission("laptop", {}))
    assert {e["field"] for e in invalid.value.errors} == {"summary", "model"}
    assert _count(harness) == 0


async def test_a_request_type_whose_workflow_is_not_deployed(harness) -> None:
    with pytest.raises(UnknownRequestType, match="not deployed"):
        _record(harness, Submission("laptop", GOOD))


async def test_the_same_key_at_the_same_moment_creates_one_item(harness) -> None:
    harness.deploy(LAPTOP)
    submission = Submission("laptop", GOOD, requester_id=None, key="race")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: _record(harness, submission), range(8)))
    assert len({result.work_item_id for result in results}) == 1
    assert sum(result.created for result in results) == 1
    assert _count(harness) == 1


async def test_keys_are_per_requester(harness) -> None:
    harness.deploy(LAPTOP)
    with harness.sessions() as session, session.begin():
        people = [Person(email=f"p{n}@example.org", name=f"P{n}") for n in range(2)]
        session.add_all(people)
        session.flush()
        ids = [person.id for person in people]
    results = [_record(harness, Submission("laptop", GOOD, requester_id=i, key="1")) for i in ids]
    assert results[0].work_item_id != results[1].work_item_id
