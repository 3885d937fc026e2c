"""What browser tests do to a page besides driving it: screenshots and the axe-core check."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, Response

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
"""What the browser tests leave for a person to look at (ignored by git)."""
SCREENSHOTS = ARTIFACTS / "screenshots"
"""Where ``shoot`` writes its PNGs."""

BLOCKING_IMPACTS = ("serious", "critical")
"""axe-core impacts that fail a test; "minor" and "moderate" ones do not."""

_AXE = Axe()  # holds axe.min.js as shipped inside axe-playwright-python

Shoot = Callable[[Page, str], Path]
"""The type of the ``shoot`` fixture."""
AxeCheck = Callable[[Page], list[dict[str, Any]]]
"""The type of the ``axe_check`` fixture."""


def visit(page: Page, path: str) -> Response:
    """Open ``path`` (relative to the server) in ``page``; fail unless it answers 2xx."""
    response = page.goto(path)
    assert response is not None, f"GET {path} gave no response"
    assert response.ok, f"GET {path} answered {response.status}"
    return response


def shoot(page: Page, name: str) -> Path:
    """Save a full-page screenshot of ``page`` as ``test-artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}.png"
    page.screenshot(path=path, full_page=True)
    return path


def axe_check(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on ``page``; fail listing every serious or critical violation.

    Returns all violations (the minor and moderate ones too), for a test that wants more.
    """
    violations: list[dict[str, Any]] = _AXE.run(page).response["violations"]
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        lines = [f"{len(blocking)} serious or critical accessibility violations on {page.url}:"]
        for violation in blocking:
            lines.append(
                f"- {violation['id']} ({violation['impact']}): {violation['help']}"
                f" <{violation['helpUrl']}>"
            )
            lines += [
                f"    at {' '.join(map(str, node['target']))}: {node['html'][:120]}"
                for node in violation["nodes"]
            ]
        pytest.fail("\n".join(lines), pytrace=False)
    return violations
