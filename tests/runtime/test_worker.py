"""Workers built by build_worker, on the embedded server and on the time-skipping server."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import timedelta

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from engine.errors import TemporalError, TierflowError
from engine.runtime.binaries import test_server_path
from engine.runtime.devserver import EmbeddedTemporal
from engine.runtime.worker import build_worker, run_worker_until

from . import sandbox_probe
from .temporal_samples import GreetingWorkflow, ModuleIdentityWorkflow, SleepyWorkflow, shout


def _activity_threads(task_queue: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"activity-{task_queue}")]


@pytest.mark.slow
async def test_a_workflow_runs_a_sync_activity_on_the_workers_own_threads(
    temporal_client: Client, task_queue: str
) -> None:
    worker = build_worker(
        temporal_client, task_queue, activities=[shout], workflows=[GreetingWorkflow]
    )
    async with worker:
        result = await temporal_client.execute_workflow(
            GreetingWorkflow.run, "bob", id=f"greet-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result.startswith(f"BOB! (activity-{task_queue}")
    await asyncio.sleep(0.2)  # let the idle pool threads see the shutdown
    assert _activity_threads(task_queue) == []


@pytest.mark.slow
async def test_run_worker_until_stops_gracefully_when_told(
    temporal_client: Client, task_queue: str
) -> None:
    stop = asyncio.Event()
    worker = build_worker(
        temporal_client, task_queue, activities=[shout], workflows=[GreetingWorkflow]
    )
    running = asyncio.create_task(run_worker_until(worker, stop))
    result = await temporal_client.execute_workflow(
        GreetingWorkflow.run, "carol", id=f"greet-{uuid.uuid4()}", task_queue=task_queue
    )
    assert result.startswith("CAROL!")
    assert not running.done()

    stop.set()
    await asyncio.wait_for(running, timeout=10)
    assert worker.is_shutdown


@pytest.mark.slow
async def test_run_worker_until_shuts_the_worker_down_when_cancelled(
    temporal_client: Client, task_queue: str
) -> None:
    worker = build_worker(temporal_client, task_queue, activities=[shout])
    running = asyncio.create_task(run_worker_until(worker, asyncio.Event()))
    await asyncio.sleep(0.2)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, timeout=10)
    assert worker.is_shutdown


@pytest.mark.slow
@pytest.mark.parametrize("passed_through", [True, False])
async def test_passthrough_modules_are_shared_with_the_sandbox_not_reimported(
    temporal_client: Client, task_queue: str, passed_through: bool
) -> None:
    worker = build_worker(
        temporal_client,
        task_queue,
        activities=[],
        workflows=[ModuleIdentityWorkflow],
        passthrough_modules=[sandbox_probe.__name__] if passed_through else [],
    )
    async with worker:
        error_class, probe = await temporal_client.execute_workflow(
            ModuleIdentityWorkflow.run, id=f"identity-{uuid.uuid4()}", task_queue=task_queue
        )
    assert error_class == id(TierflowError)  # engine.errors is passed through by default
    assert (probe == sandbox_probe.TOKEN) is passed_through


@pytest.mark.slow
async def test_run_worker_until_reports_a_worker_that_cannot_run(
    temporal_server: EmbeddedTemporal, task_queue: str
) -> None:
    assert temporal_server.address is not None
    client = await Client.connect(temporal_server.address, namespace="no-such-namespace")
    worker = build_worker(client, task_queue, activities=[shout])
    with pytest.raises(TemporalError, match=rf"worker on task queue '{task_queue}' stopped"):
        await asyncio.wait_for(run_worker_until(worker, asyncio.Event()), timeout=10)


@pytest.mark.slow
async def test_the_time_skipping_server_sleeps_for_hours_in_moments(task_queue: str) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path())
    )
    async with (
        env,
        build_worker(env.client, task_queue, activities=[shout], workflows=[SleepyWorkflow]),
    ):
        started = time.monotonic()
        slept = await env.client.execute_workflow(
            SleepyWorkflow.run, 4.0, id=f"sleepy-{uuid.uuid4()}", task_queue=task_queue
        )
        elapsed = time.monotonic() - started
    assert slept >= timedelta(hours=4).total_seconds()
    assert elapsed < 5


@pytest.mark.slow
async def test_a_worker_with_nothing_to_run_is_refused(temporal_client: Client) -> None:
    with pytest.raises(TierflowError, match=r"'idle' has no activities and no workflows"):
        build_worker(temporal_client, "idle", activities=[])


@pytest.mark.slow
async def test_an_undecorated_activity_is_refused_with_the_task_queue(
    temporal_client: Client,
) -> None:
    def not_an_activity() -> None: ...

    with pytest.raises(TierflowError, match=r"cannot build the worker for 'plain'"):
        build_worker(temporal_client, "plain", activities=[not_an_activity])
