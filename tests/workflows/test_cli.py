"""``tierflow workflows validate``, ``show`` and ``schema`` as an admin runs them."""

from __future__ import annotations

from pathlib import Path

from engine.dsl.loader import content_hash
from engine.dsl.schema import json_schema_text
from tests.conftest import Tierflow
from tests.workflows.conftest import (
    EXAMPLE_WORKFLOWS,
    EXAMPLES,
    ROOT,
    beside_examples,
    plugin_files,
    plugin_workflows,
)

GOLDEN = Path(__file__).parent / "golden"

BROKEN = """\
name: broken
kind: ticket
steps:
  - id: first
    notify: {to: requester, subject: hello}
    next: nowhere
"""


def test_validate_everything_by_default(tierflow: Tierflow) -> None:
    """The site's 5 files (4 workflows) and the plugins' files, less those the site replaces."""
    run = tierflow("workflows", "validate", "--dir", "workflows/examples")
    assert run.rc == 0, run.out + run.err
    replaced = len(plugin_workflows()) - len(beside_examples())  # the help desk's incident
    files = 5 + len(plugin_files()) - replaced
    workflows = len(EXAMPLE_WORKFLOWS) + len(beside_examples())
    assert run.out == f"{files} files checked, no problems ({workflows} workflows)\n"
    assert "team names were not checked" in run.err  # no database in this data directory


def test_validate_one_file_knows_the_shared_forms(tierflow: Tierflow) -> None:
    run = tierflow(
        "workflows", "validate", "--dir", "workflows/examples", "workflows/examples/incident.yaml"
    )
    assert (run.rc, run.out) == (0, "1 file checked, no problems (1 workflow)\n")


def test_validate_reports_problems_and_exits_1(tierflow: Tierflow, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    run = tierflow(
        "workflows", "validate", "--dir", "workflows/examples", str(broken),
        "workflows/examples/incident.yaml",
    )  # fmt: skip
    assert run.rc == 1
    assert run.out == f"{broken}:6:11: unknown step 'nowhere' in 'next' of step 'first'\n"
    assert run.err.endswith("tierflow: error: 1 problem in 1 file (2 files checked)\n")
    assert "Traceback" not in run.err


def test_validate_reports_every_problem_of_every_file(tierflow: Tierflow, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BROKEN.replace("kind: ticket", "kind: ticket\nowner: me"))
    (tmp_path / "b.yaml").write_text("name: b\nkind: ticket\nsteps:\n  - id: x\n    wait: 4\n")
    run = tierflow("workflows", "validate", str(tmp_path))
    assert run.rc == 1
    assert run.out.splitlines() == [
        f"{tmp_path / 'a.yaml'}:3:1: unknown key 'owner'",
        f"{tmp_path / 'a.yaml'}:7:11: unknown step 'nowhere' in 'next' of step 'first'",
        f"{tmp_path / 'b.yaml'}:5:11: 'wait' of step 'x' must be a mapping (key: value), "
        "not the number 4",
    ]
    assert run.err.endswith("tierflow: error: 3 problems in 2 files (2 files checked)\n")


def test_validate_a_folder_of_many_files(tierflow: Tierflow, tmp_path: Path) -> None:
    for n in range(25):
        text = (EXAMPLES / "patching.yaml").read_text().replace("name: patching", f"name: p{n}")
        (tmp_path / f"p{n}.yaml").write_text(text)
    run = tierflow("workflows", "validate", str(tmp_path))
    assert (run.rc, run.out) == (0, "25 files checked, no problems (25 workflows)\n")


def test_validate_a_missing_path(tierflow: Tierflow) -> None:
    run = tierflow("workflows", "validate", "workflows/nope.yaml")
    assert run.rc == 1
    assert run.err == "tierflow: error: workflows/nope.yaml: no such file or folder\n"


def test_schema_prints_and_writes_the_shipped_schema(tierflow: Tierflow, tmp_path: Path) -> None:
    assert tierflow("workflows", "schema").out == json_schema_text()
    target = tmp_path / "schema.json"
    run = tierflow("workflows", "schema", "--output", str(target))
    assert run.rc == 0
    assert run.err == f"Wrote {target}\n"
    assert target.read_text() == (ROOT / "workflows" / "schema.json").read_text()


def test_show_an_unknown_workflow(tierflow: Tierflow) -> None:
    run = tierflow("workflows", "show", "--dir", "workflows/examples", "incidnet")
    assert run.rc == 1
    found = ", ".join(sorted([*EXAMPLE_WORKFLOWS, *beside_examples()]))
    assert run.err == f"tierflow: error: no valid workflow named 'incidnet' (found: {found})\n"


def test_show_incident(tierflow: Tierflow) -> None:
    """The whole output: header, steps, forms and the Mermaid diagram (HASH: the file's)."""
    run = tierflow("workflows", "show", "--dir", "workflows/examples", "incident")
    assert run.rc == 0, run.err
    digest = content_hash((EXAMPLES / "incident.yaml").read_text())[:8]
    expected = (GOLDEN / "show_incident.txt").read_text().replace("HASH", digest)
    assert run.out == expected, (
        "if incident.yaml or the output changed on purpose, regenerate the golden file: "
        "tierflow workflows show incident > tests/workflows/golden/show_incident.txt "
        "(and put HASH back for the short hash)"
    )
