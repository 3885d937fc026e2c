"""The one interpreter workflow: it runs every YAML definition, step by step.

Workflow code here touches no database, clock or network: it sees plain data,
uses ``workflow.now()`` and Temporal timers, and does all I/O through
activities. A run is pinned to the definition version it started with (its
content hash, resolved once by a local activity and recorded in the history),
so deploying an edited file never changes a running instance.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic_core import to_jsonable_python

    from engine.contrib import ActionInput
    from engine.dsl.durations import format_duration, parse_duration
    from engine.dsl.expressions import ExpressionError, evaluate, render_value
    from engine.dsl.forms import validate_submission
    from engine.dsl.parse import parse_definition
    from engine.dsl.spec import Branch, Step, TaskSpec, Workflow
    from engine.runtime.messages import (
        COMPLETE_TASK,
        RUN_WORKFLOW,
        SIGNAL,
        CandidatesInput,
        CloseTaskInput,
        CreateItemInput,
        Definition,
        NotifyInput,
        OpenTask,
        OpenTaskInput,
        ReassignTaskInput,
        Resume,
        RunInput,
        SignalInput,
        TaskCompletion,
        TaskDone,
    )

WHO = ("team", "role", "person")
TASK_ACTORS = "task-actors"
"""Patch id: a task may be completed only by the people it is for (and admins)."""
LAZY_ITEM = "lazy-item-refresh"
"""Patch id: the work item is loaded only when a step's expressions read it."""
SHORT = timedelta(seconds=10)
"""Database activities: a worker that dies mid-way is given up on after this long."""
ACTION_TIMEOUT = timedelta(minutes=5)
DB_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))


@dataclass(frozen=True)
class _Goto:
    step: str


@dataclass(frozen=True)
class _End:
    outcome: str


class StepFailed(ApplicationError):
    """A step cannot go on (a bad expression, a goto nowhere); the run fails with the step named."""


_ITEM = re.compile(r"\bitem\b")


@lru_cache(maxsize=4096)
def _step_reads_item(text: str) -> bool:
    return bool(_ITEM.search(text))


def _reads_item(step: Step) -> bool:
    """Whether any expression or template of ``step`` (branches included) names ``item``.

    Nested parallel branches are checked when their own steps run.
    """
    own = step.model_copy(update={"parallel": None}) if step.parallel else step
    return _step_reads_item(own.model_dump_json(by_alias=True))


def _plain(value: Any) -> Any:
    """Durations as admins write them (``4h``), not ISO 8601, in task data and templates."""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _failed(step: Step, message: str) -> ApplicationError:
    return ApplicationError(f"step '{step.id}': {message}", type="StepFailed", non_retryable=True)


@workflow.defn(name=RUN_WORKFLOW)
class Interpreter:
    """Runs one work item's workflow definition."""

    def __init__(self) -> None:
        self.spec: Workflow | None = None
        self.definition: Definition | None = None
        self.run_input: RunInput | None = None
        self.item: dict[str, Any] = {}
        self.vars: dict[str, Any] = {}
        self.steps: dict[str, dict[str, Any]] = {}
        self.visits: dict[str, int] = {}
        self.current: list[str] = []
        self.path: list[str] = []
        self.open_tasks: dict[int, OpenTask] = {}
        self.completions: dict[int, TaskCompletion] = {}
        self.completing: set[int] = set()
        self.signals: dict[str, dict[str, Any]] = {}
        self.item_stale = True
        self.lazy_item = True
        self.opening = 0

    # -- the run ------------------------------------------------------------

    @workflow.run
    async def run(self, run: RunInput) -> dict[str, Any]:
        self.run_input = run
        self.definition = await workflow.execute_local_activity(
            "engine.load_definition", run, result_type=Definition, start_to_close_timeout=SHORT
        )
        try:
            self.spec = parse_definition(
                self.definition.source,
                self.definition.content_hash,
                self.definition.shared_forms,
            )
        except ValueError as exc:  # deployed definitions are validated; this one was not
            raise ApplicationError(
                f"workflow '{run.definition}' ({self.definition.content_hash[:12]}) does not "
                f"load: {exc}",
                type="BadDefinition",
                non_retryable=True,
            ) from None
        self.vars = dict(self.spec.variables)
        if run.work_item_id is None:  # a scheduled run: its own operational work item
            self.run_input = replace(run, work_item_id=await self._create_item())
        resume = run.resume
        if resume is not None:
            self.vars, self.steps = dict(resume.vars), dict(resume.steps)
            self.visits, self.path = dict(resume.visits), list(resume.path)
        # Runs started before this patch loaded the item eagerly (at the start and
        # after every task, action and call); their histories must replay the same.
        self.lazy_item = workflow.patched(LAZY_ITEM)
        await self._item_changed()
        try:
            outcome = await self._run_list(self.spec.steps, resume)
        except asyncio.CancelledError:
            await workflow.execute_activity(
                "engine.cancel_open_tasks",
                workflow.info().workflow_id,
                start_to_close_timeout=SHORT,
                retry_policy=DB_RETRY,
            )
            raise
        return {"outcome": outcome, "vars": self.vars, "path": self.path}

    async def _run_list(self, steps: list[Step], resume: Resume | None = None) -> str:
        """Run ``steps`` from the first (or where ``resume`` says); return the ``end`` reached."""
        index = {step.id: number for number, step in enumerate(steps)}
        top = self.spec is not None and steps is self.spec.steps
        number = index[resume.step] if resume is not None else 0
        while number < len(steps):
            step = steps[number]
            if top and resume is None and self._history_is_long():
                await self._continue_as_new(Resume(step.id))
            moved = await self._run_step(step, resume if top else None)
            resume = None
            if isinstance(moved, _End):
                return moved.outcome
            if isinstance(moved, _Goto):
                if moved.step not in index:
                    raise _failed(step, f"goes to '{moved.step}', which is not in the same list")
                number = index[moved.step]
            else:
                number += 1
        return "completed"

    async def _run_step(self, step: Step, resume: Resume | None = None) -> _Goto | _End | None:
        if resume is None or resume.task is None:
            self.visits[step.id] = self.visits.get(step.id, 0) + 1
            self.path.append(step.id)
        self.current.append(step.id)
        try:
            await self._item_for(step)
            if resume is not None and resume.task is not None:
                local = await self._task(step, resume)
            else:
                local = await getattr(self, f"_{step.kind}")(step)
        finally:
            self.current.remove(step.id)
        if isinstance(local, (_Goto, _End)):
            return local
        local = local or {}
        await self._item_for(step)
        for name, template in step.set.items():
            self.vars[name] = self._render(step, template, local)
        if step.decide is not None:
            return _Goto(self._choose(step, step.decide, local))
        if isinstance(step.next, str):
            return _Goto(step.next)
        if isinstance(step.next, list):
            return _Goto(self._choose(step, step.next, local))
        return None

    # -- step types -----------------------------------------------------------

    async def _task(self, step: Step, resume: Resume | None = None) -> dict[str, Any] | _Goto:
        spec = step.task
        assert spec is not None
        if resume is not None and resume.task is not None:  # continued as new while waiting
            task = resume.task
            self.open_tasks[task.task_id] = task
            due = datetime.fromisoformat(task.due_at) if task.due_at else None
            return await self._await_task(step, spec, task.task_id, due, list(resume.fired))
        visit = self.visits[step.id]
        due = self._due(step, spec)
        who = {k: self._render(step, getattr(spec, k), {}) for k in WHO}
        title = str(self._render(step, spec.title, {})) if spec.title else (step.title or step.id)
        request = OpenTaskInput(
            workflow_id=workflow.info().workflow_id, step_id=step.id, visit=visit,
            work_item_id=self._work_item_id,
            title=title, form=spec.form, due_at=due.isoformat() if due else None,
            **{k: _text(v) for k, v in who.items()},
        )  # fmt: skip
        # Known before the row exists: a completion can arrive as soon as it does.
        allowed = await self._candidates(request.team, request.role, request.person)
        self.opening += 1
        try:
            task_id = await workflow.execute_activity(
                "engine.open_task", request, result_type=int, start_to_close_timeout=SHORT,
                retry_policy=DB_RETRY,
            )  # fmt: skip
            self.open_tasks[task_id] = OpenTask(
                task_id=task_id, step_id=step.id, visit=visit, form=spec.form, title=title,
                team=request.team, role=request.role, person=request.person,
                due_at=request.due_at, allowed=allowed,
            )  # fmt: skip
        finally:
            self.opening -= 1
        return await self._await_task(step, spec, task_id, due, [0] * len(spec.overdue))

    async def _await_task(
        self, step: Step, spec: TaskSpec, task_id: int, due: datetime | None, fired: list[int]
    ) -> dict[str, Any] | _Goto:
        try:
            escalated = await self._wait_for_task(step, spec, task_id, due, fired)
        except asyncio.CancelledError:  # another branch won, or the run was cancelled
            if task_id in self.open_tasks:
                reason = "no longer needed: the step was cancelled"
                await self._close(CloseTaskInput(task_id, "cancelled", reason=reason))
            raise
        if escalated is not None:
            return escalated
        done = self.completions[task_id]
        result = {"outcome": done.outcome, "data": done.data, "completed_by": done.actor_id}
        self.steps[step.id] = result
        await self._item_changed()
        return {"outcome": done.outcome, "data": done.data}

    async def _wait_for_task(
        self, step: Step, spec: TaskSpec, task_id: int, due: datetime | None, fired: list[int]
    ) -> _Goto | None:
        """Wait for the completion, firing overdue rules on timers as they come due.

        A top-level task whose run's history has grown long continues as new
        here, carrying the open task and the rules fired so far.
        """
        top = self.spec is not None and any(each is step for each in self.spec.steps)
        while True:
            if top and self._history_is_long() and task_id not in self.completions:
                task = self.open_tasks[task_id]
                await self._continue_as_new(Resume(step.id, task=task, fired=fired))
            pending = self._next_rule(spec, fired, due)
            timeout = None
            if pending is not None:
                timeout = max(pending[1] - workflow.now(), timedelta(0))
            try:
                await workflow.wait_condition(lambda: task_id in self.completions, timeout=timeout)
                return None
            except TimeoutError:
                assert pending is not None
                number = pending[0]
                fired[number] += 1
                goto = await self._overdue(step, spec, number, task_id, fired[number])
                if goto is not None:
                    return goto

    def _next_rule(
        self, spec: TaskSpec, fired: list[int], due: datetime | None
    ) -> tuple[int, datetime] | None:
        if due is None:
            return None
        soonest: tuple[int, datetime] | None = None
        for number, rule in enumerate(spec.overdue):
            if fired[number] and rule.every is None:
                continue
            at = due + (rule.after or timedelta(0)) + (rule.every or timedelta(0)) * fired[number]
            if soonest is None or at < soonest[1]:
                soonest = (number, at)
        return soonest

    async def _overdue(
        self, step: Step, spec: TaskSpec, number: int, task_id: int, time: int
    ) -> _Goto | None:
        rule = spec.overdue[number]
        key = f"{self._key(step)}/overdue{number}/{time}"
        task = self.open_tasks.get(task_id)
        if rule.escalate is not None:
            if not rule.keep_open:
                reason = f"overdue: escalated to {rule.escalate}"
                await self._close(CloseTaskInput(task_id, "cancelled", reason=reason))
            return _Goto(rule.escalate)
        if rule.reassign is not None:
            who = {k: self._render(step, getattr(rule.reassign, k), {}) for k in WHO}
            await workflow.execute_activity(
                "engine.reassign_task",
                ReassignTaskInput(task_id, key, **{k: _text(v) for k, v in who.items()}),
                start_to_close_timeout=SHORT,
                retry_policy=DB_RETRY,
            )
            if task is not None:
                moved = replace(task, **{k: _text(v) for k, v in who.items() if v is not None})
                allowed = await self._candidates(moved.team, moved.role, moved.person)
                self.open_tasks[task_id] = replace(moved, allowed=allowed)
            return None
        if rule.notify is not None or rule.remind:
            message = rule.notify
            to = [self._render(step, r, {}) for r in message.to] if message else []
            if rule.remind and task is not None:
                to = [task.person or (f"team:{task.team}" if task.team else f"role:{task.role}")]
            subject = (
                self._render(step, message.subject, {})
                if message
                else f"Reminder: {task.title if task else step.id} is overdue"
            )
            body = self._render(step, message.body, {}) if message else ""
            await self._send(key, [str(t) for t in to], str(subject), str(body))
        return None

    async def _action(self, step: Step) -> dict[str, Any]:
        args = self._render_value(step, step.args, {})
        retry = RetryPolicy(
            maximum_attempts=step.retry.max_attempts if step.retry else 5,
            initial_interval=(step.retry and step.retry.initial_interval) or timedelta(seconds=1),
        )
        result = await workflow.execute_activity(
            step.action,
            ActionInput(
                workflow_id=workflow.info().workflow_id,
                step_id=step.id,
                key=self._key(step),
                work_item_id=self._work_item_id,
                args=args,
            ),
            start_to_close_timeout=step.timeout or ACTION_TIMEOUT,
            retry_policy=retry,
        )
        self.steps[step.id] = {"result": result}
        if step.result:
            self.vars[step.result] = result
        await self._item_changed()
        return {"result": result}

    async def _decide(self, step: Step) -> dict[str, Any]:
        return {}

    async def _wait(self, step: Step) -> dict[str, Any]:
        spec = step.wait
        assert spec is not None
        if spec.duration is not None:
            await workflow.sleep(spec.duration)
            return {}
        if spec.until is not None:
            until = self._moment(step, self._render(step, spec.until, {}))
            await workflow.sleep(max(until - workflow.now(), timedelta(0)))
            return {}
        name = str(spec.signal)
        try:
            await workflow.wait_condition(lambda: name in self.signals, timeout=spec.timeout)
        except TimeoutError:
            self.steps[step.id] = {"signal": None, "timed_out": True}
            return {"signal": None, "timed_out": True}
        payload = self.signals.pop(name)
        self.steps[step.id] = {"signal": payload, "timed_out": False}
        return {"signal": payload, "timed_out": False}

    async def _parallel(self, step: Step) -> dict[str, Any]:
        spec = step.parallel
        assert spec is not None
        branches = {
            name: asyncio.ensure_future(self._run_list(steps))
            for name, steps in spec.branches.items()
        }
        mode = asyncio.FIRST_COMPLETED if spec.wait_for == "first" else asyncio.FIRST_EXCEPTION
        done, pending = await workflow.wait(list(branches.values()), return_when=mode)
        for future in pending:
            future.cancel()
        if pending:
            await workflow.wait(list(pending))
        for future in done:
            if future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        outcomes = {
            name: future.result()
            for name, future in branches.items()
            if future.done() and not future.cancelled() and future.exception() is None
        }
        winner = (
            next((n for n, f in branches.items() if f in done), None)
            if spec.wait_for == "first"
            else None
        )
        self.steps[step.id] = {"outcomes": outcomes, "first": winner}
        return {"outcomes": outcomes, "first": winner}

    async def _send(self, key: str, to: list[str], subject: str, body: str) -> None:
        await workflow.execute_activity(
            "engine.notify",
            NotifyInput(key=key, work_item_id=self._work_item_id,
                        to=to, subject=subject, body=body),
            start_to_close_timeout=SHORT,
            retry_policy=DB_RETRY,
        )  # fmt: skip

    async def _notify(self, step: Step) -> dict[str, Any]:
        message = step.notify
        assert message is not None
        to = [str(self._render(step, r, {})) for r in message.to]
        await self._send(
            self._key(step), to, str(self._render(step, message.subject, {})),
            str(self._render(step, message.body, {})),
        )  # fmt: skip
        return {}

    async def _call(self, step: Step) -> dict[str, Any]:
        spec = step.call
        assert spec is not None
        child = RunInput(
            definition=spec.workflow,
            work_item_id=self._work_item_id,
            input=self._render_value(step, spec.input, {}),
        )
        result = await workflow.execute_child_workflow(
            RUN_WORKFLOW, child, id=self._key(step), result_type=dict
        )
        self.steps[step.id] = {"result": result}
        if step.result:
            self.vars[step.result] = result
        await self._item_changed()
        return {"result": result}

    async def _end(self, step: Step) -> _End:
        assert step.end is not None
        return _End(step.end.outcome)

    # -- human tasks: the update --------------------------------------------

    @workflow.update(name=COMPLETE_TASK)
    async def complete_task(self, completion: TaskCompletion) -> TaskDone:
        """Complete an open task; returns once the completion is recorded in the database."""
        if completion.task_id not in self.open_tasks:  # its row was written, the run not told yet
            await workflow.wait_condition(
                lambda: completion.task_id in self.open_tasks or not self.opening
            )
        try:
            self._validate_completion(completion)
        except ValueError as exc:
            raise ApplicationError(str(exc), type="TaskRefused", non_retryable=True) from None
        task = self.open_tasks[completion.task_id]
        self.completing.add(completion.task_id)
        clean = self._checked(task, completion)
        try:
            await self._close(
                CloseTaskInput(
                    task.task_id, "completed", completion.outcome, clean, completion.actor_id
                )
            )
        finally:
            self.completing.discard(completion.task_id)
        self.completions[task.task_id] = TaskCompletion(
            task.task_id, completion.outcome, clean, completion.actor_id
        )
        return TaskDone(task.task_id, task.step_id, completion.outcome)

    @complete_task.validator
    def _validate_completion(self, completion: TaskCompletion) -> None:
        task = self.open_tasks.get(completion.task_id)
        if task is None and self.opening and completion.task_id not in self.completions:
            return  # a task is being opened: the handler waits for it, then checks again
        if task is None or completion.task_id in self.completions:
            raise ValueError(f"task {completion.task_id} is not open in this run")
        if completion.task_id in self.completing:
            raise ValueError(f"task {completion.task_id} is being completed by someone else")
        if (
            completion.actor_id is not None
            and task.allowed is not None
            and completion.actor_id not in task.allowed
        ):
            whom = f"team {task.team}" if task.team else task.person or f"role {task.role}"
            raise ValueError(
                f"person {completion.actor_id} may not complete task {task.task_id}: "
                f"it is for {whom}"
            )
        self._checked(task, completion)

    def _checked(self, task: OpenTask, completion: TaskCompletion) -> dict[str, Any]:
        assert self.spec is not None
        form = self.spec.forms.get(task.form)
        if form is None:
            raise ValueError(f"task {task.task_id}: form '{task.form}' is unknown")
        outcomes = [o.value for o in form.outcomes]
        if outcomes and completion.outcome not in outcomes:
            raise ValueError(f"outcome {completion.outcome!r} is not one of: {', '.join(outcomes)}")
        clean, errors = validate_submission(form, completion.data)
        if errors:
            raise ValueError("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        return to_jsonable_python(_plain(clean))

    async def _close(self, close: CloseTaskInput) -> None:
        await workflow.execute_activity(
            "engine.close_task", close, start_to_close_timeout=SHORT, retry_policy=DB_RETRY
        )
        self.open_tasks.pop(close.task_id, None)

    # -- signals and queries ------------------------------------------------

    @workflow.signal(name=SIGNAL)
    def signal(self, signal: SignalInput) -> None:
        self.signals[signal.name] = dict(signal.payload)

    @workflow.query(name="current_steps")
    def current_steps(self) -> list[str]:
        return list(self.current)

    @workflow.query(name="path")
    def visited(self) -> list[str]:
        """Every step entered so far, in order (a step visited twice appears twice)."""
        return list(self.path)

    @workflow.query(name="open_tasks")
    def open_task_list(self) -> list[OpenTask]:
        return sorted(self.open_tasks.values(), key=lambda task: task.task_id)

    # -- helpers --------------------------------------------------------------

    async def _create_item(self) -> int:
        assert self.spec is not None
        info = workflow.info()
        title = f"{self.spec.title or self.spec.name} {workflow.now():%Y-%m-%d %H:%M} UTC"
        return await workflow.execute_activity(
            "engine.create_work_item",
            CreateItemInput(info.workflow_id, self.spec.kind, self.spec.name, title),
            result_type=int,
            start_to_close_timeout=SHORT,
            retry_policy=DB_RETRY,
        )

    async def _candidates(
        self, team: str | None, role: str | None, person: str | None
    ) -> list[int] | None:
        """Who may complete a task (runs older than this check allow anyone)."""
        if not workflow.patched(TASK_ACTORS):
            return None
        return await workflow.execute_local_activity(
            "engine.task_candidates",
            CandidatesInput(team, role, person),
            result_type=list[int],
            start_to_close_timeout=SHORT,
        )

    def _history_is_long(self) -> bool:
        info = workflow.info()
        limit = self.run_input.history_limit if self.run_input else 0
        if limit and info.get_current_history_length() > limit:
            return True
        return info.is_continue_as_new_suggested()

    async def _continue_as_new(self, resume: Resume) -> None:
        """Start afresh with the same definition version and this run's state."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self.run_input is not None
        assert self.definition is not None
        carried = Resume(
            resume.step, self.vars, self.steps, self.visits, self.path, resume.task, resume.fired
        )
        workflow.continue_as_new(
            replace(self.run_input, content_hash=self.definition.content_hash, resume=carried)
        )

    @property
    def _work_item_id(self) -> int | None:
        return self.run_input.work_item_id if self.run_input else None

    def _key(self, step: Step) -> str:
        return f"{workflow.info().workflow_id}/{step.id}/{self.visits[step.id]}"

    async def _item_changed(self) -> None:
        """The work item may have changed: load it again now, or when a step reads it."""
        self.item_stale = True
        if not self.lazy_item:
            await self._refresh_item()

    async def _item_for(self, step: Step) -> None:
        """Load the work item afresh if it may have changed and ``step`` reads it."""
        if self.lazy_item and self.item_stale and _reads_item(step):
            await self._refresh_item()

    async def _refresh_item(self) -> None:
        self.item_stale = False
        if self.run_input is None or self.run_input.work_item_id is None:
            return
        self.item = await workflow.execute_local_activity(
            "engine.item_snapshot",
            self.run_input.work_item_id,
            result_type=dict,
            start_to_close_timeout=SHORT,
        )

    def _context(self, local: dict[str, Any]) -> dict[str, Any]:
        info = workflow.info()
        return {
            "item": self.item,
            "input": self.run_input.input if self.run_input else {},
            "vars": self.vars,
            "steps": self.steps,
            "now": workflow.now(),
            "workflow": {
                "name": self.definition.name if self.definition else "",
                "version": self.spec.version if self.spec else "",
                "id": info.workflow_id,
            },
            **local,
        }

    def _render(self, step: Step, template: Any, local: dict[str, Any]) -> Any:
        if template is None:
            return None
        try:
            return render_value(template, self._context(local))
        except ExpressionError as exc:
            raise _failed(step, str(exc)) from None

    def _render_value(self, step: Step, value: Any, local: dict[str, Any]) -> Any:
        return to_jsonable_python(self._render(step, value, local))

    def _choose(self, step: Step, branches: list[Branch], local: dict[str, Any]) -> str:
        context = self._context(local)
        for branch in branches:
            if branch.otherwise is not None:
                return branch.otherwise
            try:
                if evaluate(str(branch.when), context):
                    return str(branch.goto)
            except ExpressionError as exc:
                raise _failed(step, str(exc)) from None
        raise _failed(step, "no branch holds and there is no 'otherwise'")

    def _due(self, step: Step, spec: TaskSpec) -> datetime | None:
        if spec.due is None:
            return None
        value = self._render(step, spec.due, {})
        return self._moment(step, value)

    def _moment(self, step: Step, value: Any) -> datetime:
        """A time from a rendered value: a datetime, an ISO time, or a duration from now."""
        if isinstance(value, datetime):
            return value
        if isinstance(value, timedelta):
            return workflow.now() + value
        text = str(value)
        try:
            return workflow.now() + parse_duration(text)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _failed(step, f"{text!r} is neither a time nor a duration") from None
        if moment.tzinfo is None:
            raise _failed(step, f"the time {text!r} has no time zone")
        return moment
