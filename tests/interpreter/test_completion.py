"""Completing a task on a person's behalf: every field's error at once, then the update."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from engine.completion import (
    CompletionInvalid,
    TaskNotFound,
    TaskNotOpen,
    complete_task,
    task_form,
)
from engine.model import Task
from engine.runtime.client import Runtime
from engine.runtime.messages import RUN_WORKFLOW, RunInput
from tests.interpreter.test_steps import TRIAGE, open_tasks

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]


async def _started(harness):
    """A run as the portal starts one: its id names the definition."""
    name, digest = harness.deploy(TRIAGE)
    handle = await harness.client.start_workflow(
        RUN_WORKFLOW,
        RunInput(definition=name, content_hash=digest, work_item_id=harness.work_item()),
        id=f"{name}/{uuid.uuid4()}",
        task_queue=harness.queue,
    )
    [task] = await open_tasks(handle)
    return Runtime(harness.client, harness.queue), task.task_id


async def test_a_completion_is_recorded(harness) -> None:
    runtime, task_id = await _started(harness)
    with harness.sessions() as session:
        found = task_form(session, task_id)
        assert [field.name for field in found.form.fields] == ["note"]
    done = await complete_task(
        harness.sessions, runtime, task_id, outcome="resolved", data={"note": "ok"}, actor_id=None
    )
    assert done.outcome == "resolved"
    with harness.sessions() as session:
        assert session.get(Task, task_id).status == "completed"


async def test_every_error_at_once_and_nothing_changes(harness) -> None:
    runtime, task_id = await _started(harness)
    with pytest.raises(CompletionInvalid) as invalid:
        await complete_task(
            harness.sessions, runtime, task_id, outcome="maybe", data={}, actor_id=None
        )
    assert [e["field"] for e in invalid.value.errors] == ["outcome", "note"]
    with harness.sessions() as session:
        assert session.get(Task, task_id).status == "open"
    # finish the run: one left waiting on a timer would hold the time-skipping server's clock
    await complete_task(
        harness.sessions, runtime, task_id, outcome="resolved", data={"note": "ok"}, actor_id=None
    )


async def test_a_task_done_meanwhile_is_a_conflict_not_an_error(harness) -> None:
    runtime, task_id = await _started(harness)

    async def attempt(note: str):
        return await complete_task(
            harness.sessions, runtime, task_id, outcome="resolved", data={"note": note},
            actor_id=None,
        )  # fmt: skip

    results = await asyncio.gather(attempt("a"), attempt("b"), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["TaskDone", "TaskNotOpen"]
    with pytest.raises(TaskNotOpen, match=f"task {task_id} is already completed"):
        await attempt("c")
    with pytest.raises(TaskNotFound):
        await complete_task(harness.sessions, runtime, 10**9, outcome="x", data={}, actor_id=None)
