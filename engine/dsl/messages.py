"""Pydantic's errors in an administrator's words, each at its line and column.

:func:`schema_problems` turns a :class:`~pydantic.ValidationError` for a
workflow or forms file into :class:`~engine.dsl.problems.Problem` lists that
name the step, form or field concerned ("unknown key 'tsk' in step 'triage'
(did you mean 'task'?)"), drop the noise of union members that do not fit, and
report a misspelt key once rather than also as a missing one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from engine.dsl.fragments import FragmentFile
from engine.dsl.problems import Problem
from engine.dsl.spec import STEP_TYPES, FormFile
from engine.dsl.suggest import closest, did_you_mean
from engine.dsl.yamlread import PathKey, Positions

_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "none_required": "empty",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "less_than_equal": ("le", "at most"),
    "greater_than": ("gt", "more than"),
    "less_than": ("lt", "less than"),
}
_PATTERNS = {
    r"^[a-z_][a-z0-9_]*$": "use lower-case letters, digits and '_', not starting with a digit",
    r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$": (
        "use lower-case letters, digits, '_' and '-', starting with a letter"
    ),
    r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$": (
        "write a namespaced action such as helpdesk.escalate"
    ),
}


_STEP_KEYS = ("id", "goto", "otherwise", "next", "escalate")


@dataclass
class _Error:
    """One pydantic error, located in the data."""

    path: PathKey
    kind: str
    message: str
    context: dict[str, Any]
    union: PathKey | None = None  # where a union member's name was skipped in ``loc``
    on_key: bool = False  # the error is about a mapping key, not its value


def _locate(error: Any, data: Any) -> _Error:
    path: list[str | int] = []
    current, union, on_key = data, None, False
    loc = list(error["loc"])
    for index, part in enumerate(loc):
        if part == "[key]":
            on_key = True
        elif _has(current, part):
            path.append(part)
            current = current[part]
        elif error["type"] == "missing" and index == len(loc) - 1:
            path.append(part)
        elif union is None:
            union = tuple(path)
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return _Error(tuple(path), error["type"], message, dict(error.get("ctx") or {}), union, on_key)


def _without_union_noise(errors: list[_Error]) -> list[_Error]:
    """Of a union's members, keep the errors of the member that fits the value best."""
    kept = []
    for error in errors:
        if error.union is not None and error.path == error.union:
            deeper = any(
                other.union == error.union and len(other.path) > len(error.path) for other in errors
            )
            closer = error.kind in _EXPECTED and any(
                other.path == error.path
                and other.union == error.union
                and other.kind not in _EXPECTED
                for other in errors
            )
            if deeper or closer:
                continue
        kept.append(error)
    return kept


def schema_problems(
    exc: ValidationError, data: Any, positions: Positions, file: str, model: type[BaseModel]
) -> list[Problem]:
    """Pydantic's errors for ``data`` as positioned problems in an administrator's words."""
    located = [_locate(error, data) for error in exc.errors()]
    errors = _without_union_noise(
        [error for error in located if not _refused(error.path, positions.refused)]
    )
    tops = {FormFile: "the forms file", FragmentFile: "the fragments file"}
    top = tops.get(model, "the workflow")
    words = _Words(data, top, model)
    misspelt = {  # a missing key that an unknown key beside it is a typo of: report the typo
        (*error.path[:-1], closest(str(error.path[-1]), _fields_at(model, error.path[:-1])))
        for error in errors
        if error.kind == "extra_forbidden"
    }
    errors = [e for e in errors if e.kind != "missing" or e.path not in misspelt]
    problems: dict[Problem, None] = {}
    expected: dict[PathKey, list[str]] = {}
    for error in errors:
        if error.kind in _EXPECTED and error.union is not None:
            expected.setdefault(error.path, []).append(_EXPECTED[error.kind])
            continue
        path, on_key = _where_error(error)
        problems[positions.problem(file, path, words.message(error), key=on_key)] = None
    for path, kinds in expected.items():
        problems[positions.problem(file, path, words.wrong_type(path, kinds))] = None
    return list(problems)


def _refused(path: PathKey, refused: set[PathKey]) -> bool:
    return any(path[: len(done)] == done for done in refused)


def _where_error(error: _Error) -> tuple[PathKey, bool]:
    """The path a problem is shown at, and whether at its key rather than its value."""
    if error.on_key or error.kind == "extra_forbidden":
        return error.path, True
    if error.kind == "missing":
        return error.path[:-1], False
    return error.path, False


class _Words:
    """Names the place an error is about (step, form, field, key) and words its message."""

    def __init__(self, data: Any, top: str, model: type[BaseModel]) -> None:
        self.data, self.top, self.model = data, top, model

    def where(self, path: PathKey) -> tuple[str, int]:
        """The innermost step, form or field around ``path``, and how much of it names that."""
        where, end = self.top, 0
        for index in range(1, len(path) + 1):
            named = self._named(path[:index])
            if named is not None:
                where, end = named, index
        return where, end

    def _named(self, prefix: PathKey) -> str | None:
        last, item = prefix[-1], _get(self.data, prefix)
        if _is_step(prefix) and isinstance(last, int):
            ident = item.get("id") if isinstance(item, dict) else None
            return f"step '{ident}'" if isinstance(ident, str) and ident else f"step {last + 1}"
        if len(prefix) == 2 and prefix[0] == "forms":
            return f"form '{last}'"
        if len(prefix) == 4 and prefix[0] == "forms" and prefix[2] == "fields":
            name = item.get("name") if isinstance(item, dict) else None
            field = f"field '{name}'" if isinstance(name, str) and name else f"field {last + 1}"
            return f"{field} of form '{prefix[1]}'"
        return None

    def subject(self, path: PathKey) -> str:
        where, end = self.where(path)
        label = _label(path[end:])
        if not label:
            return where
        return label if where == self.top else f"{label} of {where}"

    def message(self, error: _Error) -> str:
        path, kind = error.path, error.kind
        if kind == "extra_forbidden":
            return self.unknown_key(path)
        if kind == "missing":
            return f"{self.subject(path[:-1])} is missing '{path[-1]}'"
        if error.on_key:
            return f"{self.subject(path[:-1])}: {_key_message(error)}"
        if kind in _EXPECTED:
            return self.wrong_type(path, [_EXPECTED[kind]])
        if kind in ("value_error", "assertion_error"):
            return self.validator_message(path, error.message)
        value = _get(self.data, path)
        if kind == "too_short":
            count = error.context.get("min_length", 1)
            unit = ("entry", "entries") if isinstance(value, dict) else ("item", "items")
            return f"{self.subject(path)} needs at least {count} {unit[count != 1]}"
        return f"{self.subject(path)}: {_constraint(error, value)}"

    def unknown_key(self, path: PathKey) -> str:
        key, parent = str(path[-1]), path[:-1]
        container = self.subject(parent)
        text = f"unknown key '{key}'" + ("" if container == self.top else f" in {container}")
        hint = did_you_mean(key, _fields_at(self.model, parent))
        if not hint and _is_step(parent):
            hint = f": a step has an 'id' and one type, one of {', '.join(STEP_TYPES)}"
        return text + hint

    def wrong_type(self, path: PathKey, kinds: list[str]) -> str:
        wanted = list(dict.fromkeys(kinds))
        if "a number" in wanted and "a whole number" in wanted:
            wanted.remove("a whole number")
        options = _or(wanted)
        value = _get(self.data, path)
        if value is None:
            return f"{self.subject(path)} is empty (expected {options})"
        return f"{self.subject(path)} must be {options}, not {_describe(value)}"

    def validator_message(self, path: PathKey, message: str) -> str:
        where, end = self.where(path)
        if end == len(path) and (where == self.top or where in message):
            return message
        return f"{self.subject(path)}: {message}"


def _constraint(error: _Error, value: Any) -> str:
    context, kind = error.context, error.kind
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(context.get("expected", "")))
        return f"{_quote(value)} is not one of: {', '.join(options)}" + did_you_mean(
            str(value), options
        )
    if kind == "string_pattern_mismatch":
        rule = _PATTERNS.get(str(context.get("pattern")), f"it must match {context.get('pattern')}")
        noun = "step id" if error.path and error.path[-1] in _STEP_KEYS else "name"
        return f"{_quote(value)} is not a valid {noun}: {rule}"
    if kind == "string_too_long":
        return f"{_quote(value)} is longer than {context.get('max_length')} characters"
    if kind == "string_too_short":
        return f"{_quote(value)} is shorter than {context.get('min_length')} characters"
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        return f"{_quote(value)} is too {'small' if 'greater' in kind else 'large'}: " + (
            f"it must be {words} {context.get(name)}"
        )
    return error.message


def _key_message(error: _Error) -> str:
    key = error.path[-1] if error.path else "?"
    if error.kind == "string_pattern_mismatch":
        rule = _PATTERNS.get(str(error.context.get("pattern")), "")
        return f"'{key}' is not a valid name: {rule}".rstrip(": ")
    return f"'{key}': {error.message}"


def _is_step(path: PathKey) -> bool:
    if len(path) == 2:
        return path[0] == "steps" and isinstance(path[1], int)
    return (
        len(path) > 5
        and isinstance(path[-1], int)
        and path[-4:-2] == ("parallel", "branches")
        and _is_step(path[:-4])
    )


def _label(rel: PathKey) -> str:
    keys = [part for part in rel if isinstance(part, str)]
    if not rel:
        return ""
    if isinstance(rel[-1], int):
        return f"item {rel[-1] + 1} of '{keys[-1]}'" if keys else f"item {rel[-1] + 1}"
    return f"'{keys[-1]}'"


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        if not _has(data, part):
            return None
        data = data[part]
    return data


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return isinstance(part, str) and part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _or(options: list[str]) -> str:
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"


def _quote(value: Any) -> str:
    return f"'{_short(value)}'" if isinstance(value, str) else _describe(value)


def _short(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the value {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{_short(value)}'"
    if isinstance(value, (datetime, date)):
        kind = "time" if isinstance(value, datetime) else "date"
        return f"the {kind} {value.isoformat()} (put it in quotes to make it text)"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, dict) else type(value).__name__


def _fields_at(model: type[BaseModel], path: PathKey) -> set[str]:
    """The keys the model accepts at ``path`` (for "did you mean"), aliases included."""
    types: list[Any] = [model]
    for part in path:
        types = [inner for annotation in types for inner in _step_into(annotation, part)]
    names: set[str] = set()
    for annotation in (t for each in types for t in _flatten(each)):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, info in annotation.model_fields.items():
                names.add(info.alias or name)
    return names


def _flatten(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _flatten(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return [inner for arg in get_args(annotation) for inner in _flatten(arg)]
    return [annotation]


def _step_into(annotation: Any, part: str | int) -> list[Any]:
    found: list[Any] = []
    for option in _flatten(annotation):
        origin = get_origin(option)
        if isinstance(option, type) and issubclass(option, BaseModel) and isinstance(part, str):
            found += [
                info.annotation
                for name, info in option.model_fields.items()
                if part in (name, info.alias)
            ]
        elif origin is list and isinstance(part, int):
            found.append(get_args(option)[0])
        elif origin is dict and isinstance(part, str):
            found.append(get_args(option)[1])
    return found
