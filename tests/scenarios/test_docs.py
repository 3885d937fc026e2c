"""docs/scenarios.md's first scenario runs and passes, and every expectation key is documented."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.scenarios import Expect, Interaction, ItemSpec
from tests.conftest import ROOT, Tierflow
from tests.scenarios.conftest import no_site

DOC = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.timeout(60)


def test_the_first_scenario_in_the_docs_passes(tierflow: Tierflow, tmp_path: Path) -> None:
    example = DOC.split("## A first scenario", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    folder = tmp_path / "site"
    folder.mkdir()
    for name in ("incident.yaml", "forms.yaml"):
        shutil.copy(ROOT / "workflows" / "examples" / name, folder / name)
    (folder / "incident.scenarios.yaml").write_text(example, encoding="utf-8")
    run = tierflow("workflows", "test", str(folder), *no_site(tmp_path))
    assert run.rc == 0, run.out + run.err
    assert "PASS resolved at first contact (" in run.out


@pytest.mark.parametrize("key", list(Expect.model_fields))
def test_every_expectation_is_documented(key: str) -> None:
    assert f"| `{key}` |" in DOC


@pytest.mark.parametrize("key", [k for k in Interaction.model_fields if k != "actor"] + ["as"])
def test_every_interaction_key_is_documented(key: str) -> None:
    assert f"`{key}" in DOC.split("## Interactions", 1)[1].split("## Expectations", 1)[0]


@pytest.mark.parametrize("key", list(ItemSpec.model_fields))
def test_every_item_field_is_documented(key: str) -> None:
    assert f"`{key}`" in DOC
