"""docs/workflows.md covers the whole language: a new step type or field type must be documented."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from engine.dsl.catalog import EXPRESSION_ROOTS, Catalog
from engine.dsl.forms import FieldType
from engine.dsl.problems import display_path
from engine.dsl.spec import OVERLAP_POLICIES, STEP_TYPES
from engine.dsl.validate import load_workflow_text, validate_files
from tests.workflows.conftest import ROOT

DOC = (ROOT / "docs" / "workflows.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", STEP_TYPES)
def test_every_step_type_has_a_section_with_an_example(kind: str) -> None:
    section = DOC.split(f"\n### {kind}\n", 1)
    assert len(section) == 2, f"docs/workflows.md has no '### {kind}' section"
    assert f"  {kind}:" in section[1].split("\n### ", 1)[0], f"no example of a {kind} step"


@pytest.mark.parametrize("field_type", typing.get_args(FieldType))
def test_every_field_type_has_an_example(field_type: str) -> None:
    row = re.search(rf"^\| `{re.escape(field_type)}` \|.*\|.*\|$", DOC, re.MULTILINE)
    assert row, f"no row for the field type {field_type}"
    assert "{name:" in row.group(0)


@pytest.mark.parametrize(("root", "meaning"), EXPRESSION_ROOTS.items())
def test_every_expression_variable_is_explained(root: str, meaning: str) -> None:
    html = meaning.replace("<", "&lt;").replace(">", "&gt;")  # as Markdown needs it
    assert f"| `{root}` | {html} |" in DOC


@pytest.mark.parametrize("policy", OVERLAP_POLICIES)
def test_every_overlap_policy_is_explained(policy: str) -> None:
    assert re.search(rf"^\| `{policy}`( \(default\))? \| ", DOC, re.MULTILINE)


def test_the_first_workflow_in_the_docs_is_valid() -> None:
    example = DOC.split("## A first workflow", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    catalog = Catalog(actions=frozenset({"engine.update_work_item"}))
    workflow, problems = load_workflow_text(example, "docs/workflows.md", catalog)
    assert [str(p) for p in problems] == []
    assert workflow is not None
    assert workflow.name == "password_reset"


def test_the_fragments_example_in_the_docs_is_valid(tmp_path: Path) -> None:
    part = DOC.split("## Sharing steps: fragments", 1)[1]
    fragments, workflow = (block.split("```", 1)[0] for block in part.split("```yaml\n")[1:3])
    (tmp_path / "closing.yaml").write_text(fragments)
    (tmp_path / "incident.yaml").write_text(
        "name: incident\nkind: ticket\nforms:\n  l1_triage: {fields: []}\n"
        "  confirm: {outcomes: [confirmed, not_fixed]}\n" + workflow
    )
    catalog = Catalog(teams=frozenset({"helpdesk-l1"}))
    loaded, problems = validate_files([tmp_path], catalog)
    assert [str(p) for p in problems] == []
    steps = loaded[0].workflow.steps
    assert [step.id for step in steps] == ["triage", "confirm", "closed"]
    assert steps[1].task is not None
    assert steps[1].task.team == "helpdesk-l1"

    # the problem the docs show, when the workflow's step is 'triag'
    (tmp_path / "incident.yaml").write_text(
        (tmp_path / "incident.yaml").read_text().replace("id: triage", "id: triag")
    )
    _, problems = validate_files([tmp_path], catalog)
    shown = part.split("```text\n", 1)[1].split("```", 1)[0].strip()
    found = [
        str(p).replace(display_path(tmp_path), "workflows")
        for p in problems
        if "unknown step" in p.message
    ]
    assert found == [shown.replace(":5:5)", ":10:5)")]  # the test's file has 5 lines more
