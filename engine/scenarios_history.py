"""Reading a scenario's run from Temporal histories: has it ended, is it settled?

A run is *settled* when it has ended, or when it and each of its running
children wait with no workflow task and no activity under way: nothing more
happens until someone acts or time passes. Histories say so exactly, so the
runner never has to guess with a timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import (
    Client,
)

_WFT_OPEN = EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
_WFT_DONE = (
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
)
_ACTIVITY_DONE = (
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
)
_CHILD_DONE = (
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
)
_RUN_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "cancelled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued as new",
}
_BENIGN_WFT_FAILURES = {
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
}


@dataclass
class RunState:
    """A run and its children as their histories show them."""

    closed: str | None = None
    idle: bool = True
    failure: str | None = None
    timers: list[datetime] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    activities: list[str] = field(default_factory=list)


async def tree_state(client: Client, workflow_id: str) -> RunState:
    """The state of a run (its latest run, after continue-as-new) and of its running children."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    state, children = _read(history.events, workflow_id)
    if state.closed is not None:
        return state
    for child_id in children:
        child = await tree_state(client, child_id)
        if child.closed is not None:  # the parent has yet to hear of it
            state.idle = False
            continue
        state.idle = state.idle and child.idle
        state.failure = state.failure or child.failure
        state.timers += child.timers
        state.running += child.running
        state.activities += child.activities
    return state


def _read(events: Sequence[Any], workflow_id: str) -> tuple[RunState, list[str]]:  # noqa: PLR0912
    """The state one history shows (one branch per kind of event), and its running children."""
    state = RunState(running=[workflow_id])
    task_open, failure = False, None
    activities: dict[int, str] = {}
    timers: dict[str, datetime] = {}
    children: dict[int, str] = {}
    for event in events:
        kind = event.event_type
        attributes = getattr(event, event.WhichOneof("attributes") or "", None)
        if kind == _WFT_OPEN:
            task_open = True
        elif kind in _WFT_DONE:
            task_open, failure = False, None
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            task_open = False
            if attributes.cause not in _BENIGN_WFT_FAILURES:
                failure = attributes.failure.message or "the workflow task failed"
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities[event.event_id] = attributes.activity_type.name
        elif kind in _ACTIVITY_DONE:
            activities.pop(attributes.scheduled_event_id, None)
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            fires = event.event_time.ToDatetime(tzinfo=UTC)
            timers[attributes.timer_id] = fires + attributes.start_to_fire_timeout.ToTimedelta()
        elif kind in (EventType.EVENT_TYPE_TIMER_FIRED, EventType.EVENT_TYPE_TIMER_CANCELED):
            timers.pop(attributes.timer_id, None)
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            children[event.event_id] = attributes.workflow_id
        elif kind in _CHILD_DONE:
            children.pop(attributes.initiated_event_id, None)
        elif kind in _RUN_CLOSED:
            state.closed = _RUN_CLOSED[kind]
    if failure is not None:
        state.failure = f"the workflow task failed (a bug in the interpreter?): {failure}"
    state.idle = not task_open and not activities
    state.timers = list(timers.values())
    state.activities = list(activities.values())
    return state, list(children.values())
