"""Where workflows come from: the site's folder, plugins' folders and forms; the catalog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio import activity

from engine import workflows as service
from engine.config import load_settings
from engine.errors import PluginError
from engine.hookspecs import hookimpl
from engine.plugins import create_plugin_manager
from tests.workflows.conftest import EXAMPLES


@dataclass(frozen=True)
class PingInput:
    host: str


@activity.defn(name="extra.ping")
def ping(args: PingInput) -> None:
    """An action a plugin contributes."""


class ShipsWorkflows:
    """A plugin with its own workflow folder, forms file and action."""

    def __init__(self, folder: Path, forms: Path) -> None:
        self.folder, self.forms = folder, forms

    @hookimpl
    def tierflow_register_workflow_dirs(self) -> list[Path]:
        return [self.folder]

    @hookimpl
    def tierflow_register_forms(self) -> list[Path]:
        return [self.forms]

    @hookimpl
    def tierflow_register_actions(self) -> list[Callable[..., object]]:
        return [ping]


EXTRA = """\
name: extra
kind: ticket
start: {form: ping_request}
steps:
  - id: ping
    action: extra.ping
    with: {host: "{{ input.host }}"}
"""

PLUGIN_FORMS = """\
forms:
  ping_request:
    fields:
      - {name: host, required: true}
"""


@pytest.fixture
def plugin(tmp_path: Path) -> ShipsWorkflows:
    folder = tmp_path / "plugin" / "workflows"
    folder.mkdir(parents=True)
    (folder / "extra.yaml").write_text(EXTRA)
    (folder / "incident.yaml").write_text(EXTRA.replace("name: extra", "name: incident"))
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "ignored.yaml").write_text("not: a workflow\n")
    (folder / "README.md").write_text("not YAML\n")
    forms = tmp_path / "plugin" / "forms.yml"
    forms.write_text(PLUGIN_FORMS)
    return ShipsWorkflows(folder, forms)


def test_site_and_plugin_files_are_found_and_the_site_wins(
    plugin: ShipsWorkflows, site: Path
) -> None:
    pm = create_plugin_manager(entry_points=False, plugins=[("extra", plugin)])
    sources = service.find_sources(pm, site)
    names = [path.name for path in sources.files]
    assert names == [
        "change.yaml",
        "forms.yaml",
        "incident.yaml",
        "patching.yaml",
        "project.yaml",
        "extra.yaml",
        "incident.yaml",
        "forms.yml",
    ]
    assert sources.site == frozenset(
        path.resolve()
        for path in site.iterdir()
        if not path.name.endswith(".scenarios.yaml")  # beside the workflows, not workflows
    )
    checked = service.check(sources, list(sources.files), service.build_catalog(pm, None))
    assert [str(p) for p in checked.problems] == []
    found = {item.workflow.name: item.path for item in checked.loaded}
    assert sorted(found) == ["change", "extra", "incident", "patching", "project"]
    assert found["incident"] == (site / "incident.yaml").resolve()


def test_a_plugin_folder_that_does_not_exist_names_the_plugin(
    plugin: ShipsWorkflows, tmp_path: Path
) -> None:
    plugin.folder = tmp_path / "gone"
    pm = create_plugin_manager(entry_points=False, plugins=[("extra", plugin)])
    with pytest.raises(PluginError, match=r"plugin 'extra' returned .*gone from "):
        service.find_sources(pm, tmp_path / "no-site-folder")


def test_actions_are_the_core_ones_and_each_plugins(plugin: ShipsWorkflows) -> None:
    bare = create_plugin_manager(entry_points=False)
    assert service.action_names(bare) == {"engine.record_event", "engine.update_work_item"}
    pm = create_plugin_manager(entry_points=False, plugins=[("extra", plugin)])
    assert "extra.ping" in service.build_catalog(pm, frozenset({"ops"})).actions


def test_teams_come_from_the_database_when_there_are_some(
    migrated_database_url: str, session, make_team, tmp_path: Path
) -> None:
    missing = service.database_teams(load_settings(data_dir=tmp_path / "nothing-here"))
    assert missing.slugs is None
    assert "team names were not checked" in missing.note
    assert not (tmp_path / "nothing-here").exists()  # nothing was created

    settings = load_settings(database_url=migrated_database_url)
    empty = service.database_teams(settings)
    assert empty == service.Teams(
        None, "the database has no teams yet; team names were not checked"
    )
    make_team(slug="ops")
    make_team(slug="retired", active=False)
    session.commit()
    assert service.database_teams(settings) == service.Teams(frozenset({"ops"}))


def test_an_unreachable_database_means_teams_are_not_checked() -> None:
    settings = load_settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    teams = service.database_teams(settings)
    assert teams.slugs is None
    assert teams.note.startswith("cannot read teams from postgresql://nobody@127.0.0.1:1/none: ")


def test_examples_folder_is_what_the_tests_copy() -> None:
    examples = [path.name for path in EXAMPLES.iterdir() if ".scenarios." not in path.name]
    assert sorted(examples) == [
        "change.yaml",
        "forms.yaml",
        "incident.yaml",
        "patching.yaml",
        "project.yaml",
    ]
