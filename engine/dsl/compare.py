"""What changed between two versions of a workflow, step by step (``tierflow workflows diff``).

Steps are matched by ``id`` wherever they are (inside parallel branches too),
fields by ``name`` and forms by name, so a renamed step shows as one removed
and one added. Each :class:`Change` prints as one line an admin can read::

    ~ version: '1' → '2'
    + step ask_manager (task)
    ~ step triage: task.due: '4h' → '8h'; next
    ~ form l1_triage: + field urgency; ~ field category: required: false → true
    ~ schedule: cron: '0 3 * * 6' → '0 2 * * 6'

Pure: two :class:`~engine.dsl.spec.Workflow` values in, a list out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from engine.dsl.forms import Form
from engine.dsl.spec import Step, Workflow

MAX_VALUE = 60
_MISSING = object()
_TOP_LEVEL = ("name", "title", "description", "version", "kind", "start", "variables")


@dataclass(frozen=True)
class Change:
    """One difference: ``sign`` is ``+`` (added), ``-`` (removed) or ``~`` (changed)."""

    sign: Literal["+", "-", "~"]
    subject: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.sign} {self.subject}" + (
            f": {'; '.join(self.details)}" if self.details else ""
        )


def compare(old: Workflow, new: Workflow) -> list[Change]:
    """Every difference from ``old`` to ``new``: the workflow's own keys, schedule, steps, forms."""
    changes: list[Change] = []
    before, after = _dump(old), _dump(new)
    for key in _TOP_LEVEL:
        details = _paths(before.get(key, _MISSING), after.get(key, _MISSING), "")
        if details:
            changes.append(Change("~", key, tuple(d.removeprefix(": ") for d in details)))
    changes += _schedule(before.get("schedule"), after.get("schedule"))
    changes += _steps(old, new)
    changes += _forms(old.forms, new.forms)
    return changes


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)


def _schedule(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Change]:
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        return [Change("+", "schedule", (f"cron {_show(new['cron'])}",))]
    if new is None:
        return [Change("-", "schedule")]
    details = _paths(old, new, "")
    return [Change("~", "schedule", tuple(details))] if details else []


# ------------------------------------------------------------------ steps ---


def _steps(old: Workflow, new: Workflow) -> list[Change]:
    before = {step.id: step for step in old.all_steps()}
    after = {step.id: step for step in new.all_steps()}
    places_before, places_after = _places(old, set(after)), _places(new, set(before))
    changes: list[Change] = []
    for step_id, step in after.items():
        if step_id not in before:
            changes.append(Change("+", f"step {step_id} ({step.kind})"))
            continue
        was = before[step_id]
        details = []
        if was.kind != step.kind:
            details.append(f"type: {was.kind} → {step.kind}")
        old_data, new_data = _step_dump(was), _step_dump(step)
        for key in ("decide", "next"):
            details += _branches(key, old_data.pop(key), new_data.pop(key))
        details += _paths(old_data, new_data, "")
        if places_before[step_id] != places_after[step_id]:
            details.append(_moved(places_before[step_id], places_after[step_id]))
        if details:
            changes.append(Change("~", f"step {step_id}", tuple(details)))
    changes += [
        Change("-", f"step {step_id} ({step.kind})")
        for step_id, step in before.items()
        if step_id not in after
    ]
    return changes


def _step_dump(step: Step) -> dict[str, Any]:
    """A step's keys, with a parallel step's branches reduced to the ids they hold."""
    data = _dump(step)
    if step.parallel is not None:
        data["parallel"]["branches"] = {
            name: [s.id for s in steps] for name, steps in step.parallel.branches.items()
        }
    for key in ("decide", "next"):
        value = getattr(step, key)
        if isinstance(value, list):
            data[key] = [
                f"{b.when} → {b.goto}" if b.when is not None else f"otherwise → {b.otherwise}"
                for b in value
            ]
    return data


def _branches(key: str, old: Any, new: Any) -> list[str]:
    """Branches added and removed (``next: + 'outcome == 'x' → fix'``), or their new order."""
    if old == new:
        return []
    if not isinstance(old, list) or not isinstance(new, list):
        return _paths(old, new, key)
    found = [f"{key}: + {_show(b)}" for b in new if b not in old]
    found += [f"{key}: - {_show(b)}" for b in old if b not in new]
    if not found:
        found.append(f"{key}: branches reordered")
    return found


def _places(workflow: Workflow, common: set[str]) -> dict[str, tuple[str, str | None]]:
    """Each step's container and the step (among ``common``) just before it there.

    Only steps present in both versions count as neighbours, so inserting a
    step does not make every later step look moved.
    """
    found: dict[str, tuple[str, str | None]] = {}

    def walk(steps: list[Step], container: str) -> None:
        previous: str | None = None
        for step in steps:
            found[step.id] = (container, previous)
            if step.id in common:
                previous = step.id
            if step.parallel is not None:
                for name, branch in step.parallel.branches.items():
                    walk(branch, f"branch {name} of {step.id}")

    walk(workflow.steps, "")
    return found


def _moved(was: tuple[str, str | None], now: tuple[str, str | None]) -> str:
    if was[0] != now[0]:
        return f"moved {f'into {now[0]}' if now[0] else 'out of ' + was[0]}"
    return f"moved: now after {now[1] or '(the start)'}, was after {was[1] or '(the start)'}"


# ------------------------------------------------------------------ forms ---


def _forms(old: dict[str, Form], new: dict[str, Form]) -> list[Change]:
    changes: list[Change] = []
    for name, form in new.items():
        if name not in old:
            changes.append(Change("+", f"form {name}"))
            continue
        details = _form_details(old[name], form)
        if details:
            changes.append(Change("~", f"form {name}", tuple(details)))
    changes += [Change("-", f"form {name}") for name in old if name not in new]
    return changes


def _form_details(old: Form, new: Form) -> list[str]:
    details = _paths(old.title, new.title, "title") + _paths(
        old.description, new.description, "description"
    )
    before = {f.name: _dump(f) for f in old.fields}
    after = {f.name: _dump(f) for f in new.fields}
    for name, field in after.items():
        if name not in before:
            details.append(f"+ field {name} ({field.get('type', 'text')})")
        else:
            changed = _paths(before[name], field, "")
            if changed:
                details.append(f"~ field {name}: {', '.join(changed)}")
    details += [f"- field {name}" for name in before if name not in after]
    if [n for n in before if n in after] != [n for n in after if n in before]:
        details.append("fields reordered")
    outcomes_before = [o.value for o in old.outcomes]
    outcomes_after = [o.value for o in new.outcomes]
    details += [f"+ outcome {v}" for v in outcomes_after if v not in outcomes_before]
    details += [f"- outcome {v}" for v in outcomes_before if v not in outcomes_after]
    labels_before = {o.value: o.label for o in old.outcomes}
    details += [
        f"~ outcome {o.value}: label: {_show(labels_before[o.value])} → {_show(o.label)}"
        for o in new.outcomes
        if o.value in labels_before and labels_before[o.value] != o.label
    ]
    return details


# ----------------------------------------------------------------- values ---


def _paths(old: Any, new: Any, prefix: str, depth: int = 0) -> list[str]:
    """``key.path: old → new`` for each differing leaf (dicts and lists walked 4 levels deep)."""
    if old == new:
        return []
    found: list[str] = []
    if isinstance(old, dict) and isinstance(new, dict) and depth < 4:
        for key in [*old, *(k for k in new if k not in old)]:
            path = f"{prefix}.{key}" if prefix else str(key)
            found += _paths(old.get(key, _MISSING), new.get(key, _MISSING), path, depth + 1)
        return found
    if isinstance(old, list) and isinstance(new, list) and depth < 4:
        for index in range(max(len(old), len(new))):
            found += _paths(
                old[index] if index < len(old) else _MISSING,
                new[index] if index < len(new) else _MISSING,
                f"{prefix}[{index}]",
                depth + 1,
            )
        return found
    return [f"{prefix}: {_show(old)} → {_show(new)}"]


def _show(value: Any) -> str:
    if value is _MISSING or value is None:
        return "(none)"
    if isinstance(value, str):
        text = repr(value)
    else:
        text = json.dumps(_compact(value), ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _compact(value: Any) -> Any:
    """``value`` without the keys that say nothing (``None``, ``False``, empty)."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v not in (None, False, [], {}, "")}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value
