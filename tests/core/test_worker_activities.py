"""The worker runs the engine's activities and every plugin's actions, on a real Temporal server."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from engine.db import make_session_factory
from engine.errors import PluginError
from engine.hookspecs import hookimpl
from engine.model import Event, WorkItem
from engine.plugins import create_plugin_manager
from engine.runtime.activities import worker_activities
from engine.runtime.binaries import test_server_path
from engine.runtime.worker import build_worker
from tests.core.activity_flows import RecordTwice


@activity.defn(name="acme.greet")
def greet(name: str) -> str:
    return f"hello {name}"


class Acme:
    @hookimpl
    def tierflow_register_actions(self):
        return [greet]


async def test_engine_activity_and_plugin_action_run_on_a_worker(db_engine: Engine) -> None:
    pm = create_plugin_manager(entry_points=False, plugins=[("acme", Acme())])
    sessions = make_session_factory(db_engine)
    with sessions() as session, session.begin():
        item = WorkItem(kind="ticket", type="incident", title="VPN down", status="new")
        session.add(item)
    activities = worker_activities(pm, sessions)
    names = {fn.__temporal_activity_definition.name for fn in activities}
    assert {"engine.record_event", "engine.update_work_item", "acme.greet"} <= names
    assert {"engine.open_task", "engine.close_task", "engine.load_definition"} <= names

    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path())
    ) as env:
        queue = f"test-{uuid.uuid4()}"
        async with build_worker(env.client, queue, activities=activities, workflows=[RecordTwice]):
            first, second, greeting = await env.client.execute_workflow(
                RecordTwice.run,
                item.id,
                id=f"wf-{uuid.uuid4()}",
                task_queue=queue,
                execution_timeout=timedelta(seconds=60),
            )
    assert first == second  # the retry wrote nothing new
    assert greeting == "hello desk"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1


def test_two_plugins_contributing_one_action_name_stop_the_worker(db_engine: Engine) -> None:
    pm = create_plugin_manager(entry_points=False, plugins=[("acme", Acme()), ("copy", Acme())])
    with pytest.raises(PluginError, match=r"name 'acme.greet'.*plugin '(acme|copy)' already"):
        worker_activities(pm, make_session_factory(db_engine))
