"""Whatever an edit does to a good file, checking it gives positioned problems, never a crash.

Hypothesis takes the valid workflows and forms and mutates their text the way
hurried editing does: keys deleted, renamed and duplicated, values of the
wrong type, scalars replaced by lists or mappings, indentation broken, tabs
and stray characters inserted, the file cut short. Every outcome must be a
list of problems inside the file (line and column from 1), and none may be
an internal error.
"""

from __future__ import annotations

import dataclasses
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.dsl.problems import Problem
from engine.dsl.validate import load_form_file, load_form_text, load_workflow_text
from tests.dsl.support import CATALOG, VALID

SOURCES = {path.name: path.read_text() for path in sorted(VALID.glob("*.yaml"))}
SHARED, _ = load_form_file(VALID / "shared_forms.yaml")
assert SHARED is not None
RUN_CATALOG = dataclasses.replace(
    CATALOG,
    forms={**CATALOG.forms, **SHARED.forms},
    workflows=CATALOG.workflows | {"incident", "project", "server-patching"},
)

KEY_LINE = re.compile(r"^(\s*(?:-\s+)?)([A-Za-z_][\w-]*):(.*)$")
KEYS = ["id", "name", "kind", "steps", "task", "form", "next", "goto", "when", "fields", "tsk"]
VALUES = [
    "5",
    "-1",
    "0.5",
    "[1, 2]",
    "{a: 1}",
    "[]",
    "{}",
    "''",
    "true",
    "null",
    "2024-01-01",
    "4h",
    "'{{ nope.x }}'",
    "'{{ item.'",
    "&a x",
    "*a",
    "!!python/name:os.system",
    "|",
    "x: y",
]
SPECIALS = ":{}[]&*!|>'\"%@`#-,?\t\n\\ é\x00\x85\u2028\ufeff"


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _at(lines: list[str], index: int) -> int:
    return index % len(lines)


def delete_line(text: str, data: st.DataObject) -> str:
    lines = _lines(text)
    del lines[_at(lines, data.draw(st.integers(0, 10_000)))]
    return "\n".join(lines)


def duplicate_line(text: str, data: st.DataObject) -> str:
    lines = _lines(text)
    index = _at(lines, data.draw(st.integers(0, 10_000)))
    lines.insert(index, lines[index])
    return "\n".join(lines)


def _key_lines(lines: list[str]) -> list[int]:
    return [index for index, line in enumerate(lines) if KEY_LINE.match(line)] or [0]


def rename_key(text: str, data: st.DataObject) -> str:
    lines = _lines(text)
    index = data.draw(st.sampled_from(_key_lines(lines)))
    match = KEY_LINE.match(lines[index])
    if match:
        key = data.draw(st.sampled_from(KEYS) | st.from_regex(r"[a-z_]{1,8}", fullmatch=True))
        lines[index] = f"{match[1]}{key}:{match[3]}"
    return "\n".join(lines)


def change_value(text: str, data: st.DataObject) -> str:
    lines = _lines(text)
    index = data.draw(st.sampled_from(_key_lines(lines)))
    match = KEY_LINE.match(lines[index])
    if match:
        value = data.draw(st.sampled_from(VALUES) | st.text(max_size=12))
        lines[index] = f"{match[1]}{match[2]}: {value}"
    return "\n".join(lines)


def reindent(text: str, data: st.DataObject) -> str:
    lines = _lines(text)
    index = _at(lines, data.draw(st.integers(0, 10_000)))
    shift = data.draw(st.integers(-4, 4))
    line = lines[index]
    lines[index] = " " * shift + line if shift > 0 else line[min(-shift, len(line)) :]
    return "\n".join(lines)


def insert_text(text: str, data: st.DataObject) -> str:
    position = data.draw(st.integers(0, len(text)))
    inserted = data.draw(st.text(alphabet=st.sampled_from(SPECIALS), min_size=1, max_size=4))
    return text[:position] + inserted + text[position:]


def insert_tab(text: str, data: st.DataObject) -> str:
    position = data.draw(st.integers(0, len(text)))
    return text[:position] + "\t" + text[position:]


def truncate(text: str, data: st.DataObject) -> str:
    return text[: data.draw(st.integers(0, len(text)))]


MUTATIONS = [
    delete_line,
    duplicate_line,
    rename_key,
    change_value,
    reindent,
    insert_text,
    insert_tab,
    truncate,
]


def assert_positioned(problems: list[Problem], text: str) -> None:
    lines = text.count("\n") + 1
    for problem in problems:
        assert problem.file == "mutated.yaml"
        assert 1 <= problem.line <= lines + 1, problem
        assert problem.column >= 1, problem
        assert problem.message, problem
        assert not problem.message.startswith("internal error"), problem


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    source=st.sampled_from(sorted(SOURCES)),
    mutations=st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3),
    data=st.data(),
)
def test_mutated_files_give_positioned_problems_only(
    source: str, mutations: list, data: st.DataObject
) -> None:
    text = SOURCES[source]
    for mutate in mutations:
        text = mutate(text, data)
    workflow, problems = load_workflow_text(text, "mutated.yaml", RUN_CATALOG)
    assert (workflow is None) == bool(problems)
    assert_positioned(problems, text)
    forms, form_problems = load_form_text(text, "mutated.yaml", RUN_CATALOG)
    assert (forms is None) == bool(form_problems)
    assert_positioned(form_problems, text)


def test_every_valid_file_loads_unmutated() -> None:
    for name, text in SOURCES.items():
        load = load_form_text if name == "shared_forms.yaml" else load_workflow_text
        _, problems = load(text, "mutated.yaml", RUN_CATALOG)
        assert problems == [], name
