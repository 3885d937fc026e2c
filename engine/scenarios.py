"""Scenario files: YAML tests of a workflow, written beside it (``incident.scenarios.yaml``).

A scenario starts the workflow with some input, plays what people and
systems do (complete a task, send a signal, let time pass) and states what
should have happened (path, outcome, tasks, events, variables, action calls).
This module is the file format: the pydantic models (unknown keys refused),
and reading a file with every problem positioned as ``file:line:col:
message``. Checking a file against the workflow it tests is
:mod:`engine.scenarios_plan`; running scenarios, :mod:`engine.scenarios_run`
(a run: :mod:`engine.scenarios_play`); comparing what happened with what was
expected, :mod:`engine.scenarios_expect`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from engine.dsl.forms import Strict
from engine.dsl.loader import (
    PathKey,
    Positions,
    read_source,
    read_yaml,
)
from engine.dsl.loader import schema_problems as _schema_problems
from engine.dsl.problems import Problem, WorkflowFileError, display_path
from engine.dsl.spec import CHANNELS
from engine.dsl.types import ActionName, Duration, Ident, Name
from engine.model.people import ROLES
from engine.workflows import SCENARIO_SUFFIXES

SUFFIXES = SCENARIO_SUFFIXES
"""A scenario file's name ends with one of these; ``incident.scenarios.yaml`` tests ``incident``
(validating and deploying leave these files out)."""

INTERACTIONS = ("complete", "signal", "wait")
TASK_STATUSES = ("open", "completed", "cancelled")

Email = Annotated[
    str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320, description="an e-mail address")
]


# ---------------------------------------------------------------- models ---


class PersonSpec(Strict):
    """Someone to create before the scenarios run (people named elsewhere are created too)."""

    email: Email
    name: str = ""
    roles: list[Literal[ROLES]] = Field(default_factory=list)  # type: ignore[valid-type]
    teams: list[Name] = Field(default_factory=list)


class ItemSpec(Strict):
    """Fields of the scenario's work item (``item.*`` in expressions)."""

    title: str | None = Field(default=None, max_length=300)
    type: str | None = Field(default=None, max_length=64)
    status: str = Field(default="new", max_length=32)
    priority: int | None = Field(default=None, ge=1, le=4)
    channel: Literal[CHANNELS] | None = None  # type: ignore[valid-type]
    reference: str | None = Field(default=None, max_length=32)
    description: str = ""
    custom: dict[str, Any] = Field(default_factory=dict)
    requester: Email | None = None
    assignee: Email | None = None
    owner_team: Name | None = None
    current_team: Name | None = None


class Interaction(Strict):
    """One thing that happens: ``complete`` a task, send a ``signal``, or ``wait`` a while."""

    complete: Ident | None = Field(default=None, description="the task step to complete")
    signal: Ident | None = Field(default=None, description="the signal to send")
    wait: Duration | None = Field(default=None, description="let this much time pass")
    outcome: str = Field(default="", description="with complete: the button pressed")
    data: dict[str, Any] = Field(default_factory=dict, description="with complete: the form")
    actor: Email | None = Field(default=None, alias="as", description="who completes the task")
    refused: str | None = Field(
        default=None, description="with complete: the completion must be refused with this text"
    )
    payload: dict[str, Any] = Field(default_factory=dict, description="with signal: its data")
    after: Duration | None = Field(default=None, description="let this much time pass first")

    @model_validator(mode="after")
    def _one_kind(self) -> Interaction:
        given = [kind for kind in INTERACTIONS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(
                "each entry of 'do' is exactly one of complete: <task step>, "
                "signal: <name> or wait: <duration>"
            )
        keys = self.model_fields_set
        if self.complete is None and keys & {"outcome", "data", "actor", "refused"}:
            raise ValueError("'outcome', 'data', 'as' and 'refused' go with 'complete'")
        if self.signal is None and "payload" in keys:
            raise ValueError("'payload' goes with 'signal'")
        if self.wait is not None and self.after is not None:
            raise ValueError("'after' goes with complete or signal; a wait is already a duration")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in INTERACTIONS if getattr(self, kind) is not None)


class TaskExpect(Strict):
    """A task the run opened, in the order they were opened: its step and what became of it."""

    step: Ident
    status: Literal["open", "completed", "cancelled"] | None = None
    outcome: str | None = None
    team: Name | None = None
    assignee: Email | None = None
    completed_by: Email | None = None
    data: dict[str, Any] | None = None


class EventExpect(Strict):
    """An event by type, with some of its data."""

    type: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)


EventPattern = str | EventExpect


class Expect(Strict):
    """What should have happened once the run ended or can go no further by itself."""

    outcome: Ident | None = None
    path: list[Ident] | None = None
    tasks: list[TaskExpect] | None = None
    events: list[EventPattern] | None = None
    events_include: list[EventPattern] | None = None
    vars: dict[str, Any] | None = None
    item: dict[str, Any] | None = None
    actions: dict[ActionName, list[dict[str, Any]]] | None = None


class Scenario(Strict):
    """One scenario: how the run starts, what happens, what should come of it."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    input: dict[str, Any] = Field(default_factory=dict)
    item: ItemSpec = Field(default_factory=ItemSpec)
    stubs: dict[ActionName, Any] = Field(default_factory=dict)
    do: list[Interaction] = Field(default_factory=list)
    expect: Expect = Field(default_factory=Expect)


class ScenarioFileSpec(Strict):
    """A scenario file: the workflow it tests, who exists, and the scenarios."""

    workflow: Name | None = Field(
        default=None, description="the workflow tested (default: the file beside this one)"
    )
    teams: list[Name] = Field(default_factory=list)
    people: list[PersonSpec] = Field(default_factory=list)
    scenarios: list[Scenario] = Field(min_length=1)


# ---------------------------------------------------------------- files ----


def is_scenario_file(path: Path) -> bool:
    """Whether ``path`` is named like a scenario file (``*.scenarios.yaml``)."""
    return path.name.endswith(SUFFIXES)


def beside(path: Path) -> list[Path]:
    """The workflow files a scenario file may test by its name: ``x.yaml`` / ``x.yml``."""
    stem = next(path.name[: -len(s)] for s in SUFFIXES if path.name.endswith(s))
    return [path.with_name(stem + suffix) for suffix in (".yaml", ".yml")]


def scenario_files_in(folder: Path) -> list[Path]:
    """Every scenario file below ``folder`` (hidden folders skipped), sorted."""
    return sorted(
        path
        for path in folder.rglob("*")
        if is_scenario_file(path)
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


@dataclass
class ScenarioFile:
    """A scenario file as read: its data, where each value is, and its problems."""

    path: Path
    file: str
    data: Any
    positions: Positions
    spec: ScenarioFileSpec | None
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: PathKey) -> tuple[int, int]:
        return self.positions.value(path)

    def problem(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        line, column = self.positions.key(path) if key else self.positions.value(path)
        return Problem(self.file, line, column, message)

    @property
    def stub_names(self) -> set[str]:
        if self.spec is None:
            return set()
        return {name for scenario in self.spec.scenarios for name in scenario.stubs}


def read_scenario_file(path: Path) -> ScenarioFile:
    """Read and check a scenario file against the format (not yet against its workflow)."""
    file = display_path(path)
    try:
        text = read_source(path, file)
    except WorkflowFileError as exc:
        return ScenarioFile(path, file, None, Positions(), None, list(exc.problems))
    return parse_scenarios(text, file, path)


def parse_scenarios(text: str, file: str, path: Path | None = None) -> ScenarioFile:
    """:func:`read_scenario_file` for ``text`` (``file`` names it in problems)."""
    data, positions, problems = read_yaml(text, file)
    loaded = ScenarioFile(path or Path(file), file, data, positions, None, list(problems))
    if data is None:
        return loaded
    try:
        loaded.spec = ScenarioFileSpec.model_validate(data)
    except ValidationError as exc:
        for problem in _schema_problems(exc, data, positions, file, ScenarioFileSpec):
            message = problem.message.replace("the workflow", "the scenario file", 1)
            loaded.problems.append(Problem(file, problem.line, problem.column, message))
        return loaded
    seen: dict[str, int] = {}
    for number, scenario in enumerate(loaded.spec.scenarios):
        if scenario.name in seen:
            loaded.problems.append(
                loaded.problem(
                    ("scenarios", number, "name"),
                    f"scenario '{scenario.name}' is also scenario {seen[scenario.name] + 1}: "
                    "give each scenario its own name",
                )
            )
        seen.setdefault(scenario.name, number)
    return loaded
