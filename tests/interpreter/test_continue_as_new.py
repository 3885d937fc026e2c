"""Long runs continue as new without losing their state, their version or their open task."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.model import Event, Task
from engine.runtime.client import Runtime
from engine.runtime.messages import RUN_WORKFLOW, OpenTask, RunInput, TaskCompletion

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(120)]

LONG = """
name: long_flow
kind: ticket
variables: {rounds: 0}
forms:
  sign_off:
    fields:
      - {name: note, type: text, required: true}
    outcomes: [signed]
steps:
  - id: count
    set: {rounds: "{{ vars.rounds + 1 }}"}
    wait: {duration: 1h}
    next:
      - {when: "vars.rounds < 8", goto: count}
      - {otherwise: sign_off}
  - id: sign_off
    task:
      team: helpdesk-l1
      form: sign_off
      due: 1h
      overdue:
        - {every: 1h, remind: true}
  - id: done
    end: signed
"""


async def test_a_long_run_continues_as_new_and_finishes_with_its_state(harness) -> None:
    name, digest = harness.deploy(LONG)
    item = harness.work_item()
    run_id = f"long/{uuid.uuid4()}"
    await harness.client.start_workflow(
        RUN_WORKFLOW,
        RunInput(name, digest, item, {}, history_limit=40),
        id=run_id,
        task_queue=harness.queue,
        result_type=dict,
    )
    await harness.env.sleep(timedelta(hours=9))  # the eight rounds, then the task opens
    await harness.env.sleep(timedelta(hours=12))  # a dozen reminders while nobody signs
    runtime = Runtime(harness.client, harness.queue)
    for _ in range(200):
        state = await runtime.describe(run_id)
        if state.open_tasks:
            break
        await asyncio.sleep(0.05)
    [task] = state.open_tasks
    assert isinstance(task, OpenTask)
    await runtime.complete_task(run_id, TaskCompletion(task.task_id, "signed", {"note": "ok"}))
    result = await harness.client.get_workflow_handle(run_id).result()
    assert result["outcome"] == "signed"
    assert result["vars"]["rounds"] == 8
    assert result["path"] == ["count"] * 8 + ["sign_off", "done"]

    history = await harness.client.get_workflow_handle(run_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id, "the run should have continued as new"
    assert len(history.events) < 80  # each run's history stays short
    with harness.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 1
        reminders = session.scalar(
            select(func.count()).select_from(Event).filter_by(type="notified")
        )
    assert reminders >= 12
