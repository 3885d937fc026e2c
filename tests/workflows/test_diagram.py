"""The Mermaid diagram: one node per step shaped by type, labelled edges, safe labels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from engine.dsl.diagram import escape, mermaid
from engine.dsl.spec import Workflow
from tests.workflows.conftest import EXAMPLES


def load(path: Path) -> Workflow:
    return Workflow.model_validate(YAML(typ="safe", pure=True).load(path.read_text()))


NODE = re.compile(
    r"^\s+(?P<id>[a-z_][a-z0-9_]*)(?P<open>\[\[|\(\[|\(\(|\{\{|\[|\(|\{|>)"
    r'"(?P<label>[^"]*)"(?P<close>\]\]|\]\)|\)\)|\}\}|\]|\)|\})$'
)
EDGE = re.compile(r'^\s+[a-z_][a-z0-9_]* (-->|-\.->)(\|"[^"|]*"\|)? [a-z_][a-z0-9_]*$')
STRUCTURE = re.compile(r'^(flowchart TD|\s+subgraph [a-z0-9_]+ \["[^"]*"\]|\s+end)$')


def assert_well_formed(chart: str) -> None:
    """Every line is a quoted node, an edge or the chart's structure: nothing leaks out."""
    for line in chart.splitlines():
        assert NODE.match(line) or EDGE.match(line) or STRUCTURE.match(line), line


@pytest.mark.parametrize("name", ["incident", "patching", "project", "change"])
def test_diagram_is_well_formed_and_deterministic(name: str) -> None:
    chart = mermaid(load(EXAMPLES / f"{name}.yaml"))
    assert_well_formed(chart)
    assert chart == mermaid(load(EXAMPLES / f"{name}.yaml"))
    workflow = load(EXAMPLES / f"{name}.yaml")
    for step in workflow.all_steps():
        assert re.search(rf"^\s+s_{step.id}\W", chart, re.MULTILINE), step.id


def test_shapes_follow_the_step_type() -> None:
    chart = mermaid(load(EXAMPLES / "incident.yaml"))
    assert '    s_route{"route<br/>decide"}' in chart
    assert '    s_escalate("escalate<br/>action engine.update_work_item")' in chart
    assert '    s_confirm{{"confirm<br/>wait for signal requester_reopened · timeout 5d"}}' in chart
    assert '    s_done(["done<br/>end: resolved"])' in chart
    assert re.search(r'^    s_acknowledge>"acknowledge<br/>notify requester<br/>', chart, re.M)
    assert re.search(r'^    s_analyst_fix\["analyst_fix<br/>task · team analysts<br/>', chart, re.M)
    assert '    s_go_live[["go_live<br/>call workflow change<br/>result → vars.change"]]' in (
        mermaid(load(EXAMPLES / "project.yaml"))
    )


def test_conditions_label_edges_and_overdue_escalation_is_dashed() -> None:
    chart = mermaid(load(EXAMPLES / "incident.yaml"))
    assert "    s_triage -->|\"outcome == 'resolved'\"| s_resolved" in chart
    assert '    s_triage -->|"otherwise"| s_escalate' in chart
    assert '    s_triage -.->|"overdue +2h"| s_escalate_overdue' in chart
    assert "    s_acknowledge --> s_triage" in chart  # falling through to the next step
    assert "    n_start --> s_acknowledge" in chart
    assert "s_done -->" not in chart  # an end goes nowhere


def test_parallel_branches_are_subgraphs_between_fork_and_join() -> None:
    chart = mermaid(load(EXAMPLES / "patching.yaml"))
    assert '    s_patch(("patch<br/>parallel: all"))' in chart
    assert '    subgraph b_patch__servers ["servers"]' in chart
    assert "        s_smoke_test[" in chart  # declared inside its branch
    assert "    s_patch --> s_patch_servers" in chart
    assert "    s_patch_servers --> s_smoke_test" in chart
    assert "    s_smoke_test --> j_patch" in chart
    assert '    j_patch(("join: all"))' in chart
    assert "    j_patch --> s_report" in chart
    race = mermaid(load(EXAMPLES / "change.yaml"))
    assert "    s_expired --> j_approval" in race  # an end inside a branch ends the branch
    assert '    j_approval -->|"vars.approved"| s_implement' in race


def test_falling_off_the_end_reaches_an_implicit_end() -> None:
    workflow = Workflow.model_validate(
        {"name": "tiny", "kind": "ticket", "steps": [{"id": "only", "wait": {"duration": "1h"}}]}
    )
    assert mermaid(workflow) == "\n".join(
        [
            "flowchart TD",
            '    n_start(["start: tiny"])',
            '    s_only{{"only<br/>wait 1h"}}',
            '    n_done(["end: completed"])',
            "    n_start --> s_only",
            "    s_only --> n_done",
        ]
    )


HOSTILE = 'x"]) --> s_b\nclick s_a "javascript:alert(1)" %% <img src=x onerror=1> #quot; `md` |'


def test_hostile_text_cannot_break_out_of_a_label() -> None:
    workflow = Workflow.model_validate(
        {
            "name": "hostile",
            "kind": "ticket",
            "steps": [
                {
                    "id": "a",
                    "title": HOSTILE,
                    "notify": {"to": "requester", "subject": "end\nsubgraph x"},
                    "next": [
                        {"when": "item.title == '\"]|x' or item.priority > 1", "goto": "b"},
                        {"otherwise": "b"},
                    ],
                },
                {"id": "b", "end": "done"},
            ],
        }
    )
    chart = mermaid(workflow)
    assert_well_formed(chart)
    assert len(chart.splitlines()) == 7  # header, start, 2 steps, 3 edges: nothing injected
    assert "<img" not in chart
    assert "javascript" in chart  # kept, as inert text
    assert "x#34;]) --#62; s_b click s_a #34;javascript:alert(1)#34; #37;#37; #60;img" in chart
    assert "'#34;]#124;x' or item.priority #62; 1" in chart


def test_escape_shortens_long_text_and_encodes_specials() -> None:
    assert escape("a" * 100) == "a" * 59 + "…"
    assert escape('<b> & "q" #1') == "#60;b#62; #38; #34;q#34; #35;1"
    assert escape("line\nbreak\ttab") == "line break tab"
