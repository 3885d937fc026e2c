"""docs/scenarios.md's first scenario runs and passes, and every expectation key is documented."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from engine.scenarios import Expect, Interaction, ItemSpec
from tests.conftest import ROOT, Tierflow

DOC = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.timeout(60)


def test_the_first_scenario_in_the_docs_passes(
    tierflow: Tierflow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the docs have it: in a site's workflows/ folder, beside its incident.yaml (which
    replaces the help desk plugin's incident), run by the command shown, printing what's shown."""
    section = DOC.split("## A first scenario", 1)[1].split("\n## ", 1)[0]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    command, *shown = section.split("```\n$ ", 1)[1].split("```", 1)[0].splitlines()
    folder = tmp_path / "workflows"
    folder.mkdir()
    for name in ("incident.yaml", "forms.yaml"):
        shutil.copy(ROOT / "workflows" / "examples" / name, folder / name)
    (folder / "incident.scenarios.yaml").write_text(example, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert command.startswith("tierflow ")
    run = tierflow(*shlex.split(command)[1:])
    assert run.rc == 0, run.out + run.err
    assert _untimed(run.out.splitlines()) == _untimed(shown)


def _untimed(lines: list[str]) -> list[str]:
    return [re.sub(r"\(\d+\.\d+ s\)", "(… s)", line) for line in lines]


@pytest.mark.parametrize("key", list(Expect.model_fields))
def test_every_expectation_is_documented(key: str) -> None:
    assert f"| `{key}` |" in DOC


@pytest.mark.parametrize("key", [k for k in Interaction.model_fields if k != "actor"] + ["as"])
def test_every_interaction_key_is_documented(key: str) -> None:
    assert f"`{key}" in DOC.split("## Interactions", 1)[1].split("## Expectations", 1)[0]


@pytest.mark.parametrize("key", list(ItemSpec.model_fields))
def test_every_item_field_is_documented(key: str) -> None:
    assert f"`{key}`" in DOC
