"""A workflow as the semantic checks see it: its steps where they are in the file.

An :class:`Outline` lists each step with its path (``("steps", 2)``, or
``("steps", 1, "parallel", "branches", "left", 0)`` inside a branch), the id of
every step, the file's own forms, its variables, its start and its schedule.
A :class:`Known` holds what the file may name outside itself. The checks in
:mod:`engine.dsl.graph`, :mod:`engine.dsl.names` and
:mod:`engine.dsl.references` read both and report through :class:`Findings`.

For a file that failed its schema, :meth:`Outline.of_data` validates each
step, form, the start and the schedule on its own and keeps those that load:
every problem of a file shows in one run, not one layer at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.dsl.catalog import Catalog
from engine.dsl.forms import Form
from engine.dsl.loader import Parsed, PathKey
from engine.dsl.problems import Problem
from engine.dsl.spec import Schedule, SignalOffer, Start, Step, Workflow
from engine.dsl.suggest import closest

Model = TypeVar("Model", bound=BaseModel)

MAIN: PathKey = ("steps",)
"""The path of the workflow's main list of steps."""


@dataclass(frozen=True)
class Placed:
    """A step, where it is in the file, and the list of steps it belongs to."""

    step: Step
    path: PathKey
    group: PathKey
    index: int

    @property
    def name(self) -> str:
        return f"step '{self.step.id}'"


def place(steps: Sequence[Step], group: PathKey) -> Iterator[Placed]:
    """``steps`` and the steps of their parallel branches, in file order, with their paths."""
    for index, step in enumerate(steps):
        yield from place_step(step, group, index)


def place_step(step: Step, group: PathKey, index: int) -> Iterator[Placed]:
    """``step`` (item ``index`` of the list at ``group``) and the steps of its branches."""
    path = (*group, index)
    yield Placed(step, path, group, index)
    if step.parallel is not None:
        for name, branch in step.parallel.branches.items():
            yield from place(branch, branch_group(path, name))


def branch_group(path: PathKey, branch: str) -> PathKey:
    """The path of the list of steps of ``branch`` of the parallel step at ``path``."""
    return (*path, "parallel", "branches", branch)


def targets(step: Step) -> Iterator[tuple[str, PathKey, str]]:
    """Each step name ``step`` goes to: (name, path below the step, the key naming it)."""
    for key, branches in (("decide", step.decide), ("next", step.next)):
        if isinstance(branches, list):
            for index, branch in enumerate(branches):
                which = "goto" if branch.goto is not None else "otherwise"
                yield branch.target, (key, index, which), which
    if isinstance(step.next, str):
        yield step.next, ("next",), "next"
    if step.beside is not None:
        yield step.beside, ("beside",), "beside"
    for index, rule in enumerate(step.task.overdue if step.task else []):
        if rule.escalate is not None:
            yield rule.escalate, ("task", "overdue", index, "escalate"), "escalate"


@dataclass(frozen=True)
class Outline:
    """What a workflow file says, for the checks that look past its schema."""

    name: str
    placed: list[Placed]
    """The steps to check, in file order."""
    ids: dict[PathKey, str]
    """The id of every step, by its path, in file order."""
    complete: bool
    """Whether ``placed`` is every step: the step graph can be checked as a whole."""
    start: Start | None = None
    schedule: Schedule | None = None
    forms: dict[str, Form] = field(default_factory=dict)
    """The file's own forms, to check names and fields against."""
    form_names: frozenset[str] = frozenset()
    """The names of the file's own forms."""
    variables: frozenset[str] = frozenset()
    """``vars.<name>`` names: declared under ``variables``, or set by ``set`` or ``result``."""
    signals: dict[str, SignalOffer] = field(default_factory=dict)
    """The signals people may send (``signals:``) that loaded."""

    @classmethod
    def of_workflow(cls, workflow: Workflow) -> Outline:
        """The outline of a workflow that loaded: every step is there."""
        placed = list(place(workflow.steps, MAIN))
        variables = set(workflow.variables) | {
            name
            for each in placed
            for name in [each.step.result, *each.step.set]
            if name is not None
        }
        return cls(
            name=workflow.name,
            placed=placed,
            ids={each.path: each.step.id for each in placed},
            complete=True,
            start=workflow.start,
            schedule=workflow.schedule,
            forms=dict(workflow.forms),
            form_names=frozenset(workflow.forms),
            variables=frozenset(variables),
            signals=dict(workflow.signals),
        )

    @classmethod
    def of_data(cls, data: Mapping[str, Any]) -> Outline:
        """The outline of a workflow that did not load: of each part that loads on its own.

        Each step, form, the start and the schedule is validated by itself; the
        parts that fail are left out (their schema problems are reported
        already), but the ids, form names and variables they define still
        count, so that naming them is not reported as well.
        """
        steps = _Steps()
        steps.walk(data.get("steps"), MAIN)
        variables = set(steps.variables)
        declared = given(data, "variables", Workflow)
        if isinstance(declared, dict):
            variables |= {name for name in declared if isinstance(name, str)}
        forms, form_names = forms_of({"forms": given(data, "forms", Workflow)})
        name = data.get("name")
        schedule = data.get("schedule")
        raw_signals = given(data, "signals", Workflow)
        signals = {
            key: offer
            for key, value in (raw_signals.items() if isinstance(raw_signals, dict) else ())
            if isinstance(key, str) and (offer := valid(SignalOffer, value)) is not None
        }
        return cls(
            name=name if isinstance(name, str) else "",
            placed=steps.placed,
            ids=steps.ids,
            complete=steps.complete and bool(steps.placed),
            start=valid(Start, data.get("start", {})),
            schedule=valid(Schedule, schedule) if schedule is not None else None,
            forms=forms,
            form_names=form_names,
            variables=frozenset(variables),
            signals=signals,
        )

    @cached_property
    def by_id(self) -> dict[str, Placed]:
        """The steps to check by id (the first, where an id is used twice)."""
        return {each.step.id: each for each in reversed(self.placed)}

    @cached_property
    def group_of(self) -> dict[str, PathKey]:
        """The list each step id is in (the first, where an id is used twice)."""
        return {name: path[:-1] for path, name in reversed(self.ids.items())}

    @cached_property
    def in_group(self) -> dict[PathKey, set[str]]:
        """The step ids of each list of steps."""
        found: dict[PathKey, set[str]] = {}
        for path, name in self.ids.items():
            found.setdefault(path[:-1], set()).add(name)
        return found


@dataclass(frozen=True)
class Known:
    """What a workflow may name outside its steps: the catalog, forms, other workflows."""

    catalog: Catalog
    forms: Mapping[str, Form]
    """The forms that loaded: the catalog's, forms files', then the file's own."""
    form_names: frozenset[str]
    """Every form name that is defined somewhere."""
    workflows: frozenset[str]
    """The workflows ``call`` may start."""

    @classmethod
    def of(
        cls,
        outline: Outline,
        catalog: Catalog,
        shared_forms: Mapping[str, Form],
        workflows: frozenset[str],
        form_names: frozenset[str] = frozenset(),
    ) -> Known:
        forms = {**catalog.forms, **shared_forms, **outline.forms}
        names = frozenset(forms) | outline.form_names | form_names
        own = {outline.name} if outline.name else set()
        return cls(catalog, forms, names, workflows | own)


def outline_of(parsed: Parsed) -> Outline | None:
    """What the checks see of a workflow file: all of it, the parts that load, or ``None``.

    ``None`` when the file is not a workflow: unreadable, a forms or a fragments file.
    """
    if parsed.workflow is not None:
        return Outline.of_workflow(parsed.workflow)
    if parsed.is_workflow and not parsed.pending:
        return Outline.of_data(parsed.data)
    return None


def forms_of(data: Mapping[str, Any]) -> tuple[dict[str, Form], frozenset[str]]:
    """The forms of ``data["forms"]`` that load on their own, and the name of every form."""
    raw = data.get("forms")
    if not isinstance(raw, dict):
        return {}, frozenset()
    names = [name for name in raw if isinstance(name, str)]
    forms = {name: form for name in names if (form := valid(Form, raw[name])) is not None}
    return forms, frozenset(names)


def given(data: Mapping[Any, Any], key: str, model: type[BaseModel]) -> Any:
    """``data[key]``; when it is missing, the value of the one unknown key misspelling it.

    As schema problems report ``idd: triage`` as a typo of ``id``, the checks
    read it as the id: a step that names ``triage`` then gets no second problem.
    """
    if key in data:
        return data[key]
    fields = {info.alias or name for name, info in model.model_fields.items()}
    typos = [
        value
        for name, value in data.items()
        if isinstance(name, str) and name not in fields and closest(name, fields) == key
    ]
    return typos[0] if len(typos) == 1 else None


def valid(model: type[Model], data: Any) -> Model | None:
    """``data`` as a ``model``, or ``None`` when it does not validate."""
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


class _Steps:
    """Walks the raw steps of a file, keeping those that load on their own."""

    def __init__(self) -> None:
        self.placed: list[Placed] = []
        self.ids: dict[PathKey, str] = {}
        self.variables: set[str] = set()
        self.complete = True

    def walk(self, raw: Any, group: PathKey) -> None:
        if not isinstance(raw, list):
            self.complete = False
            return
        for index, item in enumerate(raw):
            step = valid(Step, item)
            if step is not None:
                for placed in place_step(step, group, index):
                    self.placed.append(placed)
                    self.ids[placed.path] = placed.step.id
                    self.variables.update(placed.step.set)
                    if placed.step.result is not None:
                        self.variables.add(placed.step.result)
                continue
            self.complete = False
            if isinstance(item, dict):
                self.failed(item, (*group, index))

    def failed(self, item: dict[Any, Any], path: PathKey) -> None:
        """Note what a step that did not load defines, and walk its branches' steps."""
        ident, result, assigned = (given(item, key, Step) for key in ("id", "result", "set"))
        if isinstance(ident, str):
            self.ids[path] = ident
        if isinstance(result, str):
            self.variables.add(result)
        if isinstance(assigned, dict):
            self.variables.update(name for name in assigned if isinstance(name, str))
        parallel = item.get("parallel")
        branches = parallel.get("branches") if isinstance(parallel, dict) else None
        for name, steps in branches.items() if isinstance(branches, dict) else ():
            if isinstance(name, str):
                self.walk(steps, branch_group(path, name))


class Findings:
    """The problems found in one file, each once, at the place its path names."""

    def __init__(self, parsed: Parsed) -> None:
        self.parsed = parsed
        self.problems: dict[Problem, None] = {}

    def add(self, path: PathKey, message: str) -> None:
        """A problem at the value of ``path`` (in a fragments file, for a fragment's step)."""
        self.problems[self.parsed.positions.problem(self.parsed.file, path, message)] = None

    def add_at_key(self, path: PathKey, message: str) -> None:
        """:meth:`add`, at the key of ``path`` rather than at its value."""
        problem = self.parsed.positions.problem(self.parsed.file, path, message, key=True)
        self.problems[problem] = None

    def where(self, path: PathKey, beside: PathKey) -> str:
        """Where the value at ``path`` is, for a problem at ``beside``: ``line N`` or more."""
        return self.parsed.positions.where(path, self.parsed.file, beside)
