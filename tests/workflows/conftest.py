"""The shipped example workflows, for running ``tierflow workflows ...`` on them in-process
(through the shared ``tierflow`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "workflows" / "examples"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site's ``workflows/`` folder holding copies of the shipped examples."""
    folder = tmp_path / "workflows"
    shutil.copytree(EXAMPLES, folder / "examples")
    return folder
