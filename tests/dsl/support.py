"""The catalog the workflow-language tests validate against, and helpers to read expectations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.dsl.catalog import Catalog
from engine.dsl.forms import Form
from engine.dsl.problems import Problem

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
VALID = HERE / "valid"

SHARED_FORMS = {
    "incident_intake": Form.model_validate(
        {
            "title": "Report an incident",
            "fields": [
                {"name": "summary", "required": True},
                {"name": "urgency", "type": "choice", "choices": ["low", "high"]},
                {"name": "affected_users", "type": "number", "min": 1},
            ],
        }
    ),
    "approval": Form.model_validate(
        {
            "fields": [{"name": "comment", "type": "textarea"}],
            "outcomes": ["approve", "reject"],
        }
    ),
}

CATALOG = Catalog(
    actions=frozenset(
        {
            "helpdesk.escalate",
            "helpdesk.compute_sla",
            "engine.update_work_item",
            "engine.record_event",
        }
    ),
    forms=SHARED_FORMS,
    workflows=frozenset({"change_request"}),
    teams=frozenset({"helpdesk-l1", "desktop-support", "network-l3"}),
)

_EXPECT = re.compile(r"^#\s*expect:\s*(\d+):(\d+):\s*(.+?)\s*$")


@dataclass(frozen=True)
class Expected:
    """One ``# expect: LINE:COL: message`` line of a corpus file."""

    line: int
    column: int
    message: str

    def matches(self, problem: Problem) -> bool:
        return (problem.line, problem.column) == (
            self.line,
            self.column,
        ) and self.message in problem.message

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


def expectations(path: Path) -> list[Expected]:
    """The ``# expect:`` lines at the top of a corpus file."""
    found = []
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        match = _EXPECT.match(line)
        if match is None:
            break
        found.append(Expected(int(match[1]), int(match[2]), match[3]))
    return found


def unmatched(expected: list[Expected], problems: list[Problem]) -> tuple[list, list]:
    """The expectations no problem meets, and the problems no expectation names."""
    left = list(problems)
    missing = []
    for expectation in expected:
        hit = next((problem for problem in left if expectation.matches(problem)), None)
        if hit is None:
            missing.append(expectation)
        else:
            left.remove(hit)
    return missing, left
