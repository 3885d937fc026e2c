"""Problems found in a workflow file, each at a file, line and column."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import TierflowError


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a file, printed as ``file:line:col: message`` (1-based).

    ``via`` is the workflow file a problem belongs to when ``file`` is another
    one: a fragments file whose steps the workflow uses (the message says so).
    """

    file: str
    line: int
    column: int
    message: str
    via: str = field(default="", compare=False)

    @property
    def owner(self) -> str:
        """The file this problem keeps from loading: ``via`` if set, else ``file``."""
        return self.via or self.file

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
