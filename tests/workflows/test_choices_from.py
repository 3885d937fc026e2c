"""A task's ``choices_from`` field offers the options of the moment the task opened.

A real interpreter on the time-skipping server, a real database, and a plugin
whose choice list reads the active teams: adding a team makes the next task
offer it; deactivating one refuses it in a task opened afterwards, on the task
page's form (``task_form``), in the completion check and in the workflow's
update validator alike.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from engine.completion import CompletionInvalid, check_completion, complete_task, task_form
from engine.contrib import ChoiceList
from engine.db import make_session_factory
from engine.dsl.catalog import Catalog
from engine.dsl.pinning import pinned_hash
from engine.dsl.validate import load_workflow_text
from engine.hookspecs import hookimpl
from engine.model import Event, Team, WorkflowDefinition, WorkItem
from engine.plugins import create_plugin_manager
from engine.runtime.activities import worker_activities
from engine.runtime.client import Runtime, TaskRefused
from engine.runtime.interpreter import Interpreter
from engine.runtime.messages import RUN_WORKFLOW, RunInput, TaskCompletion
from engine.runtime.worker import build_worker
from tests.interpreter.conftest import time_skipping  # noqa: F401 (a fixture)
from tests.interpreter.test_steps import open_tasks

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(90)]

SOURCE = """
name: pick_team
kind: ticket
forms:
  pick:
    fields:
      - {name: team, type: choice, required: true, choices_from: test.teams}
    outcomes: [done]
steps:
  - id: pick
    task: {team: helpdesk-l1, form: pick}
  - id: again
    task: {team: helpdesk-l1, form: pick}
"""


def active_teams(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(select(Team.slug, Team.name).where(Team.active).order_by(Team.slug))
    return [(slug, name) for slug, name in rows]


class TeamsPlugin:
    @hookimpl
    def tierflow_register_choice_lists(self) -> list[ChoiceList]:
        return [ChoiceList("test.teams", load=active_teams)]


@pytest_asyncio.fixture(loop_scope="session")
async def run(
    time_skipping: WorkflowEnvironment,  # noqa: F811
    db_engine: Engine,
) -> AsyncIterator[tuple[Runtime, object, object]]:
    pm = create_plugin_manager(entry_points=False, plugins=[("teams", TeamsPlugin())])
    sessions = make_session_factory(db_engine)
    catalog = Catalog(teams=frozenset({"helpdesk-l1"}), choice_lists=frozenset({"test.teams"}))
    workflow, problems = load_workflow_text(SOURCE, "pick.yaml", catalog)
    assert not problems, problems
    assert workflow is not None
    digest = pinned_hash(SOURCE, "")
    with sessions.begin() as session:
        session.add_all([Team(slug="helpdesk-l1", name="Help desk"), Team(slug="net", name="Net")])
        session.add(
            WorkflowDefinition(
                name="pick_team", version="1", content_hash=digest, source=SOURCE,
                kind="ticket", active=True,
            )
        )  # fmt: skip
        item = WorkItem(kind="ticket", type="x", title="Pick", status="new")
        session.add(item)
        session.flush()
        item_id = item.id
    queue = f"choices-{uuid.uuid4()}"
    client = time_skipping.client
    worker = build_worker(
        client, queue, activities=worker_activities(pm, sessions), workflows=[Interpreter]
    )
    async with worker:
        handle = await client.start_workflow(
            RUN_WORKFLOW,
            RunInput(definition="pick_team", content_hash=digest, work_item_id=item_id),
            id=f"pick_team/{uuid.uuid4()}",
            task_queue=queue,
        )
        yield Runtime(client, queue), sessions, handle


async def test_each_task_offers_the_options_of_the_moment_it_opened(run) -> None:
    runtime, sessions, handle = run
    [first] = await open_tasks(handle)
    assert first.choices == {"test.teams": [["helpdesk-l1", "Help desk"], ["net", "Net"]]}
    with sessions.begin() as session:
        session.add(Team(slug="desk", name="Desktop"))
        session.scalars(select(Team).filter_by(slug="net")).one().active = False
    with sessions() as session:  # the open task keeps its options: 'net' is still one
        form = task_form(session, first.task_id).form
        assert [c.value for c in form.fields[0].choices] == ["helpdesk-l1", "net"]
        assert form.fields[0].choices[1].text == "Net"
        opened = session.scalars(select(Event).filter_by(type="task_opened")).one()
        assert opened.data["choices"] == first.choices
    await complete_task(
        sessions, runtime, first.task_id, outcome="done", data={"team": "net"}, actor_id=None
    )

    second = None
    for _ in range(100):
        second = next((t for t in await open_tasks(handle) if t.step_id == "again"), None)
        if second is not None:
            break
    assert second is not None
    assert [value for value, _ in second.choices["test.teams"]] == ["desk", "helpdesk-l1"]
    with sessions() as session:
        form = task_form(session, second.task_id).form
    assert [c.value for c in form.fields[0].choices] == ["desk", "helpdesk-l1"]
    with pytest.raises(CompletionInvalid) as refused:
        check_completion(form, "done", {"team": "net"})
    assert refused.value.errors == [
        {"field": "team", "message": "'net' is not one of desk, helpdesk-l1"}
    ]
    # the workflow's own validator refuses it too (the page's check is only a first look)
    with pytest.raises(TaskRefused, match="'net' is not one of desk, helpdesk-l1"):
        await runtime.complete_task(
            handle.id, TaskCompletion(second.task_id, "done", {"team": "net"})
        )
    done = await complete_task(
        sessions, runtime, second.task_id, outcome="done", data={"team": "desk"}, actor_id=None
    )
    assert done.outcome == "done"
    await handle.result()
