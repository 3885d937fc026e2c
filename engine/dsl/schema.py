"""The JSON Schema of workflow and forms files, generated from the pydantic models.

Editors use it for completion and checking: VS Code's YAML extension reads
the ``# yaml-language-server: $schema=...`` comment at the top of a file. It
is shipped as ``workflows/schema.json`` (``tierflow workflows schema --output
workflows/schema.json`` writes it; a test keeps it in sync). The schema checks
shape only; ``tierflow workflows validate`` checks everything else (names,
expressions, reachability ...).
"""

from __future__ import annotations

import json
from typing import Any

from engine.dsl.fragments import FragmentFile, Use
from engine.dsl.spec import FormFile, Workflow

SCHEMA_ID = "urn:tierflow:workflows:schema"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_SHORTHANDS: dict[str, list[dict[str, Any]]] = {
    "Choice": [{"type": "string"}, {"type": "integer"}],
    "Outcome": [{"type": "string"}],
    "EndSpec": [{"type": "string"}, {"type": "null"}],
}
"""Models that also accept a short form (``choices: [a, b]``, ``end: resolved``)."""


def json_schema() -> dict[str, Any]:
    """One schema for the three kinds of file: a workflow, shared forms, shared steps.

    Wherever a step may stand, so may a ``use`` item (:class:`~engine.dsl.fragments.Use`).
    """
    definitions: dict[str, Any] = {}
    roots = []
    for model in (Workflow, FormFile, FragmentFile, Use):
        schema = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            if definitions.setdefault(name, definition) != definition:
                raise AssertionError(f"two different JSON Schema definitions named {name}")
        definitions[model.__name__] = schema
        if model is not Use:
            roots.append({"$ref": f"#/$defs/{model.__name__}"})
    for name, extra in _SHORTHANDS.items():
        full = definitions[name]
        definitions[name] = {
            "title": full.get("title", name),
            "description": full.get("description", ""),
            "anyOf": [{k: v for k, v in full.items() if k != "title"}, *extra],
        }
    step_or_use = {"anyOf": [{"$ref": "#/$defs/Step"}, {"$ref": "#/$defs/Use"}]}
    definitions = _replace({"$ref": "#/$defs/Step"}, step_or_use, definitions)
    definitions["Fragment"]["properties"]["steps"]["items"] = step_or_use
    message = definitions["Message"]["properties"]
    message["to"] = {"anyOf": [{"type": "string"}, message["to"]], "title": "To"}
    offer = definitions["SignalOffer"]["properties"]
    offer["who"] = {"anyOf": [{"type": "string"}, offer["who"]], "title": "Who"}
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "Tierflow workflow, forms or fragments file",
        "description": "A workflow (name, kind, steps ...), a file of shared forms "
        "(only 'forms') or of shared steps (only 'fragments'). See docs/workflows.md.",
        "anyOf": roots,
        "$defs": dict(sorted(definitions.items())),
    }


def _replace(old: Any, new: Any, value: Any) -> Any:
    """``value`` with every part equal to ``old`` replaced by ``new``."""
    if value == old:
        return new
    if isinstance(value, dict):
        return {key: _replace(old, new, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(old, new, item) for item in value]
    return value


def json_schema_text() -> str:
    """The schema as the text of ``workflows/schema.json`` (stable, ending in a newline)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
