"""Problems found in a workflow file, each at a file, line and column."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import TierflowError


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a file, printed as ``file:line:col: message`` (1-based)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class WorkflowFileError(TierflowError):
    """A file (or several) did not load; ``problems`` lists every problem found at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def display_path(path: Path | str) -> str:
    """``path`` relative to the working directory where it is below it, for short messages."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
