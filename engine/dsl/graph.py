"""The step graph of a workflow: ids, where each step goes, what runs, what loops.

Checked here: a step id used twice; ``goto``/``otherwise``/``next``/``beside``/``escalate``
to a missing step, or out of (into) a parallel branch; and, once every step
has loaded, steps that nothing reaches and loops with no task or wait in them.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.dsl.loader import PathKey
from engine.dsl.outline import MAIN, Findings, Outline, Placed, branch_group, place, targets
from engine.dsl.spec import Step
from engine.dsl.suggest import did_you_mean


def check_graph(outline: Outline, findings: Findings) -> None:
    """Report the step-graph problems of ``outline`` to ``findings``."""
    graph = StepGraph(outline, findings)
    graph.duplicate_ids()
    graph.jumps()
    if outline.complete and outline.placed:
        graph.reachable()
        graph.loops()


def falls_through(step: Step) -> bool:
    """Whether the step after ``step`` in its list runs next when it has no ``next``."""
    return step.kind not in ("decide", "end") and step.next is None


class StepGraph:
    """The steps of an outline by list and id, and the checks of how they connect."""

    def __init__(self, outline: Outline, findings: Findings) -> None:
        self.outline, self.findings = outline, findings
        self.groups: dict[PathKey, list[Placed]] = {}
        for placed in outline.placed:
            self.groups.setdefault(placed.group, []).append(placed)
        self.in_group = {
            group: {placed.step.id: placed for placed in reversed(steps)}
            for group, steps in self.groups.items()
        }
        self.pausing: dict[int, bool] = {}

    def duplicate_ids(self) -> None:
        seen: dict[str, PathKey] = {}
        for path, name in self.outline.ids.items():
            first = seen.setdefault(name, path)
            if first is not path:
                where = self.findings.where((*first, "id"), (*path, "id"))
                self.findings.add(
                    (*path, "id"), f"step id '{name}' is used twice (first at {where})"
                )

    def jumps(self) -> None:
        outline = self.outline
        for placed in outline.placed:
            own = outline.in_group.get(placed.group, set())
            for name, below, key in targets(placed.step):
                path = (*placed.path, *below)
                if name in own:
                    continue
                if name not in outline.group_of:
                    hint = did_you_mean(name, own) or did_you_mean(name, outline.group_of)
                    if self.findings.parsed.positions.origin(path) is not None:
                        hint += ": neither the fragment nor the workflow using it has that step"
                    self.findings.add(
                        path, f"unknown step '{name}' in '{key}' of {placed.name}{hint}"
                    )
                    continue
                self.findings.add(
                    path,
                    f"'{key}' of {placed.name} goes to '{name}' in "
                    f"{self.describe_group(outline.group_of[name])}: a step can only go to "
                    f"steps of its own list ({self.describe_group(placed.group)})",
                )

    def describe_group(self, group: PathKey) -> str:
        if group == MAIN:
            return "the workflow's main steps"
        path = group[:-3]
        parallel = self.outline.ids.get(path)
        step = f"step '{parallel}'" if parallel is not None else f"step {int(path[-1]) + 1}"
        return f"branch '{group[-1]}' of {step}"

    def successors(self, placed: Placed) -> list[Placed]:
        own = self.in_group[placed.group]
        found = [own[name] for name, _, _ in targets(placed.step) if name in own]
        group = self.groups[placed.group]
        if falls_through(placed.step) and placed.index + 1 < len(group):
            found.append(group[placed.index + 1])
        return found

    def reachable(self) -> None:
        first = self.outline.placed[0]
        seen = {first.path}
        todo = [first]
        while todo:
            placed = todo.pop()
            following = self.successors(placed)
            if placed.step.parallel is not None:
                following += [
                    self.groups[branch_group(placed.path, name)][0]
                    for name in placed.step.parallel.branches
                ]
            for step in following:
                if step.path not in seen:
                    seen.add(step.path)
                    todo.append(step)
        for placed in self.outline.placed:
            parent_runs = placed.group == MAIN or placed.group[:-3] in seen
            if placed.path not in seen and parent_runs:
                self.findings.add(
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
            any(self.blocks(p.step) for p in place(branch, ()))
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
            for cycle in cycles([p.index for p in instant], edges):
                names = ", ".join(f"'{group[index].step.id}'" for index in cycle[:5])
                names += f" and {len(cycle) - 5} more" if len(cycle) > 5 else ""
                what = f"steps {names} form a loop" if len(cycle) > 1 else f"step {names} loops"
                self.findings.add(
                    (*group[cycle[0]].path, "id"),
                    f"{what} with no task or wait in it: it would run forever "
                    "(add a wait or a task to the loop)",
                )


def cycles(nodes: list[int], edges: Mapping[int, list[int]]) -> list[list[int]]:
    """The strongly connected parts of a graph that are loops (Kosaraju, no recursion)."""
    order: list[int] = []
    seen: set[int] = set()
    for start in nodes:
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
    backwards: dict[int, list[int]] = {node: [] for node in nodes}
    for node in nodes:
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
