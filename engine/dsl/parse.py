"""Definitions as the runtime reads them: deployed (already validated) source to a model.

Parsed once per content hash and kept: a definition version never changes, so
the cache is as deterministic as parsing again, and the workflow sandbox (which
passes ``engine.dsl`` through) shares it across runs.
"""

from __future__ import annotations

from functools import lru_cache

from ruamel.yaml import YAML

from engine.dsl.pinning import parse_shared_forms
from engine.dsl.spec import Workflow


@lru_cache(maxsize=256)
def parse_definition(source: str, content_hash: str, shared_forms: str = "") -> Workflow:
    """The :class:`Workflow` of a deployed definition, its shared forms merged in.

    ``content_hash`` keys the cache; a form defined in the file wins over a
    shared form of the same name (as in validation).
    """
    data = YAML(typ="safe", pure=True).load(source)
    workflow = Workflow.model_validate(data)
    shared = parse_shared_forms(shared_forms)
    if not shared:
        return workflow
    return workflow.model_copy(update={"forms": {**shared, **workflow.forms}})
