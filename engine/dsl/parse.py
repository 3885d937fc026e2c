"""Definitions as the runtime reads them: deployed (already validated) source to a model.

Parsed once per content hash and kept: a definition version never changes, so
the cache is as deterministic as parsing again, and the workflow sandbox (which
passes ``engine.dsl`` through) shares it across runs.
"""

from __future__ import annotations

from functools import lru_cache

from ruamel.yaml import YAML

from engine.dsl.spec import Workflow


@lru_cache(maxsize=256)
def parse_definition(source: str, content_hash: str) -> Workflow:
    """The :class:`Workflow` of a deployed definition (``content_hash`` keys the cache)."""
    data = YAML(typ="safe", pure=True).load(source)
    return Workflow.model_validate(data)
