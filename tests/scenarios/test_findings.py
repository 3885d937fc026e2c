"""Interpreter bugs found by writing scenarios, each the smallest scenario that showed it.

Both are fixed; the scenarios stay as regression tests. Each states what an
administrator reading docs/workflows.md would expect.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import Tierflow
from tests.scenarios.conftest import no_site

pytestmark = pytest.mark.timeout(60)


def _run(tierflow: Tierflow, tmp_path: Path, workflow: str, scenarios: str) -> str:
    folder = tmp_path / "finding"
    folder.mkdir()
    name = textwrap.dedent(workflow).split("\n", 1)[0].removeprefix("name: ")
    (folder / f"{name}.yaml").write_text(textwrap.dedent(workflow))
    (folder / f"{name}.scenarios.yaml").write_text(textwrap.dedent(scenarios))
    run = tierflow("workflows", "test", str(folder), *no_site(tmp_path))
    assert run.rc == 0, run.out + run.err
    return run.out


def test_a_duration_from_a_form_reads_as_written_in_messages(
    tierflow: Tierflow, tmp_path: Path
) -> None:
    _run(
        tierflow,
        tmp_path,
        """\
        name: duration_finding
        kind: ticket
        forms:
          estimate: {fields: [{name: length, type: duration, required: true}]}
        steps:
          - id: ask
            task: {team: ops, form: estimate}
          - id: tell
            notify: {to: requester, subject: "Takes {{ steps.ask.data.length }}"}
        """,
        """\
        scenarios:
          - name: the estimate is told as given
            do:
              - {complete: ask, data: {length: 4h}}
            expect:
              events_include: [{type: notified, data: {subject: Takes 4h}}]
        """,
    )


def test_a_task_kept_open_by_an_escalation_can_still_be_completed(
    tierflow: Tierflow, tmp_path: Path
) -> None:
    _run(
        tierflow,
        tmp_path,
        """\
        name: keep_open_finding
        kind: ticket
        forms:
          work_form: {outcomes: [done]}
        steps:
          - id: work
            task:
              team: ops
              form: work_form
              due: 1h
              overdue: [{escalate: tell, keep_open: true}]
            next: finish
          - id: tell
            notify: {to: owner_team, subject: The work is late}
          - id: finish
            end: done
        """,
        """\
        scenarios:
          - name: told when late, then done
            do:
              - {complete: work, after: 1h, outcome: done}
            expect:
              outcome: done
              tasks: [{step: work, status: completed}]
        """,
    )
