"""A workflow as plain text for people: its steps, who does what, its forms.

``tierflow workflows show`` prints this above the Mermaid diagram. Every step
says where it goes next, including the implicit "next step in the list", so
an admin can follow the flow without knowing the fall-through rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.dsl.durations import format_duration
from engine.dsl.forms import Form, FormField
from engine.dsl.spec import Assignee, OverdueRule, SignalOffer, Step, Workflow
from engine.dsl.walk import BranchVisit, StepVisit, walk

INDENT = "    "


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def describe(workflow: Workflow, source: str, shared: Mapping[str, Form] | None = None) -> str:
    """The text of ``show``: a header naming ``source``, then the steps, then the forms.

    ``shared`` holds the shared forms (of forms files or plugins) the workflow
    names, so they can be shown too; ``None`` for a deployed version, whose
    shared forms were frozen with it and are part of ``workflow.forms``.
    """
    lines = [f"{workflow.name}" + (f": {workflow.title}" if workflow.title else "")]
    lines.append(f"  kind {workflow.kind} · version {workflow.version} · {source}")
    if workflow.description:
        lines.append(f"  {' '.join(workflow.description.split())}")
    start = workflow.start
    lines.append(
        "  starts: "
        + (f"form {start.form}, " if start.form else "no intake form, ")
        + f"on {', '.join(start.channels)}"
        + (", and on its schedule" if workflow.schedule else "")
    )
    if workflow.schedule is not None:
        lines.append(f"  schedule: {_schedule(workflow)}")
    for name, value in workflow.variables.items():
        lines.append(f"  variable {name} = {_value(value)}")
    lines += [_signal(name, offer) for name, offer in workflow.signals.items()]
    lines += ["", "Steps"]
    lines += _steps(workflow)
    lines += ["", "Forms"]
    lines += _forms(workflow, shared)
    return "\n".join(lines)


def _signal(name: str, offer: SignalOffer) -> str:
    """``signal requester_replied "Not fixed? Reply" by requester when …, form reply``."""
    label = f' "{offer.label}"' if offer.label else ""
    parts = [f"  signal {name}{label} by {' or '.join(offer.who)}"]
    if offer.when is not None:
        parts.append(f"when {offer.when}")
    if offer.form is not None:
        parts.append(f"form {offer.form}" + (" (its comment is posted)" if offer.comment else ""))
    return ", ".join(parts)


def _schedule(workflow: Workflow) -> str:
    schedule = workflow.schedule
    assert schedule is not None
    parts = [f"cron '{schedule.cron}' in {schedule.timezone}", f"overlap {schedule.overlap}"]
    if schedule.catchup_window is not None:
        parts.append(f"catch up {format_duration(schedule.catchup_window)}")
    if schedule.paused:
        parts.append("paused")
    if schedule.input:
        parts.append(f"input {_value(schedule.input)}")
    return " · ".join(parts)


def _steps(workflow: Workflow) -> list[str]:
    lines = []
    for visit in walk(workflow.steps):
        pad = INDENT * (1 + 2 * visit.level)
        detail = pad + INDENT
        match visit:
            case StepVisit(step=step, leaving=False):
                title = f'  "{step.title}"' if step.title else ""
                lines.append(f"{pad}{step.id}  {_kind(step)}{title}")
                lines += [detail + line for line in _details(step)]
            case BranchVisit(name=name, leaving=False):
                lines.append(f"{detail}branch {name}:")
            case StepVisit(step=step, leaving=True):
                lines += [detail + line for line in _next(step, _following(visit))]
    return lines


def _kind(step: Step) -> str:
    if step.parallel is None:
        return step.kind
    joined = "all branches join" if step.parallel.wait_for == "all" else "first wins"
    return f"parallel ({joined})"


def _following(visit: StepVisit) -> str:
    """Where ``visit``'s step goes when it names no next step."""
    if visit.following is not None:
        return visit.following.id
    if visit.parallel is not None:
        return f"join of {visit.parallel.id}"
    return "end (outcome completed)"


def _details(step: Step) -> list[str]:
    lines = _KINDS.get(step.kind, lambda step: [])(step)
    args = step.call.input if step.call is not None else step.args
    if args:
        lines.append(f"with: {_value(args)}")
    if step.result:
        lines.append(f"result: vars.{step.result}")
    if step.retry is not None:
        lines.append(f"retry: up to {step.retry.max_attempts} attempts")
    if step.timeout is not None:
        lines.append(f"timeout: {format_duration(step.timeout)}")
    if step.beside is not None:
        lines.append(f"beside: {step.beside} (runs beside the run; started again, it restarts)")
    return lines + [f"set: vars.{name} = {value}" for name, value in step.set.items()]


def _task(step: Step) -> list[str]:
    task = step.task
    assert task is not None
    lines = [f"who: {_who(task)}", f"form: {task.form}"]
    lines += [f"title: {task.title}"] if task.title else []
    lines += [f"due: {task.due}"] if task.due else []
    return lines + [f"overdue: {_overdue(rule)}" for rule in task.overdue]


def _wait(step: Step) -> list[str]:
    wait = step.wait
    assert wait is not None
    if wait.duration is not None:
        return [f"wait: {format_duration(wait.duration)}"]
    if wait.until is not None:
        return [f"wait until: {wait.until}"]
    timeout = f", timeout {format_duration(wait.timeout)}" if wait.timeout else ""
    return [f"wait for signal: {wait.signal}{timeout}"]


def _notify(step: Step) -> list[str]:
    assert step.notify is not None
    return [f"to: {', '.join(step.notify.to)}", f"subject: {step.notify.subject}"]


_KINDS = {
    "task": _task,
    "action": lambda step: [f"action: {step.action}"],
    "call": lambda step: [f"workflow: {step.call.workflow}"],
    "wait": _wait,
    "notify": _notify,
    "end": lambda step: [f"outcome: {step.end.outcome}"],
}


def _next(step: Step, following: str) -> list[str]:
    if step.end is not None:
        return []
    branches = step.decide if step.decide is not None else step.next
    if isinstance(branches, str):
        return [f"next: {branches}"]
    if branches is None:
        return [f"next: {following}"]
    label = "decide" if step.decide is not None else "next"
    texts = [f"{b.when} → {b.goto}" if b.when else f"otherwise → {b.otherwise}" for b in branches]
    pad = " " * (len(label) + 2)
    return [f"{label}: {texts[0]}", *(pad + text for text in texts[1:])]


def _who(assignee: Assignee) -> str:
    for key in ("team", "role", "person"):
        value = getattr(assignee, key)
        if value is not None:
            return f"{key} {value}"
    return "?"


def _overdue(rule: OverdueRule) -> str:
    when = "at due" if rule.after is None else f"{format_duration(rule.after)} after due"
    if rule.every is not None:
        when += f", every {format_duration(rule.every)}"
    if rule.escalate:
        return f"{when}: escalate to {rule.escalate}" + (
            " (task kept open)" if rule.keep_open else ""
        )
    if rule.reassign is not None:
        return f"{when}: reassign to {_who(rule.reassign)}"
    if rule.notify is not None:
        return f"{when}: notify {', '.join(rule.notify.to)}: {rule.notify.subject}"
    return f"{when}: remind"


def _forms(workflow: Workflow, shared: Mapping[str, Form] | None) -> list[str]:
    named = [workflow.start.form] if workflow.start.form else []
    named += [step.task.form for step in workflow.all_steps() if step.task is not None]
    named += [offer.form for offer in workflow.signals.values() if offer.form is not None]
    lines: list[str] = []
    for name, form in workflow.forms.items():
        lines += _form(name, form, "in this file")
    for name in dict.fromkeys(named):
        if name in workflow.forms:
            continue
        if shared is None:
            lines.append(f"{INDENT}{name}  (shared: not stored with this version)")
        elif name in shared:
            lines += _form(name, shared[name], "shared")
        else:
            lines.append(f"{INDENT}{name}  (not found)")
    return lines or [f"{INDENT}(none)"]


def _form(name: str, form: Form, where: str) -> list[str]:
    title = f'  "{form.title}"' if form.title else ""
    lines = [f"{INDENT}{name}{title}  ({where})"]
    width = max((len(f.name) for f in form.fields), default=0)
    kinds = max((len(f.type) for f in form.fields), default=0)
    for field in form.fields:
        facts = " · ".join(_field_facts(field))
        lines.append(f"{INDENT * 2}{field.name:<{width}}  {field.type:<{kinds}}  {facts}".rstrip())
    if form.outcomes:
        outcomes = ", ".join(o.value + (f" ({o.label})" if o.label else "") for o in form.outcomes)
        lines.append(f"{INDENT * 2}outcomes: {outcomes}")
    return lines


def _field_facts(field: FormField) -> list[str]:
    facts = [f'"{field.label}"'] if field.label else []
    if field.required:
        facts.append("required")
    if field.required_for:
        facts.append("required for " + ", ".join(field.required_for))
    if field.default is not None:
        facts.append(f"default {_value(field.default)}")
    if field.min is not None:
        facts.append(f"min {field.min}")
    if field.max is not None:
        facts.append(f"max {field.max}")
    if field.pattern is not None:
        facts.append(f"pattern {field.pattern}")
    if field.choices:
        facts.append("choices " + ", ".join(c.value for c in field.choices))
    if field.shown_when is not None:
        facts.append(f"shown when {field.shown_when}")
    return facts


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
