"""Escalations that keep their task open run beside it, as a side path (time-skipping server)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowFailureError

from engine.model import Event, Task
from engine.runtime.messages import COMPLETE_TASK, TaskCompletion, TaskDone
from tests.interpreter.test_steps import open_tasks

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]

KEPT_OPEN = """
name: kept_open_flow
kind: ticket
forms:
  work_form: {outcomes: [done]}
  look_form: {outcomes: [looked]}
steps:
  - id: work
    task:
      team: helpdesk-l1
      form: work_form
      due: 1h
      overdue: [{escalate: tell, keep_open: true}]
    next: finish
  - id: tell
    notify: {to: [owner_team], subject: The work is late}
  - id: look
    task: {team: desktop-support, form: look_form}
  - id: told
    end: told
  - id: finish
    end: done
"""


async def _complete(handle, step: str, outcome: str) -> None:
    [task] = [each for each in await open_tasks(handle) if each.step_id == step]
    await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, outcome, {}), result_type=TaskDone
    )


async def _tasks(harness) -> dict[str, str]:
    with harness.sessions() as session:
        rows = session.scalars(select(Task).order_by(Task.id)).all()
        return {row.step_id: row.status for row in rows}


async def test_the_task_stays_open_and_its_completion_moves_the_run_on(harness) -> None:
    handle = await harness.start(KEPT_OPEN)
    await open_tasks(handle)
    await harness.env.sleep(timedelta(hours=1, minutes=1))
    tasks = {each.step_id for each in await open_tasks(handle)}
    assert tasks == {"work", "look"}  # the side path went on to its own task
    await _complete(handle, "work", "done")
    result = await handle.result()
    assert result["outcome"] == "done"
    assert result["path"] == ["work", "tell", "look", "finish"]
    tasks = await _tasks(harness)
    assert tasks["work"] == "completed"
    assert tasks["look"] == "cancelled"  # the run ended: the side path's task is closed
    with harness.sessions() as session:
        notified = session.scalars(select(Event).where(Event.type == "notified")).all()
        assert [event.data["subject"] for event in notified] == ["The work is late"]


async def test_a_side_path_that_ends_leaves_the_run_waiting_for_the_task(harness) -> None:
    handle = await harness.start(KEPT_OPEN)
    await open_tasks(handle)
    await harness.env.sleep(timedelta(hours=1, minutes=1))
    await _complete(handle, "look", "looked")  # the side path reaches 'told': it ends alone
    assert [each.step_id for each in await open_tasks(handle)] == ["work"]
    await _complete(handle, "work", "done")
    result = await handle.result()
    assert result["outcome"] == "done"
    assert result["path"] == ["work", "tell", "look", "told", "finish"]


FAILING_SIDE = """
name: failing_side_flow
kind: ticket
variables: {contact: null}
forms:
  work_form: {outcomes: [done]}
steps:
  - id: work
    task:
      team: helpdesk-l1
      form: work_form
      due: 1h
      overdue: [{escalate: broken, keep_open: true}]
    next: finish
  - id: broken
    notify: {to: [owner_team], subject: "{{ vars.contact.name }}"}
  - id: finish
    end: done
"""


async def test_a_failing_side_path_fails_the_run_and_closes_the_task(harness) -> None:
    handle = await harness.start(FAILING_SIDE)
    await open_tasks(handle)
    await harness.env.sleep(timedelta(hours=1, minutes=1))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert "step 'broken'" in str(failure.value.cause)
    assert (await _tasks(harness))["work"] == "cancelled"
