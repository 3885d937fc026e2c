"""What ``tierflow workflows test`` prints and exits with, when scenarios pass and when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import Context, cli
from engine.plugins import create_plugin_manager
from engine.scenarios_plan import scenario_paths
from tests.conftest import Tierflow
from tests.scenarios.conftest import Site, no_site

pytestmark = pytest.mark.timeout(120)

PASSING = """\
    people:
      - {email: pat@example.org, teams: [probe-team]}
    scenarios:
      - name: approved after a second review
        input: {summary: ACME, size: 3}
        stubs: {crm.lookup: {id: 42, tier: gold}}
        do:
          - {complete: review, as: pat@example.org, outcome: redo}
          - {complete: review, as: pat@example.org, outcome: ok, data: {note: fine}}
          - {signal: customer_replied, after: 2h, payload: {text: thanks}}
        expect:
          outcome: approved
          path: [lookup, review, review, reply, done]
          tasks:
            - {step: review, status: completed, outcome: redo, completed_by: pat@example.org}
            - {step: review, status: completed, outcome: ok, data: {note: fine}}
          events: [task_opened, task_completed, task_opened, task_completed]
          vars: {customer: {tier: gold}}
          actions:
            crm.lookup: [{who: ACME, size: 3}]
"""


def test_a_passing_scenario_prints_pass_with_its_time(
    tierflow: Tierflow, probe: Site, tmp_path: Path
) -> None:
    run = tierflow("workflows", "test", str(probe.scenarios(PASSING)), *no_site(tmp_path))
    assert run.rc == 0, run.out + run.err
    lines = run.out.splitlines()
    assert lines[0].endswith("scenario_probe.scenarios.yaml: scenario_probe, 1 scenario")
    assert lines[1].startswith("PASS approved after a second review (")
    assert lines[1].endswith(" s)")
    assert lines[2].startswith("1 scenario in 1 file: 1 passed (")
    assert run.err == ""


def test_a_wrong_expectation_prints_the_first_difference_and_exits_1(
    tierflow: Tierflow, probe: Site, tmp_path: Path
) -> None:
    path = probe.scenarios(
        PASSING.replace("outcome: approved", "outcome: late").replace(
            "{step: review, status: completed, outcome: redo",
            "{step: review, status: cancelled, outcome: redo",
        )
    )
    run = tierflow("workflows", "test", str(path), *no_site(tmp_path))
    assert run.rc == 1
    lines = run.out.splitlines()
    assert lines[1] == (
        "FAIL approved after a second review: outcome: expected 'late', got 'approved'"
    )
    assert lines[2].startswith(f"     at {path}:12:16 (")  # the expected outcome, in the file
    assert lines[3].startswith("1 scenario in 1 file: 0 passed, 1 failed (")
    assert run.err == "tierflow: error: 1 of 1 scenario failed\n"


def test_differences_name_the_item_that_differs(
    tierflow: Tierflow, probe: Site, tmp_path: Path
) -> None:
    wrong = {
        "path: [lookup, review, review, reply, done]": (
            "path: [lookup, review, reply, done]",
            "path: step 3: expected 'reply', got 'review' "
            "(it went lookup → review → review → reply → done)",
        ),
        "status: completed, outcome: redo": (
            "status: cancelled, outcome: redo",
            "tasks: task 1 ('review'): expected status 'cancelled', got 'completed'",
        ),
        "data: {note: fine}}\n          events": (
            "data: {note: good}}\n          events",
            "tasks: task 2 ('review'): data note: expected 'good', got 'fine'",
        ),
        "events: [task_opened, task_completed, task_opened, task_completed]": (
            "events: [task_opened, task_completed, task_completed]",
            "events: event 3: expected 'task_completed', got 'task_opened' "
            "(events: task_opened, task_completed, task_opened, task_completed)",
        ),
        "vars: {customer: {tier: gold}}": (
            "vars: {customer: {tier: silver}}",
            "vars: 'customer' tier: expected 'silver', got 'gold'",
        ),
        "crm.lookup: [{who: ACME, size: 3}]": (
            "crm.lookup: [{who: ACME, size: 3}, {who: ACME}]",
            "actions: expected 2 calls of crm.lookup, got 1: {size: 3, who: 'ACME'}",
        ),
    }
    for right, (changed, message) in wrong.items():
        assert right in PASSING
        path = probe.scenarios(PASSING.replace(right, changed))
        run = tierflow("workflows", "test", str(path), *no_site(tmp_path))
        assert run.rc == 1
        assert run.out.splitlines()[1] == f"FAIL approved after a second review: {message}"


def test_a_task_that_never_opens_says_what_is_open_instead(
    tierflow: Tierflow, probe: Site, tmp_path: Path
) -> None:
    path = probe.scenarios("""\
        scenarios:
          - name: review twice
            input: {summary: ACME}
            stubs: {crm.lookup: null}
            do:
              - {complete: review, outcome: ok}
              - {complete: review, outcome: ok}
          - name: review too late
            input: {summary: ACME}
            stubs: {crm.lookup: null}
            do:
              - {complete: review, after: 3h, outcome: ok}
        """)
    run = tierflow("workflows", "test", str(path), *no_site(tmp_path))
    assert run.rc == 1
    lines = run.out.splitlines()
    assert lines[1] == (
        "FAIL review twice: complete: review: task 'review' is not open and the run can go "
        "no further: it waits at reply; no task is open; next timer in 1d "
        "(to let time pass first, give the step 'after: <duration>')"
    )
    assert lines[2].startswith(f"     at {path}:7:9 (")  # the second 'complete'
    assert lines[3] == (
        "FAIL review too late: complete: review: task 'review' is not open: the run has "
        "ended with the outcome 'late' (it went lookup → review → late)"
    )
    assert run.err == "tierflow: error: 2 of 2 scenarios failed\n"


def test_a_failing_run_and_a_missing_stub_are_reported(
    tierflow: Tierflow, probe: Site, tmp_path: Path
) -> None:
    path = probe.scenarios("""\
        scenarios:
          - name: no stub
            input: {summary: ACME}
            expect: {outcome: approved}
          - name: stubbed elsewhere
            input: {summary: ACME}
            stubs: {crm.lookup: 1}
        """)
    run = tierflow("workflows", "test", str(path), *no_site(tmp_path))
    assert run.rc == 1
    assert run.out.splitlines()[1] == (
        "FAIL no stub: the run failed: activity crm.lookup: action 'crm.lookup' is not "
        "installed here and this scenario has no stub for it: add 'stubs: {crm.lookup: <result>}'"
    )
    assert run.out.splitlines()[3].startswith("PASS stubbed elsewhere (")
    assert "Traceback" not in run.out + run.err


def test_refusals_can_be_expected(tierflow: Tierflow, probe: Site, tmp_path: Path) -> None:
    path = probe.scenarios("""\
        people:
          - {email: pat@example.org, teams: [probe-team]}
          - {email: outsider@example.org}
        scenarios:
          - name: only the team may review
            input: {summary: ACME}
            stubs: {crm.lookup: 1}
            do:
              - {complete: review, as: outsider@example.org, outcome: ok, refused: may not}
              - {complete: review, as: pat@example.org, outcome: ok}
            expect:
              tasks: [{step: review, completed_by: pat@example.org}]
          - name: a refusal that does not come
            input: {summary: ACME}
            stubs: {crm.lookup: 1}
            do:
              - {complete: review, as: pat@example.org, outcome: ok, refused: may not}
        """)
    run = tierflow("workflows", "test", str(path), *no_site(tmp_path))
    lines = run.out.splitlines()
    assert lines[1].startswith("PASS only the team may review ("), run.out
    assert lines[2] == (
        "FAIL a refusal that does not come: complete: review: expected the completion to be "
        "refused ('may not'), but it was accepted"
    )


def test_a_bad_scenario_file_gets_positioned_problems_and_does_not_run(
    tierflow: Tierflow, probe: Site, tmp_path: Path
) -> None:
    path = probe.scenarios("""\
        scenarios:
          - name: typos
            input: {size: 0}
            stubs: {crm.lookpu: 1, crm.lookup: 1}
            do:
              - {complete: reveiw, outcome: ok}
              - {complete: review, outcome: maybe, data: {nte: x}}
              - {signal: customer_replyed}
              - {wait: 4}
              - {complete: review, outcom: ok}
            expect:
              outcome: aproved
              path: [lookup, revew]
          - name: typos
        """)
    run = tierflow("workflows", "test", str(path), *no_site(tmp_path))
    assert run.rc == 1
    file = str(path)
    problems = [line for line in run.out.splitlines() if line.startswith(file)]
    assert problems == [
        f"{file}:9:16: 'wait': a duration needs a unit: '4' could be 4m or 4h; "
        "write a duration such as 30s, 15m, 4h, 2d, 1w or 1h30m",
        f"{file}:10:28: unknown key 'outcom' in item 5 of 'do' (did you mean 'outcome'?)",
    ]
    # once the format is right, the names are checked against the workflow
    fixed = path.read_text().replace("{wait: 4}", "{wait: 4h}").replace("outcom:", "outcome:")
    path.write_text(fixed.replace("  - name: typos\n", "  - name: typos again\n", 1))
    run = tierflow("workflows", "test", str(path), *no_site(tmp_path))
    problems = [line.removeprefix(file) for line in run.out.splitlines() if line.startswith(file)]
    assert problems == [
        ":3:12: summary: this field is required (the start form 'probe_intake')",
        ":3:13: size: must be at least 1 (the start form 'probe_intake')",
        ":4:13: a stub for 'crm.lookpu': no step of 'scenario_probe' or of a workflow it calls "
        "runs this action (did you mean 'crm.lookup'?); the actions it runs: crm.lookup",
        ":6:20: 'reveiw' is not a task step of 'scenario_probe' (did you mean 'review'?); "
        "its task steps: review",
        ":7:37: outcome 'maybe' is not one of the outcomes of form 'review_form' "
        "(task 'review'): ok, redo",
        ":7:51: nte: is not a field of this form (form 'review_form')",
        ":8:18: no step of 'scenario_probe' waits for the signal 'customer_replyed' "
        "(did you mean 'customer_replied'?); signals it waits for: customer_replied",
        ":12:16: 'scenario_probe' never ends with the outcome 'aproved' (did you mean "
        "'approved'?); its outcomes: approved, completed, late",
        ":13:22: 'revew' is not a step of 'scenario_probe' (did you mean 'review'?)",
        ":14:5: summary: this field is required (the start form 'probe_intake')",
    ]
    assert "PASS" not in run.out
    assert "FAIL" not in run.out
    assert run.err.startswith("tierflow: error: 10 problems in 1 file: ")
    twice = probe.scenarios("scenarios: [{name: same}, {name: other}, {name: same}]\n")
    run = tierflow("workflows", "test", str(twice), *no_site(tmp_path))
    assert f"{twice}:1:49: scenario 'same' is also scenario 1: give each scenario its own name" in (
        run.out
    )


def test_a_workflow_with_problems_is_not_run(
    tierflow: Tierflow, probe: Site, tmp_path: Path
) -> None:
    workflow = probe.folder / "scenario_probe.yaml"
    workflow.write_text(workflow.read_text().replace("goto: late}", "goto: lat}"))
    path = probe.scenarios("scenarios: [{name: any}]\n")
    run = tierflow("workflows", "test", str(path), *no_site(tmp_path))
    assert run.rc == 1
    assert f"{path}:1:1: the workflow tested ({workflow}) has problems" in run.out
    assert (
        f"{workflow}:25:35: unknown step 'lat' in 'goto' of step 'reply' (did you mean 'late'?)"
        in run.out
    )


def test_show_prints_what_happened_as_an_expect_block(
    tierflow: Tierflow, probe: Site, tmp_path: Path
) -> None:
    path = probe.scenarios(PASSING)
    run = tierflow("workflows", "test", "--show", str(path), *no_site(tmp_path))
    assert run.out.splitlines()[2:12] == [
        "    expect:",
        "      outcome: approved",
        "      path: [lookup, review, review, reply, done]",
        "      tasks:",
        "        - {step: review, status: completed, outcome: redo}",
        "        - {step: review, status: completed, outcome: ok}",
        "      events: [task_opened, task_completed, task_opened, task_completed]",
        "      vars: {customer: {id: 42, tier: gold}}",
        "      actions:",
        "        crm.lookup:",
    ]


def test_paths_folders_workflow_files_and_match(
    tierflow: Tierflow, probe: Site, tmp_path: Path
) -> None:
    probe.scenarios(PASSING)
    by_workflow = tierflow(
        "workflows", "test", str(probe.folder / "scenario_probe.yaml"), *no_site(tmp_path)
    )
    assert by_workflow.rc == 0, by_workflow.out + by_workflow.err
    assert "PASS approved after a second review" in by_workflow.out
    by_default = tierflow("workflows", "test", "--dir", str(probe.folder), "-k", "SECOND")
    assert "PASS approved after a second review" in by_default.out
    assert by_default.rc == 0
    # the plugins' scenarios run too (the help desk's leaver has one called "nothing to collect")
    nothing = tierflow("workflows", "test", "--dir", str(probe.folder), "-k", "no such scenario")
    assert nothing.rc == 1
    assert nothing.err == "tierflow: error: no scenario name contains 'no such scenario'\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    none_there = tierflow("workflows", "test", str(empty))
    assert none_there.rc == 1
    assert "no scenario files (*.scenarios.yaml) in " in none_there.err


def test_a_site_without_scenarios_still_has_the_plugins(tmp_path: Path) -> None:
    """A site without a folder of its own gets the scenarios of plugins' workflows by default."""
    pm = create_plugin_manager()
    found = scenario_paths(pm, tmp_path / "no-site", ())
    shipped = [
        path
        for _, folder in pm.collect("tierflow_register_workflow_dirs")
        for path in Path(folder).resolve().glob("*.scenarios.yaml")
    ]
    assert shipped, "the help desk ships scenarios of its workflows"
    assert sorted(found) == sorted(shipped)


def test_without_any_scenario_file_it_says_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # only with no plugin shipping scenarios: the built-in help desk does
    bare = Context(create_plugin_manager(entry_points=False))
    args = ["workflows", "test", *no_site(tmp_path)]
    rc = cli.main(args=args, prog_name="tierflow", standalone_mode=False, obj=bare)
    assert rc in (0, None)
    assert capsys.readouterr().out == (
        f"No scenario files (*.scenarios.yaml) in {tmp_path / 'no-site'} or any plugin's "
        "workflow folders: write one beside a workflow (see docs/scenarios.md).\n"
    )
