"""What a step gives its own 'next' and 'set' is what the interpreter gives, and it is documented.

The interpreter hands each step's ``next`` and ``set`` what the step produced
(a task's ``outcome`` and ``data``, a parallel step's ``outcomes`` and
``first``…) and keeps the same, with a task's ``completed_by``, under
``steps.<id>``. The validator allows those names there and nowhere else
(tests/dsl/valid/release.yaml uses each, tests/dsl/corpus/ misuses them), and
the expression variables documented in docs/workflows.md list them.
"""

from __future__ import annotations

import re

import pytest

from engine.dsl.catalog import EXPRESSION_ROOTS
from engine.dsl.references import ONLY_IN
from engine.dsl.spec import STEP_TYPES, Step
from engine.dsl.steprefs import STEP_ATTRIBUTES, own_names

END = {"id": "x", "end": "done"}

CASES = [
    ("task", {"task": {"team": "helpdesk-l1", "form": "approval"}}, "outcome data"),
    ("action", {"action": "engine.record_event"}, "result"),
    ("call", {"call": {"workflow": "change_request"}}, "result"),
    ("wait", {"wait": {"signal": "replied", "timeout": "1d"}}, "signal timed_out"),
    ("parallel", {"parallel": {"branches": {"a": [END], "b": [END]}}}, "outcomes first"),
    ("decide", {"decide": [{"otherwise": "close"}]}, ""),
    ("notify", {"notify": {"to": "requester", "subject": "Hello"}}, ""),
    ("end", {"end": "done"}, ""),
]
"""Each type of step, and what it returns to its own 'next' and 'set' (engine/runtime)."""
GIVEN = {name for _, _, names in CASES for name in names.split()}


def test_every_step_type_is_covered() -> None:
    kinds = sorted(kind for kind, _, _ in CASES)
    assert kinds == sorted(STEP_TYPES) == sorted(STEP_ATTRIBUTES)


@pytest.mark.parametrize(("kind", "step", "names"), CASES, ids=[kind for kind, _, _ in CASES])
def test_a_step_may_read_what_it_gives_its_own_next_and_set(
    kind: str, step: dict[str, object], names: str
) -> None:
    loaded = Step.model_validate({"id": "s", **step})
    assert loaded.kind == kind
    assert own_names(loaded) == tuple(names.split())


@pytest.mark.parametrize("wait", [{"duration": "1h"}, {"until": "2030-01-01T00:00:00+00:00"}])
def test_a_wait_for_a_time_gives_nothing(wait: dict[str, str]) -> None:
    assert own_names(Step.model_validate({"id": "s", "wait": wait})) == ()


def test_the_names_steps_give_are_refused_elsewhere_and_documented() -> None:
    assert set(ONLY_IN) == GIVEN
    assert set(EXPRESSION_ROOTS) >= GIVEN


@pytest.mark.parametrize("name", sorted({n for names in STEP_ATTRIBUTES.values() for n in names}))
def test_the_steps_variable_lists_each_attribute_a_step_stores(name: str) -> None:
    assert re.search(rf"\b{name}\b", EXPRESSION_ROOTS["steps"])
