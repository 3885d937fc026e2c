"""A workflow's graph as a Mermaid ``flowchart TD``, for ``tierflow workflows show`` and the web.

Each step is a node shaped by its type: a task is a rectangle (with its team,
role or person, form and due time), an action a rounded box, a ``decide`` a
rhombus, a ``wait`` a hexagon, a ``notify`` a flag, a ``call`` a subroutine
box, an ``end`` a stadium, and a ``parallel`` step a fork circle whose
branches are subgraphs that meet again at a join circle. Edges carry the
conditions of ``next`` and ``decide``; an overdue escalation is a dashed edge.

The text comes from a file an admin (or anyone able to edit it) wrote, so
every label is quoted and every character Mermaid or HTML treats specially is
written as an entity code: a step title cannot break the diagram or inject
markup. The output depends only on the workflow, so it is stable across runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.dsl.durations import format_duration
from engine.dsl.spec import Branch, Message, OverdueRule, Step, Workflow
from engine.dsl.walk import BranchVisit, StepVisit, walk

START = "n_start"
DONE = "n_done"
MAX_LABEL = 60

_ENTITIES = {
    "#": "#35;",
    '"': "#34;",
    "&": "#38;",
    "<": "#60;",
    ">": "#62;",
    "`": "#96;",
    "%": "#37;",
    "|": "#124;",
}

_SHAPES = {
    "task": ('["', '"]'),
    "action": ('("', '")'),
    "decide": ('{"', '"}'),
    "wait": ('{{"', '"}}'),
    "notify": ('>"', '"]'),
    "call": ('[["', '"]]'),
    "end": ('(["', '"])'),
    "parallel": ('(("', '"))'),
}


def escape(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` made safe inside a quoted Mermaid label: one line, entity-coded, shortened."""
    line = " ".join(str(text).split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return "".join(_ENTITIES.get(char, char) for char in line)


def _label(*lines: str) -> str:
    return "<br/>".join(escape(line) for line in lines if line)


def node_id(step_id: str) -> str:
    """The Mermaid id of a step's node (prefixed, so ``end`` or ``o…`` never confuse Mermaid)."""
    return f"s_{step_id}"


def join_id(step_id: str) -> str:
    return f"j_{step_id}"


@dataclass
class _Chart:
    nodes: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    falls_off: bool = False

    def edge(self, source: str, target: str, label: str = "", dashed: bool = False) -> None:
        arrow = "-.->" if dashed else "-->"
        text = f'|"{escape(label)}"|' if label else ""
        self.edges.append(f"    {source} {arrow}{text} {target}")


def mermaid(workflow: Workflow) -> str:
    """The Mermaid ``flowchart TD`` source of ``workflow`` (no trailing newline)."""
    chart = _Chart()
    chart.nodes.append(f'    {START}(["{_label(*_start_lines(workflow))}"])')
    chart.edge(START, node_id(workflow.steps[0].id))
    _steps(chart, workflow.steps)
    if chart.falls_off:
        chart.nodes.append(f'    {DONE}(["{_label("end: completed")}"])')
    return "\n".join(["flowchart TD", *chart.nodes, *chart.edges])


def _start_lines(workflow: Workflow) -> list[str]:
    lines = [f"start: {workflow.name}"]
    if workflow.start.form:
        lines.append(f"form {workflow.start.form}")
    if workflow.schedule is not None:
        lines.append(f"schedule {workflow.schedule.cron} ({workflow.schedule.timezone})")
    return lines


def _steps(chart: _Chart, steps: list[Step]) -> None:
    """Declare ``steps`` (nested subgraphs for parallel branches) and their edges."""
    for visit in walk(steps):
        pad = "    " * (1 + visit.level)
        match visit:
            case StepVisit(step=step, leaving=False):
                opening, closing = _SHAPES[step.kind]
                label = _label(*_lines(step))
                chart.nodes.append(f"{pad}{node_id(step.id)}{opening}{label}{closing}")
            case BranchVisit(parallel=step, name=name, steps=branch, leaving=False):
                chart.nodes.append(f'{pad}subgraph b_{step.id}__{name} ["{escape(name)}"]')
                chart.edge(node_id(step.id), node_id(branch[0].id))
            case BranchVisit(leaving=True):
                chart.nodes.append(f"{pad}end")
            case StepVisit(leaving=True):
                _leave(chart, visit, pad)


def _leave(chart: _Chart, visit: StepVisit, pad: str) -> None:
    """What follows a step's branches: its join (for a parallel step), its edges out.

    The last step of a list continues to ``after``: the join of the enclosing
    parallel step, or the implicit end of the workflow.
    """
    step = visit.step
    me = source = node_id(step.id)
    if step.parallel is not None:
        source = join_id(step.id)
        joined = "join: all" if step.parallel.wait_for == "all" else "join: first wins"
        chart.nodes.append(f'{pad}{source}(("{_label(joined)}"))')
    after = join_id(visit.parallel.id) if visit.parallel is not None else DONE
    following = node_id(visit.following.id) if visit.following is not None else after
    _flow(chart, step, source, following, after)
    if step.beside is not None:
        chart.edge(me, node_id(step.beside), "beside", dashed=True)
    if step.task is not None:
        for rule in step.task.overdue:
            if rule.escalate:
                chart.edge(me, node_id(rule.escalate), _overdue_when(rule), dashed=True)


def _flow(chart: _Chart, step: Step, source: str, following: str, after: str) -> None:
    """The solid edges out of ``step`` (from its join, for a parallel step).

    An ``end`` finishes the workflow, or inside a parallel branch only the
    branch: then it continues to the branch's join.
    """
    if step.kind == "end":
        if after != DONE:
            chart.edge(source, after)
        return
    branches = step.decide if step.decide is not None else step.next
    if isinstance(branches, str):
        chart.edge(source, node_id(branches))
    elif isinstance(branches, list):
        for branch in branches:
            chart.edge(source, node_id(branch.target), _branch_label(branch))
    else:
        chart.edge(source, following)
        chart.falls_off |= following == DONE


def _branch_label(branch: Branch) -> str:
    return branch.when if branch.when is not None else "otherwise"


def _lines(step: Step) -> list[str]:
    head = step.title or step.id
    lines = [head] if head == step.id else [head, f"({step.id})"]
    return lines + _DETAILS[step.kind](step)


def _task(step: Step) -> list[str]:
    task = step.task
    assert task is not None
    who = next(f"{k} {getattr(task, k)}" for k in ("team", "role", "person") if getattr(task, k))
    lines = [f"task · {who}", f"form {task.form}"] + ([f"due {task.due}"] if task.due else [])
    lines += [_overdue(rule) for rule in task.overdue if not rule.escalate]
    return lines


def _overdue_when(rule: OverdueRule) -> str:
    when = "overdue" + (f" +{format_duration(rule.after)}" if rule.after else "")
    return when + (f" every {format_duration(rule.every)}" if rule.every else "")


def _overdue(rule: OverdueRule) -> str:
    if rule.reassign is not None:
        who = next(
            f"{k} {getattr(rule.reassign, k)}"
            for k in ("team", "role", "person")
            if getattr(rule.reassign, k)
        )
        return f"{_overdue_when(rule)}: reassign to {who}"
    if rule.notify is not None:
        return f"{_overdue_when(rule)}: notify {', '.join(rule.notify.to)}"
    return f"{_overdue_when(rule)}: remind"


def _action(step: Step) -> list[str]:
    lines = [f"action {step.action}"]
    return lines + ([f"result → vars.{step.result}"] if step.result else [])


def _wait(step: Step) -> list[str]:
    wait = step.wait
    assert wait is not None
    if wait.duration is not None:
        return [f"wait {format_duration(wait.duration)}"]
    if wait.until is not None:
        return [f"wait until {wait.until}"]
    timeout = f" · timeout {format_duration(wait.timeout)}" if wait.timeout else ""
    return [f"wait for signal {wait.signal}{timeout}"]


def _notify(step: Step) -> list[str]:
    message: Message | None = step.notify
    assert message is not None
    return [f"notify {', '.join(message.to)}", message.subject]


def _call(step: Step) -> list[str]:
    assert step.call is not None
    return [f"call workflow {step.call.workflow}"] + (
        [f"result → vars.{step.result}"] if step.result else []
    )


def _parallel(step: Step) -> list[str]:
    assert step.parallel is not None
    return [f"parallel: {'all' if step.parallel.wait_for == 'all' else 'first wins'}"]


_DETAILS = {
    "task": _task,
    "action": _action,
    "decide": lambda step: ["decide"],
    "wait": _wait,
    "parallel": _parallel,
    "notify": _notify,
    "call": _call,
    "end": lambda step: [f"end: {step.end.outcome}"],
}
