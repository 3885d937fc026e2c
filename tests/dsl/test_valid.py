"""Good files: every step type and field type, validated together with no problem."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from engine.dsl.forms import Form
from engine.dsl.loader import LoadedWorkflow
from engine.dsl.problems import Problem, display_path
from engine.dsl.spec import STEP_TYPES, FormFile, Workflow
from engine.dsl.validate import (
    load_form_file,
    load_form_text,
    load_workflow_file,
    load_workflow_text,
    validate_files,
)
from tests.dsl.support import CATALOG, VALID


def test_the_valid_files_give_no_problem() -> None:
    loaded, problems = validate_files([VALID], CATALOG)
    assert problems == []
    assert sorted(item.workflow.name for item in loaded) == [
        "incident",
        "project",
        "release",
        "server-patching",
    ]


def test_the_valid_files_use_every_step_type() -> None:
    loaded, _ = validate_files([VALID], CATALOG)
    kinds = {step.kind for item in loaded for step in item.workflow.all_steps()}
    assert kinds == set(STEP_TYPES)


def test_a_loaded_workflow_carries_its_source_hash_and_shared_forms() -> None:
    loaded, _ = validate_files([VALID], CATALOG)
    patching = next(item for item in loaded if item.workflow.name == "server-patching")
    assert patching.path == VALID / "maintenance.yaml"
    assert patching.source == (VALID / "maintenance.yaml").read_text()
    digest = hashlib.sha256((VALID / "maintenance.yaml").read_bytes()).hexdigest()
    assert patching.content_hash == digest
    assert list(patching.forms) == ["patch_report"]  # from shared_forms.yaml
    assert isinstance(patching.forms["patch_report"], Form)
    with pytest.raises(dataclasses.FrozenInstanceError):
        patching.source = ""  # type: ignore[misc]


def test_load_workflow_file_checks_against_the_catalog() -> None:
    workflow, problems = load_workflow_file(VALID / "incident.yaml", CATALOG)
    assert problems == []
    assert isinstance(workflow, Workflow)
    assert workflow.steps[0].id == "sla"


def test_a_workflow_alone_misses_the_forms_of_its_run() -> None:
    workflow, problems = load_workflow_file(VALID / "maintenance.yaml", CATALOG)
    assert workflow is None
    file = display_path(VALID / "maintenance.yaml")
    assert [str(problem) for problem in problems] == [
        f"{file}:22:44: unknown form 'patch_report' in step 'linux'",
        f"{file}:25:49: unknown form 'patch_report' in step 'windows'",
        f"{file}:46:30: unknown workflow 'incident' in step 'follow_up'",
    ]


def test_load_form_file_reads_a_forms_file() -> None:
    forms, problems = load_form_file(VALID / "shared_forms.yaml")
    assert problems == []
    assert isinstance(forms, FormFile)
    assert [field.type for field in forms.forms["patch_report"].fields][:3] == [
        "boolean",
        "number",
        "duration",
    ]


def test_a_forms_file_is_not_a_workflow_and_back() -> None:
    text = (VALID / "shared_forms.yaml").read_text()
    assert load_workflow_text(text, "f.yaml", CATALOG) == (
        None,
        [Problem("f.yaml", 1, 1, "this is a forms file (it has only 'forms'), not a workflow")],
    )
    workflow_text = (VALID / "project.yaml").read_text()
    assert load_form_text(workflow_text, "w.yaml") == (
        None,
        [Problem("w.yaml", 1, 1, "a forms file has only 'forms', nothing else")],
    )


def test_two_files_may_not_define_one_workflow(tmp_path: Path) -> None:
    text = "name: twice\nkind: ticket\nsteps:\n  - {id: close, end: done}\n"
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text("# the same name\n" + text)
    loaded, problems = validate_files([tmp_path], CATALOG)
    assert [item.path.name for item in loaded] == ["a.yaml"]
    assert [(p.file, p.line, p.column) for p in problems] == [
        (display_path(tmp_path / "b.yaml"), 2, 7)
    ]
    assert problems[0].message == (
        f"workflow 'twice' is also defined in {display_path(tmp_path / 'a.yaml')}: "
        "names must be unique"
    )


def test_two_forms_files_may_not_define_one_form(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("forms:\n  intake: {fields: [{name: a}]}\n")
    (tmp_path / "b.yml").write_text("forms:\n  other: {}\n  intake: {}\n")
    loaded, problems = validate_files([tmp_path], CATALOG)
    assert loaded == []
    assert [(p.line, p.column, p.message) for p in problems] == [
        (
            3,
            3,
            f"form 'intake' is also defined in {display_path(tmp_path / 'a.yaml')}: "
            "give it another name",
        )
    ]


def test_a_call_may_name_a_workflow_of_another_file(tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text("name: child\nkind: ticket\nsteps: [{id: e, end: ok}]\n")
    (tmp_path / "parent.yaml").write_text(
        "name: parent\nkind: ticket\nsteps:\n  - {id: run, call: {workflow: child}}\n"
    )
    loaded, problems = validate_files([tmp_path / "parent.yaml", tmp_path / "child.yaml"], CATALOG)
    assert problems == []
    assert isinstance(loaded[0], LoadedWorkflow)
    _, alone = validate_files([tmp_path / "parent.yaml"], CATALOG)
    assert [p.message for p in alone] == ["unknown workflow 'child' in step 'run'"]


def test_teams_are_not_checked_without_a_database() -> None:
    text = "name: t\nkind: ticket\nsteps:\n  - {id: a, task: {team: anyone, form: approval}}\n"
    workflow, problems = load_workflow_text(text, "t.yaml", CATALOG)
    assert workflow is None
    assert problems == [Problem("t.yaml", 4, 26, "unknown team 'anyone' in step 'a'")]
    unchecked = dataclasses.replace(CATALOG, teams=None)
    assert load_workflow_text(text, "t.yaml", unchecked)[1] == []


def test_a_bug_in_a_check_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> list[Problem]:
        raise RuntimeError("boom")

    monkeypatch.setattr("engine.dsl.validate.semantic_problems", broken)
    loaded, problems = validate_files([VALID / "project.yaml"], CATALOG)
    assert loaded == []
    assert [(p.line, p.column, p.message) for p in problems] == [
        (1, 1, "internal error while validating: RuntimeError('boom')")
    ]
