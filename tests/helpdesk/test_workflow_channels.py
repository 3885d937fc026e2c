"""The help desk's agent-only intake fields: shown and taken only for calls (``channels: [phone]``).

The incident and service request forms ask "Resolved during the call" and
"What fixed it" of the agent logging a call; a requester in the portal or a
program through the API neither sees them nor may send them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from engine.contrib import RequestType
from engine.dsl.forms import Form
from engine.dsl.problems import display_path
from engine.dsl.spec import Workflow
from engine.dsl.validate import validate_files
from engine.intake import Intake, IntakeInvalid, Submission, check_submission
from engine.model import WorkflowDefinition
from tests.dsl.support import CATALOG

WORKFLOWS = Path(__file__).parents[2] / "plugins" / "helpdesk" / "workflows"
REQUEST = {"summary": "Locked out", "details": "Since this morning."}
ON_CALL = {"resolved_on_call": True, "resolution": "Reset the password."}


def intake_of(name: str) -> Intake:
    """The shipped workflow's start and intake form, with one step (the rest needs fragments)."""
    shipped = YAML(typ="safe", pure=True).load((WORKFLOWS / f"{name}.yaml").read_text("utf-8"))
    form = shipped["start"]["form"]
    data = {
        "name": name, "kind": "ticket", "start": shipped["start"],
        "forms": {form: shipped["forms"][form]}, "steps": [{"id": "done", "end": "ok"}],
    }  # fmt: skip
    workflow = Workflow.model_validate(data)
    definition = WorkflowDefinition(name=name, version=1, content_hash="x", source="")
    return Intake(RequestType(name=name, title=name, workflow=name), definition, workflow)


@pytest.mark.parametrize("name", ["incident", "service_request"])
def test_the_portal_does_not_show_the_call_fields(name: str) -> None:
    form = intake_of(name).form
    assert form is not None
    shown = [field.name for field in form.for_channel("portal").fields]
    assert "resolved_on_call" not in shown
    assert "resolution" not in shown
    assert {"resolved_on_call", "resolution"} <= {f.name for f in form.for_channel("phone").fields}
    assert form.for_channel("phone") is form  # a call shows the whole form


@pytest.mark.parametrize("channel", ["portal", "api", "email"])
def test_a_requester_cannot_say_it_was_resolved_on_the_call(channel: str) -> None:
    intake = intake_of("incident")
    submission = Submission("incident", {**REQUEST, **ON_CALL}, channel=channel)
    assert channel in intake.channels  # incident takes requests by each of them
    with pytest.raises(IntakeInvalid) as caught:
        check_submission(intake, submission)
    assert caught.value.errors == [
        {"field": "resolved_on_call", "message": f"is only taken by phone, not {channel}"},
        {"field": "resolution", "message": f"is only taken by phone, not {channel}"},
    ]


def test_without_them_the_fields_keep_their_defaults_and_a_call_takes_them() -> None:
    intake = intake_of("incident")
    portal = check_submission(intake, Submission("incident", dict(REQUEST), channel="api"))
    assert portal["resolved_on_call"] is False
    assert portal["resolution"] is None
    call = check_submission(intake, Submission("incident", {**REQUEST, **ON_CALL}, channel="phone"))
    assert call["resolved_on_call"] is True
    assert call["resolution"] == "Reset the password."


def test_an_unknown_channel_is_refused_where_the_form_is_written() -> None:
    with pytest.raises(ValidationError) as caught:
        Form.model_validate(
            {"title": "T", "fields": [{"name": "x", "type": "text", "channels": ["fax"]}]}
        )
    assert "channels" in str(caught.value)
    assert "fax" in str(caught.value)


def test_channels_are_checked_against_the_start_where_they_are_written(tmp_path: Path) -> None:
    (tmp_path / "intake.yaml").write_text(
        """\
name: intake
kind: ticket
start: {form: ask, channels: [portal]}
forms:
  ask:
    fields:
      - {name: summary}
      - {name: on_call, type: boolean, channels: [phone]}
  later:
    fields:
      - {name: note, channels: [api]}
steps:
  - id: done
    end: ok
"""
    )
    _, problems = validate_files([tmp_path], CATALOG)
    file = display_path(tmp_path / "intake.yaml")
    assert [str(problem) for problem in problems] == [
        f"{file}:8:51: 'channels' of field 'on_call' of form 'ask': the workflow does not "
        "start by phone; its start takes api, portal",
        f"{file}:11:33: 'channels' of field 'note' of form 'later': channels apply only to "
        "the workflow's start form",
    ]
