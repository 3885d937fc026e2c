"""The interpreter's human tasks: open a task, wait for it with its overdue rules, complete it.

A task is completed through the ``complete_task`` update: its validator checks
the task is open, the actor may complete it and the data fits the form; its
handler returns once the completion is recorded in the database.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from engine.runtime.flow import DB_RETRY, SHORT, WHO, Evaluation, Goto, plain, text

with workflow.unsafe.imports_passed_through():
    from pydantic_core import to_jsonable_python

    from engine.dsl.forms import choice_list_names, validate_submission, with_choices
    from engine.dsl.spec import Step, TaskSpec
    from engine.runtime.messages import (
        COMPLETE_TASK,
        CandidatesInput,
        CloseTaskInput,
        OpenedTask,
        OpenTask,
        OpenTaskInput,
        ReassignTaskInput,
        Resume,
        TaskCompletion,
        TaskDone,
    )

TASK_ACTORS = "task-actors"
"""Patch id: a task may be completed only by the people it is for (and admins)."""
OPEN_WITH_ACTORS = "open-with-actors"
"""Patch id: one activity writes a task's row and says who may complete it."""
SIDE_PATHS = "side-paths"
"""Patch id: an escalation that keeps its task open runs beside the task, not instead of it."""
OVERDUE_ONCE = "overdue-once"
"""Patch id: a repeating overdue rule whose times passed before the task opened fires once."""


class HumanTasks(Evaluation):
    """Task steps, their overdue rules, and the update that completes a task."""

    async def _task(self, step: Step, resume: Resume | None = None) -> dict[str, Any] | Goto:
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
            **{k: text(v) for k, v in who.items()}, choice_lists=self._choice_lists(spec.form),
        )  # fmt: skip
        self.opening += 1
        try:
            opened = await self._open(request)
            task_id = opened.task_id
            self.open_tasks[task_id] = OpenTask(
                task_id=task_id, step_id=step.id, visit=visit, form=spec.form, title=title,
                team=request.team, role=request.role, person=request.person,
                due_at=request.due_at, allowed=opened.allowed, choices=opened.choices,
            )  # fmt: skip
        finally:
            self.opening -= 1
        return await self._await_task(step, spec, task_id, due, [0] * len(spec.overdue))

    def _choice_lists(self, form_name: str) -> list[str]:
        """The choice lists the form's fields take their options from."""
        form = self.spec.forms.get(form_name) if self.spec is not None else None
        return choice_list_names(form) if form is not None else []

    async def _open(self, request: OpenTaskInput) -> OpenedTask:
        """Write the task's row; learn who may complete it (and the form's options) in the
        same activity.

        A completion arriving once the row exists waits (``self.opening``) for
        the task to be registered here. Runs from before this patch asked in a
        local activity of its own first.
        """
        if workflow.patched(OPEN_WITH_ACTORS):
            return await workflow.execute_activity(
                "engine.open_task_for", request, result_type=OpenedTask,
                start_to_close_timeout=SHORT, retry_policy=DB_RETRY,
            )  # fmt: skip
        self.opening -= 1  # as before: not yet opening while the candidates are asked
        try:
            allowed = await self._candidates(request.team, request.role, request.person)
        finally:
            self.opening += 1
        task_id = await workflow.execute_activity(
            "engine.open_task", request, result_type=int, start_to_close_timeout=SHORT,
            retry_policy=DB_RETRY,
        )  # fmt: skip
        return OpenedTask(task_id, allowed)  # type: ignore[arg-type]

    async def _await_task(
        self, step: Step, spec: TaskSpec, task_id: int, due: datetime | None, fired: list[int]
    ) -> dict[str, Any] | Goto:
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
    ) -> Goto | None:
        """Wait for the completion, firing overdue rules on timers as they come due.

        A top-level task whose run's history has grown long continues as new
        here, carrying the open task and the rules fired so far.
        """
        top = self.spec is not None and any(each is step for each in self.spec.steps)
        self._skip_missed(spec, fired, due)
        while True:
            if top and self._may_continue_as_new() and task_id not in self.completions:
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

    def _skip_missed(self, spec: TaskSpec, fired: list[int], due: datetime | None) -> None:
        """A repeating rule whose times passed before the task opened (a reopened ticket's
        old deadline) fires once now and then goes on from the next time, not once per time
        missed."""
        if due is None:
            return
        now = workflow.now()
        for number, rule in enumerate(spec.overdue):
            if rule.every is None or rule.every <= timedelta(0):
                continue
            missed = int((now - due - (rule.after or timedelta(0))) / rule.every)
            if missed > fired[number] and workflow.patched(OVERDUE_ONCE):
                fired[number] = missed

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
    ) -> Goto | None:
        rule = spec.overdue[number]
        key = f"{self._key(step)}/overdue{number}/{time}"
        task = self.open_tasks.get(task_id)
        if rule.escalate is not None:
            if not rule.keep_open:
                reason = f"overdue: escalated to {rule.escalate}"
                await self._close(CloseTaskInput(task_id, "cancelled", reason=reason))
            elif workflow.patched(SIDE_PATHS):
                self._start_side_path(step, rule.escalate)
                return None
            return Goto(rule.escalate)
        if rule.reassign is not None:
            who = {k: self._render(step, getattr(rule.reassign, k), {}) for k in WHO}
            await workflow.execute_activity(
                "engine.reassign_task",
                ReassignTaskInput(task_id, key, **{k: text(v) for k, v in who.items()}),
                start_to_close_timeout=SHORT,
                retry_policy=DB_RETRY,
            )
            if task is not None:
                moved = replace(task, **{k: text(v) for k, v in who.items() if v is not None})
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

    # -- the update -------------------------------------------------------------

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
        form = with_choices(form, task.choices)  # the options of the moment it opened
        outcomes = [o.value for o in form.outcomes]
        if outcomes and completion.outcome not in outcomes:
            raise ValueError(f"outcome {completion.outcome!r} is not one of: {', '.join(outcomes)}")
        clean, errors = validate_submission(form, completion.data, completion.outcome)
        if errors:
            raise ValueError("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        return to_jsonable_python(plain(clean))

    async def _close(self, close: CloseTaskInput) -> None:
        await workflow.execute_activity(
            "engine.close_task", close, start_to_close_timeout=SHORT, retry_policy=DB_RETRY
        )
        self.open_tasks.pop(close.task_id, None)

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
