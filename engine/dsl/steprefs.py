"""``steps.<id>.<attribute>``: what each type of step stores for later steps to read.

The interpreter keeps, once a step has run, under ``steps.<id>``:

- a task: ``outcome``, ``data`` (the completed form's fields) and ``completed_by``;
- an action or a call: ``result``;
- a wait for a signal: ``signal`` (its payload) and ``timed_out``;
- a parallel step: ``outcomes`` (branch name → the outcome it ended with) and
  ``first`` (the branch that won, with ``wait_for: first``);
- a decide, notify or end step, or a wait for a time: nothing.

The step's own ``next`` and ``set`` read the same by bare name (``outcome``,
``result``, ``outcomes``…), all but ``completed_by``: see :func:`own_names`.

:func:`step_reference` checks one reference against that (a reference to a
step that did not load is left alone: its own problems are reported),
:func:`attribute_problem` one attribute of a given step, and
:func:`first_problem` a branch name compared with ``first``.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.dsl.forms import Form
from engine.dsl.outline import Outline
from engine.dsl.spec import Step
from engine.dsl.suggest import did_you_mean

STEP_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "task": ("outcome", "data", "completed_by"),
    "action": ("result",),
    "call": ("result",),
    "wait": ("signal", "timed_out"),
    "parallel": ("outcomes", "first"),
    "decide": (),
    "notify": (),
    "end": (),
}
"""What each type of step stores under ``steps.<id>``."""
STORED_ONLY = frozenset({"completed_by"})
"""What a step stores under ``steps.<id>`` but does not give its own ``next`` and ``set``."""


def stored(step: Step) -> tuple[str, ...]:
    """The attributes ``step`` stores under ``steps.<id>`` (a wait only for a signal)."""
    if step.wait is not None and step.wait.signal is None:
        return ()
    return STEP_ATTRIBUTES[step.kind]


def own_names(step: Step) -> tuple[str, ...]:
    """The names ``step``'s own ``next`` and ``set`` read what it produced by (``outcome``…)."""
    return tuple(name for name in stored(step) if name not in STORED_ONLY)


def step_reference(
    ref: tuple[str, ...], outline: Outline, forms: Mapping[str, Form], where: str
) -> str | None:
    """What is wrong with ``steps.…`` reference ``ref`` (``None`` when nothing is)."""
    name = ref[1]
    target = outline.by_id.get(name)
    if target is None and name in outline.group_of:
        return None  # the step did not load: its own problems are reported
    if target is None:
        return f"unknown step '{name}' in {where}{did_you_mean(name, outline.group_of)}"
    if len(ref) < 3:
        return None
    return attribute_problem(target.step, ref[2:], forms, where, f"steps.{name}.")


def attribute_problem(
    step: Step, ref: tuple[str, ...], forms: Mapping[str, Form], where: str, prefix: str = ""
) -> str | None:
    """What is wrong with reading ``ref`` (an attribute, and what is below it) of ``step``.

    ``prefix`` is what the expression writes before the attribute:
    ``steps.<id>.``, or nothing in the step's own ``next`` and ``set``.
    """
    name, attribute = step.id, ref[0]
    if attribute not in stored(step):
        return _not_stored(name, attribute, step, where)
    if attribute == "data" and step.task is not None and len(ref) > 1:
        form = forms.get(step.task.form)
        return field_problem(ref[1], form, step.task.form, where)
    if attribute == "outcomes" and len(ref) > 1:
        return branch_problem(name, step, ref[1], where)
    if attribute == "first" and step.parallel is not None and step.parallel.wait_for != "first":
        return (
            f"'{prefix}first' in {where}: step '{name}' waits for all its branches, so "
            f"no branch wins and 'first' is none: use wait_for: first, or read "
            f"{prefix}outcomes"
        )
    return None


def _not_stored(name: str, attribute: str, step: Step, where: str) -> str:
    own = stored(step)
    hint = did_you_mean(attribute, own)
    if step.wait is not None and not own:
        what = f"step '{name}' waits for {'a duration' if step.wait.duration else 'a time'}"
        return (
            f"'steps.{name}.{attribute}' in {where}: {what}, it stores nothing under steps "
            "(signal and timed_out are stored by a wait for a signal)"
        )
    kind = step.kind
    what = f"step '{name}' is {'an' if kind[0] in 'aeiou' else 'a'} {kind} step, " + (
        f"it has {_and(own)}" if own else "it stores nothing under steps"
    )
    having = [other for other, names in STEP_ATTRIBUTES.items() if attribute in names]
    if not having:
        return f"unknown attribute 'steps.{name}.{attribute}' in {where}{hint}: {what}"
    return (
        f"'steps.{name}.{attribute}' in {where}{hint}: {what} "
        f"(only {_and(having, 'or')} steps have {attribute})"
    )


def branch_problem(name: str, step: Step, branch: str, where: str) -> str | None:
    """What is wrong with reading the outcome of ``branch`` of parallel step ``step``."""
    branches = list(step.parallel.branches) if step.parallel is not None else []
    if branch in branches:
        return None
    return (
        f"unknown branch '{branch}' of step '{name}' in {where}"
        f"{did_you_mean(branch, branches)}: its branches are {_and(branches)}"
    )


def first_problem(step: Step, value: str, where: str) -> str | None:
    """What is wrong with comparing the ``first`` branch of ``step`` with the text ``value``."""
    parallel = step.parallel
    if parallel is None or parallel.wait_for != "first":
        return None  # not a parallel step, or wait_for: all: reported as such
    branches = list(parallel.branches)
    if value in branches:
        return None
    return (
        f"'{value}' in {where} is not a branch of step '{step.id}'"
        f"{did_you_mean(value, branches)}: its branches are {_and(branches)}"
    )


def field_problem(name: str, form: Form | None, form_name: str, where: str) -> str | None:
    """What is wrong with reading field ``name`` of ``form`` (``None``: no form to check)."""
    if form is None or form.field(name) is not None:
        return None
    fields = [field.name for field in form.fields]
    return (
        f"unknown field '{name}' in {where}: form '{form_name}' has no such field"
        f"{did_you_mean(name, fields)}"
    )


def _and(names: list[str] | tuple[str, ...], word: str = "and") -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"
