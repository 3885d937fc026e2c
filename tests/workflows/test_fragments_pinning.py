"""Fragments and pinning: an edited fragment is a new version of each workflow using it.

A workflow that uses a fragment is deployed with the fragment's steps written
out, and its content hash covers them: redeploying after a fragment edit
creates new versions (nothing else changed), while a run started before keeps
the steps of its own version, on Temporal's time-skipping server.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHandle

from engine import workflows as service
from engine.dsl.catalog import Catalog
from engine.dsl.describe import describe
from engine.dsl.diagram import mermaid
from engine.dsl.validate import validate_files
from engine.model import WorkflowDefinition
from engine.runtime.messages import (
    COMPLETE_TASK,
    RUN_WORKFLOW,
    OpenTask,
    RunInput,
    TaskCompletion,
    TaskDone,
)
from tests.interpreter.conftest import Harness, harness, time_skipping  # noqa: F401 (fixtures)

CATALOG = Catalog(actions=frozenset({"engine.update_work_item"}), teams=frozenset({"helpdesk-l1"}))

FRAGMENTS = """\
fragments:
  check_and_close:
    params:
      what: {description: what is checked}
    steps:
      - id: check
        task:
          team: helpdesk-l1
          form: check
          title: "Check ${what} ({{ item.reference }})"
      - id: closed
        end: closed_v1
"""

WORKFLOW = """\
# Two workflows share the fragment; only this one is run.
name: {name}
kind: ticket
forms:
  check:
    outcomes: [done]
    fields: []
steps:
  - id: open
    action: engine.update_work_item
    with: {{status: open}}
  - use: check_and_close
    with: {{what: "the {name}"}}
"""


def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "fragments.yaml").write_text(FRAGMENTS)
    for name in ("first", "second"):
        (folder / f"{name}.yaml").write_text(WORKFLOW.format(name=name))
    return folder


def deploy(sessions: sessionmaker[Session], folder: Path) -> list[service.Deployed]:
    loaded, problems = validate_files([folder], CATALOG)
    assert [str(problem) for problem in problems] == []
    with sessions() as session, session.begin():
        return service.deploy(session, loaded, by="admin@example.org")


async def open_task(handle: WorkflowHandle) -> OpenTask:
    for _ in range(200):
        tasks = await handle.query("open_tasks", result_type=list[OpenTask])
        if tasks:
            return tasks[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no open task")


async def start(running: Harness, digest: str) -> WorkflowHandle:
    return await running.client.start_workflow(
        RUN_WORKFLOW,
        RunInput(definition="first", content_hash=digest, work_item_id=running.work_item()),
        id=f"run-{uuid.uuid4()}",
        task_queue=running.queue,
        result_type=dict,
    )


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(60)
async def test_a_fragment_edit_makes_new_versions_and_a_running_instance_keeps_its_steps(
    harness,  # noqa: F811
    tmp_path: Path,
) -> None:
    folder = site(tmp_path)
    first = deploy(harness.sessions, folder)
    assert [(each.name, each.status) for each in first] == [
        ("first", "created"),
        ("second", "created"),
    ]
    assert [each.status for each in deploy(harness.sessions, folder)] == ["unchanged"] * 2
    v1 = next(each.content_hash for each in first if each.name == "first")
    with harness.sessions() as session:
        stored = session.scalars(select(WorkflowDefinition).filter_by(content_hash=v1)).one()
        old_source = stored.source
    assert "use:" not in old_source  # the fragment's steps are written out, and pinned
    assert "title: Check the first ({{ item.reference }})" in old_source
    assert old_source.count("# Two workflows share the fragment") == 1  # the file's own lines

    running = await start(harness, v1)
    assert (await open_task(running)).title.startswith("Check the first (")

    # the fragment changes: another title, another end; the workflow files do not
    edited = FRAGMENTS.replace("Check ${what}", "Verify ${what}").replace("closed_v1", "closed_v2")
    (folder / "fragments.yaml").write_text(edited)
    second = deploy(harness.sessions, folder)
    assert [(each.name, each.status, each.previous_hash is not None) for each in second] == [
        ("first", "created", True),
        ("second", "created", True),
    ]
    v2 = next(each.content_hash for each in second if each.name == "first")
    assert v2 != v1
    with harness.sessions() as session:
        versions = {
            row.content_hash: (row.active, row.source)
            for row in session.scalars(select(WorkflowDefinition).filter_by(name="first"))
        }
    assert versions[v1] == (False, old_source)  # the old version is kept as it was
    assert versions[v2][0] is True
    assert "Verify the first" in versions[v2][1]

    # the run started before the edit goes on with its own steps
    task = await open_task(running)
    await running.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, "done"), result_type=TaskDone
    )
    assert (await running.result())["outcome"] == "closed_v1"
    # a new run gets the new version
    fresh = await start(harness, v2)
    assert (await open_task(fresh)).title.startswith("Verify the first (")
    task = await open_task(fresh)
    await fresh.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, "done"), result_type=TaskDone
    )
    assert (await fresh.result())["outcome"] == "closed_v2"

    # undoing the edit makes the first versions active again
    (folder / "fragments.yaml").write_text(FRAGMENTS)
    assert [each.status for each in deploy(harness.sessions, folder)] == ["reactivated"] * 2


def test_the_diagram_and_outline_of_an_expanded_workflow_show_the_fragments_steps(
    tmp_path: Path,
) -> None:
    loaded, problems = validate_files([site(tmp_path)], CATALOG)
    assert problems == []
    item = next(item for item in loaded if item.workflow.name == "first")
    assert [step.id for step in item.workflow.steps] == ["open", "check", "closed"]
    chart = mermaid(item.workflow)
    assert "s_check" in chart
    assert "end: closed_v1" in chart
    outline = describe(item.workflow, item.source)
    assert "check" in outline
    assert "closed" in outline
