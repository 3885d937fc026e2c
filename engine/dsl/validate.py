"""What a workflow means, checked once its file loads: names, the step graph, expressions.

Every problem is positioned and all are reported together: duplicate step ids;
``goto``/``otherwise``/``next``/``escalate`` to a missing step or out of (into)
a parallel branch; unreachable steps; loops with no task or wait in them;
unknown forms, actions, teams, roles, recipients and called workflows; every
variable an expression or template reads; ``shown_when`` of form fields; and
schedules (cron, time zone). :func:`validate_files` checks files together:
forms files share their forms, ``call`` may name any workflow of the run, and
two files may not define the same workflow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from jinja2 import nodes

from engine.dsl.catalog import EXPRESSION_ROOTS, Catalog
from engine.dsl.cron import cron_problems
from engine.dsl.expressions import (
    ENV,
    ExpressionError,
    check_condition,
    check_template,
    is_template,
    references,
)
from engine.dsl.forms import Form
from engine.dsl.loader import (
    LoadedWorkflow,
    Parsed,
    PathKey,
    Positions,
    parse_file,
    parse_text,
    read_source,
)
from engine.dsl.problems import Problem, WorkflowFileError, display_path
from engine.dsl.spec import RECIPIENT_HELP, Assignee, FormFile, Message, Step, Workflow
from engine.dsl.suggest import did_you_mean

ONLY_IN = {
    "outcome": "a task step's 'next'",
    "data": "a task step's 'next'",
    "result": "an action or call step's 'next' and 'set'",
    "signal": "a wait step's 'next'",
    "timed_out": "a wait step's 'next'",
}
"""The expression names that exist only in some places, and where."""
STEP_ATTRIBUTES = ("outcome", "data", "result")
RECIPIENTS = ("requester", "assignee", "owner_team", "current_team")
ATTRIBUTES = {
    root: tuple(EXPRESSION_ROOTS[root].split(": ", 1)[1].split(", "))
    for root in ("item", "workflow")
}
"""The attributes of ``item`` and ``workflow``, as :data:`EXPRESSION_ROOTS` lists them."""


@dataclass(frozen=True)
class _Placed:
    """A step, where it is in the file, and the list of steps it belongs to."""

    step: Step
    path: PathKey
    group: PathKey
    index: int

    @property
    def name(self) -> str:
        return f"step '{self.step.id}'"


@dataclass(frozen=True)
class _Scope:
    """Where an expression is: the special names it may read, and the task's form."""

    roots: frozenset[str] = frozenset()
    form: Form | None = None
    form_name: str = ""


def _place(steps: Sequence[Step], group: PathKey) -> Iterator[_Placed]:
    for index, step in enumerate(steps):
        path = (*group, index)
        yield _Placed(step, path, group, index)
        if step.parallel is not None:
            for name, branch in step.parallel.branches.items():
                yield from _place(branch, (*path, "parallel", "branches", name))


def _targets(step: Step) -> Iterator[tuple[str, PathKey, str]]:
    """Each step name ``step`` goes to: (name, path below the step, the key naming it)."""
    for key, branches in (("decide", step.decide), ("next", step.next)):
        if isinstance(branches, list):
            for index, branch in enumerate(branches):
                which = "goto" if branch.goto is not None else "otherwise"
                yield branch.target, (key, index, which), which
    if isinstance(step.next, str):
        yield step.next, ("next",), "next"
    for index, rule in enumerate(step.task.overdue if step.task else []):
        if rule.escalate is not None:
            yield rule.escalate, ("task", "overdue", index, "escalate"), "escalate"


def _falls_through(step: Step) -> bool:
    return step.kind not in ("decide", "end") and step.next is None


class _Checker:
    """The semantic checks of one workflow; :meth:`run` returns every problem found."""

    def __init__(
        self,
        parsed: Parsed,
        workflow: Workflow,
        forms: Mapping[str, Form],
        catalog: Catalog,
        workflows: frozenset[str],
    ) -> None:
        self.parsed, self.workflow, self.catalog = parsed, workflow, catalog
        self.forms = {**forms, **workflow.forms}
        self.workflows = workflows
        self.problems: dict[Problem, None] = {}
        self.placed = list(_place(workflow.steps, ("steps",)))
        self.groups: dict[PathKey, list[_Placed]] = {}
        for placed in self.placed:
            self.groups.setdefault(placed.group, []).append(placed)
        self.by_id = {placed.step.id: placed for placed in reversed(self.placed)}
        self.in_group = {
            group: {placed.step.id: placed for placed in reversed(steps)}
            for group, steps in self.groups.items()
        }
        self.pausing: dict[int, bool] = {}
        self.variables = set(workflow.variables) | {
            name
            for placed in self.placed
            for name in [placed.step.result, *placed.step.set]
            if name is not None
        }

    def add(self, path: PathKey, message: str) -> None:
        line, column = self.parsed.positions.value(path)
        self.problems[Problem(self.parsed.file, line, column, message)] = None

    def run(self) -> list[Problem]:
        self.duplicate_ids()
        self.jumps()
        self.reachable()
        self.loops()
        for placed in self.placed:
            self.names(placed)
            for text, path, where, scope, condition in self.expressions(placed):
                self.expression(text, path, where, scope, condition)
        self.start_and_schedule()
        for problem in form_problems(self.parsed, self.workflow.forms):
            self.problems[problem] = None
        return list(self.problems)

    # ------------------------------------------------------------ the graph

    def duplicate_ids(self) -> None:
        seen: dict[str, _Placed] = {}
        for placed in self.placed:
            first = seen.setdefault(placed.step.id, placed)
            if first is not placed:
                line = self.parsed.positions.value((*first.path, "id"))[0]
                self.add(
                    (*placed.path, "id"),
                    f"step id '{placed.step.id}' is used twice (first at line {line})",
                )

    def jumps(self) -> None:
        for placed in self.placed:
            own = self.in_group[placed.group]
            for name, below, key in _targets(placed.step):
                path = (*placed.path, *below)
                if name in own:
                    continue
                if name not in self.by_id:
                    hint = did_you_mean(name, own) or did_you_mean(name, self.by_id)
                    self.add(path, f"unknown step '{name}' in '{key}' of {placed.name}{hint}")
                    continue
                self.add(
                    path,
                    f"'{key}' of {placed.name} goes to '{name}' in "
                    f"{self.describe_group(self.by_id[name].group)}: a step can only go to "
                    f"steps of its own list ({self.describe_group(placed.group)})",
                )

    def describe_group(self, group: PathKey) -> str:
        if group == ("steps",):
            return "the workflow's main steps"
        parallel = self.group_of_path(group[:-3])
        return f"branch '{group[-1]}' of step '{parallel.step.id}'"

    def group_of_path(self, path: PathKey) -> _Placed:
        return next(placed for placed in self.placed if placed.path == path)

    def successors(self, placed: _Placed) -> list[_Placed]:
        own = self.in_group[placed.group]
        found = [own[name] for name, _, _ in _targets(placed.step) if name in own]
        group = self.groups[placed.group]
        if _falls_through(placed.step) and placed.index + 1 < len(group):
            found.append(group[placed.index + 1])
        return found

    def reachable(self) -> None:
        seen = {self.placed[0].path}
        todo = [self.placed[0]]
        while todo:
            placed = todo.pop()
            following = self.successors(placed)
            if placed.step.parallel is not None:
                following += [
                    self.groups[(*placed.path, "parallel", "branches", name)][0]
                    for name in placed.step.parallel.branches
                ]
            for step in following:
                if step.path not in seen:
                    seen.add(step.path)
                    todo.append(step)
        for placed in self.placed:
            parent_runs = placed.group == ("steps",) or placed.group[:-3] in seen
            if placed.path not in seen and parent_runs:
                self.add(
                    (*placed.path, "id"),
                    f"{placed.name} is unreachable: no step that runs goes to it "
                    "(add a 'goto' to it, or remove it)",
                )

    def blocks(self, step: Step) -> bool:
        """Whether ``step`` pauses the workflow (a task, a wait, a call, such a parallel)."""
        if id(step) not in self.pausing:
            self.pausing[id(step)] = self._pauses(step)
        return self.pausing[id(step)]

    def _pauses(self, step: Step) -> bool:
        if step.kind in ("task", "wait", "call"):
            return True
        if step.parallel is None:
            return False
        pausing = [
            any(self.blocks(p.step) for p in _place(branch, ()))
            for branch in step.parallel.branches.values()
        ]
        return all(pausing) if step.parallel.wait_for == "first" else any(pausing)

    def loops(self) -> None:
        for group in self.groups.values():
            instant = [p for p in group if not self.blocks(p.step)]
            edges = {
                p.index: list(
                    dict.fromkeys(s.index for s in self.successors(p) if not self.blocks(s.step))
                )
                for p in instant
            }
            for cycle in _cycles([p.index for p in instant], edges):
                names = ", ".join(f"'{group[index].step.id}'" for index in cycle[:5])
                names += f" and {len(cycle) - 5} more" if len(cycle) > 5 else ""
                what = f"steps {names} form a loop" if len(cycle) > 1 else f"step {names} loops"
                self.add(
                    (*group[cycle[0]].path, "id"),
                    f"{what} with no task or wait in it: it would run forever "
                    "(add a wait or a task to the loop)",
                )

    # --------------------------------------------------------------- names

    def names(self, placed: _Placed) -> None:
        step, path = placed.step, placed.path
        if step.task is not None:
            self.form(step.task.form, (*path, "task", "form"), placed.name)
            self.assignee(step.task, (*path, "task"), placed.name)
            for index, rule in enumerate(step.task.overdue):
                rule_path = (*path, "task", "overdue", index)
                if rule.reassign is not None:
                    self.assignee(rule.reassign, (*rule_path, "reassign"), placed.name)
                if rule.notify is not None:
                    self.recipients(rule.notify, (*rule_path, "notify"), placed.name)
        if step.action is not None and step.action not in self.catalog.actions:
            hint = did_you_mean(step.action, self.catalog.actions)
            self.add((*path, "action"), f"unknown action '{step.action}' in {placed.name}{hint}")
        if step.notify is not None:
            self.recipients(step.notify, (*path, "notify"), placed.name)
        if step.call is not None and step.call.workflow not in self.workflows:
            name = step.call.workflow
            hint = did_you_mean(name, self.workflows)
            self.add(
                (*path, "call", "workflow"), f"unknown workflow '{name}' in {placed.name}{hint}"
            )

    def form(self, name: str, path: PathKey, where: str) -> None:
        if name not in self.forms:
            self.add(path, f"unknown form '{name}' in {where}{did_you_mean(name, self.forms)}")

    def assignee(self, assignee: Assignee, path: PathKey, where: str) -> None:
        if assignee.team is not None:
            self.team(assignee.team, (*path, "team"), where)
        if assignee.role is not None:
            self.role(assignee.role, (*path, "role"), where)

    def team(self, team: str, path: PathKey, where: str) -> None:
        teams = self.catalog.teams
        if teams is not None and not is_template(team) and team not in teams:
            self.add(path, f"unknown team '{team}' in {where}{did_you_mean(team, teams)}")

    def role(self, role: str, path: PathKey, where: str) -> None:
        roles = self.catalog.roles
        if not is_template(role) and role not in roles:
            known = ", ".join(sorted(roles))
            hint = did_you_mean(role, roles)
            self.add(path, f"unknown role '{role}' in {where}{hint}: the roles are {known}")

    def recipients(self, message: Message, path: PathKey, where: str) -> None:
        for index, recipient in enumerate(message.to):
            at = (*path, "to", index)
            kind, colon, value = recipient.partition(":")
            if is_template(recipient) or (not colon and recipient in RECIPIENTS):
                continue
            if colon and kind in ("team", "role", "person") and value.strip():
                if kind == "team":
                    self.team(value.strip(), at, where)
                elif kind == "role":
                    self.role(value.strip(), at, where)
                continue
            hint = did_you_mean(recipient, RECIPIENTS)
            self.add(
                at, f"unknown recipient '{recipient}' in {where}{hint}: write {RECIPIENT_HELP}"
            )

    def start_and_schedule(self) -> None:
        start = self.workflow.start
        if start.form is not None:
            self.form(start.form, ("start", "form"), "'start'")
        schedule = self.workflow.schedule
        if schedule is None:
            return
        for message in cron_problems(schedule.cron):
            self.add(("schedule", "cron"), message)
        zones = _time_zones()
        if zones and schedule.timezone not in zones:
            self.add(
                ("schedule", "timezone"),
                f"unknown time zone '{schedule.timezone}'{did_you_mean(schedule.timezone, zones)}"
                ": use a name such as Europe/Berlin, America/New_York or UTC",
            )

    # --------------------------------------------------------- expressions

    def expressions(self, placed: _Placed) -> Iterator[tuple[str, PathKey, str, _Scope, bool]]:
        """Every expression and template of a step: (text, path, where, scope, is_condition)."""
        step, path = placed.step, placed.path
        general = _Scope()
        for text, below in _templates_of(step):
            yield text, (*path, *below), f"'{_dotted(below)}' of {placed.name}", general, False
        after = self.after_scope(step)
        for key, scope in (("decide", general), ("next", after)):
            branches = getattr(step, key)
            for index, branch in enumerate(branches if isinstance(branches, list) else []):
                if branch.when is not None:
                    below = (key, index, "when")
                    yield branch.when, (*path, *below), f"'when' of {placed.name}", scope, True
        set_scope = after if step.kind in ("action", "call") else general
        for name, text in step.set.items():
            yield text, (*path, "set", name), f"'set' of {placed.name}", set_scope, False

    def after_scope(self, step: Step) -> _Scope:
        """The names a step's ``next`` may read."""
        if step.task is not None:
            form = self.forms.get(step.task.form)
            return _Scope(frozenset({"outcome", "data"}), form, step.task.form)
        if step.kind in ("action", "call"):
            return _Scope(frozenset({"result"}))
        if step.kind == "wait":
            return _Scope(frozenset({"signal", "timed_out"}))
        return _Scope()

    def expression(
        self, text: str, path: PathKey, where: str, scope: _Scope, condition: bool
    ) -> None:
        try:
            tree = check_condition(text) if condition else check_template(text)
        except ExpressionError as exc:
            self.add(path, f"{where}: {exc}")
            return
        loops = {"loop"} if any(True for _ in tree.find_all(nodes.For)) else set()
        for reference in references(tree):
            if reference.path[0] in loops or reference.path[0] in ENV.globals:
                continue
            message = self.reference(reference.path, scope, where)
            if message is not None:
                self.add(path, message)
        for value, form_name, form in self.compared_outcomes(tree, scope):
            outcomes = [outcome.value for outcome in form.outcomes]
            if outcomes and value not in outcomes:
                self.add(
                    path,
                    f"'{value}' in {where} is not an outcome of form '{form_name}'"
                    f"{did_you_mean(value, outcomes)}: its outcomes are {', '.join(outcomes)}",
                )

    def reference(self, ref: tuple[str, ...], scope: _Scope, where: str) -> str | None:
        root = ref[0]
        if root not in EXPRESSION_ROOTS:
            return f"unknown variable '{root}' in {where}{did_you_mean(root, EXPRESSION_ROOTS)}"
        if root in ONLY_IN and root not in scope.roots:
            return f"'{root}' cannot be used in {where}: it only exists in {ONLY_IN[root]}"
        if len(ref) < 2:
            return None
        if root in ATTRIBUTES and ref[1] not in ATTRIBUTES[root]:
            hint = did_you_mean(ref[1], ATTRIBUTES[root])
            return f"unknown attribute '{root}.{ref[1]}' in {where}{hint}"
        if root == "data":
            return _field_problem(ref[1], scope.form, scope.form_name, where)
        if root == "input" and self.workflow.start.form is not None:
            name = self.workflow.start.form
            return _field_problem(ref[1], self.forms.get(name), name, where)
        if root == "vars" and ref[1] not in self.variables:
            return (
                f"unknown variable 'vars.{ref[1]}' in {where}"
                f"{did_you_mean(ref[1], self.variables)}: declare it under 'variables', "
                "or set it with 'set' or 'result'"
            )
        return self.step_reference(ref, where) if root == "steps" else None

    def step_reference(self, ref: tuple[str, ...], where: str) -> str | None:
        target = self.by_id.get(ref[1])
        if target is None:
            return f"unknown step '{ref[1]}' in {where}{did_you_mean(ref[1], self.by_id)}"
        if len(ref) < 3:
            return None
        attribute, step = ref[2], target.step
        if attribute not in STEP_ATTRIBUTES:
            return (
                f"unknown attribute 'steps.{ref[1]}.{attribute}' in {where}"
                f"{did_you_mean(attribute, STEP_ATTRIBUTES)}: a step has outcome, data and result"
            )
        if attribute == "data" and step.task is None:
            return (
                f"'steps.{ref[1]}.data' in {where}: step '{ref[1]}' is not a task, it has no data"
            )
        if attribute == "result" and step.kind not in ("action", "call"):
            return (
                f"'steps.{ref[1]}.result' in {where}: step '{ref[1]}' is a {step.kind} step; "
                "only action and call steps have a result"
            )
        if attribute == "data" and step.task is not None and len(ref) > 3:
            form = self.forms.get(step.task.form)
            return _field_problem(ref[3], form, step.task.form, where)
        return None

    def compared_outcomes(self, tree: nodes.Node, scope: _Scope) -> Iterator[tuple[str, str, Form]]:
        """Outcome values an expression compares a task's outcome with, and that task's form."""
        compares = [tree] if isinstance(tree, nodes.Compare) else []
        for compare in [*compares, *tree.find_all(nodes.Compare)]:
            if len(compare.ops) != 1:
                continue
            operator, other = compare.ops[0].op, compare.ops[0].expr
            pairs = [(compare.expr, other)]
            if operator in ("eq", "ne"):
                pairs.append((other, compare.expr))
            elif operator not in ("in", "notin"):
                continue
            for subject, values in pairs:
                found = self.outcome_form(subject, scope)
                if found is not None:
                    for value in _constants(values):
                        yield value, *found

    def outcome_form(self, node: nodes.Node, scope: _Scope) -> tuple[str, Form] | None:
        if not isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            return None
        paths = [reference.path for reference in references(node)]
        if paths == [("outcome",)] and "outcome" in scope.roots and scope.form is not None:
            return scope.form_name, scope.form
        if len(paths) == 1 and len(paths[0]) == 3 and paths[0][::2] == ("steps", "outcome"):
            target = self.by_id.get(paths[0][1])
            task = target.step.task if target is not None else None
            form = self.forms.get(task.form) if task is not None else None
            return (task.form, form) if task is not None and form is not None else None
        return None


def _templates_of(step: Step) -> Iterator[tuple[str, PathKey]]:
    """The template strings of a step (not its conditions), with their paths below it."""
    task = step.task
    if task is not None:
        yield from _strings({"title": task.title, "due": task.due}, ("task",))
        yield from _assignee_strings(task, ("task",))
        for index, rule in enumerate(task.overdue):
            path = ("task", "overdue", index)
            if rule.reassign is not None:
                yield from _assignee_strings(rule.reassign, (*path, "reassign"))
            if rule.notify is not None:
                yield from _strings(rule.notify.model_dump(), (*path, "notify"))
    if step.notify is not None:
        yield from _strings(step.notify.model_dump(), ("notify",))
    if step.wait is not None and step.wait.until is not None:
        yield step.wait.until, ("wait", "until")
    yield from _strings(step.args, ("with",))
    if step.call is not None:
        yield from _strings(step.call.input, ("call", "with"))


def _assignee_strings(assignee: Assignee, path: PathKey) -> Iterator[tuple[str, PathKey]]:
    yield from _strings(
        {"team": assignee.team, "role": assignee.role, "person": assignee.person}, path
    )


def _strings(value: Any, path: PathKey) -> Iterator[tuple[str, PathKey]]:
    if isinstance(value, str) and is_template(value):
        yield value, path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _dotted(path: PathKey) -> str:
    return ".".join(part for part in path if isinstance(part, str))


def _constants(node: nodes.Node) -> list[str]:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return [item.value for item in node.items if isinstance(item, nodes.Const)]
    return []


def _field_problem(name: str, form: Form | None, form_name: str, where: str) -> str | None:
    if form is None or form.field(name) is not None:
        return None
    fields = [field.name for field in form.fields]
    return (
        f"unknown field '{name}' in {where}: form '{form_name}' has no such field"
        f"{did_you_mean(name, fields)}"
    )


def _cycles(nodes_: list[int], edges: Mapping[int, list[int]]) -> list[list[int]]:
    """The strongly connected parts of a graph that are loops (Kosaraju, no recursion)."""
    order: list[int] = []
    seen: set[int] = set()
    for start in nodes_:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(edges[start]))]
        while stack:
            node, following = stack[-1]
            step = next((n for n in following if n not in seen), None)
            if step is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(step)
                stack.append((step, iter(edges[step])))
    backwards: dict[int, list[int]] = {node: [] for node in nodes_}
    for node in nodes_:
        for step in edges[node]:
            backwards[step].append(node)
    found, assigned = [], set()
    for start in reversed(order):
        if start in assigned:
            continue
        part, stack = [], [start]
        assigned.add(start)
        while stack:
            node = stack.pop()
            part.append(node)
            fresh = [n for n in backwards[node] if n not in assigned]
            assigned.update(fresh)
            stack += fresh
        if len(part) > 1 or start in edges[start]:
            found.append(sorted(part))
    return sorted(found)


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def form_problems(parsed: Parsed, forms: Mapping[str, Form]) -> list[Problem]:
    """Problems of the forms a file defines: ``shown_when`` may read only the form's fields."""
    problems = []
    for form_name, form in forms.items():
        names = [field.name for field in form.fields]
        for index, field in enumerate(form.fields):
            if field.shown_when is None:
                continue
            path = ("forms", form_name, "fields", index, "shown_when")
            for reference in references(check_condition(field.shown_when)):
                name = reference.path[0]
                if name not in names and name not in ENV.globals:
                    line, column = parsed.positions.value(path)
                    message = (
                        f"unknown field '{name}' in 'shown_when' of field '{field.name}' of "
                        f"form '{form_name}'{did_you_mean(name, names)}: shown_when may only "
                        "use fields of the same form"
                    )
                    problems.append(Problem(parsed.file, line, column, message))
    return problems


# ----------------------------------------------------------- entry points ---


def check_workflow(
    parsed: Parsed,
    catalog: Catalog,
    shared_forms: Mapping[str, Form] | None = None,
    workflows: frozenset[str] | None = None,
) -> list[Problem]:
    """The semantic problems of a parsed workflow (``[]`` when it did not load).

    ``shared_forms`` are forms files' forms (beside ``catalog.forms``);
    ``workflows`` the names ``call`` may use beside ``catalog.workflows``.
    """
    workflow = parsed.workflow
    if workflow is None:
        return []
    forms = {**catalog.forms, **(shared_forms or {})}
    known = catalog.workflows | (workflows or frozenset()) | {workflow.name}
    return _guarded(parsed.file, lambda: _Checker(parsed, workflow, forms, catalog, known).run())


def _guarded(file: str, check: Any) -> list[Problem]:
    """Run ``check``; a bug of ours becomes a problem at 1:1 rather than a traceback."""
    try:
        return list(check())
    except Exception as exc:  # the last resort: report, never crash the validator
        return [Problem(file, 1, 1, f"internal error while validating: {exc!r}")]


def _used_forms(workflow: Workflow, forms: Mapping[str, Form]) -> dict[str, Form]:
    names = [step.task.form for step in workflow.all_steps() if step.task is not None]
    names.append(workflow.start.form or "")
    return {name: forms[name] for name in names if name in forms and name not in workflow.forms}


def load_workflow_text(
    text: str, file: str, catalog: Catalog
) -> tuple[Workflow | None, list[Problem]]:
    """Load and check one workflow: ``(workflow, [])``, or ``(None, every problem)``."""
    parsed = _guarded_parse(file, lambda: parse_text(text, file))
    if parsed.workflow is None and not parsed.problems and parsed.is_forms_file:
        message = "this is a forms file (it has only 'forms'), not a workflow"
        parsed.problems.append(Problem(file, 1, 1, message))
    problems = sorted([*parsed.problems, *check_workflow(parsed, catalog)])
    return (parsed.workflow if not problems else None), problems


def load_workflow_file(path: Path, catalog: Catalog) -> tuple[Workflow | None, list[Problem]]:
    """:func:`load_workflow_text` for the file at ``path`` (named as :func:`display_path` does)."""
    file = display_path(path)
    try:
        text = read_source(path, file)
    except WorkflowFileError as exc:
        return None, exc.problems
    return load_workflow_text(text, file, catalog)


def load_form_text(
    text: str, file: str, catalog: Catalog | None = None
) -> tuple[FormFile | None, list[Problem]]:
    """Load and check a forms file: ``(forms, [])``, or ``(None, every problem)``."""
    parsed = _guarded_parse(file, lambda: parse_text(text, file))
    return _forms_result(parsed)


def load_form_file(
    path: Path, catalog: Catalog | None = None
) -> tuple[FormFile | None, list[Problem]]:
    """:func:`load_form_text` for the file at ``path``."""
    file = display_path(path)
    try:
        text = read_source(path, file)
    except WorkflowFileError as exc:
        return None, exc.problems
    return load_form_text(text, file, catalog)


def _forms_result(parsed: Parsed) -> tuple[FormFile | None, list[Problem]]:
    problems = list(parsed.problems)
    if parsed.data is not None and not parsed.is_forms_file and not problems:
        problems.append(Problem(parsed.file, 1, 1, "a forms file has only 'forms', nothing else"))
    if parsed.forms is not None:
        problems += _guarded(parsed.file, lambda: form_problems(parsed, parsed.forms.forms))
    return (parsed.forms if not problems else None), sorted(problems)


def _guarded_parse(file: str, parse: Any) -> Parsed:
    try:
        return parse()
    except Exception as exc:  # the last resort: report, never crash the validator
        problem = Problem(file, 1, 1, f"internal error while validating: {exc!r}")
        return Parsed(file, "", None, Positions(), [problem])


def validate_files(
    paths: Sequence[Path], catalog: Catalog
) -> tuple[list[LoadedWorkflow], list[Problem]]:
    """Load and check files together; the workflows that are fine, and every problem found.

    Forms files' forms are shared by every workflow of the run, ``call`` may
    name any workflow of the run, and a workflow name may be defined once.
    A folder stands for the ``.yaml``/``.yml`` files below it.
    """
    files = _files(paths)
    parsed = {
        path: _guarded_parse(display_path(path), lambda p=path: parse_file(p, display_path(p)))
        for path in files
    }
    problems = [problem for item in parsed.values() for problem in item.problems]
    shared, clashes = _shared_forms(parsed.values())
    problems += clashes + _duplicate_names(parsed.values())
    names = frozenset(p.workflow.name for p in parsed.values() if p.workflow is not None)
    for item in parsed.values():
        problems += check_workflow(item, catalog, shared, names)
        if item.forms is not None:
            problems += _guarded(item.file, lambda i=item: form_problems(i, i.forms.forms))
    bad_files = {problem.file for problem in problems}
    forms = {**catalog.forms, **shared}
    loaded = [
        LoadedWorkflow.of(path, item.workflow, item.source, _used_forms(item.workflow, forms))
        for path, item in parsed.items()
        if item.workflow is not None and item.file not in bad_files
    ]
    return loaded, sorted(set(problems))


def _files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                found
                for found in path.rglob("*")
                if found.suffix in (".yaml", ".yml") and found.is_file()
            )
        else:
            files.append(path)
    return list(dict.fromkeys(files))


def _shared_forms(parsed: Any) -> tuple[dict[str, Form], list[Problem]]:
    shared: dict[str, Form] = {}
    where: dict[str, str] = {}
    problems = []
    for item in parsed:
        for name, form in (item.forms.forms if item.forms is not None else {}).items():
            if name in shared:
                line, column = item.positions.key(("forms", name))
                message = f"form '{name}' is also defined in {where[name]}: give it another name"
                problems.append(Problem(item.file, line, column, message))
                continue
            shared[name], where[name] = form, item.file
    return shared, problems


def _duplicate_names(parsed: Any) -> list[Problem]:
    first: dict[str, str] = {}
    problems = []
    for item in parsed:
        if item.workflow is None:
            continue
        name = item.workflow.name
        if name in first:
            line, column = item.positions.value(("name",))
            message = f"workflow '{name}' is also defined in {first[name]}: names must be unique"
            problems.append(Problem(item.file, line, column, message))
        first.setdefault(name, item.file)
    return problems
