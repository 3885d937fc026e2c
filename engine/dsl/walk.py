"""The steps of a workflow in file order, into parallel branches, each with its place.

``describe`` (the text of ``tierflow workflows show``) and ``diagram`` (its
Mermaid chart) both render a step, then each of its branches, then where the
step goes next. :func:`walk` is that order, once: it says when a step and a
branch begin and end, which step follows each one in its list, and which
parallel step a branch belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.dsl.spec import Step


@dataclass(frozen=True)
class StepVisit:
    """A step, once before its branches (``leaving`` false) and once after them.

    ``following`` is the step after it in its list (``None`` for the last);
    ``parallel`` is the parallel step whose branch holds it (``None`` at the
    top level, where the last step falls through to the end of the workflow);
    ``level`` counts the parallel steps it is nested in.
    """

    step: Step
    following: Step | None
    parallel: Step | None
    level: int
    leaving: bool = False


@dataclass(frozen=True)
class BranchVisit:
    """A branch of the parallel step ``parallel``, before and after its steps."""

    parallel: Step
    name: str
    steps: list[Step]
    level: int
    leaving: bool = False


def walk(
    steps: list[Step], parallel: Step | None = None, level: int = 0
) -> Iterator[StepVisit | BranchVisit]:
    """Every step of ``steps`` and of their branches, depth first, in file order."""
    for index, step in enumerate(steps):
        following = steps[index + 1] if index + 1 < len(steps) else None
        yield StepVisit(step, following, parallel, level)
        if step.parallel is not None:
            for name, branch in step.parallel.branches.items():
                yield BranchVisit(step, name, branch, level)
                yield from walk(branch, step, level + 1)
                yield BranchVisit(step, name, branch, level, leaving=True)
        yield StepVisit(step, following, parallel, level, leaving=True)
