"""The values that cross between the interpreter workflow, its activities and its clients.

Plain frozen dataclasses with JSON-friendly fields, so that Temporal's default
converter carries them and histories stay small and readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUN_WORKFLOW = "tierflow.run"
"""The name of the one interpreter workflow that runs every definition."""

COMPLETE_TASK = "complete_task"
SIGNAL = "signal"


@dataclass(frozen=True)
class Definition:
    """A definition version as the interpreter loads it (by a local activity)."""

    name: str
    content_hash: str
    source: str
    shared_forms: str = ""


@dataclass(frozen=True)
class OpenTaskInput:
    """Create (once) the Task row of a human step."""

    workflow_id: str
    step_id: str
    visit: int
    work_item_id: int | None
    title: str
    form: str
    team: str | None = None
    role: str | None = None
    person: str | None = None
    due_at: str | None = None
    choice_lists: list[str] = field(default_factory=list)
    """The choice lists the form's ``choices_from`` fields name: read into the task."""


@dataclass(frozen=True)
class OpenTask:
    """A task the run waits on, as the ``open_tasks`` query shows it."""

    task_id: int
    step_id: str
    visit: int
    form: str
    title: str
    team: str | None = None
    role: str | None = None
    person: str | None = None
    due_at: str | None = None
    allowed: list[int] | None = None
    """Who may complete it (person ids: the assignee, the team's members or the role's
    holders, and admins); ``None`` when the run predates the check."""
    choices: dict[str, list[list[str]]] = field(default_factory=dict)
    """The options of the form's choice lists as they were when the task opened:
    ``{list name: [[value, label], ...]}`` (what the completion is checked against)."""


@dataclass(frozen=True)
class Resume:
    """Where a run that continued as new picks up: its state, and an open task it waits on."""

    step: str
    vars: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, Any] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    task: OpenTask | None = None
    fired: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class RunInput:
    """How a run starts: which definition version (by hash), for which work item, with what."""

    definition: str
    """The workflow's name; with ``content_hash`` empty, its deployed version is used."""
    content_hash: str = ""
    work_item_id: int | None = None
    input: dict[str, Any] = field(default_factory=dict)
    resume: Resume | None = None
    """Set when the run continued as new (its history had grown long)."""
    history_limit: int = 0
    """Continue as new past this many history events (0: when Temporal suggests it)."""


@dataclass(frozen=True)
class TaskCompletion:
    """A person completing a task (the ``complete_task`` update's argument)."""

    task_id: int
    outcome: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    actor_id: int | None = None


@dataclass(frozen=True)
class CloseTaskInput:
    """Record a task as completed or cancelled, once."""

    task_id: int
    status: str
    outcome: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    actor_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class TaskDone:
    """What ``complete_task`` returns once the completion is durably recorded."""

    task_id: int
    step_id: str
    outcome: str


@dataclass(frozen=True)
class NotifyInput:
    """A rendered notification to record (and, with a mail plugin, send) once."""

    key: str
    work_item_id: int | None
    to: list[str]
    subject: str
    body: str


@dataclass(frozen=True)
class SignalInput:
    """A named signal with an optional payload (``wait: {signal: name}``)."""

    name: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReassignTaskInput:
    """Move an open task to another team or person (an overdue rule), once per key."""

    task_id: int
    key: str
    team: str | None = None
    person: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class CreateItemInput:
    """A work item for a run that has none (a scheduled run), keyed by its workflow id."""

    workflow_id: str
    kind: str
    type: str
    title: str
    channel: str = "schedule"


@dataclass(frozen=True)
class CandidatesInput:
    """Whom a task is for: a team, a role or a person."""

    team: str | None = None
    role: str | None = None
    person: str | None = None


@dataclass(frozen=True)
class OpenedTask:
    """A task's row, and who may complete it (``engine.open_task_for``)."""

    task_id: int
    allowed: list[int] = field(default_factory=list)
    choices: dict[str, list[list[str]]] = field(default_factory=dict)
    """The options of the form's choice lists, read when the row was written."""
