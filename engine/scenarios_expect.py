"""What a scenario's run did, compared with what its ``expect`` says: the first difference.

Expectations are compared in the order the file writes them, and the first
that does not hold is reported in words (``path: step 4: expected 'route',
got 'escalate'``) with the place in the file it comes from. Mappings (data,
arguments, variables) are compared as subsets: keys the scenario does not
mention are not checked. :func:`render_expect` writes what happened as an
``expect:`` block, for ``tierflow workflows test --show``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_jsonable_python

from engine.dsl.loader import PathKey
from engine.scenarios import EventExpect, EventPattern, Expect, TaskExpect


@dataclass(frozen=True)
class Call:
    """One call of an action (stubbed or real) by the scenario's run or its children."""

    action: str
    step: str
    args: dict[str, Any]


@dataclass
class Observed:
    """Everything a scenario's run did, once it ended or could go no further by itself."""

    ended: bool
    outcome: str | None = None
    failure: str | None = None
    vars: dict[str, Any] | None = None
    path: list[str] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    item: dict[str, Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    waiting: str = ""
    """Where a run that has not ended waits, in words."""

    def route(self) -> str:
        return " → ".join(self.path) or "(no step)"


@dataclass(frozen=True)
class Difference:
    """The first expectation that does not hold, and where the file states it."""

    at: PathKey
    message: str


def first_difference(expect: Expect, order: Sequence[str], observed: Observed) -> Difference | None:
    """The first of ``expect``'s keys (in the file's ``order``) that ``observed`` breaks."""
    if observed.failure is not None:
        return Difference((), f"the run failed: {observed.failure}")
    keys = [key for key in order if getattr(expect, key, None) is not None]
    keys += [key for key in Expect.model_fields if key not in keys]
    for key in keys:
        if getattr(expect, key) is None:
            continue
        found = _CHECKS[key](expect, observed)
        if found is not None:
            at, message = found
            return Difference((key, *at), f"{key}: {message}")
    return None


# ------------------------------------------------------------ the checks ---

Found = tuple[PathKey, str] | None


def _outcome(expect: Expect, observed: Observed) -> Found:
    if not observed.ended:
        return (), f"expected '{expect.outcome}', but the run has not ended: {observed.waiting}"
    if observed.outcome != expect.outcome:
        return (), f"expected '{expect.outcome}', got '{observed.outcome}'"
    return None


def _path(expect: Expect, observed: Observed) -> Found:
    wanted, got = expect.path or [], observed.path
    index = _first_unequal(wanted, got, lambda a, b: a == b)
    if index is None:
        return None
    route = f" (it went {observed.route()})"
    if index < len(wanted) and index < len(got):
        return (index,), f"step {index + 1}: expected '{wanted[index]}', got '{got[index]}'{route}"
    if index < len(wanted):
        stopped = "ended" if observed.ended else f"stopped: {observed.waiting}"
        after = f"after '{got[-1]}'" if got else "first"
        return (index,), f"expected '{wanted[index]}' {after}, but the run {stopped}{route}"
    return (), f"expected it to stop after '{wanted[-1]}', but it went on to '{got[index]}'{route}"


def _tasks(expect: Expect, observed: Observed) -> Found:
    wanted, got = expect.tasks or [], observed.tasks
    for index, task in enumerate(wanted):
        if index >= len(got):
            return (index,), (
                f"expected a task {index + 1} ('{task.step}'), but the run opened "
                f"{_count(len(got), 'task')}{_listing(got, _task_text)}"
            )
        problem = _task_difference(task, got[index])
        if problem is not None:
            key, message = problem
            return (index, key), f"task {index + 1} ('{got[index]['step']}'): {message}"
    if len(got) > len(wanted):
        return (), (
            f"expected {_count(len(wanted), 'task')}, but the run opened {len(got)}"
            f"{_listing(got, _task_text)}"
        )
    return None


def _task_difference(wanted: TaskExpect, got: Mapping[str, Any]) -> tuple[str, str] | None:
    for key in ("step", "status", "outcome", "team", "assignee", "completed_by"):
        value = getattr(wanted, key)
        if value is not None and got.get(key) != value:
            return key, f"expected {key} {show(value)}, got {show(got.get(key))}"
    if wanted.data is not None:
        problem = mismatch(wanted.data, got.get("data") or {})
        if problem is not None:
            return "data", f"data {problem}"
    return None


def _task_text(task: Mapping[str, Any]) -> str:
    return " ".join(str(part) for part in (task["step"], task["status"], task["outcome"]) if part)


def _events(expect: Expect, observed: Observed) -> Found:
    wanted, got = expect.events or [], observed.events
    index = _first_unequal(wanted, got, _event_matches)
    if index is None:
        return None
    listing = f" (events: {', '.join(e['type'] for e in got) or 'none'})"
    if index < len(wanted) and index < len(got):
        return (index,), (
            f"event {index + 1}: expected {_event_text(wanted[index])}, "
            f"got {_event_got(wanted[index], got[index])}{listing}"
        )
    if index < len(wanted):
        return (index,), (
            f"expected {len(wanted)} events, got {len(got)}: "
            f"no event {index + 1} ({_event_text(wanted[index])}){listing}"
        )
    return (), (
        f"expected {len(wanted)} events, got {len(got)}: "
        f"event {index + 1} is '{got[index]['type']}'{listing}"
    )


def _events_include(expect: Expect, observed: Observed) -> Found:
    position, previous = 0, None
    for index, pattern in enumerate(expect.events_include or []):
        found = next(
            (n for n in range(position, len(observed.events))
             if _event_matches(pattern, observed.events[n])),
            None,
        )  # fmt: skip
        if found is None:
            after = f" after {_event_text(previous)}" if previous is not None else ""
            listing = ", ".join(e["type"] for e in observed.events) or "none"
            near = _same_type(pattern, observed.events[position:])
            return (index,), f"no {_event_text(pattern)}{after}{near} (events: {listing})"
        position, previous = found + 1, pattern
    return None


def _same_type(pattern: EventPattern, events: Sequence[Mapping[str, Any]]) -> str:
    """For a pattern with data: how the first event of its type differs from it."""
    if isinstance(pattern, str):
        return ""
    same = next((event for event in events if event["type"] == pattern.type), None)
    if same is None:
        return ""
    return f"; the first '{pattern.type}' there {mismatch(pattern.data, same['data'])}"


def _event_matches(pattern: EventPattern, event: Mapping[str, Any]) -> bool:
    if isinstance(pattern, str):
        return event["type"] == pattern
    return event["type"] == pattern.type and mismatch(pattern.data, event["data"]) is None


def _event_text(pattern: EventPattern) -> str:
    if isinstance(pattern, EventExpect) and pattern.data:
        return f"'{pattern.type}' with {show(pattern.data)}"
    return f"'{pattern if isinstance(pattern, str) else pattern.type}'"


def _event_got(pattern: EventPattern, event: Mapping[str, Any]) -> str:
    if isinstance(pattern, EventExpect) and event["type"] == pattern.type:
        return f"'{event['type']}' whose data {mismatch(pattern.data, event['data'])}"
    return f"'{event['type']}'"


def _vars(expect: Expect, observed: Observed) -> Found:
    if observed.failure is None and not observed.ended:
        return (), f"the run has not ended, so its variables are not known: {observed.waiting}"
    got = observed.vars or {}
    for name, value in (expect.vars or {}).items():
        if name not in got:
            return (name,), f"no variable '{name}' (it has: {', '.join(got) or 'none'})"
        problem = mismatch(value, got[name])
        if problem is not None:
            return (name,), f"'{name}' {problem}"
    return None


def _item(expect: Expect, observed: Observed) -> Found:
    problem = mismatch(expect.item or {}, observed.item)
    return ((), f"the work item's {problem.removeprefix('has no ')}") if problem else None


def _actions(expect: Expect, observed: Observed) -> Found:
    for name, wanted in (expect.actions or {}).items():
        got = [call for call in observed.calls if call.action == name]
        for index, args in enumerate(wanted):
            if index >= len(got):
                return (name, index), (
                    f"expected {_count(len(wanted), 'call')} of {name}, got {len(got)}"
                    f"{_listing(got, lambda c: show(c.args))}"
                )
            problem = mismatch(args, got[index].args)
            if problem is not None:
                return (name, index), (
                    f"call {index + 1} of {name} (step '{got[index].step}'): 'with' {problem}"
                )
        if len(got) > len(wanted):
            return (name,), (
                f"expected {_count(len(wanted), 'call')} of {name}, got {len(got)}"
                f"{_listing(got, lambda c: show(c.args))}"
            )
    return None


_CHECKS: dict[str, Callable[[Expect, Observed], Found]] = {
    "outcome": _outcome,
    "path": _path,
    "tasks": _tasks,
    "events": _events,
    "events_include": _events_include,
    "vars": _vars,
    "item": _item,
    "actions": _actions,
}


# --------------------------------------------------------------- helpers ---


def mismatch(expected: Any, got: Any, where: str = "") -> str | None:
    """How ``got`` differs from ``expected`` (mappings as subsets), or ``None`` if it does not."""
    expected = to_jsonable_python(expected)
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{where or 'value'}: expected {show(expected)}, got {show(got)}"
        for key, value in expected.items():
            inner = f"{where}.{key}" if where else str(key)
            if key not in got:
                return f"has no '{inner}' (it has: {', '.join(map(str, got)) or 'nothing'})"
            problem = mismatch(value, got[key], inner)
            if problem is not None:
                return problem
        return None
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for index, (value, other) in enumerate(zip(expected, got, strict=True)):
            problem = mismatch(value, other, f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    if _same(expected, got):
        return None
    return f"{where + ': ' if where else ''}expected {show(expected)}, got {show(got)}"


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    return bool(expected == got)


def _first_unequal(wanted: Sequence[Any], got: Sequence[Any], equal: Any) -> int | None:
    for index in range(max(len(wanted), len(got))):
        if index >= len(wanted) or index >= len(got) or not equal(wanted[index], got[index]):
            return index
    return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _listing(items: Sequence[Any], text: Callable[[Any], str]) -> str:
    return f": {', '.join(text(item) for item in items)}" if items else ""


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@/\- ]*$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "none", "~"}


def show(value: Any) -> str:
    """``value`` as it would be written in YAML flow style: ``{status: 'closed', n: 2}``."""
    value = to_jsonable_python(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {show(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value)


def _flow(value: Any) -> str:
    """Like :func:`show`, but plain words stay unquoted (for ``--show``)."""
    value = to_jsonable_python(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, str) and _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value if value == value.strip() and ": " not in value else show(value)
    return show(value)


def render_expect(observed: Observed, indent: str = "    ") -> list[str]:
    """What happened as an ``expect:`` block to paste into a scenario (``--show``)."""
    lines = ["expect:"]
    if observed.failure is not None:
        lines.append(f"  # the run failed: {observed.failure}")
    elif observed.ended:
        lines.append(f"  outcome: {_flow(observed.outcome)}")
    else:
        lines.append(f"  # not ended: {observed.waiting}")
    lines.append(f"  path: {_flow(observed.path)}")
    if observed.tasks:
        lines.append("  tasks:")
        for task in observed.tasks:
            shown = {k: task[k] for k in ("step", "status", "outcome") if task.get(k) is not None}
            lines.append(f"    - {_flow(shown)}")
    lines.append(f"  events: {_flow([event['type'] for event in observed.events])}")
    if observed.vars:
        lines.append(f"  vars: {_flow(observed.vars)}")
    if observed.calls:
        lines.append("  actions:")
        for name in dict.fromkeys(call.action for call in observed.calls):
            lines.append(f"    {name}:")
            lines += [f"      - {_flow(c.args)}" for c in observed.calls if c.action == name]
    return [indent + line for line in lines]
