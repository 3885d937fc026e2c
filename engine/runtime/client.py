"""Connecting to Temporal, and asking whether it is up.

Both functions turn every way the SDK can fail (a refused connection, an
unknown namespace, a timeout) into one :class:`engine.errors.TemporalError`
that names the address and says what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from engine.errors import TemporalError, TierflowError
from engine.runtime.messages import (
    COMPLETE_TASK,
    RUN_WORKFLOW,
    SIGNAL,
    OpenTask,
    RunInput,
    SignalInput,
    TaskCompletion,
    TaskDone,
)

_FIX = (
    "is a Temporal server running there? Set TIERFLOW_TEMPORAL_ADDRESS to its host:port, "
    "or unset it to let 'tierflow serve' start the embedded server"
)
# Extra seconds allowed on top of the RPC's own deadline before asyncio gives up on it.
_GRACE = 1.0


async def connect(address: str, namespace: str = "default", *, timeout: float = 10) -> Client:
    """Connect to the Temporal frontend at ``address`` (``host:port``) and check ``namespace``.

    Returns a client once the server has answered and the namespace exists, so a
    typo in either is reported here rather than later by a worker that never
    receives a task. Raises :class:`TemporalError` when that does not happen
    within ``timeout`` seconds.
    """
    try:
        async with asyncio.timeout(timeout + _GRACE):
            client = await Client.connect(
                address, namespace=namespace, connect_timeout=timedelta(seconds=timeout)
            )
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=timeout)
            )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise TemporalError(
                f"Temporal at {address} has no namespace '{namespace}'; create it with "
                f"'temporal operator namespace create --address {address} {namespace}' "
                f"or set TIERFLOW_TEMPORAL_NAMESPACE to an existing one"
            ) from exc
        raise TemporalError(f"cannot connect to Temporal at {address}: {exc}; {_FIX}") from exc
    except TimeoutError as exc:  # before OSError, of which it is a subclass
        raise TemporalError(
            f"cannot connect to Temporal at {address}: no answer within {timeout:g} s; {_FIX}"
        ) from exc
    except (RuntimeError, OSError) as exc:  # the SDK reports a failed connect as RuntimeError
        raise TemporalError(f"cannot connect to Temporal at {address}: {exc}; {_FIX}") from exc
    return client


async def check_health(client: Client, timeout: float = 2) -> None:
    """Return when the server behind ``client`` answers its health check within ``timeout`` s.

    Raises :class:`TemporalError` otherwise. It does not retry, so it returns
    quickly when the server is down (a refused connection fails at once; a
    server that hangs is given ``timeout`` seconds): fit for ``GET /healthz``.
    """
    address = client.service_client.config.target_host
    try:
        async with asyncio.timeout(timeout + _GRACE):
            serving = await client.service_client.check_health(
                retry=False, timeout=timedelta(seconds=timeout)
            )
    except RPCError as exc:
        raise TemporalError(f"Temporal at {address} is not answering: {exc}") from exc
    except TimeoutError as exc:
        raise TemporalError(
            f"Temporal at {address} is not answering: no reply within {timeout:g} s"
        ) from exc
    if not serving:
        raise TemporalError(f"Temporal at {address} answered, but its workflow service is down")


# ------------------------------------------------------------- runs -------


class TaskRefused(TierflowError):
    """A task completion was refused (not open, done meanwhile, data not fitting its form)."""


@dataclass(frozen=True)
class RunState:
    """What ``describe`` tells of a run."""

    workflow_id: str
    status: str
    current_steps: list[str]
    open_tasks: list[OpenTask]
    path: list[str]


class Runtime:
    """Starting and steering workflow runs: what the web layer, the CLI and tests use.

    Every run is the interpreter workflow (``tierflow.run``) on ``task_queue``.
    """

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def start(
        self,
        definition: str,
        *,
        key: str,
        work_item_id: int | None = None,
        input: dict[str, Any] | None = None,
        content_hash: str = "",
    ) -> str:
        """Start a run of ``definition`` (pinned to ``content_hash``, else its deployed version).

        ``key`` is the caller's idempotency key: starting again with the same key
        returns the first run's id and starts nothing. Returns the workflow id.
        """
        workflow_id = f"{definition}/{key}"
        # a finished run of the key makes the start fail: the key still names that run
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                RUN_WORKFLOW,
                RunInput(definition, content_hash, work_item_id, dict(input or {})),
                id=workflow_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        return workflow_id

    async def complete_task(self, workflow_id: str, completion: TaskCompletion) -> TaskDone:
        """Complete a task; returns once recorded. Raises :class:`TaskRefused` with the reason."""
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            return await handle.execute_update(COMPLETE_TASK, completion, result_type=TaskDone)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            reason = getattr(cause, "message", None) or str(cause or exc)
            raise TaskRefused(f"task {completion.task_id}: {reason}") from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise TaskRefused(
                    f"task {completion.task_id}: its workflow run has finished"
                ) from exc
            raise TemporalError(f"cannot complete task {completion.task_id}: {exc}") from exc

    async def signal(self, workflow_id: str, name: str, payload: dict[str, Any] | None = None):
        """Deliver a named signal (``wait: {signal: name}``) to a run."""
        handle = self.client.get_workflow_handle(workflow_id)
        await handle.signal(SIGNAL, SignalInput(name, dict(payload or {})))

    async def cancel(self, workflow_id: str) -> None:
        """Cancel a run; its open tasks are closed as cancelled."""
        await self.client.get_workflow_handle(workflow_id).cancel()

    async def describe(self, workflow_id: str) -> RunState:
        """The run's status, the steps it is in, its open tasks and the path so far."""
        handle = self.client.get_workflow_handle(workflow_id)
        description = await handle.describe()
        status = description.status.name.lower() if description.status else "unknown"
        if status != "running":
            return RunState(workflow_id, status, [], [], [])
        return RunState(
            workflow_id,
            status,
            await handle.query("current_steps", result_type=list[str]),
            await handle.query("open_tasks", result_type=list[OpenTask]),
            await handle.query("path", result_type=list[str]),
        )
