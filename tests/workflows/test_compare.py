"""``compare``: what changed between two versions, step by step."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

from engine.dsl.compare import Change, compare
from engine.dsl.spec import Workflow
from tests.workflows.conftest import EXAMPLES


def incident(edit: str = "", new: str = "") -> Workflow:
    text = (EXAMPLES / "incident.yaml").read_text()
    if edit:
        assert edit in text, edit
        text = text.replace(edit, new)
    return Workflow.model_validate(YAML(typ="safe", pure=True).load(text))


def lines(old: Workflow, new: Workflow) -> list[str]:
    return [str(change) for change in compare(old, new)]


def test_the_same_workflow_has_no_changes() -> None:
    assert compare(incident(), incident()) == []


def test_changed_keys_show_old_and_new_values() -> None:
    new = incident('version: "1"', 'version: "2"')
    new = Workflow.model_validate(
        _edit(new, lambda d: d["steps"][9]["task"].update(due="3d", overdue=[]))
    )
    assert lines(incident(), new) == [
        "~ version: '1' → '2'",
        "~ step network_fix: task.due: '2d' → '3d'; task.overdue[0]: "
        '{"after": "1d", "reassign": {"role": "manager"}} → (none)',
    ]


def test_steps_added_removed_and_rerouted() -> None:
    new = incident(
        "  - id: close_unanswered\n",
        "  - id: chase\n    notify: {to: requester, subject: Still there?}\n"
        "  - id: close_unanswered\n",
    )
    new = Workflow.model_validate(
        _edit(
            new,
            lambda d: (
                d["steps"].pop(0),
                d["steps"][0]["next"].insert(0, {"when": "item.priority == 1", "goto": "escalate"}),
            ),
        )
    )
    assert lines(incident(), new) == [
        "~ step triage: next: + 'item.priority == 1 → escalate'",
        "+ step chase (notify)",
        "- step acknowledge (notify)",
    ]


def test_a_changed_step_type_and_moves() -> None:
    new = _edit(incident(), lambda d: _swap(d["steps"], 7, 8))
    new["steps"][4] = {"id": "escalate", "wait": {"duration": "1h"}}
    result = compare(incident(), Workflow.model_validate(new))
    assert result[0].subject == "step escalate"
    assert result[0].details[0] == "type: action → wait"
    moved = {c.subject: c.details for c in result[1:]}
    assert moved["step desktop_fix"] == (
        "moved: now after analyst_fix, was after escalate_overdue",
    )


def test_forms_fields_and_outcomes() -> None:
    def edit(data: dict[str, Any]) -> None:
        triage = data["forms"]["l1_triage"]
        triage["fields"][0]["required"] = False
        triage["fields"].append({"name": "urgency", "type": "number"})
        del triage["fields"][2]
        triage["outcomes"].pop()
        data["forms"]["survey"] = {"fields": [{"name": "happy", "type": "boolean"}]}
        del data["forms"]["fix"]

    assert lines(incident(), Workflow.model_validate(_edit(incident(), edit))) == [
        "~ form l1_triage: ~ field category: required: true → false; + field urgency (number); "
        "- field question; - outcome escalate",
        "+ form survey",
        "- form fix",
    ]


def test_schedule_changes() -> None:
    patching = Workflow.model_validate(
        YAML(typ="safe", pure=True).load((EXAMPLES / "patching.yaml").read_text())
    )

    def edit(data: dict[str, Any]) -> None:
        data["schedule"].update(cron="0 2 * * 6", paused=True)

    assert lines(patching, Workflow.model_validate(_edit(patching, edit))) == [
        "~ schedule: cron: '30 18 * * 6' → '0 2 * * 6'; paused: false → true"
    ]
    unscheduled = _edit(patching, lambda d: d.pop("schedule"))
    assert lines(patching, Workflow.model_validate(unscheduled)) == ["- schedule"]
    assert str(compare(Workflow.model_validate(unscheduled), patching)[0]) == (
        "+ schedule: cron '30 18 * * 6'"
    )


def test_change_prints_as_one_line() -> None:
    assert str(Change("~", "step x", ("a", "b"))) == "~ step x: a; b"
    assert str(Change("+", "form y")) == "+ form y"


def _edit(workflow: Workflow, change: Any) -> dict[str, Any]:
    data = workflow.model_dump(mode="json", by_alias=True, exclude_none=True)
    change(data)
    return data


def _swap(items: list[Any], i: int, j: int) -> None:
    items[i], items[j] = items[j], items[i]
