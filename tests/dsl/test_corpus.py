"""Malformed and hostile files: each is refused with exactly the problems its header lists.

Every file in ``corpus/`` starts with ``# expect: LINE:COL: message`` lines; the
file must give those problems (a message may be a part of the real one) and
nothing else, so what an administrator reads is pinned here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.dsl.loader import MAX_FILE_BYTES
from engine.dsl.problems import display_path
from engine.dsl.validate import load_workflow_text, validate_files
from tests.dsl.support import CATALOG, CORPUS, expectations, unmatched

FILES = sorted(CORPUS.glob("*.yaml"))


def test_the_corpus_is_large() -> None:
    assert len(FILES) >= 70


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_corpus_file_gives_exactly_the_expected_problems(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} has no '# expect:' lines"
    loaded, problems = validate_files([path], CATALOG)
    assert loaded == []
    assert {problem.file for problem in problems} == {display_path(path)}
    missing, unexpected = unmatched(expected, problems)
    report = "\n".join(
        [
            f"{path.name}: expected, not found:",
            *map(str, missing),
            "unexpected:",
            *map(str, unexpected),
            "all problems:",
            *map(str, problems),
        ]
    )
    assert not missing, report
    assert not unexpected, report


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    filler = "# " + "x" * 98 + "\n"
    path.write_text("name: huge\nkind: ticket\n" + filler * (MAX_FILE_BYTES // 100 + 1))
    loaded, problems = validate_files([path], CATALOG)
    assert loaded == []
    assert [(p.line, p.column) for p in problems] == [(1, 1)]
    assert "may be at most 1,048,576 bytes (1 MiB)" in problems[0].message


def test_oversized_text_is_refused_too() -> None:
    text = "name: huge\nkind: ticket\ndescription: " + "é" * (MAX_FILE_BYTES // 2 + 1)
    workflow, problems = load_workflow_text(text, "huge.yaml", CATALOG)
    assert workflow is None
    assert len(problems) == 1
    assert "1 MiB" in problems[0].message


def test_a_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    loaded, problems = validate_files([tmp_path / "gone.yaml"], CATALOG)
    assert loaded == []
    assert len(problems) == 1
    assert problems[0].message.startswith("cannot read the file")
