"""Deploying: immutable versions, no-op redeploys, and list / show / diff over them.

Runs on SQLite and PostgreSQL (``db_engine``), through the real command line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine import workflows as service
from engine.dsl.pinning import pinned_hash
from engine.dsl.problems import display_path
from engine.model import WorkflowDefinition
from engine.plugins import create_plugin_manager
from tests.conftest import ROOT, Tierflow
from tests.workflows.conftest import EXAMPLE_WORKFLOWS, beside_examples, plugin_workflows

pytestmark = pytest.mark.usefixtures("db_engine")

DEPLOYED = sorted([*EXAMPLE_WORKFLOWS, *beside_examples()])
"""What deploying the examples' site deploys: its workflows and the plugins' it does not replace
(the help desk ships an incident workflow too: the site's wins)."""
WIDTH = max(map(len, DEPLOYED))
"""Deploy lines pad workflow names to the longest."""


@pytest.fixture
def workflows(tierflow: Tierflow, site: Path, migrated_database_url: str):
    """``workflows("deploy", ...)``: a workflows command on ``site`` and the test database."""

    def run(command: str, *args: str):
        return tierflow(
            "workflows", command, *args, "--dir", str(site), database_url=(migrated_database_url)
        )

    return run


def rows(db: Engine) -> list[WorkflowDefinition]:
    with Session(db) as session:
        return list(session.scalars(select(WorkflowDefinition).order_by(WorkflowDefinition.id)))


def test_deploy_creates_versions_once_and_keeps_old_ones(
    workflows, site: Path, db_engine: Engine
) -> None:
    incident = site / "incident.yaml"
    original = incident.read_text()

    first = workflows("deploy", "--by", "admin@example.org")
    assert first.rc == 0, first.out + first.err
    stored = rows(db_engine)
    mine = next(row for row in stored if row.name == "incident")
    # incident names shared forms of forms.yaml: they are frozen with it, and in its hash
    assert set(json.loads(mine.shared_forms)) == {"incident_intake"}
    old = pinned_hash(original, mine.shared_forms)
    assert f"created     {'incident':<{WIDTH}}  1 ({old[:8]})  {incident}\n" in first.out
    assert [line.split()[:2] for line in first.out.splitlines()[:-1]] == [
        ["created", name] for name in DEPLOYED
    ]
    assert first.out.splitlines()[-1] == f"{len(DEPLOYED)} created."
    assert sorted(row.name for row in stored) == DEPLOYED  # one incident: the site's
    assert all(row.active and row.deployed_by == "admin@example.org" for row in stored)
    assert (mine.source, mine.content_hash, mine.kind, mine.path) == (
        original,
        old,
        "ticket",
        str(incident),
    )

    again = workflows("deploy", "--by", "someone@example.org")
    assert again.out.splitlines()[-1] == f"{len(DEPLOYED)} unchanged."
    assert [(r.id, r.deployed_at, r.deployed_by) for r in rows(db_engine)] == [
        (r.id, r.deployed_at, r.deployed_by) for r in stored
    ]

    incident.write_text(
        original.replace('version: "1"', 'version: "2"').replace("due: 2d", "due: 3d")
    )
    new = pinned_hash(incident.read_text(), mine.shared_forms)
    edited = workflows("deploy", "--by", "other@example.org")
    assert edited.rc == 0
    assert (
        f"created     {'incident':<{WIDTH}}  2 ({new[:8]}) (was {old[:8]})  {incident}\n"
        in edited.out
    )
    assert edited.out.splitlines()[-1] == f"1 created, {len(DEPLOYED) - 1} unchanged."
    versions = [row for row in rows(db_engine) if row.name == "incident"]
    assert [(v.content_hash, v.active, v.deployed_by) for v in versions] == [
        (old, False, "admin@example.org"),
        (new, True, "other@example.org"),
    ]
    assert versions[0].source == original  # the old version is kept exactly as it was

    listed = workflows("list")
    assert listed.out.splitlines()[0].split() == ["NAME", "KIND", "VERSIONS", "DEPLOYED"]
    line = next(line for line in listed.out.splitlines() if line.startswith("incident"))
    assert line.split()[:5] == ["incident", "ticket", "2", "2", f"({new[:8]})"]
    assert line.endswith("UTC by other@example.org")

    diff = workflows("diff", "incident")
    assert diff.rc == 0, diff.err
    assert diff.out.splitlines()[0].startswith(f"incident: 1 ({old[:8]}, ")
    assert diff.out.splitlines()[1:] == [
        "  ~ version: '1' → '2'",
        "  ~ step network_fix: task.due: '2d' → '3d'",
        "2 changes.",
    ]
    assert workflows("diff", "incident", new[:6], "file").out.endswith("No changes.\n")

    shown = workflows("show", "incident", "--version", old[:7])
    assert shown.rc == 0, shown.err
    header = shown.out.splitlines()[1]
    assert header.startswith(f"  kind ticket · version 1 · deployed version 1 · sha256 {old[:8]}")
    assert header.endswith("by admin@example.org · not active")
    assert "        due: 2d\n" in shown.out
    assert "```mermaid\nflowchart TD\n" in shown.out

    incident.write_text(original)  # an edit undone: the earlier version comes back
    back = workflows("deploy", "--by", "admin@example.org")
    assert f"reactivated {'incident':<{WIDTH}}  1 ({old[:8]}) (was {new[:8]})" in back.out
    assert len(rows(db_engine)) == len(DEPLOYED) + 1
    assert [v.active for v in rows(db_engine) if v.name == "incident"] == [True, False]


def test_deploy_refuses_everything_when_a_file_has_problems(
    workflows, site: Path, db_engine: Engine
) -> None:
    (site / "broken.yaml").write_text("name: broken\nkind: ticket\nsteps: nothing\n")
    run = workflows("deploy")
    assert run.rc == 1
    assert run.out.startswith(f"{site / 'broken.yaml'}:")
    assert re.search(
        r"^tierflow: error: nothing deployed: fix the \d+ problems? above", run.err, re.M
    )
    assert rows(db_engine) == []


def test_list_and_diff_before_anything_is_deployed(workflows) -> None:
    assert workflows("list").out == (
        "No workflows are deployed yet: run 'tierflow workflows deploy'.\n"
    )
    assert workflows("deploy").rc == 0
    one = workflows("diff", "patching")
    assert one.rc == 1
    assert "has 1 deployed version: compare it with its file: tierflow workflows diff" in one.err
    unknown = workflows("show", "patching", "--version", "ffff")
    assert unknown.rc == 1
    assert "workflow 'patching' has no version 'ffff'; its versions are " in unknown.err


def test_a_kind_too_long_for_the_database_is_refused_by_name(
    workflows, site: Path, db_engine: Engine
) -> None:
    incident = site / "incident.yaml"
    kind = "a_very_long_kind_of_work_item_indeed_yes"
    incident.write_text(incident.read_text().replace("kind: ticket", f"kind: {kind}"))
    run = workflows("deploy")
    assert run.rc == 1
    assert run.err.endswith(
        f"tierflow: error: {incident}: kind '{kind}' is longer than 32 characters: "
        "use a shorter kind\n"
    )
    assert rows(db_engine) == []


def test_editing_a_shared_form_makes_new_versions_of_its_users(
    workflows, site: Path, db_engine: Engine
) -> None:
    assert workflows("deploy").rc == 0
    forms = site / "forms.yaml"
    forms.write_text(forms.read_text().replace("incident_intake:", "incident_intake:", 1))
    assert workflows("deploy").out.splitlines()[-1] == f"{len(DEPLOYED)} unchanged."
    text = forms.read_text()
    assert "title: " in text
    forms.write_text(text.replace("title: ", "title: Edited ", 1))
    redeployed = workflows("deploy")
    assert redeployed.rc == 0, redeployed.err
    created = [
        line.split()[1] for line in redeployed.out.splitlines() if line.startswith("created")
    ]
    users = {row.name for row in rows(db_engine) if "incident_intake" in row.shared_forms}
    assert set(created) == users
    assert "incident" in users
    old, new = [row for row in rows(db_engine) if row.name == "incident"]
    assert old.source == new.source  # the file did not change, its shared form did
    assert "Edited" not in old.shared_forms
    assert "Edited" in new.shared_forms


# ------------------------------------------- a site replacing a plugin's ---


def test_deploy_warns_when_a_site_workflow_replaces_a_plugins(workflows, site: Path) -> None:
    """Replacing the help desk's incident is allowed, but never silent."""
    helpdesk = plugin_workflows()["incident"]
    run = workflows("deploy", "--by", "admin@example.org")
    assert run.rc == 0, run.out + run.err
    assert (
        f"warning: site workflow incident ({site / 'incident.yaml'}) replaces the helpdesk "
        f"plugin's ({display_path(helpdesk)})\n"
    ) in run.err
    assert run.err.count("warning:") == 1  # change, patching, project replace nothing


def test_the_examples_folder_of_the_site_is_not_read(
    tierflow: Tierflow, migrated_database_url: str, db_engine: Engine
) -> None:
    """``tierflow serve`` in the source checkout: ``workflows/examples`` is not the site's, so
    the help desk's incident is deployed, not the example's."""
    assert service.find_sources(create_plugin_manager(), ROOT / "workflows").site == frozenset()
    run = tierflow("workflows", "deploy", "--by", "dev", database_url=migrated_database_url)
    assert run.rc == 0, run.out + run.err
    assert "warning:" not in run.err
    incident = next(row for row in rows(db_engine) if row.name == "incident")
    assert incident.path == display_path(plugin_workflows()["incident"])
    assert "examples" not in run.out


def test_deploy_all_says_what_it_replaced(session: Session, site: Path) -> None:
    done = service.deploy_all(session, create_plugin_manager(), by="test", workflows_dir=site)
    assert done.problems == []
    assert [w.split(" (")[0] for w in done.warnings] == ["site workflow incident"]
    session.rollback()
