"""The text of a workflow with its fragments' steps written out: what is deployed and pinned.

A deployed version is the text the runtime parses, and its content hash
covers that text. For a workflow that uses fragments, the text is the
workflow file with each ``- use:`` item replaced by the fragment's steps (as
YAML, at the item's indentation), so the version holds every step it runs:
editing a fragment changes the text of each workflow using it (a new
version), and a run keeps the steps of the version it started with.

The workflow's own lines, comments included, stay as they are; the
variables and signals its fragments lend are written into its own
``variables:`` and ``signals:`` sections (or new ones before ``steps:``). The result
is read back and compared with the expanded data; when splicing cannot give
the same data (a ``use`` item in flow style, say), the whole workflow is
written out as YAML instead.
"""

from __future__ import annotations

import io
import textwrap
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from engine.dsl.expand import Splice

HEADER = "# Deployed with the steps of fragments written out in place of 'use' items.\n"


def written_source(text: str, data: dict[str, Any], splices: list[Splice]) -> str:
    """``text`` with each splice's ``use`` item replaced by its steps; equal to ``data``."""
    spliced = _splice(text, splices)
    if spliced is not None:
        spliced = _lend(spliced, data)
    if spliced is not None and _reads_as(spliced, data):
        return HEADER + spliced
    return HEADER + _dump(data)


def _splice(text: str, splices: list[Splice]) -> str | None:
    lines = text.splitlines(keepends=True)
    for splice in sorted(splices, key=lambda each: each.line, reverse=True):
        first = splice.line - 1
        dash = splice.column - 3
        if first >= len(lines) or dash < 0 or lines[first][dash : dash + 2] != "- ":
            return None
        if lines[first][:dash].strip():
            return None
        last = first
        for index in range(first + 1, len(lines)):
            stripped = lines[index].strip()
            if not stripped or stripped.startswith("#"):
                continue
            if len(lines[index]) - len(lines[index].lstrip(" ")) <= dash:
                break
            last = index
        indent = " " * dash
        block = [f"{indent}# steps of fragment '{splice.fragment}'\n"]
        dumped = textwrap.dedent(_dump(splice.steps)) if splice.steps else ""
        for number, line in enumerate(dumped.splitlines()):
            if number and line.startswith("- "):
                block.append("\n")  # a blank line between steps, as people write them
            block.append(f"{indent}{line}\n" if line else "\n")
        lines[first : last + 1] = block
    return "".join(lines)


LENT = ("variables", "signals")
"""The sections fragments lend to the workflows using them."""


def _lend(text: str, data: dict[str, Any]) -> str | None:
    """``text`` with the variables and signals the fragments lend written into its sections."""
    try:
        own = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return None
    lines = text.splitlines(keepends=True)
    for section in LENT:
        have = (own or {}).get(section) or {}
        lent = {k: v for k, v in (data.get(section) or {}).items() if k not in have}
        if not lent or not isinstance(have, dict):
            continue
        block = ["  # lent by the fragments the workflow uses\n"]
        block += [f"  {line}\n" for line in _dump(lent).splitlines()]
        header = next((i for i, line in enumerate(lines) if line.rstrip() == f"{section}:"), None)
        if header is None and have:
            return None  # its own are written in flow style: the whole workflow is written out
        if header is None:
            at = next((i for i, line in enumerate(lines) if line.startswith("steps:")), None)
            if at is None:
                return None
            lines[at:at] = [f"{section}:\n", *block, "\n"]
        else:
            lines[header + 1 : header + 1] = block
    return "".join(lines)


def _reads_as(text: str, data: dict[str, Any]) -> bool:
    try:
        return YAML(typ="safe", pure=True).load(text) == data
    except YAMLError:
        return False


def _literal(value: Any) -> Any:
    """``value`` with multi-line texts marked to be written as ``|`` blocks."""
    if isinstance(value, list):
        return [_literal(item) for item in value]
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    if isinstance(value, str) and "\n" in value and not value.endswith((" ", "\n\n")):
        return LiteralScalarString(value)
    return value


def _dump(value: Any) -> str:
    yaml = YAML(typ="rt", pure=True)
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(_literal(value), out)
    return out.getvalue()
