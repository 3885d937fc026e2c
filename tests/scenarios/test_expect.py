"""Comparing what a run did with what a scenario expects: subsets, order, words."""

from __future__ import annotations

from engine.scenarios import Expect
from engine.scenarios_expect import Call, Observed, first_difference, mismatch, render_expect, show


def _observed(**fields) -> Observed:
    defaults = {
        "ended": True,
        "outcome": "resolved",
        "path": ["triage", "resolved", "done"],
        "vars": {"reopened": 0},
        "events": [{"type": "task_opened", "data": {"step": "triage"}},
                   {"type": "notified", "data": {"to": ["requester"], "subject": "Fixed"}}],
        "calls": [Call("engine.update_work_item", "resolved", {"status": "resolved"})],
    }  # fmt: skip
    return Observed(**(defaults | fields))


def _difference(expect: dict, observed: Observed | None = None) -> str | None:
    found = first_difference(Expect.model_validate(expect), list(expect), observed or _observed())
    return None if found is None else found.message


def test_mappings_are_compared_as_subsets_and_booleans_are_not_numbers() -> None:
    assert mismatch({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}, "d": 3}) is None
    assert mismatch({"a": {"b": 1}}, {"a": {"b": 2}}) == "a.b: expected 1, got 2"
    assert mismatch({"x": 1}, {"y": 1}) == "has no 'x' (it has: y)"
    assert mismatch(True, 1) == "expected true, got 1"
    assert mismatch([1, 2], [1, 2]) is None
    assert mismatch([1], [1, 2]) == "expected [1], got [1, 2]"


def test_values_are_shown_as_yaml_flow() -> None:
    assert show({"status": "closed", "n": 2, "ok": True, "none": None}) == (
        "{status: 'closed', n: 2, ok: true, none: null}"
    )


def test_the_first_expectation_in_the_file_that_fails_is_reported() -> None:
    expect = {"vars": {"reopened": 1}, "outcome": "no_reply"}
    assert _difference(expect) == "vars: 'reopened' expected 1, got 0"
    assert _difference(dict(reversed(expect.items()))) == (
        "outcome: expected 'no_reply', got 'resolved'"
    )
    assert _difference({"outcome": "resolved", "vars": {"reopened": 0}}) is None


def test_path_differences_say_where_the_run_went() -> None:
    assert _difference({"path": ["triage", "done"]}) == (
        "path: step 2: expected 'done', got 'resolved' (it went triage → resolved → done)"
    )
    assert _difference({"path": ["triage", "resolved", "done", "close"]}) == (
        "path: expected 'close' after 'done', but the run ended (it went triage → resolved → done)"
    )
    assert _difference({"path": ["triage"]}) == (
        "path: expected it to stop after 'triage', but it went on to 'resolved' "
        "(it went triage → resolved → done)"
    )


def test_a_run_that_has_not_ended_or_failed_says_so() -> None:
    waiting = _observed(ended=False, outcome=None, vars=None, waiting="it waits at confirm")
    assert _difference({"outcome": "resolved"}, waiting) == (
        "outcome: expected 'resolved', but the run has not ended: it waits at confirm"
    )
    assert _difference({"vars": {}}, waiting) == (
        "vars: the run has not ended, so its variables are not known: it waits at confirm"
    )
    failed = _observed(failure="step 'route': no branch holds")
    assert _difference({"path": []}, failed) == "the run failed: step 'route': no branch holds"


def test_events_in_order_or_included() -> None:
    assert _difference({"events": ["task_opened", "notified"]}) is None
    assert _difference({"events_include": [{"type": "notified", "data": {"subject": "Done"}}]}) == (
        "events_include: no 'notified' with {subject: 'Done'}; the first 'notified' there "
        "subject: expected 'Done', got 'Fixed' (events: task_opened, notified)"
    )
    assert _difference({"events_include": ["notified", "task_opened"]}) == (
        "events_include: no 'task_opened' after 'notified' (events: task_opened, notified)"
    )


def test_actions_are_counted_per_name() -> None:
    assert _difference({"actions": {"engine.update_work_item": [{"status": "resolved"}]}}) is None
    assert _difference({"actions": {"engine.record_event": []}}) is None
    assert _difference({"actions": {"engine.update_work_item": []}}) == (
        "actions: expected 0 calls of engine.update_work_item, got 1: {status: 'resolved'}"
    )


def test_show_renders_an_expect_block() -> None:
    assert render_expect(_observed(), indent="") == [
        "expect:",
        "  outcome: resolved",
        "  path: [triage, resolved, done]",
        "  events: [task_opened, notified]",
        "  vars: {reopened: 0}",
        "  actions:",
        "    engine.update_work_item:",
        "      - {status: resolved}",
    ]
