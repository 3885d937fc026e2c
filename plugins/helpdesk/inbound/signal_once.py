"""A reply's signal, delivered to the ticket's run at most once however often the mail comes.

The signal is recorded first (its ``signalled`` event and comment, keyed by the
mail's record) and delivered after. Each delivery names the record twice: as
the request id Temporal deduplicates signals by (a deterministic UUID), and as
the sender identity the run's history keeps with the signal. A retry after a
crash between delivering and noting it asks the run's history whether the
signal is there (:func:`received`) and delivers it only if not.
"""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.service import RPCError, RPCStatusCode

from engine.errors import TemporalError
from engine.runtime.client import Runtime
from engine.runtime.messages import SIGNAL, SignalInput
from engine.signals import SIGNAL_TIMEOUT, SignalError


def identity(record_id: int) -> str:
    """The sender identity the run's history keeps with the signal of mail ``record_id``."""
    return f"tierflow-inbound-mail/{record_id}"


def request_id(record_id: int, workflow_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{identity(record_id)}/{workflow_id}"))


async def received(runtime: Runtime, workflow_id: str, record_id: int) -> bool:
    """Whether the run's history holds the signal of mail ``record_id``."""
    ours, rid = identity(record_id), request_id(record_id, workflow_id)
    handle = runtime.client.get_workflow_handle(workflow_id)
    try:
        async with asyncio.timeout(SIGNAL_TIMEOUT * 3):
            async for event in handle.fetch_history_events():
                if event.HasField("workflow_execution_signaled_event_attributes"):
                    found = event.workflow_execution_signaled_event_attributes
                    if found.identity == ours or found.request_id == rid:
                        return True
    except RPCError as exc:
        raise TemporalError(f"cannot read the history of run {workflow_id}: {exc}") from exc
    except TimeoutError as exc:
        raise TemporalError(f"cannot read the history of run {workflow_id}: no answer") from exc
    return False


async def deliver_once(
    runtime: Runtime, workflow_id: str, name: str, data: dict, record_id: int
) -> None:
    """Send signal ``name`` with ``data`` for mail ``record_id``. :class:`SignalError` 409 if
    the run has ended; :class:`TemporalError` if Temporal does not take it."""
    client = runtime.client
    request = SignalWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=workflow_id),
        signal_name=SIGNAL,
        identity=identity(record_id),
        request_id=request_id(record_id, workflow_id),
    )
    request.input.payloads.extend(await client.data_converter.encode([SignalInput(name, data)]))
    try:
        async with asyncio.timeout(SIGNAL_TIMEOUT):
            await client.workflow_service.signal_workflow_execution(request, retry=True)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise SignalError(409, f"the run {workflow_id} has ended") from exc
        raise TemporalError(f"cannot signal run {workflow_id}: {exc}") from exc
    except TimeoutError as exc:
        raise TemporalError(f"cannot signal run {workflow_id}: no answer") from exc
