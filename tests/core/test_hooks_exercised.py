"""Every hook is exercised by some test (as datasette's test_plugin_hooks_have_tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import hookspecs

TESTS = Path(__file__).parents[1]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("tierflow_"))

# Hooks whose engine call site arrives with a later feature; each must leave
# this list as soon as its caller exists (the test below fails if one is here
# and is already exercised, so the list cannot go stale).
NOT_YET_CALLED: dict[str, str] = {}


@pytest.fixture(scope="module")
def test_sources() -> str:
    here = Path(__file__).resolve()
    return "\n".join(
        path.read_text() for path in TESTS.rglob("test_*.py") if path.resolve() != here
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised(hook: str, test_sources: str) -> None:
    exercised = f"def {hook}(" in test_sources or f'"{hook}"' in test_sources
    if hook in NOT_YET_CALLED:
        assert not exercised, f"{hook} is tested now: remove it from NOT_YET_CALLED"
    else:
        assert exercised, f"no test implements or calls {hook}"
