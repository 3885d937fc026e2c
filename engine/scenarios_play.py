"""One scenario's run: doing its interactions, settling between them, and observing the end.

Time on the test server stands still unless a scenario lets it pass
(``wait:``, ``after:``): a task stays open until the scenario completes it,
and an overdue rule fires only once the scenario has waited long enough.
Before each interaction and at the end, the run is left to settle
(:mod:`engine.scenarios_history`), so "the task never opened" is known at
once, with what is open instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import (
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ActivityError, ChildWorkflowError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from engine.dsl.durations import format_duration
from engine.dsl.loader import PathKey
from engine.model import Event, Person, Task, WorkItem
from engine.runtime.messages import (
    COMPLETE_TASK,
    SIGNAL,
    OpenTask,
    SignalInput,
    TaskCompletion,
    TaskDone,
)
from engine.scenarios import Interaction
from engine.scenarios_expect import Observed
from engine.scenarios_history import RunState, tree_state
from engine.scenarios_plan import Plan
from engine.scenarios_stubs import Recording

POLL = 0.005
"""Seconds between two looks at a run that is still busy."""
BUSY_LIMIT = 20.0
"""Real seconds a run may stay busy (a workflow task or an activity under way) before it fails."""
RETRY_LOOK = 0.5
"""Real seconds a run stays busy before its pending activities are looked at for failures."""
RETRIED = 2
"""An activity on this attempt (it failed before) fails the scenario at once, with its error."""


class ScenarioFailed(Exception):
    """The scenario cannot go on: ``message`` says why, ``at`` where in the scenario."""

    def __init__(self, message: str, at: PathKey = ()) -> None:
        super().__init__(message)
        self.message, self.at = message, at


def person_id(session: Session, email: str | None) -> int | None:
    if not email:
        return None
    return session.scalars(select(Person.id).filter_by(email=email.lower())).one()


class ScenarioRun:
    """One scenario's run: doing its interactions, settling, and observing what it did."""

    def __init__(
        self,
        env: WorkflowEnvironment,
        reads: sessionmaker[Session],
        plan: Plan,
        handle: WorkflowHandle[Any, dict[str, Any]],
        *,
        item_id: int,
        recording: Recording,
    ) -> None:
        self.env = env
        self.reads = reads
        self.client = env.client
        self.plan = plan
        self.handle = handle
        self.item_id = item_id
        self.recording = recording
        self.closed = False

    # -- interactions ---------------------------------------------------------

    async def interact(self, step: Interaction) -> None:
        if step.wait is not None:
            await self.settle()
            await self.env.sleep(step.wait)
            return
        if step.after is not None:
            await self.settle()
            await self.env.sleep(step.after)
        if step.signal is not None:
            await self.signal(step.signal, step.payload)
        else:
            await self.complete(step)

    async def complete(self, step: Interaction) -> None:
        name = str(step.complete)
        deadline = time.monotonic() + BUSY_LIMIT
        while True:
            found = await self._open_task(name)
            if found is not None:
                break
            state = await self.state()
            if state.closed or state.idle:
                found = await self._open_task(name)  # it may have opened since the first look
                if found is not None:
                    break
                raise ScenarioFailed(await self._not_open(name, state))
            await self._check_busy(state, deadline)
        task_id, workflow_id = found
        completion = TaskCompletion(
            task_id, step.outcome, to_jsonable_python(step.data), self._actor(step.actor)
        )
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            await handle.execute_update(COMPLETE_TASK, completion, result_type=TaskDone)
        except RPCError as exc:  # its run ended meanwhile (or never could take it)
            state = await self.state()
            if state.closed is None:
                raise ScenarioFailed(f"completing task '{name}' failed: {exc}") from None
            raise ScenarioFailed(
                f"task '{name}' is still open, but its run has {await self._how_it_ended(state)}"
                f" (it went {' → '.join(await self._query_path()) or 'nowhere'})"
            ) from None
        except WorkflowUpdateFailedError as exc:
            reason = _reason(exc)
            if completion.actor_id is not None and step.actor:
                reason = reason.replace(f"person {completion.actor_id} ", f"{step.actor} ")
            if step.refused is not None and step.refused.lower() in reason.lower():
                return
            expected = f" (expected a refusal saying {step.refused!r})" if step.refused else ""
            raise ScenarioFailed(f"the completion was refused: {reason}{expected}") from None
        if step.refused is not None:
            raise ScenarioFailed(
                f"expected the completion to be refused ({step.refused!r}), but it was accepted"
            )

    async def _open_task(self, step_id: str) -> tuple[int, str] | None:
        """The newest open task of ``step_id`` that its run is ready to have completed."""
        with self.reads() as session:
            row = session.execute(
                select(Task.id, Task.workflow_id)
                .filter_by(work_item_id=self.item_id, step_id=step_id, status="open")
                .order_by(Task.id.desc())
            ).first()
        if row is None:
            return None
        handle = self.client.get_workflow_handle(row.workflow_id)
        tasks = await handle.query("open_tasks", result_type=list[OpenTask])
        return (row.id, row.workflow_id) if any(t.task_id == row.id for t in tasks) else None

    def _actor(self, email: str | None) -> int | None:
        if email is None:
            return None
        with self.reads() as session:
            return person_id(session, email)

    async def signal(self, name: str, payload: dict[str, Any]) -> None:
        state = await self.settle()
        if state.closed:
            raise ScenarioFailed(f"the run has already {await self._how_it_ended(state)}")
        targets = [wid for wid in state.running if name in self._signals_of(wid)]
        for workflow_id in targets or [self.handle.id]:
            await self.client.get_workflow_handle(workflow_id).signal(
                SIGNAL, SignalInput(name, to_jsonable_python(payload))
            )

    def _signals_of(self, workflow_id: str) -> set[str]:
        """The signals the workflow behind ``workflow_id`` (the run or a child) waits for."""
        name = self.plan.subject.name
        if workflow_id != self.handle.id:  # a child: <parent id>/<call step>/<visit>
            step_id = workflow_id.rsplit("/", 2)[-2]
            for loaded in self.plan.subject.family:
                for step in loaded.workflow.all_steps():
                    if step.id == step_id and step.call is not None:
                        name = step.call.workflow
        loaded = next(w for w in self.plan.subject.family if w.workflow.name == name)
        return {
            str(step.wait.signal)
            for step in loaded.workflow.all_steps()
            if step.wait is not None and step.wait.signal
        }

    # -- settling -------------------------------------------------------------

    async def settle(self) -> RunState:
        """Wait until the run has ended or waits with nothing under way; fail on a failure."""
        deadline = time.monotonic() + BUSY_LIMIT
        while True:
            state = await self.state()
            if state.closed or state.idle:
                return state
            await self._check_busy(state, deadline)

    async def state(self) -> RunState:
        state = await tree_state(self.client, self.handle.id)
        if state.failure is not None:
            raise ScenarioFailed(state.failure)
        self.closed = state.closed is not None
        return state

    async def _check_busy(self, state: RunState, deadline: float) -> None:
        """Fail on an activity that failed and is being retried, or when busy for too long.

        Activities are looked at once the run has been busy for a while: a retry
        waits a second at least, and a look costs a round trip per workflow.
        """
        if deadline - time.monotonic() > BUSY_LIMIT - RETRY_LOOK:
            await asyncio.sleep(POLL)
            return
        for workflow_id in state.running:
            description = await self.client.get_workflow_handle(workflow_id).describe()
            for pending in description.raw_description.pending_activities:
                if pending.attempt >= RETRIED and pending.last_failure.message:
                    raise ScenarioFailed(
                        f"activity {pending.activity_type.name} failed and is being retried: "
                        f"{pending.last_failure.message}"
                    )
        if time.monotonic() > deadline:
            busy = ", ".join(state.activities) or "a workflow task"
            raise ScenarioFailed(
                f"the run was still busy after {BUSY_LIMIT:g} s of real time (running: {busy})"
            )
        await asyncio.sleep(POLL)

    # -- what happened --------------------------------------------------------

    async def observe(self) -> Observed:
        state = await self.settle()
        observed = Observed(ended=state.closed is not None)
        if state.closed == "completed":
            result = await self.handle.result()
            observed.outcome = result.get("outcome")
            observed.vars = result.get("vars")
            observed.path = list(result.get("path") or [])
        else:
            if state.closed == "failed":
                observed.failure = await self._failure()
            elif state.closed is not None:
                observed.failure = f"it was {state.closed}"
            else:
                observed.waiting = await self.waiting(state)
            observed.path = await self._query_path()
        tasks, observed.events, observed.item = self._records()
        observed.tasks = await self._in_path_order(tasks, observed.path)
        observed.calls = list(self.recording.calls)
        return observed

    async def _query_path(self) -> list[str]:
        try:
            return await self.handle.query("path", result_type=list[str])
        except (RPCError, WorkflowFailureError):
            return []

    async def _how_it_ended(self, state: RunState) -> str:
        if state.closed != "failed":
            if state.closed == "completed":
                result = await self.handle.result()
                return f"ended with the outcome '{result.get('outcome')}'"
            return f"ended: it was {state.closed}"
        return f"failed: {await self._failure()}"

    async def _failure(self) -> str:
        try:
            await self.handle.result()
        except WorkflowFailureError as exc:
            return _failure_text(exc)
        return "it failed"

    async def waiting(self, state: RunState) -> str:
        """Where a settled run waits, in words: current steps, open tasks, the next timer."""
        steps: list[str] = []
        for workflow_id in state.running:
            handle = self.client.get_workflow_handle(workflow_id)
            steps += await handle.query("current_steps", result_type=list[str])
        with self.reads() as session:
            rows = session.scalars(
                select(Task).filter_by(work_item_id=self.item_id, status="open").order_by(Task.id)
            ).all()
            tasks = [_task_label(task) for task in rows]
        parts = [f"it waits at {', '.join(steps) or 'no step'}"]
        parts.append(f"open tasks: {', '.join(tasks)}" if tasks else "no task is open")
        if state.timers:
            now = await self.env.get_current_time()
            left = max(min(state.timers) - now, timedelta(0))
            seconds = round(left.total_seconds())
            parts.append(f"next timer in {format_duration(timedelta(seconds=seconds))}")
        else:
            parts.append("no timer is set")
        return "; ".join(parts)

    async def _not_open(self, name: str, state: RunState) -> str:
        if state.closed is not None:
            return (
                f"task '{name}' is not open: the run has {await self._how_it_ended(state)} "
                f"(it went {' → '.join(await self._query_path()) or 'nowhere'})"
            )
        hint = ""
        if state.timers:
            hint = " (to let time pass first, give the step 'after: <duration>')"
        return f"task '{name}' is not open and the run can go no further: " + (
            await self.waiting(state) + hint
        )

    async def _in_path_order(
        self, tasks: list[dict[str, Any]], path: list[str]
    ) -> list[dict[str, Any]]:
        """``tasks`` in the order their steps stand in the path (a child's at its call step).

        Task ids are no order to go by: the tasks of parallel branches are
        created by activities running at the same time, in either order.
        """
        paths = {self.handle.id: path}

        async def path_of(workflow_id: str) -> list[str]:
            if workflow_id not in paths:
                handle = self.client.get_workflow_handle(workflow_id)
                try:
                    paths[workflow_id] = await handle.query("path", result_type=list[str])
                except (RPCError, WorkflowFailureError):
                    paths[workflow_id] = []
            return paths[workflow_id]

        async def key(workflow_id: str, step: str, visit: int) -> tuple[int, ...]:
            own = _position(await path_of(workflow_id), step, visit)
            if workflow_id == self.handle.id or workflow_id.count("/") < 2:
                return (own,)
            parent, call, occurrence = workflow_id.rsplit("/", 2)
            return (*await key(parent, call, int(occurrence)), own)

        keys = [
            (await key(task.pop("workflow_id"), task["step"], task["visit"]), number)
            for number, task in enumerate(tasks)
        ]
        return [tasks[number] for _, number in sorted(keys)]

    def _records(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        with self.reads() as session:
            tasks = session.scalars(
                select(Task).filter_by(work_item_id=self.item_id).order_by(Task.id)
            ).all()
            events = session.scalars(
                select(Event).filter_by(work_item_id=self.item_id).order_by(Event.id)
            ).all()
            item = session.get(WorkItem, self.item_id)
            assert item is not None
            return (
                [_task_record(task) for task in tasks],
                [{"type": event.type, "data": dict(event.data)} for event in events],
                _item_record(item),
            )

    async def stop(self) -> None:
        """Terminate the run (and so its children) if the scenario left it running."""
        if self.closed:
            return
        with contextlib.suppress(RPCError):  # it ended meanwhile
            await self.client.get_workflow_handle(self.handle.id).terminate(
                reason="the scenario is over"
            )


def _task_label(task: Task) -> str:
    who = task.team.slug if task.team else (task.assignee.email if task.assignee else "")
    visit = f", visit {task.occurrence}" if task.occurrence > 1 else ""
    return f"{task.step_id} ({who or 'by role'}{visit})"


def _position(path: list[str], step: str, visit: int) -> int:
    """Where the ``visit``-th visit of ``step`` stands in ``path`` (the end if it does not)."""
    seen = 0
    for index, each in enumerate(path):
        seen += each == step
        if seen == visit:
            return index
    return len(path)


def _task_record(task: Task) -> dict[str, Any]:
    return {
        "workflow_id": task.workflow_id,
        "visit": task.occurrence,
        "step": task.step_id,
        "status": task.status,
        "outcome": task.outcome,
        "team": task.team.slug if task.team else None,
        "assignee": task.assignee.email if task.assignee else None,
        "completed_by": task.completed_by.email if task.completed_by else None,
        "data": dict(task.data),
    }


def _item_record(item: WorkItem) -> dict[str, Any]:
    return {
        "title": item.title,
        "status": item.status,
        "priority": item.priority,
        "reference": item.reference,
        "owner_team": item.owner_team.slug if item.owner_team else None,
        "current_team": item.current_team.slug if item.current_team else None,
        "assignee": item.assignee.email if item.assignee else None,
        "requester": item.requester.email if item.requester else None,
        "closed": item.closed_at is not None,
        "due_at": item.due_at.isoformat() if item.due_at else None,
        "custom": dict(item.custom),
    }


def _reason(exc: WorkflowUpdateFailedError) -> str:
    cause = exc.cause
    return getattr(cause, "message", None) or str(cause or exc)


def _failure_text(exc: BaseException) -> str:
    """A failure chain in words: ``step 'x': activity engine.open_task: there is no team 'y'``."""
    parts: list[str] = []
    cause: BaseException | None = exc.cause if isinstance(exc, WorkflowFailureError) else exc
    while cause is not None:
        if isinstance(cause, ActivityError):
            parts.append(f"activity {cause.activity_type}")
        elif isinstance(cause, ChildWorkflowError):
            parts.append(f"child workflow {cause.id}")
        elif getattr(cause, "message", None):
            parts.append(str(cause.message))  # type: ignore[attr-defined]
        cause = getattr(cause, "cause", None)
    return ": ".join(parts) or str(exc)
