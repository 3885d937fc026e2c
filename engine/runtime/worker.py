"""Building a Temporal worker the way Tierflow runs one, and running it until told to stop.

Activities are mostly synchronous (they use SQLAlchemy sessions), so they run
on a thread pool the worker owns and shuts down once it has stopped.
Workflows run in Temporal's sandbox; modules that are deterministic and that
workflow code only imports are passed through it instead of being re-imported
for every run, which costs 20-35 % of the worker's CPU (../shared/TEMPORAL.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from engine.errors import TemporalError, TierflowError

# Modules passed through the workflow sandbox: deterministic, and only imported
# by workflow code (their functions run inside the workflow, their module state
# is shared across runs). Workflow classes must stay outside these packages,
# or the sandbox would stop checking them; so the engine lists its pure
# sub-packages rather than "engine" as a whole.
PASSTHROUGH_MODULES: tuple[str, ...] = (
    "annotated_types",
    "jinja2",
    "markupsafe",
    "pydantic",
    "pydantic_core",
    "ruamel",
    "sqlalchemy",
    "typing_inspection",
    "engine.dsl",
    "engine.errors",
    "engine.model",
)

DEFAULT_MAX_CONCURRENT_ACTIVITIES = 16
DEFAULT_GRACEFUL_SHUTDOWN = timedelta(seconds=10)


class _Worker(Worker):
    """A Worker that shuts down its activity thread pool once it has stopped running."""

    def __init__(
        self, client: Client, *, activity_executor: ThreadPoolExecutor, **kwargs: Any
    ) -> None:
        super().__init__(client, activity_executor=activity_executor, **kwargs)
        self._owned_executor = activity_executor

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            # Every activity has finished or been cancelled by now; nothing waits on the pool.
            self._owned_executor.shutdown(wait=False, cancel_futures=True)


def sandbox_runner(passthrough_modules: Sequence[str] = ()) -> SandboxedWorkflowRunner:
    """The workflow sandbox every worker (and the Replayer) uses: :data:`PASSTHROUGH_MODULES`."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(
        *PASSTHROUGH_MODULES, *passthrough_modules
    )
    return SandboxedWorkflowRunner(restrictions=restrictions)


def build_worker(
    client: Client,
    task_queue: str,
    *,
    activities: Sequence[Callable[..., Any]],
    workflows: Sequence[type] = (),
    max_concurrent_activities: int = DEFAULT_MAX_CONCURRENT_ACTIVITIES,
    graceful_shutdown: timedelta = DEFAULT_GRACEFUL_SHUTDOWN,
    passthrough_modules: Sequence[str] = (),
) -> Worker:
    """Return a worker for ``task_queue`` that runs ``activities`` and ``workflows``.

    Synchronous activities run on a pool of ``max_concurrent_activities``
    threads owned by the worker. On shutdown, running activities get
    ``graceful_shutdown`` to finish before they are cancelled.
    ``passthrough_modules`` adds to :data:`PASSTHROUGH_MODULES`.

    Start it with ``await worker.run()`` (stop with ``await worker.shutdown()``),
    ``async with worker:``, or :func:`run_worker_until`.
    """
    if not activities and not workflows:
        raise TierflowError(
            f"the worker for task queue '{task_queue}' has no activities and no workflows; "
            f"Temporal needs at least one (are any plugins installed and enabled?)"
        )
    if max_concurrent_activities < 1:
        raise TierflowError(
            f"max_concurrent_activities must be at least 1, got {max_concurrent_activities}"
        )
    executor = ThreadPoolExecutor(
        max_workers=max_concurrent_activities, thread_name_prefix=f"activity-{task_queue}"
    )
    try:
        return _Worker(
            client,
            task_queue=task_queue,
            activities=list(activities),
            workflows=list(workflows),
            activity_executor=executor,
            max_concurrent_activities=max_concurrent_activities,
            workflow_runner=sandbox_runner(passthrough_modules),
            graceful_shutdown_timeout=graceful_shutdown,
        )
    except (TypeError, ValueError) as exc:  # e.g. an undecorated activity, a duplicate name
        executor.shutdown()
        raise TierflowError(f"cannot build the worker for '{task_queue}': {exc}") from exc


async def run_worker_until(worker: Worker, stop: asyncio.Event) -> None:
    """Run ``worker`` until ``stop`` is set, then shut it down gracefully.

    Returns once the worker has stopped. Raises :class:`TemporalError` if the
    worker fails on its own (for instance when the server goes away for good or
    the namespace does not exist). If the caller is cancelled, the worker is
    still shut down before the cancellation propagates.
    """
    running = asyncio.create_task(worker.run(), name=f"worker {worker.task_queue}")
    stopping = asyncio.create_task(stop.wait(), name=f"stop worker {worker.task_queue}")
    try:
        await asyncio.wait((running, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        await worker.shutdown()  # returns at once if the worker already stopped
    try:
        await running
    except Exception as exc:
        raise TemporalError(
            f"the worker on task queue '{worker.task_queue}' stopped: {type(exc).__name__}: {exc}"
        ) from exc
