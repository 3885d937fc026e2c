"""The Python API the web layer and the CLI use: start (idempotent), complete, describe, cancel."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from engine.model import Event, Membership, Person, Task, Team
from engine.runtime.client import Runtime, TaskRefused
from engine.runtime.messages import TaskCompletion

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]

FLOW = """
name: api_flow
kind: ticket
forms:
  fix:
    fields:
      - {name: note, type: text, required: true}
    outcomes: [fixed]
steps:
  - id: fix
    task: {team: desktop-support, form: fix}
  - id: wait_ok
    wait: {signal: confirmed, timeout: 2d}
  - id: done
    end: closed
"""


async def open_state(runtime: Runtime, workflow_id: str):
    for _ in range(200):
        state = await runtime.describe(workflow_id)
        if state.open_tasks:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("no task opened")


async def test_start_is_idempotent_by_key_and_a_run_can_be_steered(harness) -> None:
    runtime = Runtime(harness.client, harness.queue)
    name, digest = harness.deploy(FLOW)
    item = harness.work_item()
    key = f"item-{uuid.uuid4()}"
    first = await runtime.start(name, key=key, work_item_id=item, content_hash=digest)
    again = await runtime.start(name, key=key, work_item_id=item, content_hash=digest)
    assert first == again == f"api_flow/{key}"

    state = await open_state(runtime, first)
    assert state.status == "running"
    assert state.current_steps == ["fix"]
    [task] = state.open_tasks
    with pytest.raises(TaskRefused, match=r"note: this field is required"):
        await runtime.complete_task(first, TaskCompletion(task.task_id, "fixed", {}))
    with pytest.raises(TaskRefused, match=r"outcome 'broken' is not one of: fixed"):
        await runtime.complete_task(first, TaskCompletion(task.task_id, "broken", {"note": "x"}))
    done = await runtime.complete_task(first, TaskCompletion(task.task_id, "fixed", {"note": "x"}))
    assert done.step_id == "fix"
    with pytest.raises(TaskRefused, match=r"is not open in this run"):
        await runtime.complete_task(first, TaskCompletion(task.task_id, "fixed", {"note": "x"}))
    await runtime.signal(first, "confirmed", {"by": "requester"})
    result = await harness.client.get_workflow_handle(first).result()
    assert result["outcome"] == "closed"
    # the key's run has finished: starting with it again still starts nothing
    assert await runtime.start(name, key=key, work_item_id=item, content_hash=digest) == first
    assert result["path"] == ["fix", "wait_ok", "done"]
    assert (await runtime.describe(first)).status == "completed"
    with harness.sessions() as session:
        assert len(session.scalars(select(Task)).all()) == 1


async def test_cancelling_a_run_cancels_its_open_tasks(harness) -> None:
    runtime = Runtime(harness.client, harness.queue)
    name, digest = harness.deploy(FLOW)
    item = harness.work_item()
    run = await runtime.start(name, key=str(uuid.uuid4()), work_item_id=item, content_hash=digest)
    await open_state(runtime, run)
    await runtime.cancel(run)
    for _ in range(200):
        if (await runtime.describe(run)).status == "canceled":
            break
        await asyncio.sleep(0.05)
    with harness.sessions() as session:
        [task] = session.scalars(select(Task)).all()
        types = session.scalars(select(Event.type).order_by(Event.id)).all()
    assert task.status == "cancelled"
    assert types == ["task_opened", "task_cancelled"]
    with pytest.raises(TaskRefused, match=r"finished|not open"):
        await runtime.complete_task(run, TaskCompletion(task.id, "fixed", {"note": "late"}))


async def test_only_the_people_a_task_is_for_may_complete_it(harness) -> None:
    runtime = Runtime(harness.client, harness.queue)
    name, digest = harness.deploy(FLOW)
    item = harness.work_item()
    with harness.sessions() as session, session.begin():
        team = session.scalars(select(Team).filter_by(slug="desktop-support")).one()
        member = Person(email=f"{uuid.uuid4()}@example.org", name="Mei")
        outsider = Person(email=f"{uuid.uuid4()}@example.org", name="Omar")
        admin = Person(email=f"{uuid.uuid4()}@example.org", name="Ada")
        admin.grant("admin")
        session.add_all([member, outsider, admin])
        session.flush()
        session.add(Membership(team_id=team.id, person_id=member.id))
        ids = (member.id, outsider.id, admin.id)
    run = await runtime.start(name, key=str(uuid.uuid4()), work_item_id=item, content_hash=digest)
    [task] = (await open_state(runtime, run)).open_tasks
    assert ids[0] in task.allowed
    assert ids[2] in task.allowed
    assert ids[1] not in task.allowed
    completion = TaskCompletion(task.task_id, "fixed", {"note": "x"}, actor_id=ids[1])
    with pytest.raises(TaskRefused, match=r"may not complete task .*: it is for team desktop-s"):
        await runtime.complete_task(run, completion)
    done = await runtime.complete_task(
        run, TaskCompletion(task.task_id, "fixed", {"note": "x"}, actor_id=ids[0])
    )
    assert done.outcome == "fixed"
    await runtime.signal(run, "confirmed")
    assert (await harness.client.get_workflow_handle(run).result())["outcome"] == "closed"
