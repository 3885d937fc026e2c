"""Every shipped workflow comes with scenarios beside it, and they all pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from engine.plugins import create_plugin_manager
from engine.scenarios import is_scenario_file
from tests.conftest import ROOT, Tierflow

EXAMPLES = ROOT / "workflows" / "examples"
PLUGIN_FOLDERS = sorted(ROOT.glob("plugins/*/workflows"))
FOLDERS = [EXAMPLES, *PLUGIN_FOLDERS]
"""The site's examples and every built-in plugin's workflow folder."""
SHIPPED = sorted(
    path for folder in FOLDERS for path in folder.rglob("*.yaml") if is_scenario_file(path)
)
WORKFLOWS = sorted(
    path
    for folder in FOLDERS
    for path in folder.rglob("*.yaml")
    if not is_scenario_file(path) and "steps" in YAML(typ="safe", pure=True).load(path.read_text())
)

pytestmark = pytest.mark.timeout(120)


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_plugin_folders_are_those_the_plugins_register() -> None:
    """So the scenarios of every folder of workflows a plugin ships run below."""
    pm = create_plugin_manager()
    registered = {Path(f).resolve() for _, f in pm.collect("tierflow_register_workflow_dirs")}
    assert registered == set(PLUGIN_FOLDERS)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_id)
def test_every_shipped_workflow_has_scenarios(workflow: Path) -> None:
    scenarios = workflow.with_name(workflow.stem + ".scenarios.yaml")
    assert scenarios in SHIPPED, f"write {_id(scenarios)}"


@pytest.mark.parametrize("path", SHIPPED, ids=_id)
def test_shipped_scenarios_pass(tierflow: Tierflow, path: Path, tmp_path: Path) -> None:
    # a plugin's workflows are tested as a site without workflows of its own sees them (the
    # examples' incident.yaml would replace the help desk's, a site's file winning)
    site = ["--dir", str(EXAMPLES if path.is_relative_to(EXAMPLES) else tmp_path)]
    run = tierflow("workflows", "test", *site, str(path))
    assert run.rc == 0, run.out + run.err
    names = [s["name"] for s in YAML(typ="safe", pure=True).load(path.read_text())["scenarios"]]
    passed = [line.split(" (")[0].removeprefix("PASS ") for line in run.out.splitlines()]
    assert [name for name in passed if name in names] == names
    assert f"{len(names)} scenarios in 1 file: {len(names)} passed" in run.out


def test_by_default_every_scenario_file_of_the_site_runs(tierflow: Tierflow) -> None:
    run = tierflow("workflows", "test", "--dir", "workflows/examples", "-k", "rejects")
    assert run.rc == 0, run.out + run.err
    assert run.out.splitlines()[:4] == [
        "workflows/examples/change.scenarios.yaml: change, 1 scenario",
        run.out.splitlines()[1],
        "workflows/examples/project.scenarios.yaml: project, 1 scenario",
        run.out.splitlines()[3],
    ]
    assert run.out.splitlines()[1].startswith("PASS the manager rejects it (")
    assert run.out.splitlines()[3].startswith("PASS the manager rejects the proposal (")
    # the help desk's scenarios of incident are left out: the site's incident.yaml replaces it
    assert "incident.scenarios.yaml" not in run.out.replace("examples/incident.scenarios", "")
    assert "2 scenarios in 8 files: 2 passed" in run.out


def test_a_plugins_scenarios_of_a_workflow_the_site_replaces_say_why_they_cannot_run(
    tierflow: Tierflow,
) -> None:
    # the examples as the site: their incident.yaml replaces the
    # help desk's, so the help desk's incident scenarios would test another workflow
    mine = "plugins/helpdesk/workflows/incident.scenarios.yaml"
    run = tierflow("workflows", "test", "--dir", "workflows/examples", mine)
    assert run.rc == 1
    assert run.out.splitlines()[0].endswith(
        ": the workflow beside this file, 'incident' (plugins/helpdesk/workflows/incident.yaml), "
        "is replaced by the site's own 'incident' (workflows/examples/incident.yaml), which "
        "these scenarios do not test: run them with --dir naming a folder without a workflow "
        "'incident'"
    )
    assert run.out.splitlines()[0].startswith(f"{mine}:")
    assert run.out.splitlines()[1].startswith("0 scenarios in 1 file: 0 passed (")
    assert run.err == (
        "tierflow: error: 1 problem in 1 file: fix them to run the scenarios of those files\n"
    )
