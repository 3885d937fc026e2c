"""Completing a task on a person's behalf: the form checked first, then the workflow's update.

The web pages and the JSON API complete tasks through :func:`complete_task`.
The data is checked against the task's form here, so that a person gets every
field's error at once (the update's validator checks it again, durably); the
completion itself goes through the run's ``complete_task`` update, which
returns only once the task is recorded as completed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.dsl.forms import Form, validate_submission, with_choices
from engine.dsl.parse import parse_definition
from engine.errors import TierflowError
from engine.model import Task, WorkflowDefinition, WorkItem
from engine.runtime.client import Runtime, TaskRefused
from engine.runtime.messages import TaskCompletion, TaskDone
from engine.runtime.task_activities import opened_choices


class CompletionError(TierflowError):
    """A completion that cannot be made; ``status`` is the HTTP status it means."""

    status = 400


class TaskNotFound(CompletionError):
    status = 404


class TaskNotOpen(CompletionError):
    """Completed or cancelled meanwhile (by someone else, or by the workflow)."""

    status = 409


class NotAllowed(CompletionError):
    status = 403


class CompletionInvalid(CompletionError):
    """The data does not fit the form: ``errors`` are ``{field, message}`` dicts."""

    status = 422

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class TaskForm:
    """An open task with the form a person fills in to complete it."""

    task: Task
    item: WorkItem
    form: Form | None


def task_form(session: Session, task_id: int) -> TaskForm:
    """The task and its form, from the definition version its run is pinned to.

    A ``choices_from`` field offers the options its list had when the task
    opened (kept with the task), the same options the workflow checks.
    """
    task = session.get(Task, task_id)
    if task is None:
        raise TaskNotFound(f"there is no task {task_id}")
    item = task.work_item
    definition = _definition(session, item, task.workflow_id)
    form = None
    if definition is not None and task.form:
        spec = parse_definition(
            definition.source, definition.content_hash, definition.shared_forms or ""
        )
        form = spec.forms.get(task.form)
    if form is not None and any(field.choices_from for field in form.fields):
        form = with_choices(form, opened_choices(session, task.id))
    return TaskForm(task, item, form)


def _definition(session: Session, item: WorkItem, workflow_id: str) -> WorkflowDefinition | None:
    if item.definition_id is not None:
        return session.get(WorkflowDefinition, item.definition_id)
    name = workflow_id.split("/", 1)[0]
    query = select(WorkflowDefinition).filter_by(name=name, active=True)
    return session.scalars(query).first()


def check_completion(form: Form | None, outcome: str, data: dict[str, Any]) -> None:
    """Raise :class:`CompletionInvalid` with every field's error (and a bad outcome)."""
    errors: list[dict[str, Any]] = []
    if form is not None:
        outcomes = [o.value for o in form.outcomes]
        if outcomes and outcome not in outcomes:
            errors.append({"field": "outcome", "message": f"choose one of: {', '.join(outcomes)}"})
        _, field_errors = validate_submission(form, data, outcome)
        errors += field_errors
    if errors:
        raise CompletionInvalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)


def _open_form(sessions: sessionmaker[Session], task_id: int) -> tuple[str, Form | None]:
    with sessions() as session:
        found = task_form(session, task_id)
        if found.task.status != "open":
            raise TaskNotOpen(_not_open(found.task))
        return found.task.workflow_id, found.form


def _not_open(task: Task) -> str:
    by = f" by {task.completed_by.name}" if task.completed_by is not None else ""
    return f"task {task.id} is already {task.status}{by}"


async def complete_task(
    sessions: sessionmaker[Session],
    runtime: Runtime,
    task_id: int,
    *,
    outcome: str,
    data: dict[str, Any],
    actor_id: int | None,
) -> TaskDone:
    """Complete task ``task_id`` as ``actor_id``; returns once it is recorded."""
    workflow_id, form = await asyncio.to_thread(_open_form, sessions, task_id)
    check_completion(form, outcome, data)
    try:
        return await runtime.complete_task(
            workflow_id, TaskCompletion(task_id, outcome, data, actor_id)
        )
    except TaskRefused as exc:
        now = await asyncio.to_thread(_status, sessions, task_id)
        if now is not None:
            raise TaskNotOpen(now) from exc
        reason = str(exc)
        if "may not complete" in reason:
            raise NotAllowed(reason) from exc
        if "being completed" in reason or "not open" in reason:
            raise TaskNotOpen(reason) from exc
        raise CompletionError(reason) from exc


def _status(sessions: sessionmaker[Session], task_id: int) -> str | None:
    """Why the task cannot be completed, if it is no longer open."""
    with sessions() as session:
        task = session.get(Task, task_id)
        return None if task is None or task.status == "open" else _not_open(task)
