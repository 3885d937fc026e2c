"""Runs stay on the version they started with; their histories replay deterministically.

Histories recorded while running version 1 are committed under ``histories/``;
every later change to the interpreter must still replay them. Record them again
(only on purpose) with ``TIERFLOW_RECORD_HISTORIES=1 pytest tests/interpreter/test_replay.py``;
``TIERFLOW_RECORD_HISTORIES=<tag>`` adds new ones named ``<name>_<tag>.json`` beside the
old, which is how histories of each interpreter generation are kept.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from engine.model import WorkflowDefinition
from engine.runtime.client import Runtime
from engine.runtime.interpreter import Interpreter
from engine.runtime.messages import COMPLETE_TASK, OpenTask, TaskCompletion, TaskDone
from engine.runtime.worker import sandbox_runner

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("TIERFLOW_RECORD_HISTORIES", "")


def record(name: str, history: WorkflowHistory) -> None:
    if RECORD:
        tag = "" if RECORD == "1" else f"_{RECORD}"
        (HISTORIES / f"{name}{tag}.json").write_text(history.to_json())


VERSION_1 = """
name: versioned
version: "1"
kind: ticket
forms:
  triage:
    fields:
      - {name: note, type: text}
    outcomes: [resolved, escalate]
steps:
  - id: triage
    task: {team: helpdesk-l1, form: triage, due: 4h, title: "v1 {{ item.title }}"}
    next:
      - {when: "outcome == 'resolved'", goto: closed}
      - {otherwise: escalate}
  - id: escalate
    action: engine.update_work_item
    with: {current_team: desktop-support}
    next: handed_over
  - id: handed_over
    end: escalated
  - id: closed
    end: resolved
"""

# version 2: a confirmation step before closing, another title, an outcome renamed
VERSION_2 = (
    VERSION_1.replace('version: "1"', 'version: "2"')
    .replace('title: "v1 {{ item.title }}"', 'title: "v2 {{ item.title }}"')
    .replace("goto: closed}", "goto: confirm}")
    .replace(
        "  - id: closed\n",
        "  - id: confirm\n    notify: {to: requester, subject: Resolved}\n  - id: closed\n",
    )
)


async def open_tasks(runtime: Runtime, run: str) -> list[OpenTask]:
    for _ in range(200):
        state = await runtime.describe(run)
        if state.open_tasks:
            return state.open_tasks
        await asyncio.sleep(0.05)
    raise AssertionError("no open task")


def activate(harness, source: str) -> str:
    """Deploy ``source`` as the one active version of its workflow (as deploy does)."""
    with harness.sessions() as session, session.begin():
        session.execute(update(WorkflowDefinition).values(active=False))
    return harness.deploy(source)[1]


async def test_a_run_keeps_its_version_after_a_redeploy_and_replays(harness) -> None:
    runtime = Runtime(harness.client, harness.queue)
    v1 = activate(harness, VERSION_1)
    old_item, new_item = harness.work_item(), harness.work_item()
    old = await runtime.start("versioned", key=str(uuid.uuid4()), work_item_id=old_item)
    [task] = await open_tasks(runtime, old)
    assert task.title == "v1 VPN down"

    v2 = activate(harness, VERSION_2)  # the edited file is deployed meanwhile
    assert v2 != v1
    new = await runtime.start("versioned", key=str(uuid.uuid4()), work_item_id=new_item)
    [new_task] = await open_tasks(runtime, new)
    assert new_task.title == "v2 VPN down"

    for run, each in ((old, task), (new, new_task)):
        await runtime.complete_task(run, TaskCompletion(each.task_id, "resolved", {"note": "ok"}))
    old_result = await harness.client.get_workflow_handle(old).result()
    new_result = await harness.client.get_workflow_handle(new).result()
    assert old_result["path"] == ["triage", "closed"]  # version 1's path, to the end
    assert new_result["path"] == ["triage", "confirm", "closed"]

    for run, name in ((old, "versioned_v1_resolved"), (new, "versioned_v2_resolved")):
        history = await harness.client.get_workflow_handle(run).fetch_history()
        await replayer().replay_workflow(history)
        record(name, history)


RICH = """
name: rich
kind: ticket
variables: {rounds: 0}
forms:
  work: {fields: [{name: note, type: text}], outcomes: [done]}
  look: {outcomes: [looked]}
steps:
  - id: work
    task:
      team: helpdesk-l1
      form: work
      due: 1h
      title: "Work on {{ item.title }}"
      overdue:
        - {remind: true, every: 30m}
        - {after: 10m, escalate: tell, keep_open: true}
    next: record
  - id: tell
    notify: {to: [owner_team], subject: "{{ item.title }} is late"}
  - id: look
    task: {team: desktop-support, form: look}
  - id: told
    end: told
  - id: record
    action: engine.update_work_item
    with: {status: in_progress}
    set: {rounds: "{{ vars.rounds + 1 }}"}
  - id: both
    parallel:
      branches:
        pause: [{id: pause, wait: {duration: 1h}}]
        tell_owner: [{id: tell_owner, notify: {to: [owner_team], subject: Working}}]
  - id: route
    decide:
      - {when: "item.status == 'in_progress' and vars.rounds == 1", goto: finish}
      - {otherwise: failed}
  - id: finish
    end: done
  - id: failed
    end: failed
"""


async def test_a_run_through_every_kind_of_step_replays(harness) -> None:
    """Tasks with overdue rules and a side path, an action, parallel, wait, decide, notify."""
    handle = await harness.start(RICH)
    while not (tasks := await handle.query("open_tasks", result_type=list[OpenTask])):
        await asyncio.sleep(0.05)
    await harness.env.sleep(timedelta(hours=2))  # past due: reminders, and the side path
    while len(tasks := await handle.query("open_tasks", result_type=list[OpenTask])) < 2:
        await asyncio.sleep(0.05)
    work = next(task for task in tasks if task.step_id == "work")
    await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(work.task_id, "done", {"note": "ok"}), result_type=TaskDone
    )
    result = await handle.result()
    assert result["outcome"] == "done"
    assert result["path"][:4] == ["work", "tell", "look", "record"]
    history = await handle.fetch_history()
    await replayer().replay_workflow(history)
    record("rich", history)


def replayer() -> Replayer:
    return Replayer(workflows=[Interpreter], workflow_runner=sandbox_runner())


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_committed_histories_replay_without_nondeterminism(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


async def test_histories_are_committed() -> None:
    assert len(list(HISTORIES.glob("*.json"))) >= 2, "record them: see this module's docstring"
