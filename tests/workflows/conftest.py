"""Running ``tierflow workflows ...`` in-process, through the real entry point and plugins."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli import _main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "workflows" / "examples"


@dataclass(frozen=True)
class Run:
    """What one command did: its exit code and what it printed."""

    rc: int
    out: str
    err: str


Tierflow = Callable[..., Run]


@pytest.fixture
def tierflow(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Tierflow:
    """``tierflow(*args, database_url=None)`` runs the CLI from the repository root.

    The data directory is the test's own, so no real database is touched.
    """
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("TIERFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TIERFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("TIERFLOW_CONFIG", raising=False)

    def run(*args: str, database_url: str | None = None) -> Run:
        if database_url is not None:
            monkeypatch.setenv("TIERFLOW_DATABASE_URL", database_url)
        capsys.readouterr()
        rc = _main(list(args))
        out, err = capsys.readouterr()
        return Run(rc, out, err)

    return run


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site's ``workflows/`` folder holding copies of the shipped examples."""
    folder = tmp_path / "workflows"
    shutil.copytree(EXAMPLES, folder / "examples")
    return folder
