"""The shipped example workflows, for running ``tierflow workflows ...`` on them in-process
(through the shared ``tierflow`` fixture of ``tests/conftest.py``), and the workflows the
installed plugins ship, which every command loads beside a site's own."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import pytest

from engine import workflows as service
from engine.dsl.loader import parse_file
from engine.plugins import create_plugin_manager
from tests.conftest import ROOT

EXAMPLES = ROOT / "workflows" / "examples"
EXAMPLE_WORKFLOWS = ("change", "incident", "patching", "project")
"""The workflows of ``workflows/examples`` (``forms.yaml`` is a forms file)."""


@cache
def plugin_files() -> tuple[Path, ...]:
    """Every workflow and forms file the installed plugins ship, found as the commands find
    them for a site without a folder of its own."""
    return service.find_sources(create_plugin_manager(), ROOT / "tests" / "no-such-folder").files


@cache
def plugin_workflows() -> dict[str, Path]:
    """Name → file of each workflow the installed plugins ship (their forms files left out).

    ``validate``, ``deploy`` and ``show`` list these beside the site's workflows,
    except those the site replaces with a workflow of the same name.
    """
    found = {}
    for path in plugin_files():
        data = parse_file(path).data
        if isinstance(data, dict) and "steps" in data:
            found[str(data["name"])] = path
    return dict(sorted(found.items()))


def beside_examples() -> list[str]:
    """The plugins' workflows a site holding ``workflows/examples`` also gets, by name."""
    return [name for name in plugin_workflows() if name not in EXAMPLE_WORKFLOWS]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site's ``workflows/`` folder holding copies of the shipped examples, as admins copy
    them (an ``examples`` folder inside it would not be read)."""
    folder = tmp_path / "workflows"
    shutil.copytree(EXAMPLES, folder)
    return folder
