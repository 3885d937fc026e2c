"""Every step type on the time-skipping server, with the database rows they leave."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError

from engine.dsl.forms import Form
from engine.model import Event, Task, WorkItem
from engine.runtime.messages import (
    COMPLETE_TASK,
    RUN_WORKFLOW,
    OpenTask,
    RunInput,
    TaskCompletion,
    TaskDone,
)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]

TRIAGE = """
name: triage_flow
kind: ticket
forms:
  triage:
    fields:
      - {name: note, type: text, required: true}
    outcomes: [resolved, escalate]
steps:
  - id: triage
    task: {team: helpdesk-l1, form: triage, due: 4h, title: "Triage {{ item.title }}",
           overdue: [{escalate: late}]}
    next:
      - {when: "outcome == 'resolved'", goto: done}
      - {otherwise: escalate}
  - id: escalate
    action: engine.update_work_item
    with: {current_team: desktop-support, status: escalated}
    next: handed_over
  - id: handed_over
    end: escalated
  - id: done
    end: resolved
  - id: late
    end: overdue
"""


async def open_tasks(handle) -> list[OpenTask]:
    for _ in range(100):
        tasks = await handle.query("open_tasks", result_type=list[OpenTask])
        if tasks:
            return tasks
        await asyncio.sleep(0.05)
    raise AssertionError("no task opened")


async def test_task_completed_through_the_update(harness) -> None:
    handle = await harness.start(TRIAGE)
    [task] = await open_tasks(handle)
    assert (task.step_id, task.team, task.title) == ("triage", "helpdesk-l1", "Triage VPN down")
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            COMPLETE_TASK, TaskCompletion(task.task_id, "resolved", {}), result_type=TaskDone
        )
    done = await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, "resolved", {"note": "rebooted"}),
        result_type=TaskDone,
    )  # fmt: skip
    assert done.outcome == "resolved"
    with harness.sessions() as session:
        row = session.get(Task, task.task_id)
        assert (row.status, row.outcome, row.data) == (
            "completed",
            "resolved",
            {"note": "rebooted"},
        )
    assert (await handle.result())["outcome"] == "resolved"


async def test_escalation_path_runs_the_action(harness) -> None:
    handle = await harness.start(TRIAGE)
    [task] = await open_tasks(handle)
    await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, "escalate", {"note": "needs L2"}),
        result_type=TaskDone,
    )  # fmt: skip
    assert (await handle.result())["outcome"] == "escalated"
    with harness.sessions() as session:
        types = session.scalars(select(Event.type).order_by(Event.id)).all()
    assert types == [
        "task_opened",
        "task_completed",
        "team_changed",
        "status_changed",
    ]


async def test_overdue_task_takes_its_escalation_path(harness) -> None:
    handle = await harness.start(TRIAGE)
    await open_tasks(handle)
    assert (await handle.result())["outcome"] == "overdue"
    with harness.sessions() as session:
        [row] = session.scalars(select(Task)).all()
        assert row.status == "cancelled"


SHARED = """
name: shared_form_flow
kind: ticket
steps:
  - id: approve
    task: {team: helpdesk-l1, form: approval}
  - id: done
    end: "approved"
"""


async def test_a_shared_form_frozen_at_deploy_validates_the_completion(harness) -> None:
    approval = Form.model_validate(
        {"fields": [{"name": "reason", "required": True}], "outcomes": ["approved"]}
    )
    handle = await harness.start(SHARED, shared={"approval": approval})
    [task] = await open_tasks(handle)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            COMPLETE_TASK, TaskCompletion(task.task_id, "approved", {}), result_type=TaskDone
        )
    await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, "approved", {"reason": "budget ok"}),
        result_type=TaskDone,
    )  # fmt: skip
    assert (await handle.result())["outcome"] == "approved"


MAINTENANCE = """
name: backup_check
title: Backup check
kind: maintenance
forms:
  verify:
    outcomes: [verified]
steps:
  - id: verify
    task: {team: helpdesk-l1, form: verify, title: "Verify {{ item.title }}"}
  - id: done
    end: verified
"""


async def test_a_run_without_a_work_item_gets_its_own(harness) -> None:
    """Scheduled runs start with no work item: each becomes an operational work item."""
    name, digest = harness.deploy(MAINTENANCE)
    harness.work_item()  # the teams
    run_id = f"tierflow/{name}/scheduled-{uuid.uuid4()}"
    handle = await harness.client.start_workflow(
        RUN_WORKFLOW, RunInput(name, digest), id=run_id, task_queue=harness.queue,
        result_type=dict,
    )  # fmt: skip
    [task] = await open_tasks(handle)
    assert task.title.startswith("Verify Backup check ")
    await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, "verified"), result_type=TaskDone
    )
    assert (await handle.result())["outcome"] == "verified"
    with harness.sessions() as session:
        item = session.scalars(select(WorkItem).filter_by(workflow_id=run_id)).one()
        assert (item.kind, item.type, item.channel) == ("maintenance", "backup_check", "schedule")
        assert session.get(Task, task.task_id).work_item_id == item.id
