"""Scenario files against the workflows they test: what they name must exist, and fit.

Each file's workflow (``workflow:``, or the file beside it) is found among
the workflows ``tierflow workflows validate`` loads, with every workflow it
calls. Each scenario is then checked against them, every problem at its
place: a task step or signal the workflow does not have, data that does not
fit the task's form, input that does not fit the start form, a stub for an
action no step runs, an outcome the workflow never ends with. What passes
becomes a :class:`Plan`, with the teams and people the run will need.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from engine import workflows as service
from engine.dsl.forms import Form, validate_submission
from engine.dsl.loader import (
    LoadedWorkflow,
    PathKey,
    parse_file,
)
from engine.dsl.problems import Problem, display_path
from engine.dsl.spec import Step
from engine.dsl.suggest import did_you_mean
from engine.errors import TierflowError
from engine.model.people import ROLES
from engine.plugins import PluginManager
from engine.scenarios import (
    SUFFIXES,
    Expect,
    Interaction,
    PersonSpec,
    Scenario,
    ScenarioFile,
    beside,
    is_scenario_file,
    read_scenario_file,
    scenario_files_in,
)

# ------------------------------------------------- against the workflow ---


@dataclass(frozen=True)
class Subject:
    """The workflow a scenario file tests, and every workflow it calls (directly or not)."""

    main: LoadedWorkflow
    family: tuple[LoadedWorkflow, ...]

    @property
    def name(self) -> str:
        return self.main.workflow.name

    def forms(self, loaded: LoadedWorkflow) -> dict[str, Form]:
        return {**loaded.forms, **loaded.workflow.forms}

    def task_steps(self) -> dict[str, tuple[Step, Form | None]]:
        """Task step id → (step, its form), across the family (the first id wins)."""
        found: dict[str, tuple[Step, Form | None]] = {}
        for loaded in self.family:
            forms = self.forms(loaded)
            for step in loaded.workflow.all_steps():
                if step.task is not None:
                    found.setdefault(step.id, (step, forms.get(step.task.form)))
        return found

    def signals(self) -> set[str]:
        return {
            str(step.wait.signal)
            for loaded in self.family
            for step in loaded.workflow.all_steps()
            if step.wait is not None and step.wait.signal is not None
        }

    def actions(self) -> set[str]:
        return {
            str(step.action)
            for loaded in self.family
            for step in loaded.workflow.all_steps()
            if step.action is not None
        }

    def outcomes(self) -> set[str]:
        ends = {step.end.outcome for step in self.main.workflow.all_steps() if step.end is not None}
        return {*ends, "completed"}

    def start_form(self) -> Form | None:
        name = self.main.workflow.start.form
        return self.forms(self.main).get(name) if name else None


@dataclass
class Plan:
    """A scenario file ready to run: its subject, each scenario's clean input, who to create."""

    source: ScenarioFile
    subject: Subject
    inputs: list[dict[str, Any]]
    teams: set[str]
    people: dict[str, PersonSpec]

    @property
    def scenarios(self) -> list[Scenario]:
        assert self.source.spec is not None
        return self.source.spec.scenarios


def find_subject(
    source: ScenarioFile,
    loaded: Sequence[LoadedWorkflow],
    broken: Mapping[Path, str],
    replaced: Collection[Path] = frozenset(),
) -> tuple[Subject | None, list[Problem]]:
    """The workflow ``source`` tests: ``workflow:`` if given, else the file beside it.

    ``broken`` maps workflow files that did not validate to their workflow's
    name (or to ``""``): a subject among them cannot run. ``replaced`` are
    plugin workflow files left out because the site's folder has a workflow
    of the same name: the file beside ``source`` among them is not tested
    (the site's, a different workflow, would be).
    """
    assert source.spec is not None
    by_name = {item.workflow.name: item for item in loaded}
    by_path = {item.path.resolve(): item for item in loaded}
    wanted = source.spec.workflow
    if wanted is None:
        files = [path.resolve() for path in beside(source.path)]
        main = next((by_path[path] for path in files if path in by_path), None)
        if main is None:
            return None, [_nothing_beside(source, files, broken, replaced, by_name)]
    else:
        main = by_name.get(wanted)
        if main is None:
            bad_file = next((path for path, name in broken.items() if name == wanted), None)
            if bad_file is not None:
                return None, [_broken(source, ("workflow",), display_path(bad_file))]
            message = f"there is no workflow '{wanted}'{did_you_mean(wanted, by_name)}"
            return None, [source.problem(("workflow",), message)]
    family, missing = [main], []
    for item in family:
        for step in item.workflow.all_steps():
            if step.call is None or any(f.workflow.name == step.call.workflow for f in family):
                continue
            callee = by_name.get(step.call.workflow)
            if callee is None:
                missing.append(step.call.workflow)
            else:
                family.append(callee)
    if missing:
        message = (
            f"'{main.workflow.name}' calls workflow '{missing[0]}', which did not load: "
            "run 'tierflow workflows validate' to see why"
        )
        return None, [source.problem(("workflow",) if wanted else (), message)]
    return Subject(main, tuple(family)), []


def _nothing_beside(
    source: ScenarioFile,
    files: Sequence[Path],
    broken: Mapping[Path, str],
    replaced: Collection[Path],
    by_name: Mapping[str, LoadedWorkflow],
) -> Problem:
    """Why no workflow beside ``source`` (``files``) can be tested: it has problems, the
    site's folder replaces it with its own, or there is none."""
    bad = next((path for path in files if path in broken), None)
    if bad is not None:
        return _broken(source, (), display_path(bad))
    ours = next((path for path in files if path in replaced), None)
    if ours is None:
        return source.problem(
            (),
            f"there is no workflow file {files[0].name} beside this file: "
            "name the workflow tested with 'workflow: <name>'",
        )
    name = _workflow_name(ours)
    site = by_name.get(name)
    where = f" ({display_path(site.path)})" if site is not None else ""
    return source.problem(
        (),
        f"the workflow beside this file, '{name}' ({display_path(ours)}), is replaced by the "
        f"site's own '{name}'{where}, which these scenarios do not test: run them with --dir "
        f"naming a folder without a workflow '{name}'",
    )


def _broken(source: ScenarioFile, path: PathKey, file: str) -> Problem:
    return source.problem(
        path, f"the workflow tested ({file}) has problems: run 'tierflow workflows validate {file}'"
    )


def plan_scenarios(source: ScenarioFile, subject: Subject) -> tuple[Plan | None, list[Problem]]:
    """Check every scenario against ``subject``; a :class:`Plan`, or every problem found."""
    assert source.spec is not None
    checker = _Checker(source, subject)
    inputs = [checker.scenario(number, s) for number, s in enumerate(source.spec.scenarios)]
    if checker.problems:
        return None, sorted(checker.problems)
    people = {person.email.lower(): person for person in source.spec.people}
    for email, (teams, roles) in checker.actors.items():  # undeclared: may do what they do
        if email not in people:
            people[email] = PersonSpec(email=email, teams=sorted(teams), roles=sorted(roles))
    for email in checker.emails:
        people.setdefault(email.lower(), PersonSpec(email=email))
    teams = set(source.spec.teams) | checker.teams | static_teams(subject.family)
    for person in people.values():
        teams |= set(person.teams)
    for email in static_people(subject.family):
        people.setdefault(email.lower(), PersonSpec(email=email))
    return Plan(source, subject, inputs, teams, people), []


class _Checker:
    """Finds what a scenario names that its workflow does not have, each at its place."""

    def __init__(self, source: ScenarioFile, subject: Subject) -> None:
        self.source, self.subject = source, subject
        self.problems: list[Problem] = []
        self.tasks = subject.task_steps()
        self.signals = subject.signals()
        self.actions = subject.actions()
        self.steps = [step.id for step in subject.main.workflow.all_steps()]
        self.teams: set[str] = set()
        self.emails: set[str] = set()
        self.actors: dict[str, tuple[set[str], set[str]]] = {}
        """E-mail of each ``as`` → the teams and roles of the tasks they complete."""

    def add(self, path: PathKey, message: str, *, key: bool = False) -> None:
        self.problems.append(self.source.problem(path, message, key=key))

    def scenario(self, number: int, scenario: Scenario) -> dict[str, Any]:
        at: PathKey = ("scenarios", number)
        clean = self.start_input(at, scenario.input)
        self.item(at, scenario)
        for name in scenario.stubs:
            self.action_named((*at, "stubs", name), name, "a stub for")
        for index, step in enumerate(scenario.do):
            self.interaction((*at, "do", index), step)
        self.expect((*at, "expect"), scenario.expect)
        return clean

    def start_input(self, at: PathKey, given: dict[str, Any]) -> dict[str, Any]:
        form = self.subject.start_form()
        data = to_jsonable_python(given)
        if form is None:
            return data
        clean, errors = validate_submission(form, data)
        self.form_errors((*at, "input"), given, errors, f"the start form '{self.form_name}'")
        for field_ in form.fields:
            value = data.get(field_.name)
            if isinstance(value, str) and field_.type == "team":
                self.teams.add(value)
            if isinstance(value, str) and field_.type == "person":
                self.emails.add(value)
        return to_jsonable_python(clean) if clean is not None else data

    @property
    def form_name(self) -> str:
        return str(self.subject.main.workflow.start.form)

    def form_errors(
        self, at: PathKey, given: Mapping[str, Any], errors: list[dict[str, Any]], form: str
    ) -> None:
        for error in errors:
            name = str(error["field"])
            path = (*at, name) if name in given else at
            self.add(path, f"{name}: {error['message']} ({form})", key=name in given)

    def item(self, at: PathKey, scenario: Scenario) -> None:
        spec = scenario.item
        self.teams |= {team for team in (spec.owner_team, spec.current_team) if team}
        self.emails |= {email for email in (spec.requester, spec.assignee) if email}

    def action_named(self, at: PathKey, name: str, what: str) -> None:
        if name in self.actions:
            return
        runs = ", ".join(sorted(self.actions)) or "none"
        self.add(
            at,
            f"{what} '{name}': no step of '{self.subject.name}' or of a workflow it calls "
            f"runs this action{did_you_mean(name, self.actions)}; the actions it runs: {runs}",
            key=True,
        )

    def interaction(self, at: PathKey, step: Interaction) -> None:
        if step.actor:
            self.emails.add(step.actor)
        if step.signal is not None and step.signal not in self.signals:
            waited = ", ".join(sorted(self.signals)) or "none"
            self.add(
                (*at, "signal"),
                f"no step of '{self.subject.name}' waits for the signal '{step.signal}'"
                f"{did_you_mean(step.signal, self.signals)}; signals it waits for: {waited}",
            )
        if step.complete is not None:
            self.completion(at, step)

    def completion(self, at: PathKey, step: Interaction) -> None:
        name = str(step.complete)
        if name not in self.tasks:
            self.add((*at, "complete"), self.not_a_task(name))
            return
        task, form = self.tasks[name]
        assert task.task is not None
        if step.actor is not None and step.refused is None:
            teams, roles = self.actors.setdefault(step.actor.lower(), (set(), set()))
            teams |= {task.task.team} if task.task.team and "{{" not in task.task.team else set()
            roles |= {task.task.role} if task.task.role in ROLES else set()
        if form is None or step.refused is not None:
            return
        outcomes = [outcome.value for outcome in form.outcomes]
        if outcomes and step.outcome not in outcomes:
            where = (*at, "outcome") if step.outcome else (*at, "complete")
            given = f"outcome '{step.outcome}' is not" if step.outcome else "an outcome is"
            self.add(
                where,
                f"{given} one of the outcomes of form '{task.task.form}' "
                f"(task '{name}'): {', '.join(outcomes)}{did_you_mean(step.outcome, outcomes)}",
            )
        _, errors = validate_submission(form, to_jsonable_python(step.data), step.outcome)
        self.form_errors((*at, "data"), step.data, errors, f"form '{task.task.form}'")

    def not_a_task(self, name: str) -> str:
        family = "" if len(self.subject.family) == 1 else " or of a workflow it calls"
        return (
            f"'{name}' is not a task step of '{self.subject.name}'{family}"
            f"{did_you_mean(name, self.tasks)}; its task steps: {', '.join(self.tasks) or 'none'}"
        )

    def expect(self, at: PathKey, expect: Expect) -> None:
        outcomes = self.subject.outcomes()
        if expect.outcome is not None and expect.outcome not in outcomes:
            self.add(
                (*at, "outcome"),
                f"'{self.subject.name}' never ends with the outcome '{expect.outcome}'"
                f"{did_you_mean(expect.outcome, outcomes)}; its outcomes: "
                f"{', '.join(sorted(outcomes))}",
            )
        for index, step in enumerate(expect.path or []):
            if step not in self.steps:
                self.add(
                    (*at, "path", index),
                    f"'{step}' is not a step of '{self.subject.name}'"
                    f"{did_you_mean(step, self.steps)}",
                )
        for index, task in enumerate(expect.tasks or []):
            if task.step not in self.tasks:
                self.add((*at, "tasks", index, "step"), self.not_a_task(task.step))
        for name in expect.actions or {}:
            self.action_named((*at, "actions", name), name, "calls of")


def static_teams(family: Iterable[LoadedWorkflow]) -> set[str]:
    """Team slugs the workflows name outright (not through a template): they must exist."""
    teams: set[str] = set()
    for loaded in family:
        for step in loaded.workflow.all_steps():
            if step.task is not None:
                teams.add(step.task.team or "")
                teams |= {rule.reassign.team or "" for rule in step.task.overdue if rule.reassign}
            if step.action == "engine.update_work_item":
                teams.add(str(step.args.get("current_team") or ""))
    return {team for team in teams if team and "{{" not in team}


def static_people(family: Iterable[LoadedWorkflow]) -> set[str]:
    """E-mail addresses the workflows name outright as a task's or an item's assignee."""
    people: set[str] = set()
    for loaded in family:
        for step in loaded.workflow.all_steps():
            if step.task is not None:
                people.add(step.task.person or "")
                people |= {
                    rule.reassign.person or "" for rule in step.task.overdue if rule.reassign
                }
            if step.action == "engine.update_work_item":
                people.add(str(step.args.get("assignee") or ""))
    return {email for email in people if email and "{{" not in email}


# ------------------------------------------------------------ collecting ---


@dataclass
class Collected:
    """Scenario files found and read, the workflows loaded, the plans ready, every problem."""

    files: list[ScenarioFile]
    loaded: list[LoadedWorkflow]
    plans: list[Plan]
    problems: list[Problem]


def scenario_paths(pm: PluginManager, workflows_dir: Path, paths: Sequence[Path]) -> list[Path]:
    """The scenario files to run: those ``paths`` name, else every one beside a workflow.

    A path is a scenario file, a folder (its scenario files, at any depth) or a
    workflow file (the ``NAME.scenarios.yaml`` beside it). By default: the
    site's folder and every folder of workflows a plugin ships, leaving out a
    plugin's scenarios of a workflow the site replaces with a file of its own.
    """
    found: list[Path] = []
    if not paths:
        site = service.find_sources(pm, workflows_dir).site
        replaced = {_workflow_name(path) for path in site if not is_scenario_file(path)} - {""}
        found += scenario_files_in(workflows_dir) if workflows_dir.is_dir() else []
        for _, folder in pm.collect("tierflow_register_workflow_dirs"):
            shipped = scenario_files_in(Path(folder)) if Path(folder).is_dir() else []
            # a plugin's scenarios test its own version of a workflow, which a site's replaces
            found += [path for path in shipped if not _replaced(path, replaced)]
    for path in paths:
        if path.is_dir():
            found += scenario_files_in(path)
        elif not path.exists():
            raise TierflowError(f"{path}: no such file or folder")
        elif is_scenario_file(path):
            found.append(path)
        else:
            stem = path.name.rsplit(".", 1)[0]
            mine = [path.with_name(stem + suffix) for suffix in SUFFIXES]
            if not any(each.is_file() for each in mine):
                raise TierflowError(
                    f"{path}: not a scenario file, and there is no {mine[0].name} beside it: "
                    f"write one (see docs/scenarios.md)"
                )
            found += [each for each in mine if each.is_file()]
    return list(dict.fromkeys(path.resolve() for path in found))


def collect(pm: PluginManager, workflows_dir: Path, paths: Sequence[Path]) -> Collected:
    """Find and read the scenario files, load every workflow, and plan each file's scenarios.

    The workflows are those ``tierflow workflows validate`` loads, plus any
    beside a scenario file given from elsewhere (a plugin being written, a
    test's folder). Actions a scenario stubs need not be installed.
    """
    files = [read_scenario_file(path) for path in scenario_paths(pm, workflows_dir, paths)]
    sources = service.find_sources(pm, workflows_dir)
    known = [path for path in sources.files if not is_scenario_file(path)]
    for each in files:
        known += [
            path.resolve()
            for path in sorted(each.path.parent.iterdir())
            if path.suffix in (".yaml", ".yml") and path.is_file() and not is_scenario_file(path)
        ]
    known = list(dict.fromkeys(known))
    site = frozenset(path for path in sources.site if not is_scenario_file(path))
    catalog = service.build_catalog(pm, None)
    stubs = {name for each in files for name in each.stub_names}
    catalog = replace(catalog, actions=catalog.actions | stubs)
    checked = service.check(service.Sources(tuple(known), site), known, catalog)
    replaced = set(known) - set(checked.files)  # plugin workflows the site's folder replaces
    bad_files = {name for problem in checked.problems for name in (problem.file, problem.via)}
    broken = {path: _workflow_name(path) for path in known if display_path(path) in bad_files}
    problems = [problem for each in files for problem in each.problems]
    plans = []
    for each in files:
        if each.spec is None or each.problems:
            continue
        subject, found = find_subject(each, checked.loaded, broken, replaced)
        if found and subject is None:  # the workflow's own problems say what to fix
            tested = [path for path in broken if path in _tested(each, broken)]
            found += service.problems_in(checked.problems, tested)
        plan = None
        if subject is not None:
            plan, found = plan_scenarios(each, subject)
        problems += found
        if plan is not None:
            plans.append(plan)
    return Collected(files, checked.loaded, plans, problems)


def _tested(source: ScenarioFile, broken: dict[Path, str]) -> set[Path]:
    """The broken workflow files ``source`` would test (by ``workflow:`` or beside it)."""
    assert source.spec is not None
    wanted = source.spec.workflow
    if wanted is not None:
        return {path for path, name in broken.items() if name == wanted}
    return {path.resolve() for path in beside(source.path)}


def _replaced(scenarios: Path, names: set[str]) -> bool:
    """Whether the workflow beside ``scenarios`` is one the site replaces by a file of its own."""
    return any(path.is_file() and _workflow_name(path) in names for path in beside(scenarios))


def _workflow_name(path: Path) -> str:
    data = parse_file(path).data
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else ""
