"""Every hook is documented in docs/plugins.md, with its parameters (as datasette checks)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from engine import hookspecs

DOCS = Path(__file__).parents[2] / "docs" / "plugins.md"
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("tierflow_"))


@pytest.fixture(scope="module")
def documented() -> dict[str, str]:
    headings = re.findall(r"^#### (tierflow_\w+)\((.*)\)$", DOCS.read_text(), re.MULTILINE)
    return dict(headings)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook: str, documented: dict[str, str]) -> None:
    assert hook in documented, f"{hook} is missing from docs/plugins.md"
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert documented[hook] == params, f"docs/plugins.md shows {hook}({documented[hook]})"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_full_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert "Example::" in doc, f"{hook} has no example"
    assert "Called" in doc or "called" in doc, f"{hook} does not say where it is called"
    assert "collected" in doc or "implementations run" in doc, f"{hook}: which results count?"


def test_no_stale_documentation(documented: dict[str, str]) -> None:
    assert sorted(documented) == HOOKS
