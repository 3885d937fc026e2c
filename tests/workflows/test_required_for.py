"""``required_for``: a field that some outcomes (buttons) need and others do not.

Checked at load time against the form's outcomes; enforced where a task is
completed: the run's update validator (on the time-skipping server), the
task page (422 per field, input kept), the JSON API (422 with the field's
error); shown on the page beside the field's label. The help desk's triage
and fix forms need a team to escalate and a question to ask the requester.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from temporalio.client import WorkflowUpdateFailedError

from engine.dsl.catalog import Catalog
from engine.dsl.forms import Form, validate_submission
from engine.dsl.pinning import pinned_hash
from engine.dsl.problems import display_path
from engine.dsl.validate import load_form_file, load_workflow_text, validate_files
from engine.model import Membership, Task, WorkflowDefinition
from engine.model.auth import issue_token
from engine.runtime.messages import (
    COMPLETE_TASK,
    RUN_WORKFLOW,
    OpenTask,
    RunInput,
    TaskCompletion,
    TaskDone,
)
from engine.web.forms import widgets
from tests.interpreter.conftest import Harness, harness, time_skipping  # noqa: F401 (fixtures)
from tests.web.conftest import app, client, make_app, sign_in  # noqa: F401 (fixtures)
from tests.web.test_api import bearer
from tests.workflows.conftest import ROOT

FLOW = """\
name: handover
kind: ticket
forms:
  triage:
    fields:
      - {name: note, required: true}
      - name: escalate_to
        type: team
        label: Escalate to
        required_for: [escalate]
    outcomes:
      - {value: resolved, label: Resolved}
      - {value: escalate, label: Escalate further}
steps:
  - id: triage
    task: {team: helpdesk-l1, form: triage, title: "Triage {{ item.title }}"}
    next:
      - {when: "outcome == 'escalate'", goto: escalated}
      - {otherwise: done}
  - id: escalated
    end: escalated
  - id: done
    end: resolved
"""
CATALOG = Catalog(teams=frozenset({"helpdesk-l1", "desktop-support"}))


def triage_form() -> Form:
    workflow, problems = load_workflow_text(FLOW, "handover.yaml", CATALOG)
    assert problems == []
    assert workflow is not None
    return workflow.forms["triage"]


# --------------------------------------------------------------- loading ---


def test_required_for_names_outcomes_of_the_form() -> None:
    text = FLOW.replace("required_for: [escalate]", "required_for: [escalat, resolved, resolved]")
    _, problems = load_workflow_text(text, "handover.yaml", CATALOG)
    where = "'required_for' of field 'escalate_to' of form 'triage'"
    assert [str(problem) for problem in problems] == [
        f"handover.yaml:10:24: {where}: 'escalat' is not an outcome of the form (did you mean "
        "'escalate'?); its outcomes: resolved, escalate",
        f"handover.yaml:10:43: {where} names 'resolved' twice",
    ]


def test_required_for_needs_outcomes_and_is_not_required_too() -> None:
    text = FLOW.replace("        required_for: [escalate]\n", "        required_for: [x]\n")
    text = text.replace("    outcomes:\n      - {value: resolved, label: Resolved}\n", "")
    text = text.replace("      - {value: escalate, label: Escalate further}\n", "")
    text = text.replace("- {name: note, required: true}", "- {name: note, required: true, "
                        "required_for: [x]}")  # fmt: skip
    _, problems = load_workflow_text(text, "handover.yaml", CATALOG)
    messages = [str(problem) for problem in problems]
    assert (
        "handover.yaml:6:9: field 'note' of form 'triage': 'required: true' needs the field for "
        "every outcome already: drop 'required' to need it only for those in 'required_for'"
    ) in messages


def test_a_forms_file_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "forms.yaml").write_text(
        "forms:\n  ask:\n    fields:\n      - {name: q, required_for: [ask]}\n"
    )
    _, problems = validate_files([tmp_path], CATALOG)
    assert [str(problem) for problem in problems] == [
        f"{display_path(tmp_path / 'forms.yaml')}:4:34: 'required_for' of field 'q' of form "
        "'ask' names outcome 'ask', but the form has no outcomes (only a task form's buttons "
        "can need a field)"
    ]


# ------------------------------------------------------------- checking ---


def test_the_field_is_required_for_its_outcomes_only() -> None:
    form = triage_form()
    _, errors = validate_submission(form, {"note": "x"}, "escalate")
    assert errors == [
        {"field": "escalate_to", "message": "this field is required to escalate further"}
    ]
    assert validate_submission(form, {"note": "x"}, "resolved")[1] == []
    clean, errors = validate_submission(form, {"note": "x", "escalate_to": "l2"}, "escalate")
    assert errors == []
    assert clean == {"note": "x", "escalate_to": "l2"}


def test_the_rendered_field_says_which_button_needs_it() -> None:
    form = triage_form()
    note, team = widgets(form)
    assert (note.required, note.required_for) == (True, "")
    assert (team.required, team.required_for) == (False, "required to escalate further")


# ------------------------------------------------------------ on a run ---


async def started(running: Harness) -> tuple[object, OpenTask]:
    name, digest = running.deploy(FLOW)
    handle = await running.client.start_workflow(
        RUN_WORKFLOW,
        RunInput(definition=name, content_hash=digest, work_item_id=running.work_item()),
        id=f"run-{uuid.uuid4()}",
        task_queue=running.queue,
        result_type=dict,
    )
    for _ in range(200):
        tasks = await handle.query("open_tasks", result_type=list[OpenTask])
        if tasks:
            return handle, tasks[0]
    raise AssertionError("no open task")


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(60)
async def test_the_run_refuses_an_escalation_without_a_team(harness) -> None:  # noqa: F811
    handle, task = await started(harness)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            COMPLETE_TASK,
            TaskCompletion(task.task_id, "escalate", {"note": "x"}),
            result_type=TaskDone,
        )
    assert "escalate_to: this field is required to escalate further" in str(refused.value.cause)
    with harness.sessions() as session:
        assert session.get(Task, task.task_id).status == "open"  # nothing recorded
    await handle.execute_update(
        COMPLETE_TASK,
        TaskCompletion(task.task_id, "escalate", {"note": "x", "escalate_to": "desktop-support"}),
        result_type=TaskDone,
    )
    assert (await handle.result())["outcome"] == "escalated"


# --------------------------------------------------- the page and the API ---


@pytest.fixture
def task_id(session: Session, make_person, make_team, make_work_item) -> tuple[int, object]:
    """An open triage task of the help desk, and Ann, an agent there."""
    ann = make_person(name="Ann Agent", roles={"agent"})
    team = make_team(name="Help desk")
    session.add(Membership(team_id=team.id, person_id=ann.id))
    definition = WorkflowDefinition(
        name="handover", version="1", content_hash=pinned_hash(FLOW), source=FLOW,
        shared_forms="", kind="ticket", active=True,
    )  # fmt: skip
    session.add(definition)
    session.flush()
    item = make_work_item(reference="INC-0042", title="Printer", definition_id=definition.id)
    task = Task(
        work_item_id=item.id, workflow_id="handover/INC-0042", step_id="triage",
        title="Triage printer", team_id=team.id, assignee_id=ann.id, form="triage",
    )  # fmt: skip
    session.add(task)
    session.commit()
    return task.id, ann


def test_the_task_page_shows_and_enforces_it(
    client: TestClient,  # noqa: F811 (the fixture imported above)
    task_id: tuple[int, object],
) -> None:
    number, ann = task_id
    token = sign_in(client, ann)
    page = client.get(f"/tasks/{number}")
    assert page.status_code == 200
    assert '<span class="required">(required to escalate further)</span>' in page.text
    reply = client.post(
        f"/tasks/{number}",
        data={"csrf_token": token, "note": "typed & kept", "outcome": "escalate"},
    )
    assert reply.status_code == 422
    assert "this field is required to escalate further" in reply.text
    assert 'id="field-escalate_to-error"' in reply.text
    assert "typed &amp; kept" in reply.text
    assert 'aria-invalid="true"' in reply.text


def test_the_api_answers_422_naming_the_field(
    client: TestClient,  # noqa: F811 (the fixture imported above)
    task_id: tuple[int, object],
    session: Session,
) -> None:
    number, ann = task_id
    headers = bearer(issue_token(session, ann.id, "test"))
    session.commit()
    reply = client.post(
        f"/api/tasks/{number}/complete",
        json={"outcome": "escalate", "data": {"note": "x"}},
        headers=headers,
    )
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert {"field": "escalate_to", "message": "this field is required to escalate further"} in (
        body["errors"]
    )
    # resolving needs no team: the check passes, and the call reaches Temporal (not running)
    resolved = client.post(
        f"/api/tasks/{number}/complete",
        json={"outcome": "resolved", "data": {"note": "x"}},
        headers=headers,
    )
    assert resolved.status_code == 503


# ------------------------------------------------------------ help desk ---


def test_the_help_desk_forms_need_a_team_to_escalate_and_a_question_to_ask() -> None:
    shipped, problems = load_form_file(ROOT / "plugins/helpdesk/workflows/helpdesk_forms.yaml")
    assert problems == []
    assert shipped is not None
    forms = shipped.forms
    triage = forms["helpdesk_triage"]
    data = {"category": "hardware", "diagnosis": "Looked."}
    assert validate_submission(triage, data, "escalate")[1] == [
        {"field": "escalate_to", "message": "this field is required to escalate"}
    ]
    assert validate_submission(triage, data, "need_info")[1] == [
        {"field": "question", "message": "this field is required to ask the requester"}
    ]
    assert validate_submission(triage, data, "resolved")[1] == []
    for name in ("helpdesk_fix", "helpdesk_desktop_fix"):
        form = forms[name]
        fixed = {"resolution": "Done.", "mode": "remote"} if "desktop" in name else {}
        fixed = fixed or {"resolution": "Done."}
        assert validate_submission(form, fixed, "escalate")[1] == [
            {"field": "escalate_to", "message": "this field is required to escalate further"}
        ]
        assert validate_submission(form, fixed, "fixed")[1] == []
