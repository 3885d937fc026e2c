"""Put fragments' steps in place of a workflow's ``- use:`` items, keeping every position.

:func:`expand` turns a workflow that uses fragments into the workflow that
runs: each ``use`` item is replaced by the fragment's steps with its
parameters filled in (fragments may use fragments; a fragment that uses
itself, directly or not, is an error). Positions follow the values: a step
taken from a fragment is positioned in the fragments file, with an
:class:`~engine.dsl.yamlread.Origin` whose note says which workflow used the
fragment and where, so every later check reports
``fragments.yaml:12:9: ... (from fragment 'f' used by workflow 'w' at w.yaml:30:5)``.

A fragment may also carry the ``variables`` and ``signals`` its steps read:
each workflow using it gets those it does not define itself, positioned in
the fragments file like its steps.

Problems of the ``use`` items themselves (an unknown fragment, a missing or
unknown parameter) are positioned in the file that has the item. When one is
found, the workflow is not checked further: its steps are not all there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.dsl.fragments import Fragment, SubstitutionError, is_use, substitute
from engine.dsl.problems import Problem
from engine.dsl.suggest import did_you_mean
from engine.dsl.yamlread import Origin, PathKey, Positions


@dataclass(frozen=True)
class Shared:
    """A fragment as a workflow may use it: where it is defined, and whether it loaded."""

    name: str
    file: str
    positions: Positions
    fragment: Fragment | None
    """``None`` when it did not load (its file's problems say why)."""

    @property
    def path(self) -> PathKey:
        return ("fragments", self.name)


Library = Mapping[str, Shared]


@dataclass(frozen=True)
class _Source:
    """A file the steps being copied come from, and what the note of their origin says."""

    file: str
    positions: Positions
    note: str = ""
    chain: tuple[str, ...] = ()
    """The fragments being expanded, outermost first (to catch a fragment using itself)."""


@dataclass(frozen=True)
class Splice:
    """A ``use`` item of the workflow file itself and the steps that replace it."""

    line: int
    column: int
    fragment: str
    steps: list[Any]


@dataclass
class Expanded:
    """A workflow's data with its fragments' steps in place, where each value came from."""

    data: dict[str, Any]
    positions: Positions
    problems: list[Problem] = field(default_factory=list)
    splices: list[Splice] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    """The fragments used, directly or not, each once, in order of use."""


class _Expander:
    def __init__(self, file: str, positions: Positions, name: str, library: Library) -> None:
        self.file, self.library, self.name = file, library, name
        self.out = Positions()
        self.problems: list[Problem] = []
        self.splices: list[Splice] = []
        self.used: dict[str, None] = {}
        self.children: dict[int, dict[PathKey, list[PathKey]]] = {}
        self.top = _Source(file, positions)
        self.sources: dict[str, _Source] = {}
        """Each used fragment's first use (where its variables and signals are reported)."""

    # ---------------------------------------------------------- positions ---

    def _children(self, positions: Positions) -> dict[PathKey, list[PathKey]]:
        index = self.children.get(id(positions))
        if index is None:
            index = {}
            for path in {*positions.keys, *positions.values}:
                if path:
                    index.setdefault(path[:-1], []).append(path)
            self.children[id(positions)] = index
        return index

    def graft(self, source: _Source, old: PathKey, new: PathKey, *, skip_branches: bool) -> None:
        """Copy the positions below ``old`` in ``source`` to below ``new`` in the result.

        With ``skip_branches`` the steps of a parallel step's branches are left
        to :meth:`steps`, which places them (and expands their ``use`` items).
        """
        positions, index = source.positions, self._children(source.positions)
        todo = [old]
        while todo:
            path = todo.pop()
            target = (*new, *path[len(old) :])
            if path in positions.keys:
                self.out.keys[target] = positions.keys[path]
            if path in positions.values:
                self.out.values[target] = positions.values[path]
            if path in positions.refused:
                self.out.refused.add(target)
            below = path[len(old) :]
            if skip_branches and len(below) == 3 and below[:2] == ("parallel", "branches"):
                continue
            todo += index.get(path, [])

    def problem(self, source: _Source, path: PathKey, message: str, *, key: bool = False) -> None:
        line, column = source.positions.key(path) if key else source.positions.value(path)
        if source is self.top:
            self.problems.append(Problem(self.file, line, column, message))
        else:
            problem = Problem(source.file, line, column, message + source.note, via=self.file)
            self.problems.append(problem)

    # -------------------------------------------------------------- steps ---

    def steps(
        self, items: Any, source: _Source, old: PathKey, new: PathKey, out: list[Any] | None = None
    ) -> Any:
        """The list of steps at ``old`` of ``source``, expanded, placed at ``new``.

        Steps are appended to ``out`` (a new list by default): a ``use`` item's
        steps join the list the item is in.
        """
        if not isinstance(items, list):
            return items
        out = [] if out is None else out
        for index, item in enumerate(items):
            if is_use(item):
                start = len(out)
                if self.use(item, source, (*old, index), new, out) and source is self.top:
                    line, column = source.positions.value((*old, index))
                    self.splices.append(Splice(line, column, str(item["use"]), out[start:]))
                continue
            target = (*new, len(out))
            self.graft(source, (*old, index), target, skip_branches=True)
            if source is not self.top:
                self.out.origins[target] = Origin(source.file, source.note)
            out.append(self.branches(item, source, (*old, index), target))
        return out

    def branches(self, item: Any, source: _Source, old: PathKey, new: PathKey) -> Any:
        parallel = item.get("parallel") if isinstance(item, dict) else None
        branches = parallel.get("branches") if isinstance(parallel, dict) else None
        if not isinstance(branches, dict):
            return item
        expanded = {
            name: self.steps(
                steps,
                source,
                (*old, "parallel", "branches", name),
                (*new, "parallel", "branches", name),
            )
            for name, steps in branches.items()
        }
        return {**item, "parallel": {**parallel, "branches": expanded}}

    def use(
        self, item: dict[str, Any], source: _Source, at: PathKey, new: PathKey, out: list[Any]
    ) -> bool:
        """Append the steps ``item`` stands for to ``out``; ``False`` if the item is wrong."""
        shared = self.fragment(item, source, at)
        if shared is None or shared.fragment is None:
            return False
        values = self.arguments(item, source, at, shared)
        if values is None:
            return False
        if shared.name in source.chain:
            cycle = " → ".join([*source.chain[source.chain.index(shared.name) :], shared.name])
            self.problem(source, (*at, "use"), f"fragment '{shared.name}' uses itself: {cycle}")
            return False
        self.used[shared.name] = None
        inner = self.source_of(shared, source, at)
        self.sources.setdefault(shared.name, inner)
        try:
            steps = substitute(shared.fragment.steps, values, (*shared.path, "steps"))
        except SubstitutionError as exc:
            self.problem(inner, exc.path, str(exc))
            return False
        self.steps(steps, inner, (*shared.path, "steps"), new, out)
        return True

    def source_of(self, shared: Shared, source: _Source, at: PathKey) -> _Source:
        """Where the steps of ``shared`` come from, as used by ``item`` at ``at`` of ``source``."""
        line, column = source.positions.value(at)
        if source is self.top:
            by = f"workflow '{self.name}'" if self.name else "the workflow"
            note = f" (from fragment '{shared.name}' used by {by} at {self.file}:{line}:{column})"
        else:
            outer = source.note.removeprefix(" (from ").removesuffix(")")
            note = (
                f" (from fragment '{shared.name}' used at {source.file}:{line}:{column} by {outer})"
            )
        return _Source(shared.file, shared.positions, note, (*source.chain, shared.name))

    def fragment(self, item: dict[str, Any], source: _Source, at: PathKey) -> Shared | None:
        extra = [key for key in item if key not in ("use", "with")]
        if extra:
            self.problem(
                source,
                (*at, extra[0]),
                f"a 'use' item takes only 'use' and 'with', not '{extra[0]}': the fragment's "
                "steps have their own ids",
                key=True,
            )
        name = item["use"]
        if not isinstance(name, str) or not name:
            self.problem(source, (*at, "use"), "'use' names a fragment: use: <fragment name>")
            return None
        shared = self.library.get(name)
        if shared is None:
            if not self.library:
                message = (
                    f"unknown fragment '{name}': no fragments file defines any (a file with "
                    "only 'fragments:' beside the workflows)"
                )
            else:
                message = f"unknown fragment '{name}'{did_you_mean(name, self.library)}"
            self.problem(source, (*at, "use"), message)
            return None
        if shared.fragment is None:
            self.problem(
                source,
                (*at, "use"),
                f"fragment '{name}' did not load: see the problems of {shared.file}",
            )
        return None if extra else shared

    def arguments(
        self, item: dict[str, Any], source: _Source, at: PathKey, shared: Shared
    ) -> dict[str, Any] | None:
        """The parameters' values: given under ``with`` or defaults; ``None`` if wrong."""
        fragment = shared.fragment
        assert fragment is not None
        given = item.get("with", {})
        if given is None:
            given = {}
        if not isinstance(given, dict):
            self.problem(source, (*at, "with"), "'with' gives the fragment's parameters: a mapping")
            return None
        known = list(fragment.params)
        takes = f"it takes {', '.join(known)}" if known else "it takes none"
        ok = True
        for key in given:
            if key not in fragment.params:
                hint = did_you_mean(str(key), known) or f" ({takes})"
                message = f"fragment '{shared.name}' has no parameter '{key}'{hint}"
                self.problem(source, (*at, "with", key), message, key=True)
                ok = False
        values: dict[str, Any] = {}
        for name in known:
            param = fragment.param(name)
            if name in given:
                values[name] = given[name]
            elif param.required:
                line, _ = shared.positions.key((*shared.path, "params", name))
                message = (
                    f"fragment '{shared.name}' needs parameter '{name}' (declared at "
                    f"{shared.file}:{line}): give it under 'with'"
                )
                self.problem(source, (*at, "use"), message)
                ok = False
            else:
                values[name] = param.default
        return values if ok else None

    def lend(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` with the used fragments' variables and signals it does not define itself."""
        merged = dict(data)
        for name in self.used:
            shared, source = self.library[name], self.sources[name]
            assert shared.fragment is not None
            for section in ("variables", "signals"):
                lent = getattr(shared.fragment, section)
                own = merged.get(section)
                if not lent or (own is not None and not isinstance(own, dict)):
                    continue  # a workflow's 'variables' that is not a mapping is reported as such
                merged[section] = {**(own or {})}
                for key, value in lent.items():
                    if key in merged[section]:
                        continue
                    merged[section][key] = value
                    old, new = (*shared.path, section, key), (section, key)
                    self.graft(source, old, new, skip_branches=False)
                    self.out.origins[new] = Origin(source.file, source.note)
        return merged


def expand(data: dict[str, Any], positions: Positions, file: str, library: Library) -> Expanded:
    """``data`` (a workflow's) with every ``use`` item replaced by the fragment's steps."""
    name = data.get("name") if isinstance(data.get("name"), str) else ""
    expander = _Expander(file, positions, str(name), library)
    for path in {*positions.keys, *positions.values}:
        if not (len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int)):
            if path in positions.keys:
                expander.out.keys[path] = positions.keys[path]
            if path in positions.values:
                expander.out.values[path] = positions.values[path]
    expander.out.refused |= {path for path in positions.refused if path[:1] != ("steps",)}
    steps = expander.steps(data.get("steps"), expander.top, ("steps",), ("steps",))
    return Expanded(
        expander.lend({**data, "steps": steps}),
        expander.out,
        expander.problems,
        expander.splices,
        list(expander.used),
    )
