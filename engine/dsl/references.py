"""What expressions and templates read: each name, attribute, field and outcome.

Every expression and template of a step must parse, and every variable it
reads must exist where it is used: what a step produced, by bare name, only in
its own ``next`` and ``set`` (``outcome`` and ``data`` of a task, ``result``
of an action or a call, ``signal`` and ``timed_out`` of a wait for a signal,
``outcomes`` and ``first`` of a parallel step: as the interpreter gives them),
``vars.<name>`` once declared or set, ``steps.<id>.<attribute>`` as that step
stores it, ``data.<field>`` and ``input.<field>`` as the form has it. An
outcome compared with a task's outcome must be one its form offers, a branch
compared with ``first`` one of the parallel step's. ``shown_when`` of a form
field may read only fields of the same form.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes

from engine.dsl.catalog import EXPRESSION_ROOTS
from engine.dsl.expressions import (
    ENV,
    ExpressionError,
    check_condition,
    check_template,
    is_template,
    references,
)
from engine.dsl.forms import Form
from engine.dsl.loader import Parsed, PathKey
from engine.dsl.outline import Findings, Known, Outline, Placed
from engine.dsl.problems import Problem
from engine.dsl.spec import Assignee, Start, Step
from engine.dsl.steprefs import (
    attribute_problem,
    field_problem,
    first_problem,
    own_names,
    step_reference,
    stored,
)
from engine.dsl.suggest import did_you_mean

ONLY_IN = {
    "outcome": "a task step's 'next' and 'set'",
    "data": "a task step's 'next' and 'set'",
    "result": "an action or call step's 'next' and 'set'",
    "signal": "the 'next' and 'set' of a wait for a signal",
    "timed_out": "the 'next' and 'set' of a wait for a signal",
    "outcomes": "a parallel step's 'next' and 'set'",
    "first": "a parallel step's 'next' and 'set'",
}
"""The expression names that exist only in some places, and where (see :func:`own_names`)."""
ATTRIBUTES = {
    root: tuple(EXPRESSION_ROOTS[root].split(": ", 1)[1].split(", "))
    for root in ("item", "workflow")
}
"""The attributes of ``item`` and ``workflow``, as :data:`EXPRESSION_ROOTS` lists them."""


@dataclass(frozen=True)
class Scope:
    """Where an expression is: in the ``next`` or ``set`` of ``step``, or elsewhere (``None``)."""

    step: Step | None = None

    @property
    def roots(self) -> tuple[str, ...]:
        """The names of what the step produced that the expression may read."""
        return own_names(self.step) if self.step is not None else ()


def check_expressions(outline: Outline, known: Known, findings: Findings) -> None:
    """Report what the expressions and templates of ``outline``'s steps get wrong."""
    checker = Expressions(outline, known, findings)
    for placed in outline.placed:
        for text, path, where, scope, condition in checker.of_step(placed):
            checker.expression(text, path, where, scope, condition)


class Expressions:
    """The expression checks of one workflow."""

    def __init__(self, outline: Outline, known: Known, findings: Findings) -> None:
        self.outline, self.known, self.findings = outline, known, findings
        self.forms = known.forms

    def add(self, path: PathKey, message: str) -> None:
        self.findings.add(path, message)

    def of_step(self, placed: Placed) -> Iterator[tuple[str, PathKey, str, Scope, bool]]:
        """Every expression and template of a step: (text, path, where, scope, is_condition)."""
        step, path = placed.step, placed.path
        general = Scope()
        for text, below in templates_of(step):
            yield text, (*path, *below), f"'{_dotted(below)}' of {placed.name}", general, False
        own = Scope(step)
        for key, scope in (("decide", general), ("next", own)):
            branches = getattr(step, key)
            for index, branch in enumerate(branches if isinstance(branches, list) else []):
                if branch.when is not None:
                    below = (key, index, "when")
                    yield branch.when, (*path, *below), f"'when' of {placed.name}", scope, True
        for name, text in step.set.items():
            yield text, (*path, "set", name), f"'set' of {placed.name}", own, False

    def expression(
        self, text: str, path: PathKey, where: str, scope: Scope, condition: bool
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
        for subject, value in compared(tree):
            message = self.compared_value(subject, value, scope, where)
            if message is not None:
                self.add(path, message)

    def compared_value(
        self, subject: nodes.Node, value: str, scope: Scope, where: str
    ) -> str | None:
        """What is wrong with comparing ``subject`` with ``value``: an outcome, a branch."""
        paths = [reference.path for reference in references(subject)]
        produced = self.produced(paths[0], scope) if len(paths) == 1 else None
        if produced is None:
            return None
        step, attribute = produced
        if attribute == "first":
            return first_problem(step, value, where)
        form = self.forms.get(step.task.form) if step.task is not None else None
        if attribute != "outcome" or step.task is None or form is None:
            return None
        outcomes = [outcome.value for outcome in form.outcomes]
        if not outcomes or value in outcomes:
            return None
        return (
            f"'{value}' in {where} is not an outcome of form '{step.task.form}'"
            f"{did_you_mean(value, outcomes)}: its outcomes are {', '.join(outcomes)}"
        )

    def produced(self, ref: tuple[str, ...], scope: Scope) -> tuple[Step, str] | None:
        """The step and attribute ``ref`` reads exactly (``outcome``, ``steps.<id>.first``)."""
        if len(ref) == 1 and scope.step is not None and ref[0] in scope.roots:
            return scope.step, ref[0]
        target = self.outline.by_id.get(ref[1]) if len(ref) == 3 and ref[0] == "steps" else None
        return (target.step, ref[2]) if target is not None else None

    def reference(self, ref: tuple[str, ...], scope: Scope, where: str) -> str | None:
        root = ref[0]
        if root not in EXPRESSION_ROOTS and scope.step is not None and root in stored(scope.step):
            return f"unknown variable '{root}' in {where}: read steps.{scope.step.id}.{root}"
        if root not in EXPRESSION_ROOTS:
            return f"unknown variable '{root}' in {where}{did_you_mean(root, EXPRESSION_ROOTS)}"
        if scope.step is not None and root in scope.roots:
            return attribute_problem(scope.step, ref, self.forms, where)
        if root in ONLY_IN:
            hint = did_you_mean(root, scope.roots)
            return f"'{root}' cannot be used in {where}{hint}: it only exists in {ONLY_IN[root]}"
        if len(ref) < 2:
            return None
        if root in ATTRIBUTES and ref[1] not in ATTRIBUTES[root]:
            hint = did_you_mean(ref[1], ATTRIBUTES[root])
            return f"unknown attribute '{root}.{ref[1]}' in {where}{hint}"
        start = self.outline.start
        if root == "input" and start is not None and start.form is not None:
            return field_problem(ref[1], self.forms.get(start.form), start.form, where)
        variables = self.outline.variables
        if root == "vars" and ref[1] not in variables:
            return (
                f"unknown variable 'vars.{ref[1]}' in {where}"
                f"{did_you_mean(ref[1], variables)}: declare it under 'variables', "
                "or set it with 'set' or 'result'"
            )
        if root == "steps":
            return step_reference(ref, self.outline, self.forms, where)
        return None


def templates_of(step: Step) -> Iterator[tuple[str, PathKey]]:
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


def compared(tree: nodes.Node) -> Iterator[tuple[nodes.Node, str]]:
    """Each text constant an expression compares something with, and that something.

    ``a == 'x'``, ``'x' != a``, ``a in ['x', 'y']`` and ``a not in ('x',)`` give
    ``(a, 'x')`` (and ``(a, 'y')``).
    """
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
            if isinstance(subject, (nodes.Name, nodes.Getattr, nodes.Getitem)):
                for value in _constants(values):
                    yield subject, value


def _constants(node: nodes.Node) -> list[str]:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return [item.value for item in node.items if isinstance(item, nodes.Const)]
    return []


def form_problems(
    parsed: Parsed, forms: Mapping[str, Form], choice_lists: frozenset[str] | None = None
) -> list[Problem]:
    """Problems of the forms a file defines.

    ``shown_when`` may read only the form's fields; ``required_for`` names
    outcomes of the form, each once; ``choices_from`` one of ``choice_lists``
    (``None``: not checked).
    """
    problems = [
        problem
        for form_name, form in forms.items()
        for problem in required_for_problems(parsed, form_name, form)
    ]
    problems += choices_from_problems(parsed, forms, choice_lists)
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


def channel_problems(
    parsed: Parsed, start: Start | None, forms: Mapping[str, Form]
) -> list[Problem]:
    """A field's ``channels``: only on the start form, each a channel the start takes (or api)."""
    problems = []
    taken = sorted({*(start.channels if start else []), "api"})
    for form_name, form in forms.items():
        for index, field in enumerate(form.fields):
            for position, channel in enumerate(field.channels):
                where = f"'channels' of field '{field.name}' of form '{form_name}'"
                if start is None or form_name != start.form:
                    message = f"{where}: channels apply only to the workflow's start form"
                elif channel not in taken:
                    message = (
                        f"{where}: the workflow does not start by {channel}; its start takes "
                        f"{', '.join(taken)}"
                    )
                else:
                    continue
                path = ("forms", form_name, "fields", index, "channels", position)
                line, column = parsed.positions.value(path)
                problems.append(Problem(parsed.file, line, column, message))
                break
    return problems


def choices_from_problems(
    parsed: Parsed, forms: Mapping[str, Form], choice_lists: frozenset[str] | None
) -> list[Problem]:
    """A ``choices_from`` naming a list no installed plugin contributes."""
    if choice_lists is None:
        return []
    problems = []
    for form_name, form in forms.items():
        for index, field in enumerate(form.fields):
            name = field.choices_from
            if name is None or name in choice_lists:
                continue
            line, column = parsed.positions.value(
                ("forms", form_name, "fields", index, "choices_from")
            )
            known = ", ".join(sorted(choice_lists)) or "none"
            message = (
                f"unknown choice list '{name}' in 'choices_from' of field '{field.name}' of "
                f"form '{form_name}'{did_you_mean(name, choice_lists)}: the installed plugins "
                f"offer {known}"
            )
            problems.append(Problem(parsed.file, line, column, message))
    return problems


def required_for_problems(parsed: Parsed, form_name: str, form: Form) -> list[Problem]:
    """``required_for`` of ``form``'s fields: outcomes the form has, each named once."""
    problems = []
    outcomes = [outcome.value for outcome in form.outcomes]
    for index, field in enumerate(form.fields):
        where = f"'required_for' of field '{field.name}' of form '{form_name}'"
        for position, value in enumerate(field.required_for):
            path = ("forms", form_name, "fields", index, "required_for", position)
            if not outcomes:
                message = (
                    f"{where} names outcome '{value}', but the form has no outcomes "
                    "(only a task form's buttons can need a field)"
                )
            elif value not in outcomes:
                hint = did_you_mean(value, outcomes)
                message = (
                    f"{where}: '{value}' is not an outcome of the form{hint}; "
                    f"its outcomes: {', '.join(outcomes)}"
                )
            elif value in field.required_for[:position]:
                message = f"{where} names '{value}' twice"
            else:
                continue
            line, column = parsed.positions.value(path)
            problems.append(Problem(parsed.file, line, column, message))
    return problems
