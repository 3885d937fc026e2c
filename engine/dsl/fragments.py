"""Fragments: named groups of steps, with parameters, that workflows share.

A fragments file has only ``fragments``; each fragment has parameters and
steps. A workflow puts a fragment's steps in place of one of its own with
``- use: <fragment>`` and ``with: {<parameter>: <value>}``. In the fragment's
steps, ``${name}`` stands for a parameter: a value that is only ``${name}``
becomes the parameter's value as given (text, a number, a list ...); inside
longer text it is replaced by the value as text; ``$${`` writes ``${``.
Jinja2 ``{{ }}`` templates are left alone: they are read when the step runs.

Here: the models, the substitution, and the checks a fragments file gets on
its own (every ``${name}`` names a parameter, every parameter is used). What
the steps mean is checked where a workflow uses them, on the expanded
workflow (:mod:`engine.dsl.expand`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from engine.dsl.forms import Strict
from engine.dsl.problems import Problem
from engine.dsl.suggest import did_you_mean
from engine.dsl.types import Ident, Name
from engine.dsl.yamlread import PathKey, Positions

PLACEHOLDER = re.compile(r"\$(\$?)\{([^}]*)\}")
"""``${name}`` (a parameter) or ``$${...}`` (a literal ``${...}``)."""
IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class Param(Strict):
    """A parameter of a fragment: required unless it has a ``default``."""

    description: str = ""
    default: Any = Field(default=None, description="the value when 'with' leaves it out")

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set


class Fragment(Strict):
    """Steps that workflows share, and the parameters they take."""

    description: str = ""
    params: dict[Ident, Param | None] = Field(
        default_factory=dict,
        description="each parameter, with a description and a default (without one, required)",
    )
    steps: list[dict[str, Any]] = Field(
        min_length=1,
        description="steps as in a workflow; ${name} stands for a parameter",
    )
    variables: dict[Ident, Any] = Field(
        default_factory=dict,
        description="variables its steps read, added to each workflow using it (the "
        "workflow's own of the same name win)",
    )
    signals: dict[Ident, dict[str, Any]] = Field(
        default_factory=dict,
        description="signals its steps wait for that people send, added to each workflow "
        "using it (the workflow's own of the same name win)",
    )

    def param(self, name: str) -> Param:
        return self.params.get(name) or Param()


class Use(Strict):
    """A list item that stands for a fragment's steps (for the JSON Schema; read by hand)."""

    use: Name = Field(description="the fragment whose steps go here")
    params: dict[Ident, Any] = Field(
        default_factory=dict, alias="with", description="the fragment's parameters"
    )


class FragmentFile(Strict):
    """A file of fragments that any workflow may use."""

    fragments: dict[Name, Fragment] = Field(min_length=1)


def is_fragments_file(data: Any) -> bool:
    """A fragments file has ``fragments`` and is not a workflow (no ``name``, no ``steps``)."""
    return isinstance(data, dict) and "fragments" in data and not {"name", "steps"} & set(data)


def is_use(item: Any) -> bool:
    """Whether a step list item stands for a fragment's steps (``- use: <fragment>``)."""
    return isinstance(item, dict) and "use" in item


def uses_fragments(steps: Any) -> bool:
    """Whether a list of steps (or a parallel branch's, at any depth) uses a fragment."""
    if not isinstance(steps, list):
        return False
    for item in steps:
        if is_use(item):
            return True
        parallel = item.get("parallel") if isinstance(item, dict) else None
        branches = parallel.get("branches") if isinstance(parallel, dict) else None
        if isinstance(branches, dict) and any(map(uses_fragments, branches.values())):
            return True
    return False


# ------------------------------------------------------------ parameters ---


@dataclass(frozen=True)
class Placeholder:
    """A ``${name}`` in a fragment's steps: the parameter and the path of the text holding it."""

    name: str
    path: PathKey
    whole: bool
    """Whether the text is only ``${name}`` (the value keeps its type)."""


def placeholders(value: Any, path: PathKey) -> Iterator[Placeholder]:
    """Every ``${name}`` in ``value`` (texts inside lists and mappings too), with its path."""
    if isinstance(value, str):
        for match in PLACEHOLDER.finditer(value):
            if not match.group(1):
                whole = match.group(0) == value
                yield Placeholder(match.group(2).strip(), path, whole)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from placeholders(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from placeholders(item, (*path, key))


class SubstitutionError(Exception):
    """A parameter's value cannot stand where ``${name}`` is; ``path`` says where."""

    def __init__(self, path: PathKey, message: str) -> None:
        super().__init__(message)
        self.path = path


def substitute(value: Any, params: dict[str, Any], path: PathKey = ()) -> Any:
    """``value`` with each ``${name}`` replaced by ``params[name]`` (a copy; ``$${`` → ``${``).

    Raises :class:`SubstitutionError` for a list or mapping inside longer text.
    Names that are not in ``params`` are left as they are (reported elsewhere).
    """
    if isinstance(value, list):
        return [substitute(item, params, (*path, index)) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: substitute(item, params, (*path, key)) for key, item in value.items()}
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = PLACEHOLDER.fullmatch(value)
    if whole and not whole.group(1) and whole.group(2).strip() in params:
        return params[whole.group(2).strip()]

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)[1:]
        name = match.group(2).strip()
        if name not in params:
            return match.group(0)
        given = params[name]
        if isinstance(given, (list, dict)):
            raise SubstitutionError(
                path,
                f"parameter '{name}' is a {'list' if isinstance(given, list) else 'mapping'}: "
                f"it can only be a whole value ('${{{name}}}' alone), not part of a text",
            )
        if isinstance(given, bool):
            return "true" if given else "false"
        return "" if given is None else str(given)

    return PLACEHOLDER.sub(replace, value)


# ---------------------------------------------------------- file checks ---


def fragment_file_problems(
    file: str, fragments: dict[str, Fragment], positions: Positions
) -> list[Problem]:
    """What a fragments file gets wrong on its own: unknown ``${name}``, unused parameters."""
    problems = []
    for name, fragment in fragments.items():
        base: PathKey = ("fragments", name)
        declared = list(fragment.params)
        used: set[str] = set()
        for found in placeholders(fragment.steps, (*base, "steps")):
            used.add(found.name)
            if found.name in fragment.params:
                continue
            line, column = positions.value(found.path)
            if not IDENT.match(found.name):
                message = (
                    f"'${{{found.name}}}' is not a parameter name (lower-case letters, digits "
                    "and '_'); write '$${' for a literal '${'"
                )
            else:
                message = (
                    f"'${{{found.name}}}' is not a parameter of fragment '{name}'"
                    f"{did_you_mean(found.name, declared)}: declare it under 'params'"
                )
            problems.append(Problem(file, line, column, message))
        for param in declared:
            if param not in used:
                line, column = positions.key((*base, "params", param))
                message = (
                    f"parameter '{param}' of fragment '{name}' is not used in its steps "
                    f"(write '${{{param}}}' where it goes, or remove it)"
                )
                problems.append(Problem(file, line, column, message))
    return problems
