"""Load workflow and forms files: read the YAML, check it against the models.

:func:`parse_text` reads a file with positions (:mod:`engine.dsl.yamlread`)
and validates it against :class:`~engine.dsl.spec.Workflow` or, for a file
that has only ``forms``, :class:`~engine.dsl.spec.FormFile`; schema errors
become positioned problems (:mod:`engine.dsl.messages`). What the file means
(names, the step graph, expressions) is checked by :mod:`engine.dsl.validate`.

The names of the reading and message modules are re-exported here, where
they have always been imported from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.dsl.forms import Form
from engine.dsl.messages import schema_problems
from engine.dsl.problems import Problem, WorkflowFileError
from engine.dsl.spec import FormFile, Workflow
from engine.dsl.yamlread import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    PathKey,
    Position,
    Positions,
    decode_source,
    load_yaml,
    read_source,
    read_yaml,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "LoadedWorkflow",
    "Parsed",
    "PathKey",
    "Position",
    "Positions",
    "content_hash",
    "decode_source",
    "is_forms_file",
    "load_yaml",
    "parse_file",
    "parse_text",
    "read_source",
    "read_yaml",
    "schema_problems",
]


@dataclass(frozen=True)
class LoadedWorkflow:
    """A workflow file that loaded and validated: where it came from and what it says.

    ``forms`` holds the shared forms it names (from forms files or plugins),
    so a definition can be shown or run without looking them up again.
    """

    path: Path
    workflow: Workflow
    source: str
    content_hash: str
    forms: Mapping[str, Form] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        path: Path,
        workflow: Workflow,
        source: str,
        forms: Mapping[str, Form] | None = None,
    ) -> LoadedWorkflow:
        return cls(path, workflow, source, content_hash(source), dict(forms or {}))


def content_hash(source: str) -> str:
    """The sha256 (hex) of a file's text, as UTF-8: a definition's version identity."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


@dataclass
class Parsed:
    """One file read and checked against its model: a workflow, or a file of shared forms."""

    file: str
    source: str
    data: Any
    positions: Positions
    problems: list[Problem]
    workflow: Workflow | None = None
    forms: FormFile | None = None

    @property
    def is_forms_file(self) -> bool:
        return is_forms_file(self.data)


def is_forms_file(data: Any) -> bool:
    """A forms file has only ``forms``; anything else is read as a workflow."""
    return isinstance(data, dict) and "forms" in data and not {"name", "steps"} & set(data)


def parse_text(text: str, file: str) -> Parsed:
    """Read ``text`` as a workflow or forms file and check it against the models."""
    data, positions, problems = read_yaml(text, file)
    parsed = Parsed(file, text, data, positions, list(problems))
    if data is None:
        return parsed
    model: type[BaseModel] = FormFile if is_forms_file(data) else Workflow
    try:
        loaded = model.model_validate(data)
    except ValidationError as exc:
        parsed.problems += schema_problems(exc, data, positions, file, model)
        return parsed
    if isinstance(loaded, Workflow):
        parsed.workflow = loaded
    else:
        parsed.forms = loaded  # type: ignore[assignment]
    return parsed


def parse_file(path: Path, file: str | None = None) -> Parsed:
    """Read and parse the file at ``path`` (``file`` is the name used in problems)."""
    file = file or str(path)
    try:
        text = read_source(path, file)
    except WorkflowFileError as exc:
        return Parsed(file, "", None, Positions(), list(exc.problems))
    return parse_text(text, file)
