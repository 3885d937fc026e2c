"""What every part of the interpreter shares: how steps move on, and how expressions evaluate.

Workflow code only: no database, clock or network; ``workflow.now()`` is the
time. The interpreter (:mod:`engine.runtime.interpreter`) is built from the
mixins here and in :mod:`engine.runtime.step_types` and
:mod:`engine.runtime.human_tasks`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic_core import to_jsonable_python

    from engine.dsl.durations import format_duration, parse_duration
    from engine.dsl.expressions import ExpressionError, evaluate, render_value
    from engine.dsl.spec import Branch, Step, TaskSpec

if TYPE_CHECKING:
    from engine.dsl.spec import Workflow
    from engine.runtime.messages import Definition, OpenTask, Resume, RunInput, TaskCompletion

WHO = ("team", "role", "person")
SHORT = timedelta(seconds=10)
"""Database activities: a worker that dies mid-way is given up on after this long."""
ACTION_TIMEOUT = timedelta(minutes=5)
DB_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))


@dataclass(frozen=True)
class Goto:
    """A step's result: go on at this step of the same list."""

    step: str


@dataclass(frozen=True)
class End:
    """A step's result: this list (the run, or a branch) ends with ``outcome``."""

    outcome: str


_ITEM = re.compile(r"\bitem\b")


@lru_cache(maxsize=4096)
def _step_reads_item(text: str) -> bool:
    return bool(_ITEM.search(text))


def reads_item(step: Step) -> bool:
    """Whether any expression or template of ``step`` (branches included) names ``item``.

    Nested parallel branches are checked when their own steps run.
    """
    own = step.model_copy(update={"parallel": None}) if step.parallel else step
    return _step_reads_item(own.model_dump_json(by_alias=True))


def plain(value: Any) -> Any:
    """Durations as admins write them (``4h``), not ISO 8601, in task data and templates."""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def text(value: Any) -> str | None:
    return None if value is None else str(value)


def failed(step: Step, message: str) -> ApplicationError:
    """The run cannot go on at ``step`` (a bad expression, a goto nowhere): it fails, naming it."""
    return ApplicationError(f"step '{step.id}': {message}", type="StepFailed", non_retryable=True)


class RunState:
    """What the interpreter's parts share: the run's state, and what the interpreter provides."""

    spec: Workflow | None
    definition: Definition | None
    run_input: RunInput | None
    item: dict[str, Any]
    vars: dict[str, Any]
    steps: dict[str, dict[str, Any]]
    visits: dict[str, int]
    signals: dict[str, dict[str, Any]]
    open_tasks: dict[int, OpenTask]
    completions: dict[int, TaskCompletion]
    completing: set[int]
    opening: int

    if TYPE_CHECKING:  # provided by the interpreter (and StepTypes' _send); declared for readers

        @property
        def _work_item_id(self) -> int | None: ...

        def _key(self, step: Step) -> str: ...  # the idempotency key of this visit of ``step``

        async def _item_changed(self) -> None: ...

        async def _run_list(
            self, steps: list[Step], resume: Resume | None = None, start: str | None = None
        ) -> str: ...

        def _start_side_path(self, step: Step, start: str, restart: bool = False) -> None: ...

        def _may_continue_as_new(self) -> bool: ...

        async def _continue_as_new(self, resume: Resume) -> None: ...

        async def _send(self, key: str, to: list[str], subject: str, body: str) -> None: ...


class Evaluation(RunState):
    """The run's state as expressions see it, and the evaluation of a step's expressions."""

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
            raise failed(step, str(exc)) from None

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
                raise failed(step, str(exc)) from None
        raise failed(step, "no branch holds and there is no 'otherwise'")

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
            raise failed(step, f"{text!r} is neither a time nor a duration") from None
        if moment.tzinfo is None:
            raise failed(step, f"the time {text!r} has no time zone")
        return moment
