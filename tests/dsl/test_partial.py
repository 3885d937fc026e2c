"""Every problem at once: what a file that failed its schema still has checked, across files.

The corpus files ``partial_*.yaml`` pin what one such file reports. Here:
files checked together, where a form, or a workflow, that did not load is
named by another file, which must then report nothing about it (the
problem is reported once, where it is); and ``progress`` of validate_files.
"""

from __future__ import annotations

from pathlib import Path

from engine.dsl.problems import display_path
from engine.dsl.validate import load_workflow_text, validate_files
from tests.dsl.support import CATALOG, VALID

FORMS = """\
forms:
  good:
    fields: [{name: summary}]
    outcomes: [done, dropped]
  broken:
    fields: [{name: summary, type: colour}]
"""

USER = """\
name: user
kind: ticket
steps:
  - id: first
    task: {team: helpdesk-l1, form: broken}
    next:
      - {when: "data.anything", goto: second}
      - {otherwise: second}
  - id: second
    task: {team: helpdesk-l1, form: good}
    next:
      - {when: "outcome == 'dropped' and data.summry", goto: first}
      - {otherwise: third}
  - id: third
    call: {workflow: broken-workflow}
"""

BROKEN_WORKFLOW = """\
name: broken-workflow
kind: ticket
steps:
  - {id: only, end: done, colour: blue}
"""


def _messages(problems: list) -> list[tuple[str, int, int, str]]:
    return [(Path(p.file).name, p.line, p.column, p.message) for p in problems]


def test_a_form_or_workflow_that_did_not_load_is_reported_once(tmp_path: Path) -> None:
    (tmp_path / "forms.yaml").write_text(FORMS)
    (tmp_path / "user.yaml").write_text(USER)
    (tmp_path / "broken.yaml").write_text(BROKEN_WORKFLOW)
    loaded, problems = validate_files([tmp_path], CATALOG)
    assert _messages(problems) == [
        (
            "broken.yaml",
            4,
            27,
            "unknown key 'colour' in step 'only': a step has an 'id' and one type, "
            "one of task, action, decide, wait, parallel, notify, call, end",
        ),
        (
            "forms.yaml",
            6,
            36,
            "'type' of field 'summary' of form 'broken': 'colour' is not one of: text, "
            "textarea, number, date, datetime, choice, multi-choice, boolean, person, team, "
            "duration",
        ),
        (
            "user.yaml",
            12,
            16,
            "unknown field 'summry' in 'when' of step 'second': form 'good' has no such field "
            "(did you mean 'summary'?)",
        ),
    ]
    assert loaded == []  # 'user' names the broken form: it is not ready to deploy or show


def test_a_workflow_whose_forms_loaded_still_loads_beside_a_broken_form(tmp_path: Path) -> None:
    (tmp_path / "forms.yaml").write_text(FORMS)
    (tmp_path / "ok.yaml").write_text(
        "name: ok\nkind: ticket\nsteps:\n  - {id: a, task: {team: helpdesk-l1, form: good}}\n"
    )
    loaded, problems = validate_files([tmp_path], CATALOG)
    assert {Path(p.file).name for p in problems} == {"forms.yaml"}
    assert [item.workflow.name for item in loaded] == ["ok"]
    assert list(loaded[0].forms) == ["good"]


def test_two_broken_files_may_not_define_one_workflow(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BROKEN_WORKFLOW)
    (tmp_path / "b.yaml").write_text(BROKEN_WORKFLOW)
    _, problems = validate_files([tmp_path], CATALOG)
    assert (
        "b.yaml",
        1,
        7,
        f"workflow 'broken-workflow' is also defined in {display_path(tmp_path / 'a.yaml')}: "
        "names must be unique",
    ) in _messages(problems)


def test_a_broken_step_hides_nothing_else_in_load_workflow_text() -> None:
    text = USER.replace("form: good", "form: goood").replace("broken-workflow", "change_request")
    text = text.replace("  - id: first\n", "  - id: first\n    colour: blue\n")
    workflow, problems = load_workflow_text(text, "t.yaml", CATALOG)
    assert workflow is None
    assert [(p.line, p.column, p.message.split(":")[0]) for p in problems] == [
        (5, 5, "unknown key 'colour' in step 'first'"),
        (11, 37, "unknown form 'goood' in step 'second'"),
    ]


def test_progress_is_told_of_each_file_as_it_is_checked() -> None:
    seen: list[Path] = []
    loaded, problems = validate_files([VALID], CATALOG, progress=seen.append)
    assert problems == []
    assert seen == sorted(VALID.glob("*.yaml"))
    assert len(loaded) == 4
