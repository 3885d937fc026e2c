"""Every shipped workflow and forms file validates, and matches the shipped JSON Schema."""

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
from tests.workflows.conftest import ROOT

SHIPPED = sorted(
    path
    for path in (ROOT / "workflows").rglob("*.yaml")
    if not path.name.endswith(".scenarios.yaml")  # scenario files: tests/scenarios
)
SCHEMA_FILE = ROOT / "workflows" / "schema.json"


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> service.Checked:
    """The shipped files checked like ``deploy`` does, with the demo department's teams."""
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
    sources = service.find_sources(pm, ROOT / "workflows")
    catalog = service.build_catalog(pm, teams.slugs)
    return service.check(sources, list(sources.files), catalog)


def test_every_shipped_file_is_found(checked: service.Checked) -> None:
    assert sorted(checked.files) == SHIPPED
    names = sorted(item.workflow.name for item in checked.loaded)
    assert names == ["change", "incident", "patching", "project"]


@pytest.mark.parametrize("path", SHIPPED, ids=_id)
def test_shipped_file_has_no_problems(path: Path, checked: service.Checked) -> None:
    problems = service.problems_in(checked.problems, [path])
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


def test_schema_describes_both_kinds_of_file() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    assert schema["title"]
    assert schema["anyOf"] == [{"$ref": "#/$defs/Workflow"}, {"$ref": "#/$defs/FormFile"}]
    step = schema["$defs"]["Step"]["properties"]
    assert {"task", "action", "decide", "wait", "parallel", "notify", "call", "end"} <= set(step)
    assert "with" in step  # aliases, as admins write them
