"""Reading YAML with positions: plain data, 1-based lines and columns, refusals."""

from __future__ import annotations

from datetime import date

import pytest

from engine.dsl.loader import MAX_NODES, Positions, load_yaml, read_yaml
from engine.dsl.problems import Problem, WorkflowFileError

TEXT = """\
name: demo   # a comment
steps:
  - id: first
    when: 2024-05-01
    count: 3
    ratio: 0.5
    flag: true
    nothing:
    quoted: "007"
    answer: yes
  - {id: second, end: done}
"""


def test_load_yaml_gives_plain_data_as_the_safe_loader_reads_it() -> None:
    data, _ = load_yaml(TEXT, "demo.yaml")
    assert data == {
        "name": "demo",
        "steps": [
            {
                "id": "first",
                "when": date(2024, 5, 1),
                "count": 3,
                "ratio": 0.5,
                "flag": True,
                "nothing": None,
                "quoted": "007",
                "answer": "yes",  # YAML 1.2: only true/false are booleans
            },
            {"id": "second", "end": "done"},
        ],
    }
    assert type(data) is dict
    assert type(data["steps"]) is list


def test_positions_of_keys_and_values_are_one_based() -> None:
    _, positions = load_yaml(TEXT, "demo.yaml")
    assert positions.key(("name",)) == (1, 1)
    assert positions.value(("name",)) == (1, 7)
    assert positions.value(("steps", 0)) == (3, 5)
    assert positions.key(("steps", 0, "count")) == (5, 5)
    assert positions.value(("steps", 0, "count")) == (5, 12)
    assert positions.value(("steps", 1, "end")) == (11, 23)
    assert positions.value(("steps", 0, "nothing")) == (8, 5)  # empty: at its key
    assert positions.value(("steps", 1, "unknown", 3)) == (11, 5)  # nearest known


def test_merge_keys_and_aliases_are_plain_data() -> None:
    text = "base: &base {team: helpdesk-l1, form: a}\ntask:\n  <<: *base\n  form: b\n"
    data, positions = load_yaml(text, "m.yaml")
    assert data["task"] == {"form": "b", "team": "helpdesk-l1"}
    assert positions.key(("task", "form")) == (4, 3)
    assert positions.key(("task", "team")) == (1, 14)


def test_load_yaml_raises_with_every_problem() -> None:
    text = "a: 1\na: 2\nb: !!str x\nc: 3\nc: 4\n"
    with pytest.raises(WorkflowFileError) as caught:
        load_yaml(text, "d.yaml")
    assert [str(problem) for problem in caught.value.problems] == [
        "d.yaml:2:1: duplicate key 'a' (first at line 1)",
        "d.yaml:3:4: YAML tags such as '!!str' are not allowed: "
        "a workflow file holds plain values only",
        "d.yaml:5:1: duplicate key 'c' (first at line 4)",
    ]


def test_a_document_that_refers_to_itself_is_refused() -> None:
    _, _, problems = read_yaml("a: &x [1, *x]\n", "r.yaml")
    assert problems == [Problem("r.yaml", 1, 11, "alias '*x' is inside its own anchor '&x'")]


def test_alias_expansion_is_capped() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    data, _, problems = read_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert data is None
    assert len(problems) == 1
    assert f"more than {MAX_NODES:,} values" in problems[0].message


def test_positions_default_to_the_start() -> None:
    assert Positions().value(("anything",)) == (1, 1)
