"""Every shipped workflow and forms file validates, and matches the shipped JSON Schema.

Shipped: the site's examples (``workflows/``) and every built-in plugin's workflow folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from engine import workflows as service
from engine.config import load_settings
from engine.db import create_db_engine, make_session_factory
from engine.demo import load_demo_data
from engine.dsl.schema import json_schema, json_schema_text
from engine.migrate import upgrade
from engine.plugins import create_plugin_manager, load_models, migration_branches
from tests.workflows.conftest import EXAMPLE_WORKFLOWS, EXAMPLES, ROOT


def _yaml_files(folder: Path) -> list[Path]:
    # scenario files are not workflows: tests/scenarios runs them
    return sorted(p for p in folder.rglob("*.yaml") if not p.name.endswith(".scenarios.yaml"))


SITE_FILES = _yaml_files(ROOT / "workflows")
PLUGIN_FILES = sorted(p for folder in ROOT.glob("plugins/*/workflows") for p in _yaml_files(folder))
SHIPPED = sorted(SITE_FILES + PLUGIN_FILES)
SCHEMA_FILE = ROOT / "workflows" / "schema.json"


def _workflows(files: list[Path]) -> dict[str, Path]:
    """Name → file of the workflows among ``files`` (forms files have no steps)."""
    loaded = {path: YAML(typ="safe", pure=True).load(path.read_text()) for path in files}
    return {data["name"]: path for path, data in loaded.items() if "steps" in data}


PLUGIN_WORKFLOWS = _workflows(PLUGIN_FILES)


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, service.Checked]:
    """The shipped files checked like ``deploy`` does, with the demo department's teams.

    Twice: with this repository's ``workflows/examples`` as the site's folder (its
    incident.yaml replaces the help desk's, so that one is not checked there), and as
    a site without workflows of its own sees the plugins' (every plugin file checked).
    """
    pm = create_plugin_manager()
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    db = create_db_engine(url)
    try:
        load_models(pm)
        upgrade(db, migration_branches(pm))
        load_demo_data(pm, make_session_factory(db))
    finally:
        db.dispose()
    teams = service.database_teams(load_settings(database_url=url))
    assert teams.slugs is not None, teams.note
    assert "helpdesk-l1" in teams.slugs
    catalog = service.build_catalog(pm, teams.slugs)
    sites = {"site": EXAMPLES, "plugins": tmp_path_factory.mktemp("empty") / "none"}
    found = {key: service.find_sources(pm, folder) for key, folder in sites.items()}
    return {
        key: service.check(sources, list(sources.files), catalog) for key, sources in found.items()
    }


def test_every_shipped_file_is_found(checked: dict[str, service.Checked]) -> None:
    site, plugins = checked["site"], checked["plugins"]
    assert sorted(plugins.files) == PLUGIN_FILES
    assert sorted(item.workflow.name for item in plugins.loaded) == sorted(PLUGIN_WORKFLOWS)

    replaced = [path for name, path in PLUGIN_WORKFLOWS.items() if name in EXAMPLE_WORKFLOWS]
    assert replaced, "the help desk ships an incident workflow, which the examples' replaces"
    assert sorted(site.files) == sorted(set(SHIPPED) - set(replaced))
    names = [item.workflow.name for item in site.loaded]
    assert sorted(names) == sorted({*EXAMPLE_WORKFLOWS, *PLUGIN_WORKFLOWS})  # each once
    paths = {item.workflow.name: item.path for item in site.loaded}
    assert paths["incident"] == EXAMPLES / "incident.yaml"  # the site's wins


@pytest.mark.parametrize("path", SHIPPED, ids=_id)
def test_shipped_file_has_no_problems(path: Path, checked: dict[str, service.Checked]) -> None:
    checks = [each for each in checked.values() if path in each.files]
    assert checks, f"{_id(path)} was not checked"
    problems = [p for each in checks for p in service.problems_in(each.problems, [path])]
    assert [str(p) for p in problems] == []


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=_id)
def test_shipped_file_matches_the_json_schema(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


def test_schema_json_is_in_sync_with_the_models() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema_text(), (
        "workflows/schema.json is stale: run  tierflow workflows schema --output "
        "workflows/schema.json  and commit it"
    )


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(stepz=d.pop("steps")), "'stepz'"),
        (lambda d: d["steps"][0].update(notfiy=d["steps"][0].pop("notify")), "notfiy"),
        (lambda d: d["steps"][1]["task"].update(due=4), "4"),
        (lambda d: d["forms"]["l1_triage"]["fields"][0].update(type="dropdown"), "dropdown"),
        (lambda d: d.update(name="Incident Flow"), "Incident Flow"),
    ],
)
def test_schema_rejects_what_the_language_rejects(
    change, complaint: str, validator: jsonschema.Draft202012Validator
) -> None:
    data = YAML(typ="safe", pure=True).load((ROOT / "workflows/examples/incident.yaml").read_text())
    assert not list(validator.iter_errors(data))
    change(data)
    messages = " ".join(e.message for e in validator.iter_errors(data))
    assert complaint in messages


def test_schema_describes_the_three_kinds_of_file() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    assert schema["title"]
    assert schema["anyOf"] == [
        {"$ref": "#/$defs/Workflow"},
        {"$ref": "#/$defs/FormFile"},
        {"$ref": "#/$defs/FragmentFile"},
    ]
    step_or_use = {"anyOf": [{"$ref": "#/$defs/Step"}, {"$ref": "#/$defs/Use"}]}
    assert schema["$defs"]["Workflow"]["properties"]["steps"]["items"] == step_or_use
    assert schema["$defs"]["Fragment"]["properties"]["steps"]["items"] == step_or_use
    step = schema["$defs"]["Step"]["properties"]
    assert {"task", "action", "decide", "wait", "parallel", "notify", "call", "end"} <= set(step)
    assert "with" in step  # aliases, as admins write them
