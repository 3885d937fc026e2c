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

from engine.dsl.expand import Library, expand
from engine.dsl.forms import Form
from engine.dsl.fragments import FragmentFile, is_fragments_file, uses_fragments
from engine.dsl.messages import schema_problems
from engine.dsl.problems import Problem, WorkflowFileError
from engine.dsl.spec import FormFile, Workflow
from engine.dsl.written import written_source
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
    "is_fragments_file",
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
    """One file read and checked against its model: a workflow, shared forms or fragments.

    A workflow that uses fragments is ``pending`` until :func:`expand_parsed`
    puts the fragments' steps in place: then ``data`` and ``positions`` are
    the expanded workflow's, ``source`` the text that is deployed (the steps
    written out) and ``used`` the fragments' names.
    """

    file: str
    source: str
    data: Any
    positions: Positions
    problems: list[Problem]
    workflow: Workflow | None = None
    forms: FormFile | None = None
    fragments: FragmentFile | None = None
    pending: bool = False
    used: list[str] = field(default_factory=list)
    broken_uses: bool = False
    """A ``use`` item could not be expanded: the steps are not all there to check."""

    @property
    def is_forms_file(self) -> bool:
        return is_forms_file(self.data)

    @property
    def is_fragments_file(self) -> bool:
        return is_fragments_file(self.data)

    @property
    def is_workflow(self) -> bool:
        """Whether the file reads as a workflow (not forms, not fragments, not unreadable)."""
        return isinstance(self.data, dict) and not (self.is_forms_file or self.is_fragments_file)


def is_forms_file(data: Any) -> bool:
    """A forms file has only ``forms``; anything else is read as a workflow."""
    return isinstance(data, dict) and "forms" in data and not {"name", "steps"} & set(data)


def parse_text(text: str, file: str) -> Parsed:
    """Read ``text`` as a workflow, forms or fragments file and check it against the models.

    A workflow that uses fragments is left ``pending``: its schema is checked
    once :func:`expand_parsed` has put the fragments' steps in place.
    """
    data, positions, problems = read_yaml(text, file)
    parsed = Parsed(file, text, data, positions, list(problems))
    if data is None:
        return parsed
    if is_fragments_file(data):
        model: type[BaseModel] = FragmentFile
    elif is_forms_file(data):
        model = FormFile
    elif uses_fragments(data.get("steps")):
        parsed.pending = True
        return parsed
    else:
        model = Workflow
    _validate(parsed, model)
    return parsed


def _validate(parsed: Parsed, model: type[BaseModel]) -> None:
    try:
        loaded = model.model_validate(parsed.data)
    except ValidationError as exc:
        parsed.problems += schema_problems(exc, parsed.data, parsed.positions, parsed.file, model)
        return
    if isinstance(loaded, Workflow):
        parsed.workflow = loaded
    elif isinstance(loaded, FragmentFile):
        parsed.fragments = loaded
    else:
        parsed.forms = loaded  # type: ignore[assignment]


_EMPTIED = ("needs at least 1 item", "has no steps")


def expand_parsed(parsed: Parsed, library: Library) -> Parsed:
    """A pending workflow with the fragments of ``library`` in place, checked against the model.

    Anything else is returned as it is.
    """
    if not parsed.pending:
        return parsed
    expanded = expand(parsed.data, parsed.positions, parsed.file, library)
    result = Parsed(
        parsed.file,
        parsed.source,
        expanded.data,
        expanded.positions,
        [*parsed.problems, *expanded.problems],
        used=expanded.used,
        broken_uses=bool(expanded.problems),
    )
    _validate(result, Workflow)
    if result.broken_uses:  # a list left empty by a wrong 'use' item is no news
        result.problems = [p for p in result.problems if not p.message.endswith(_EMPTIED)]
    if result.workflow is not None and not result.problems:
        result.source = written_source(parsed.source, expanded.data, expanded.splices)
    return result


def parse_file(path: Path, file: str | None = None) -> Parsed:
    """Read and parse the file at ``path`` (``file`` is the name used in problems)."""
    file = file or str(path)
    try:
        text = read_source(path, file)
    except WorkflowFileError as exc:
        return Parsed(file, "", None, Positions(), list(exc.problems))
    return parse_text(text, file)
