"""The workflow language: what a workflow file may say, as pydantic models.

A workflow names the work-item ``kind`` it drives, how it starts, its forms
and its steps. Each step has a stable ``id`` and exactly one type key:
``task``, ``action``, ``decide``, ``wait``, ``parallel``, ``notify``, ``call``
or ``end``. Steps run in order unless ``next`` (or a ``decide``) says
otherwise; falling off the end of the list ends the workflow (or the
``parallel`` branch) with the outcome ``completed``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from engine.dsl.forms import Form, Strict
from engine.dsl.types import (
    ActionName,
    Condition,
    Duration,
    DurationOrTemplate,
    Ident,
    Name,
    Template,
)

STEP_TYPES = ("task", "action", "decide", "wait", "parallel", "notify", "call", "end")
OVERLAP_POLICIES = (
    "skip",
    "buffer_one",
    "buffer_all",
    "cancel_other",
    "terminate_other",
    "allow_all",
)
CHANNELS = ("portal", "api", "email", "phone")
RECIPIENT_HELP = (
    "requester, assignee, owner_team, current_team, team:<slug>, person:<email> or role:<role>"
)


class Branch(Strict):
    """``{when: condition, goto: step}``, or ``{otherwise: step}`` as the last branch."""

    when: Condition | None = None
    goto: Ident | None = None
    otherwise: Ident | None = None

    @model_validator(mode="after")
    def _shape(self) -> Branch:
        if self.otherwise is not None:
            if self.when is not None or self.goto is not None:
                raise ValueError("'otherwise' stands alone: write {otherwise: <step>}")
        elif self.when is None or self.goto is None:
            raise ValueError("a branch needs 'when' and 'goto' (or is {otherwise: <step>})")
        return self

    @property
    def target(self) -> str:
        return self.goto if self.goto is not None else str(self.otherwise)


def _branches_end_with_otherwise(branches: list[Branch], where: str) -> None:
    for branch in branches[:-1]:
        if branch.otherwise is not None:
            raise ValueError(f"'otherwise' must be the last branch of {where}")
    if not branches or branches[-1].otherwise is None:
        raise ValueError(
            f"{where} needs a last branch {{otherwise: <step>}} for when nothing holds"
        )


class Assignee(Strict):
    """Who a task (or a reassignment) goes to: exactly one of team, role, person."""

    team: Template | None = None
    role: Template | None = None
    person: Template | None = None

    @model_validator(mode="after")
    def _one(self) -> Assignee:
        given = [k for k in ("team", "role", "person") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of team, role or person")
        return self


class Message(Strict):
    """A notification: recipients and a templated subject and body."""

    to: list[Template] = Field(min_length=1, description=f"recipients: {RECIPIENT_HELP}")
    subject: Template
    body: Template = ""

    @model_validator(mode="before")
    @classmethod
    def _single_recipient(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("to"), str):
            return {**data, "to": [data["to"]]}
        return data


class OverdueRule(Strict):
    """What happens once a task is overdue: after ``after`` past due, once or ``every``."""

    after: Duration | None = Field(default=None, description="how long past due (default: at due)")
    every: Duration | None = Field(default=None, description="repeat at this interval")
    escalate: Ident | None = Field(default=None, description="go to this step")
    keep_open: bool = Field(
        default=False,
        description="with escalate: keep the task open and run the escalation beside it",
    )
    reassign: Assignee | None = None
    notify: Message | None = None
    remind: bool = Field(default=False, description="remind the assignee (or the team)")

    @model_validator(mode="after")
    def _one_action(self) -> OverdueRule:
        given = [
            k
            for k in ("escalate", "reassign", "notify", "remind")
            if getattr(self, k) not in (None, False)
        ]
        if len(given) != 1:
            raise ValueError(
                "an overdue rule does exactly one of escalate, reassign, notify, remind"
            )
        if self.keep_open and self.escalate is None:
            raise ValueError("keep_open only applies to escalate")
        if self.every is not None and self.escalate is not None:
            raise ValueError("escalate happens once; 'every' applies to remind, notify, reassign")
        return self


class TaskSpec(Assignee):
    """A human task: who, which form, when it is due, what happens when overdue."""

    title: Template = ""
    form: Name
    due: DurationOrTemplate | None = None
    overdue: list[OverdueRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _overdue_needs_due(self) -> TaskSpec:
        if self.overdue and self.due is None:
            raise ValueError("'overdue' needs a 'due' time")
        return self


class WaitSpec(Strict):
    """Wait for a duration, until a time, or for a named signal (with a timeout)."""

    duration: Duration | None = None
    until: Template | None = Field(default=None, description="an ISO time or {{ expression }}")
    signal: Ident | None = None
    timeout: Duration | None = Field(default=None, description="with signal: give up after this")

    @model_validator(mode="after")
    def _one(self) -> WaitSpec:
        given = [k for k in ("duration", "until", "signal") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a wait needs exactly one of duration, until or signal")
        if self.timeout is not None and self.signal is None:
            raise ValueError("timeout only applies to a wait for a signal")
        return self


class ParallelSpec(Strict):
    """Branches that run at once; ``all`` join, or the ``first`` to finish wins."""

    wait_for: Literal["all", "first"] = "all"
    branches: dict[Ident, list[Step]] = Field(min_length=2)

    @model_validator(mode="after")
    def _not_empty(self) -> ParallelSpec:
        for name, steps in self.branches.items():
            if not steps:
                raise ValueError(f"branch '{name}' has no steps")
        return self


class CallSpec(Strict):
    """Start another workflow as a child and wait for its outcome."""

    workflow: Name
    input: dict[str, Any] = Field(default_factory=dict, alias="with")


class EndSpec(Strict):
    """Finish the workflow (or the parallel branch) with an outcome."""

    outcome: Ident = "completed"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data is None:
            return {}
        return {"outcome": data} if isinstance(data, str) else data


class Retry(Strict):
    """How an action is retried when it fails."""

    max_attempts: int = Field(default=5, ge=1, le=100)
    initial_interval: Duration | None = None


class Step(Strict):
    """One step: an ``id`` and exactly one of the step types."""

    id: Ident
    title: str = ""
    task: TaskSpec | None = None
    action: ActionName | None = None
    args: dict[str, Any] = Field(default_factory=dict, alias="with")
    result: Ident | None = Field(default=None, description="store the result in vars.<name>")
    retry: Retry | None = None
    timeout: Duration | None = None
    decide: list[Branch] | None = None
    wait: WaitSpec | None = None
    parallel: ParallelSpec | None = None
    notify: Message | None = None
    call: CallSpec | None = None
    end: EndSpec | None = None
    set: dict[Ident, Template] = Field(
        default_factory=dict, description="assign vars.<name> after the step"
    )
    next: Ident | list[Branch] | None = None
    beside: Ident | None = Field(
        default=None,
        description="after this step, also run the steps from this one beside the run "
        "(a side path; started again, it restarts)",
    )

    @model_validator(mode="before")
    @classmethod
    def _end_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "end" in data and data["end"] is None:
            return {**data, "end": {}}
        return data

    @model_validator(mode="after")
    def _one_type(self) -> Step:
        given = [kind for kind in STEP_TYPES if getattr(self, kind) is not None]
        if not given:
            raise ValueError(f"step '{self.id}' needs a type: one of {', '.join(STEP_TYPES)}")
        if len(given) > 1:
            raise ValueError(f"step '{self.id}' has two types, {given[0]} and {given[1]}: pick one")
        if (self.args or self.result) and self.kind not in ("action", "call"):
            raise ValueError("'with' and 'result' apply to action and call steps")
        if (self.retry or self.timeout) and self.kind != "action":
            raise ValueError("'retry' and 'timeout' apply to action steps")
        if self.kind in ("decide", "end") and self.next is not None:
            raise ValueError(
                f"{'an' if self.kind == 'end' else 'a'} {self.kind} step has no 'next'"
            )
        if self.kind == "end" and self.beside is not None:
            raise ValueError("an end step has no 'beside': put it on the step before")
        if self.decide is not None:
            _branches_end_with_otherwise(self.decide, f"decide step '{self.id}'")
        if isinstance(self.next, list):
            _branches_end_with_otherwise(self.next, f"'next' of step '{self.id}'")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in STEP_TYPES if getattr(self, kind) is not None)

    def targets(self) -> list[str]:
        """The step ids this step names (goto, otherwise, next, beside, overdue escalate)."""
        names: list[str] = []
        for branches in (self.decide, self.next if isinstance(self.next, list) else None):
            names += [branch.target for branch in branches or []]
        if isinstance(self.next, str):
            names.append(self.next)
        if self.beside is not None:
            names.append(self.beside)
        if self.task is not None:
            names += [rule.escalate for rule in self.task.overdue if rule.escalate]
        return names


class Start(Strict):
    """How work starts: an intake form on the listed channels (the API always works)."""

    form: Name | None = None
    channels: list[Literal["portal", "api", "email", "phone"]] = Field(
        default_factory=lambda: ["portal", "api"]
    )


class Schedule(Strict):
    """Run the workflow on a schedule (recurring maintenance is a scheduled workflow)."""

    cron: str = Field(description="five fields: minute hour day-of-month month day-of-week")
    timezone: str = "UTC"
    overlap: Literal[
        "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"
    ] = "skip"
    catchup_window: Duration | None = Field(
        default=None, description="run missed times that are at most this old"
    )
    paused: bool = False
    input: dict[str, Any] = Field(default_factory=dict)


SIGNAL_SENDERS_HELP = "requester, owner_team, current_team, assignee, role:<role> or team:<slug>"


class SignalOffer(Strict):
    """A signal people may send the run from the work item page (and the API)."""

    label: str = Field(default="", max_length=80, description="the button's text")
    who: list[str] = Field(min_length=1, description=f"who may send it: {SIGNAL_SENDERS_HELP}")
    when: Condition | None = Field(
        default=None, description="a condition over item: the signal is offered while it holds"
    )
    form: Name | None = Field(
        default=None, description="a form of the workflow; its data is the signal's payload"
    )
    comment: bool = Field(
        default=False,
        description="the form's field 'comment' also becomes a public comment on the item",
    )

    @model_validator(mode="before")
    @classmethod
    def _single_sender(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("who"), str):
            return {**data, "who": [data["who"]]}
        return data

    @model_validator(mode="after")
    def _comment_needs_form(self) -> SignalOffer:
        if self.comment and self.form is None:
            raise ValueError("'comment: true' needs a 'form' with a field named 'comment'")
        return self


class Workflow(Strict):
    """A workflow file."""

    name: Name
    title: str = ""
    description: str = ""
    version: str = Field(default="1", max_length=40, description="a label for people")
    kind: Name = Field(description="the kind of work item it drives: ticket, project, maintenance")
    start: Start = Field(default_factory=Start)
    schedule: Schedule | None = None
    variables: dict[Ident, Any] = Field(default_factory=dict)
    forms: dict[Name, Form] = Field(default_factory=dict)
    signals: dict[Ident, SignalOffer] = Field(
        default_factory=dict, description="signals people may send from the work item page"
    )
    steps: list[Step] = Field(min_length=1)

    def all_steps(self) -> list[Step]:
        """Every step, including those inside parallel branches, in file order."""
        found: list[Step] = []

        def walk(steps: list[Step]) -> None:
            for step in steps:
                found.append(step)
                if step.parallel is not None:
                    for branch in step.parallel.branches.values():
                        walk(branch)

        walk(self.steps)
        return found


class FormFile(Strict):
    """A file of shared forms that any workflow may name."""

    forms: dict[Name, Form] = Field(min_length=1)


ParallelSpec.model_rebuild()
