"""Fragments: shared steps with parameters, expanded in place of ``- use:`` items.

Every problem is reported at once as ``file:line:col: message``: problems of
a fragment's steps point into the fragments file and say which workflow used
the fragment, and where; problems of a ``use`` item point at the item.
"""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from engine import workflows as service
from engine.dsl.problems import display_path
from engine.dsl.validate import load_workflow_text, validate_files
from tests.dsl.support import CATALOG

FRAGMENTS = """\
fragments:
  notify_and_end:
    description: Tell the requester, then end.
    params:
      subject:
        description: what the message says
      outcome: {default: done}
    steps:
      - id: tell
        notify: {to: requester, subject: "${subject} ({{ item.reference }})"}
      - id: finish
        end: ${outcome}
"""

WORKFLOW = """\
name: flow
kind: ticket
steps:
  - id: first
    notify: {to: requester, subject: hello}
  - use: notify_and_end
    with: {subject: Bye}
"""


def write(folder: Path, **files: str) -> dict[str, str]:
    """Write ``name=text`` files into ``folder``; their names as problems show them."""
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return {name: display_path(folder / f"{name}.yaml") for name in files}


def messages(folder: Path) -> list[str]:
    _, problems = validate_files([folder], CATALOG)
    return [str(problem) for problem in problems]


def test_a_fragments_steps_take_the_place_of_the_use_item(tmp_path: Path) -> None:
    write(tmp_path, fragments=FRAGMENTS, flow=WORKFLOW)
    loaded, problems = validate_files([tmp_path], CATALOG)
    assert problems == []
    (item,) = loaded
    assert [step.id for step in item.workflow.steps] == ["first", "tell", "finish"]
    tell, finish = item.workflow.steps[1:]
    assert tell.notify is not None
    assert tell.notify.subject == "Bye ({{ item.reference }})"  # runtime templates kept
    assert finish.end is not None
    assert finish.end.outcome == "done"  # the default
    # the deployed text reads back as the expanded workflow, the file's own lines kept
    assert item.source.count("notify: {to: requester, subject: hello}") == 1
    data = YAML(typ="safe", pure=True).load(item.source)
    assert [step["id"] for step in data["steps"]] == ["first", "tell", "finish"]


def test_a_whole_value_parameter_keeps_its_type_and_dollar_dollar_is_literal(
    tmp_path: Path,
) -> None:
    fragments = """\
fragments:
  tell:
    params:
      who: {}
      subject: {}
    steps:
      - id: tell
        notify: {to: "${who}", subject: "$${not a param} ${subject}"}
"""
    workflow = """\
name: flow
kind: ticket
steps:
  - use: tell
    with: {who: [requester, assignee], subject: "Hi"}
"""
    write(tmp_path, fragments=fragments, flow=workflow)
    loaded, problems = validate_files([tmp_path], CATALOG)
    assert problems == []
    notify = loaded[0].workflow.steps[0].notify
    assert notify is not None
    assert notify.to == ["requester", "assignee"]
    assert notify.subject == "${not a param} Hi"


def test_fragments_may_use_fragments_and_sit_in_parallel_branches(tmp_path: Path) -> None:
    fragments = FRAGMENTS + (
        "  wrapped:\n"
        "    steps:\n"
        "      - id: before\n"
        "        notify: {to: requester, subject: before}\n"
        "      - use: notify_and_end\n"
        "        with: {subject: inner, outcome: wrapped}\n"
    )
    workflow = """\
name: flow
kind: ticket
steps:
  - id: both
    parallel:
      branches:
        left:
          - use: wrapped
        right:
          - {id: wait, wait: {duration: 1h}}
"""
    write(tmp_path, fragments=fragments, flow=workflow)
    loaded, problems = validate_files([tmp_path], CATALOG)
    assert problems == []
    parallel = loaded[0].workflow.steps[0].parallel
    assert parallel is not None
    assert [step.id for step in parallel.branches["left"]] == ["before", "tell", "finish"]


def test_use_item_problems_point_at_the_workflow(tmp_path: Path) -> None:
    workflow = """\
name: flow
kind: ticket
steps:
  - use: notify_and_ends
  - use: notify_and_end
    with: {subjet: Bye}
  - use: notify_and_end
    id: mine
    with: {subject: x}
"""
    names = write(tmp_path, fragments=FRAGMENTS, flow=workflow)
    flow = names["flow"]
    fragments = names["fragments"]
    assert messages(tmp_path) == [
        f"{flow}:4:10: unknown fragment 'notify_and_ends' (did you mean 'notify_and_end'?)",
        f"{flow}:5:10: fragment 'notify_and_end' needs parameter 'subject' (declared at "
        f"{fragments}:5): give it under 'with'",
        f"{flow}:6:12: fragment 'notify_and_end' has no parameter 'subjet' (did you mean "
        "'subject'?)",
        f"{flow}:8:5: a 'use' item takes only 'use' and 'with', not 'id': the fragment's "
        "steps have their own ids",
    ]


def test_problems_in_a_fragments_steps_point_into_it_and_name_the_workflow(
    tmp_path: Path,
) -> None:
    fragments = FRAGMENTS.replace(
        "      - id: finish\n", "      - id: finish\n        next: nowhere\n"
    ).replace("end: ${outcome}", "notify: {to: requester, subject: x}")
    workflow = WORKFLOW.replace("id: first", "id: tell")
    names = write(tmp_path, fragments=fragments, flow=workflow)
    flow, frag = names["flow"], names["fragments"]
    used = f" (from fragment 'notify_and_end' used by workflow 'flow' at {flow}:6:5)"
    assert messages(tmp_path) == [
        f"{frag}:7:7: parameter 'outcome' of fragment 'notify_and_end' is not used in "
        "its steps (write '${outcome}' where it goes, or remove it)",
        f"{frag}:9:13: step id 'tell' is used twice (first at {flow}:4:9){used}",
        f"{frag}:12:15: unknown step 'nowhere' in 'next' of step 'finish': neither the "
        f"fragment nor the workflow using it has that step{used}",
    ]
    _, problems = validate_files([tmp_path], CATALOG)
    assert {problem.via for problem in problems if problem.file == frag} == {flow, ""}


def test_a_fragment_used_by_two_workflows_reports_each_use(tmp_path: Path) -> None:
    broken = FRAGMENTS.replace("end: ${outcome}", "end: ${outcome}\n        next: first")
    names = write(
        tmp_path,
        fragments=broken,
        one=WORKFLOW.replace("name: flow", "name: one"),
        two=WORKFLOW.replace("name: flow", "name: two"),
    )
    found = messages(tmp_path)
    assert found == [
        f"{names['fragments']}:11:9: step 'finish': an end step has no 'next' (from fragment "
        f"'notify_and_end' used by workflow '{name}' at {names[name]}:6:5)"
        for name in ("one", "two")
    ]
    loaded, _ = validate_files([tmp_path], CATALOG)
    assert loaded == []  # neither workflow loads


def test_a_fragment_that_uses_itself_is_refused(tmp_path: Path) -> None:
    fragments = """\
fragments:
  ping:
    steps:
      - use: pong
  pong:
    steps:
      - id: step
        notify: {to: requester, subject: x}
      - use: ping
"""
    names = write(tmp_path, fragments=fragments, flow="name: flow\nkind: ticket\nsteps:\n"
                  "  - use: ping\n")  # fmt: skip
    frag, flow = names["fragments"], names["flow"]
    assert messages(tmp_path) == [
        f"{frag}:9:14: fragment 'ping' uses itself: ping → pong → ping (from fragment 'pong' "
        f"used at {frag}:4:9 by fragment 'ping' used by workflow 'flow' at {flow}:4:5)"
    ]


def test_the_fragments_file_checks_its_parameters_on_its_own(tmp_path: Path) -> None:
    fragments = """\
fragments:
  tell:
    params:
      subject: {}
      unused: {default: 1}
    steps:
      - id: tell
        notify: {to: requester, subject: "${subjet} ${Bad Name}"}
  tell:
    steps: []
"""
    names = write(tmp_path, fragments=fragments)
    frag = names["fragments"]
    assert messages(tmp_path) == [
        f"{frag}:4:7: parameter 'subject' of fragment 'tell' is not used in its steps "
        "(write '${subject}' where it goes, or remove it)",
        f"{frag}:5:7: parameter 'unused' of fragment 'tell' is not used in its steps "
        "(write '${unused}' where it goes, or remove it)",
        f"{frag}:8:42: '${{Bad Name}}' is not a parameter name (lower-case letters, digits "
        "and '_'); write '$${' for a literal '${'",
        f"{frag}:8:42: '${{subjet}}' is not a parameter of fragment 'tell' (did you mean "
        "'subject'?): declare it under 'params'",
        f"{frag}:9:3: duplicate key 'tell' (first at line 2)",
    ]


def test_fragment_names_are_unique_across_files(tmp_path: Path) -> None:
    names = write(tmp_path, a=FRAGMENTS, b=FRAGMENTS)
    assert messages(tmp_path) == [
        f"{names['b']}:2:3: fragment 'notify_and_end' is also defined in {names['a']}: "
        "give it another name"
    ]


def test_a_workflow_on_its_own_has_no_fragments(tmp_path: Path) -> None:
    workflow, problems = load_workflow_text(WORKFLOW, "flow.yaml", CATALOG)
    assert workflow is None
    assert [str(problem) for problem in problems] == [
        "flow.yaml:6:10: unknown fragment 'notify_and_end': no fragments file defines any "
        "(a file with only 'fragments:' beside the workflows)"
    ]
    _, problems = load_workflow_text(FRAGMENTS, "fragments.yaml", CATALOG)
    assert [problem.message for problem in problems] == [
        "this is a fragments file (it has only 'fragments'), not a workflow"
    ]


def test_a_broken_fragment_is_reported_where_it_is_used(tmp_path: Path) -> None:
    names = write(
        tmp_path,
        fragments="fragments:\n  notify_and_end:\n    stepz: []\n",
        flow=WORKFLOW,
    )
    found = messages(tmp_path)
    assert (
        f"{names['flow']}:6:10: fragment 'notify_and_end' did not load: see the problems "
        f"of {names['fragments']}"
    ) in found
    assert any(each.startswith(f"{names['fragments']}:3:5: unknown key 'stepz'") for each in found)


def test_a_flow_style_use_is_written_out_as_a_whole_file(tmp_path: Path) -> None:
    write(tmp_path, fragments=FRAGMENTS, flow="name: flow\nkind: ticket\n"
          "steps: [{use: notify_and_end, with: {subject: Bye}}]  # one line\n")  # fmt: skip
    loaded, problems = validate_files([tmp_path], CATALOG)
    assert problems == []
    source = loaded[0].source
    assert source.startswith("# Deployed with the steps of fragments written out")
    assert "# one line" not in source  # not spliced: the whole workflow written as YAML
    data = YAML(typ="safe", pure=True).load(source)
    assert [step["id"] for step in data["steps"]] == ["tell", "finish"]


def test_a_fragments_problems_count_for_the_workflow_that_uses_it(tmp_path: Path) -> None:
    broken = FRAGMENTS.replace("end: ${outcome}", "end: ${outcome}\n        next: first")
    names = write(tmp_path, fragments=broken, flow=WORKFLOW)
    _, problems = validate_files([tmp_path], CATALOG)
    (problem,) = problems
    assert (problem.file, problem.via, problem.owner) == (
        names["fragments"],
        names["flow"],
        names["flow"],
    )
    # validating the workflow alone shows the problem of the fragment it uses
    assert service.problems_in(problems, [tmp_path / "flow.yaml"]) == [problem]


WAITING = """\
fragments:
  wait_for_answer:
    variables:
      days: 5
      asked: 0
    signals:
      answered: {who: requester, form: answer}
    steps:
      - id: ask
        wait: {signal: answered}
        set: {asked: "{{ vars.asked + vars.days }}"}
"""

ASKING = """\
name: asking
kind: ticket
variables:
  days: 10
forms:
  answer:
    fields: [{name: comment, type: textarea}]
steps:
  - use: wait_for_answer
"""


def test_a_fragment_lends_its_variables_and_signals_and_the_workflows_own_win(
    tmp_path: Path,
) -> None:
    write(tmp_path, fragments=WAITING, asking=ASKING)
    loaded, problems = validate_files([tmp_path], CATALOG)
    assert problems == []
    (item,) = loaded
    assert item.workflow.variables == {"days": 10, "asked": 0}  # its own 'days' wins
    assert list(item.workflow.signals) == ["answered"]
    data = YAML(typ="safe", pure=True).load(item.source)  # the deployed text has them too
    assert data["variables"] == {"days": 10, "asked": 0}
    assert data["signals"]["answered"]["who"] == "requester"


def test_a_lent_signals_problem_points_into_the_fragments_file(tmp_path: Path) -> None:
    names = write(
        tmp_path, fragments=WAITING.replace("who: requester", "who: requestor"), asking=ASKING
    )
    found = messages(tmp_path)
    used = f"(from fragment 'wait_for_answer' used by workflow 'asking' at {names['asking']}:9:5)"
    assert len(found) == 1, found
    assert found[0].startswith(f"{names['fragments']}:7:")
    assert "requestor" in found[0]
    assert found[0].endswith(used)


def test_the_deployed_text_keeps_the_workflows_lines_with_the_lent_sections(
    tmp_path: Path,
) -> None:
    asking = ASKING.replace("variables:\n", "# asking, with comments\nvariables:\n")
    write(tmp_path, fragments=WAITING, asking=asking)
    (item,), _ = validate_files([tmp_path], CATALOG)
    assert "# asking, with comments\nvariables:\n  # lent by the fragments" in item.source
    assert "signals:\n  # lent by the fragments the workflow uses\n  answered:" in item.source
