"""A side path stopped while one of its actions runs is stopped, not a failure of the run.

When a run ends (or a ``beside`` restarts its side path) while the side path
waits on an action, Temporal answers the cancelled action with an error whose
cause is a cancellation. That is the side path being stopped, as asked: the
run ends with its own outcome. (It used to be taken for a failing side path
and the run failed with "Cancelled": a phone call resolved and closed at once
while its SLA clock was recording a tick.) On the real dev server, where the
action really takes its time.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client

from engine.contrib import ActionInput
from engine.db import make_session_factory
from engine.hookspecs import hookimpl
from engine.plugins import create_plugin_manager
from engine.runtime.activities import worker_activities
from engine.runtime.interpreter import Interpreter
from engine.runtime.worker import build_worker
from tests.interpreter import conftest
from tests.interpreter.conftest import Harness

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]

SLOW_SECONDS = 4.0

STOPPED_MID_ACTION = """
name: stopped_mid_action
kind: ticket
steps:
  - id: begin
    action: engine.record_event
    with: {type: begun}
    beside: clock
  - id: hold
    wait: {duration: 1s}
  - id: finish
    end: done
  - id: clock
    action: test.slow
  - id: again
    wait: {duration: 1h}
    next: clock
"""


@activity.defn(name="test.slow")
def slow(action: ActionInput) -> dict[str, Any]:
    """An action that takes its time (the side path is stopped while it runs)."""
    deadline = time.monotonic() + SLOW_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.1)
    return {}


class SlowPlugin:
    @hookimpl
    def tierflow_register_actions(self, pm, sessions):
        return [slow]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_run_ends_while_its_side_path_runs_an_action(
    temporal_client: Client, db_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        conftest,
        "CATALOG",
        replace(conftest.CATALOG, actions=conftest.CATALOG.actions | {"test.slow"}),
    )
    pm = create_plugin_manager(entry_points=False, plugins=[("slow", SlowPlugin())])
    sessions = make_session_factory(db_engine)
    queue = f"side-cancel-{uuid.uuid4()}"
    worker = build_worker(
        temporal_client, queue, activities=worker_activities(pm, sessions), workflows=[Interpreter]
    )
    async with worker:
        harness = Harness(temporal_client, queue, sessions, None)  # type: ignore[arg-type]
        handle = await harness.start(STOPPED_MID_ACTION)
        result = await handle.result()
    assert result["outcome"] == "done"  # the run's own end, not "Cancelled"
