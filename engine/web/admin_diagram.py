"""A workflow's steps as an SVG diagram laid out in layers, and as a text outline.

The graph is the one ``tierflow workflows show`` draws in Mermaid (the same
step walk, :mod:`engine.dsl.walk`): a start node, a box per step, a join after
each parallel step's branches, an end node when the last step falls through,
solid arrows for the flow and dashed ones for overdue escalations.

The layout is simple and deterministic: arrows that go back (loops) are found
by a depth-first search from the start and left out while each node is put on
the layer after its deepest predecessor; nodes of a layer are ordered by the
mean position of their predecessors. An arrow to the next layer is a curve;
one that skips layers or goes back leaves through the gap below its box, runs
up or down a lane of its own left of the boxes and enters from the gap above
its target, so it never runs through a box. Everything here is
numbers and plain text: the template escapes the text as it prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.dsl.spec import Branch, Step, Workflow
from engine.dsl.walk import BranchVisit, StepVisit, walk

BOX_WIDTH = 200
BOX_HEIGHT = 48
GAP_X = 36
GAP_Y = 60
MARGIN = 24
LANE = 14
"""Room between two arrows that run in lanes beside the boxes."""
MAX_CHARS = 28
MAX_LABEL = 18

START, DONE = "start", "done"


def _cut(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@dataclass
class _Node:
    key: str
    kind: str
    title: str
    detail: str
    level: int = 0
    branch: str = ""


@dataclass(frozen=True)
class _Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass
class _Graph:
    nodes: dict[str, _Node] = field(default_factory=dict)
    edges: list[_Edge] = field(default_factory=list)

    def add(self, node: _Node) -> None:
        self.nodes.setdefault(node.key, node)

    def edge(self, source: str, target: str, label: str = "", dashed: bool = False) -> None:
        self.edges.append(_Edge(source, target, label, dashed))


def _join(step_id: str) -> str:
    return f"join of {step_id}"


def _detail(step: Step) -> str:
    if step.task is not None:
        who = step.task.team or step.task.role or step.task.person or ""
        return f"task · {who}" if who else "task"
    if step.action is not None:
        return f"action · {step.action}"
    if step.call is not None:
        return f"call · {step.call.workflow}"
    if step.end is not None:
        return f"end · {step.end.outcome}"
    if step.parallel is not None:
        return f"parallel · {'all' if step.parallel.wait_for == 'all' else 'first wins'}"
    return step.kind


def graph_of(workflow: Workflow) -> _Graph:
    """The nodes (in file order) and arrows of ``workflow``."""
    graph = _Graph()
    graph.add(_Node(START, "start", "", f"start · {workflow.name}"))
    graph.edge(START, workflow.steps[0].id)
    for visit in walk(workflow.steps):
        match visit:
            case StepVisit(step=step, leaving=False):
                where = visit.parallel.id if visit.parallel is not None else ""
                graph.add(_Node(step.id, step.kind, step.title, _detail(step), visit.level, where))
            case BranchVisit(parallel=step, name=name, steps=branch, leaving=False):
                graph.edge(step.id, branch[0].id, f"branch {name}")
            case StepVisit(leaving=True):
                _leave(graph, visit)
    return graph


def _leave(graph: _Graph, visit: StepVisit) -> None:
    step = visit.step
    source = step.id
    if step.parallel is not None:
        source = _join(step.id)
        joined = "all" if step.parallel.wait_for == "all" else "first wins"
        graph.add(_Node(source, "join", "", f"join · {joined}", visit.level))
    after = _join(visit.parallel.id) if visit.parallel is not None else DONE
    following = visit.following.id if visit.following is not None else after
    branches: list[Branch] | str | None = step.decide if step.decide is not None else step.next
    if step.end is not None:
        if after != DONE:
            graph.edge(source, after)
    elif isinstance(branches, str):
        graph.edge(source, branches)
    elif isinstance(branches, list):
        for branch in branches:
            graph.edge(source, branch.target, branch.when or "otherwise")
    else:
        if following == DONE:
            graph.add(_Node(DONE, "done", "", "end · completed"))
        graph.edge(source, following)
    for rule in step.task.overdue if step.task is not None else ():
        if rule.escalate:
            graph.edge(step.id, rule.escalate, "overdue", dashed=True)


# ------------------------------------------------------------------ layout ---


@dataclass(frozen=True)
class Box:
    """A node, placed: its top-left corner, and the two lines written in it."""

    key: str
    kind: str
    x: int
    y: int
    heading: str
    detail: str
    tooltip: str
    rounded: bool
    width: int = BOX_WIDTH
    height: int = BOX_HEIGHT

    @property
    def center(self) -> int:
        return self.x + self.width // 2

    @property
    def heading_y(self) -> int:
        return self.y + (20 if self.detail else 29)

    @property
    def detail_y(self) -> int:
        return self.y + 38

    @property
    def radius(self) -> int:
        return self.height // 2 if self.rounded else 4


@dataclass(frozen=True)
class Arrow:
    """An arrow, as an SVG path, with its label placed at (label_x, label_y)."""

    path: str
    label: str
    label_x: int
    label_y: int
    dashed: bool
    tooltip: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    boxes: list[Box]
    arrows: list[Arrow]


def _back_edges(graph: _Graph) -> set[int]:
    """The arrows (by index) that close a loop, found by a depth-first walk from the start."""
    out: dict[str, list[int]] = {key: [] for key in graph.nodes}
    for index, edge in enumerate(graph.edges):
        out.setdefault(edge.source, []).append(index)
    back: set[int] = set()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in graph.nodes:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            node, pending = stack[-1]
            index = next(pending, None)
            if index is None:
                state[node] = 2
                stack.pop()
                continue
            target = graph.edges[index].target
            if state.get(target) == 1:
                back.add(index)
            elif target not in state and target in graph.nodes:
                state[target] = 1
                stack.append((target, iter(out.get(target, []))))
    return back


def _layers(graph: _Graph, back: set[int]) -> dict[str, int]:
    """Each node's layer: one below its deepest predecessor, loops left out."""
    forward = [e for i, e in enumerate(graph.edges) if i not in back and e.target in graph.nodes]
    incoming: dict[str, int] = dict.fromkeys(graph.nodes, 0)
    for edge in forward:
        incoming[edge.target] += 1
    layer = dict.fromkeys(graph.nodes, 0)
    ready = [key for key in graph.nodes if incoming[key] == 0]
    while ready:
        node = ready.pop(0)
        for edge in forward:
            if edge.source == node:
                layer[edge.target] = max(layer[edge.target], layer[node] + 1)
                incoming[edge.target] -= 1
                if incoming[edge.target] == 0:
                    ready.append(edge.target)
    return layer


def _slots(graph: _Graph, layer: dict[str, int]) -> dict[str, float]:
    """Each node's place across its layer (0 in the middle), near its predecessors."""
    order = {key: index for index, key in enumerate(graph.nodes)}
    rows: dict[int, list[str]] = {}
    for key in graph.nodes:
        rows.setdefault(layer[key], []).append(key)
    slot: dict[str, float] = {}
    for number in sorted(rows):
        row = rows[number]
        above = {key: [slot[e.source] for e in graph.edges if e.target == key and e.source in slot]
                 for key in row}  # fmt: skip
        row.sort(key=lambda key: (sum(above[key]) / max(len(above[key]), 1), order[key]))
        for index, key in enumerate(row):
            slot[key] = index - (len(row) - 1) / 2
    return slot


def layout(graph: _Graph) -> Diagram:
    """Place ``graph``'s nodes on layers and route its arrows."""
    back = _back_edges(graph)
    layer = _layers(graph, back)
    slot = _slots(graph, layer)
    widest = 1 + 2 * max(abs(place) for place in slot.values())
    inner = widest * BOX_WIDTH + (widest - 1) * GAP_X
    lanes = [i for i, e in enumerate(graph.edges) if _in_lane(e, i, back, layer)]
    lane_base = MARGIN + LANE * len(lanes)
    left = lane_base + MARGIN
    boxes = {}
    for key, node in graph.nodes.items():
        x = left + (inner - BOX_WIDTH) / 2 + slot[key] * (BOX_WIDTH + GAP_X)
        boxes[key] = _box(node, x, MARGIN + layer[key] * (BOX_HEIGHT + GAP_Y))
    arrows = []
    for index, edge in enumerate(graph.edges):
        if edge.target not in boxes:
            continue
        source, target = boxes[edge.source], boxes[edge.target]
        if index in lanes:
            lane = lanes.index(index)
            arrows.append(_lane_arrow(edge, source, target, lane_base - LANE * lane, lane))
        else:
            arrows.append(_curve(edge, source, target))
    height = MARGIN * 2 + (max(layer.values()) + 1) * (BOX_HEIGHT + GAP_Y) - GAP_Y
    return Diagram(round(left + inner + MARGIN), round(height), list(boxes.values()), arrows)


def _in_lane(edge: _Edge, index: int, back: set[int], layer: dict[str, int]) -> bool:
    if edge.target not in layer:
        return False
    return index in back or layer[edge.target] - layer[edge.source] != 1


def _box(node: _Node, x: float, y: float) -> Box:
    heading = node.key if node.kind not in ("start", "done", "join") else node.detail
    detail = "" if node.kind in ("start", "done", "join") else node.detail
    where = f" (in a branch of {node.branch})" if node.branch else ""
    tooltip = " · ".join(part for part in (node.key, node.title, node.detail) if part) + where
    return Box(
        key=node.key,
        kind=node.kind,
        x=round(x),
        y=round(y),
        heading=_cut(heading, MAX_CHARS),
        detail=_cut(detail, MAX_CHARS),
        tooltip=tooltip,
        rounded=node.kind in ("start", "done", "join", "end"),
    )


def _curve(edge: _Edge, source: Box, target: Box) -> Arrow:
    x1, y1 = source.x + source.width // 2, source.y + source.height
    x2, y2 = target.x + target.width // 2, target.y
    middle = (y1 + y2) // 2
    path = f"M{x1},{y1} C{x1},{middle} {x2},{middle} {x2},{y2 - 2}"
    return _arrow(edge, path, (x1 + x2) // 2, middle + 4)


def _lane_arrow(edge: _Edge, source: Box, target: Box, lane_x: int, lane: int) -> Arrow:
    """Down into the gap below ``source``, along the gap to the lane, up or down the lane, along
    the gap above ``target`` and down into it: through no box."""
    x1, y1 = source.center + 12, source.y + source.height
    x2, y2 = target.center - 12, target.y
    below, above = y1 + 10 + 4 * (lane % 4), y2 - 10 - 4 * (lane % 4)
    path = f"M{x1},{y1} V{below} H{lane_x} V{above} H{x2} V{y2 - 2}"
    return _arrow(edge, path, x1 + 4, y1 + 11, anchor="start")


def _arrow(edge: _Edge, path: str, x: int, y: int, anchor: str = "middle") -> Arrow:
    tooltip = f"{edge.source} → {edge.target}" + (f": {edge.label}" if edge.label else "")
    return Arrow(path, _cut(edge.label, MAX_LABEL), x, y, edge.dashed, tooltip, anchor)


# ----------------------------------------------------------------- outline ---


@dataclass(frozen=True)
class OutlineStep:
    """One step as the text outline beside the diagram reads it."""

    id: str
    kind: str
    title: str
    detail: str
    where: str
    exits: list[str]


def outline(graph: _Graph) -> list[OutlineStep]:
    """Each step in file order, with where it goes next, in words."""
    steps = []
    for node in graph.nodes.values():
        if node.kind in ("start", "done", "join"):
            continue
        exits = [_exit(edge) for edge in graph.edges if edge.source == node.key]
        if node.kind == "parallel":
            exits += [
                f"after the join, {_exit(e)}" for e in graph.edges if e.source == _join(node.key)
            ]
        if not exits:
            exits = ["ends the workflow"]
        where = f"in a branch of {node.branch}" if node.branch else ""
        steps.append(OutlineStep(node.key, node.kind, node.title, node.detail, where, exits))
    return steps


def _exit(edge: _Edge) -> str:
    target = "the end of the workflow" if edge.target == DONE else edge.target
    if edge.dashed:
        return f"when overdue, escalates to {target}"
    if edge.label.startswith("branch "):
        return f"{edge.label} starts at {target}"
    if edge.label == "otherwise":
        return f"otherwise goes to {target}"
    if edge.label:
        return f"when {edge.label}, goes to {target}"
    return f"goes to {target}"
