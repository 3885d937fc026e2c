"""Read workflow and forms files: YAML with the line and column of every key and value.

The YAML is parsed into events by ruamel.yaml (its pure-Python safe parser,
the same one the runtime's loader uses) and composed here, so every
refusal is positioned and reported together: syntax errors (ruamel's mark),
duplicate keys, YAML tags (``!!python/object`` and friends: a file is data,
never objects), alias bombs, too-deep nesting, files over 1 MiB, bytes that
are not UTF-8, empty files and a top level that is not a mapping. Plain
scalars are read exactly as the runtime's safe loader reads them, so what
validates here is what runs.

The result is plain data (dicts, lists, text, numbers, booleans, ``None``,
dates) and a :class:`Positions` index from a path of keys and list indexes to
the 1-based ``(line, column)`` of that key and of its value. Pydantic's
errors are turned into :class:`~engine.dsl.problems.Problem` lists that name the
step, form or field concerned, in words an administrator uses, by
:func:`schema_problems`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.reader import ReaderError

from engine.dsl.forms import Form
from engine.dsl.problems import Problem, WorkflowFileError
from engine.dsl.spec import STEP_TYPES, FormFile, Workflow
from engine.dsl.suggest import closest, did_you_mean

MAX_FILE_BYTES = 1024 * 1024
"""Files larger than this are refused before parsing."""
MAX_NODES = 100_000
"""The most values a file may expand to (aliases included): stops alias bombs."""
MAX_DEPTH = 100
"""The deepest nesting of mappings and lists a file may have."""

PathKey = tuple[str | int, ...]
Position = tuple[int, int]


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
class Positions:
    """Where each key and value of a file is: path (keys and list indexes) → (line, col)."""

    keys: dict[PathKey, Position] = field(default_factory=dict)
    values: dict[PathKey, Position] = field(default_factory=dict)
    refused: set[PathKey] = field(default_factory=set)
    """Values already reported (a tag, an unreadable scalar): their type is not checked again."""

    def value(self, path: PathKey) -> Position:
        """Where the value at ``path`` starts (or the nearest enclosing one that is known)."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end]) or self.keys.get(path[:end])
            if found:
                return found
        return (1, 1)

    def key(self, path: PathKey) -> Position:
        """Where the key of ``path`` is (its value for a list item)."""
        return self.keys.get(path) or self.value(path)


# ------------------------------------------------------------ reading ---


def read_source(path: Path, file: str | None = None) -> str:
    """A file's text; raises :class:`WorkflowFileError` when too big or not UTF-8."""
    file = file or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        message = f"cannot read the file: {exc.strerror}"
        raise WorkflowFileError([Problem(file, 1, 1, message)]) from None
    return decode_source(raw, file)


def decode_source(raw: bytes, file: str) -> str:
    """``raw`` as text: at most 1 MiB of UTF-8 (a leading byte-order mark is dropped)."""
    if len(raw) > MAX_FILE_BYTES:
        raise WorkflowFileError([_too_big(file, len(raw))])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _line_col(raw[: exc.start].decode("utf-8", "replace"), None)
        message = f"byte 0x{raw[exc.start]:02x} is not UTF-8 text: save the file as UTF-8"
        raise WorkflowFileError([Problem(file, line, column, message)]) from None


def _too_big(file: str, size: int) -> Problem:
    return Problem(
        file,
        1,
        1,
        f"the file is {size:,} bytes; a workflow or forms file may be at most "
        f"{MAX_FILE_BYTES:,} bytes (1 MiB): split it",
    )


def _line_col(text: str, index: int | None) -> Position:
    before = text if index is None else text[:index]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


# ----------------------------------------------------------- composing ---


@dataclass(eq=False)
class _Node:
    """A composed YAML node: a scalar's text, or a list's / mapping's children."""

    kind: str  # "scalar", "seq" or "map"
    position: Position
    text: str = ""
    plain: bool = False  # an unquoted scalar: resolved like the safe loader does
    items: list[_Node] = field(default_factory=list)  # a mapping's keys and values alternate
    done: bool = False
    refused: bool = False  # already reported: a tag


class _Composer:
    """Builds :class:`_Node` trees from ruamel's events without recursion, noting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.anchors: dict[str, _Node] = {}
        self.stack: list[_Node] = []
        self.root: _Node | None = None
        self.documents = 0

    def problem(self, position: Position, message: str) -> None:
        self.problems.append(Problem(self.file, position[0], position[1], message))

    def feed(self, event: Event) -> bool:
        """Take one event; ``False`` once the rest of the stream must be ignored."""
        position = (event.start_mark.line + 1, event.start_mark.column + 1)
        if isinstance(event, DocumentStartEvent):
            return self._document(event, position)
        if isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            self.stack.pop().done = True
        elif isinstance(event, AliasEvent):
            self._add(self._alias(event.anchor, position))
        elif isinstance(event, (ScalarEvent, MappingStartEvent, SequenceStartEvent)):
            self._start(event, position)
        return True

    def _document(self, event: DocumentStartEvent, position: Position) -> bool:
        self.documents += 1
        if self.documents > 1:
            self.problem(position, "a file holds one YAML document: remove this second '---'")
            return False
        if getattr(event, "version", None) or getattr(event, "tags", None):
            self.problem(position, "YAML directives (%YAML, %TAG) are not allowed")
        return True

    def _start(self, event: Event, position: Position) -> None:
        tag = getattr(event, "tag", None)
        if tag is not None:
            self.problem(
                position,
                f"YAML tags such as '{_short_tag(tag)}' are not allowed: "
                "a workflow file holds plain values only",
            )
        if isinstance(event, ScalarEvent):
            plain = tag is None and event.style is None and bool(event.implicit[0])
            node = _Node("scalar", position, text=event.value, plain=plain, done=True)
        else:
            kind = "map" if isinstance(event, MappingStartEvent) else "seq"
            node = _Node(kind, position)
        node.refused = tag is not None
        if event.anchor:
            self.anchors[event.anchor] = node
        self._add(node)
        if node.kind != "scalar":
            self.stack.append(node)

    def _alias(self, name: str, position: Position) -> _Node:
        node = self.anchors.get(name)
        if node is None:
            self.problem(position, f"alias '*{name}' names no anchor '&{name}' above it")
        elif not node.done:
            self.problem(position, f"alias '*{name}' is inside its own anchor '&{name}'")
        else:
            return node
        return _Node("scalar", position, done=True)

    def _add(self, node: _Node) -> None:
        if self.stack:
            self.stack[-1].items.append(node)
        elif self.root is None:
            self.root = node


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


class _TooMany(Exception):
    """The file expands to more than :data:`MAX_NODES` values."""


class _Builder:
    """Turns a composed tree into plain data and positions, counting every value produced."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        self.positions = Positions()
        self.count = 0
        yaml = YAML(typ="safe", pure=True)
        self.resolver, self.constructor = yaml.resolver, yaml.constructor

    def problem(self, position: Position, message: str) -> None:
        self.problems.append(Problem(self.file, position[0], position[1], message))

    def build(self, node: _Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooMany(node.position)
        self.positions.values.setdefault(path, node.position)
        if node.refused:
            self.positions.refused.add(path)
        if len(path) > MAX_DEPTH:
            self.problem(node.position, f"the file nests deeper than {MAX_DEPTH} levels")
            return None
        if node.kind == "scalar":
            return self.scalar(node, path)
        if node.kind == "seq":
            return [self.build(item, (*path, index)) for index, item in enumerate(node.items)]
        return self.mapping(node, path)

    def scalar(self, node: _Node, path: PathKey) -> Any:
        if not node.plain:
            return node.text
        tag = self.resolver.resolve(ScalarNode, node.text, (True, False))
        if tag == "tag:yaml.org,2002:str":
            return node.text
        try:
            return self.constructor.construct_object(ScalarNode(tag, node.text), deep=True)
        except (YAMLError, ValueError, TypeError, OverflowError) as exc:
            self.positions.refused.add(path)
            self.problem(
                node.position,
                f"'{node.text}' cannot be read ({exc}): put it in quotes if it is text",
            )
            return node.text

    def mapping(self, node: _Node, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[_Node] = []
        for key_node, value_node in zip(node.items[0::2], node.items[1::2], strict=True):
            if key_node.kind == "scalar" and key_node.plain and key_node.text == "<<":
                merges.append(value_node)
                continue
            key = self.key(key_node, path, result)
            if key is not None:
                self.positions.keys[(*path, key)] = key_node.position
                empty = value_node.kind == "scalar" and value_node.plain and not value_node.text
                position = key_node.position if empty else value_node.position
                self.positions.values[(*path, key)] = position
                result[key] = self.build(value_node, (*path, key))
        for merge in merges:
            self.merge(merge, path, result)
        return result

    def key(self, node: _Node, path: PathKey, seen: dict[str, Any]) -> str | None:
        if node.kind != "scalar":
            self.problem(node.position, "a key must be plain text, not a list or a mapping")
            return None
        if node.text in seen:
            first = self.positions.keys[(*path, node.text)]
            self.problem(node.position, f"duplicate key '{node.text}' (first at line {first[0]})")
            return None
        return node.text

    def merge(self, node: _Node, path: PathKey, result: dict[str, Any]) -> None:
        sources = node.items if node.kind == "seq" else [node]
        for source in sources:
            if source.kind != "map":
                self.problem(source.position, "'<<' merges a mapping (or a list of mappings)")
                continue
            for key_node, value_node in zip(source.items[0::2], source.items[1::2], strict=True):
                if key_node.kind == "scalar" and key_node.text not in result:
                    self.positions.keys.setdefault((*path, key_node.text), key_node.position)
                    result[key_node.text] = self.build(value_node, (*path, key_node.text))


def read_yaml(text: str, file: str) -> tuple[Any, Positions, list[Problem]]:
    """Parse ``text``: ``(data, positions, problems)``; ``data`` is ``None`` when unusable.

    Problems that leave the data usable (a duplicate key, a tag, an odd scalar)
    come back beside the data, so the schema can still report everything else.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        return None, Positions(), [_too_big(file, len(text.encode("utf-8", "surrogatepass")))]
    composer = _Composer(file)
    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            if not composer.feed(event):
                break
    except MarkedYAMLError as exc:
        return None, Positions(), [*composer.problems, _syntax_problem(exc, file)]
    except ReaderError as exc:
        return None, Positions(), [_reader_problem(exc, file, text)]
    except YAMLError as exc:  # any other refusal from ruamel, without a mark
        return None, Positions(), [Problem(file, 1, 1, f"YAML syntax error: {exc}")]
    return _build(composer, file)


def _build(composer: _Composer, file: str) -> tuple[Any, Positions, list[Problem]]:
    root, problems = composer.root, composer.problems
    if root is None or (root.kind == "scalar" and root.plain and not root.text.strip()):
        return None, Positions(), [*problems, Problem(file, 1, 1, "the file is empty")]
    if root.kind != "map":
        what = "a list" if root.kind == "seq" else "a single value"
        message = f"the file must be a mapping of keys (name:, steps: ... or forms:), not {what}"
        return None, Positions(), [*problems, Problem(file, *root.position, message)]
    builder = _Builder(file, problems)
    try:
        data = builder.build(root, ())
    except _TooMany as exc:
        message = (
            f"the file expands to more than {MAX_NODES:,} values (through aliases?): "
            "refused, write the values out"
        )
        return None, Positions(), [*problems, Problem(file, *exc.args[0], message)]
    return data, builder.positions, problems


def load_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse ``text`` into plain data and positions; raises :class:`WorkflowFileError`."""
    data, positions, problems = read_yaml(text, file)
    if problems:
        raise WorkflowFileError(problems)
    return data, positions


_HINTS = {
    "mapping values are not allowed here": (
        "; check the indentation, or put a value containing ': ' in quotes"
    ),
    "could not find expected ':'": "; a key needs ':' after it (check the indentation)",
    "found unexpected end of stream": "; a quote or bracket is not closed",
}


def _syntax_problem(exc: MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = str(exc.problem or exc.context or "syntax error")
    if "\\t" in problem or "\t" in problem:
        return Problem(file, line, column, "a tab cannot be used here: indent with spaces")
    message = f"YAML syntax error: {problem}"
    context = exc.context_mark
    if exc.context and context is not None and context is not mark:
        message += f" ({exc.context} at line {context.line + 1}, column {context.column + 1})"
    message += next((hint for text, hint in _HINTS.items() if text in problem), "")
    return Problem(file, line, column, message)


def _reader_problem(exc: ReaderError, file: str, text: str) -> Problem:
    index = exc.position if isinstance(exc.position, int) else 0
    line, column = _line_col(text, index)
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    return Problem(
        file, line, column, f"the character U+{code:04X} cannot appear in a YAML file: remove it"
    )


# ---------------------------------------------------------- the models ---


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


# ------------------------------------------------- pydantic to problems ---

_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "none_required": "empty",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "less_than_equal": ("le", "at most"),
    "greater_than": ("gt", "more than"),
    "less_than": ("lt", "less than"),
}
_PATTERNS = {
    r"^[a-z_][a-z0-9_]*$": "use lower-case letters, digits and '_', not starting with a digit",
    r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$": (
        "use lower-case letters, digits, '_' and '-', starting with a letter"
    ),
    r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$": (
        "write a namespaced action such as helpdesk.escalate"
    ),
}


_STEP_KEYS = ("id", "goto", "otherwise", "next", "escalate")


@dataclass
class _Error:
    """One pydantic error, located in the data."""

    path: PathKey
    kind: str
    message: str
    context: dict[str, Any]
    union: PathKey | None = None  # where a union member's name was skipped in ``loc``
    on_key: bool = False  # the error is about a mapping key, not its value


def _locate(error: Any, data: Any) -> _Error:
    path: list[str | int] = []
    current, union, on_key = data, None, False
    loc = list(error["loc"])
    for index, part in enumerate(loc):
        if part == "[key]":
            on_key = True
        elif _has(current, part):
            path.append(part)
            current = current[part]
        elif error["type"] == "missing" and index == len(loc) - 1:
            path.append(part)
        elif union is None:
            union = tuple(path)
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return _Error(tuple(path), error["type"], message, dict(error.get("ctx") or {}), union, on_key)


def _without_union_noise(errors: list[_Error]) -> list[_Error]:
    """Of a union's members, keep the errors of the member that fits the value best."""
    kept = []
    for error in errors:
        if error.union is not None and error.path == error.union:
            deeper = any(
                other.union == error.union and len(other.path) > len(error.path) for other in errors
            )
            closer = error.kind in _EXPECTED and any(
                other.path == error.path
                and other.union == error.union
                and other.kind not in _EXPECTED
                for other in errors
            )
            if deeper or closer:
                continue
        kept.append(error)
    return kept


def schema_problems(
    exc: ValidationError, data: Any, positions: Positions, file: str, model: type[BaseModel]
) -> list[Problem]:
    """Pydantic's errors for ``data`` as positioned problems in an administrator's words."""
    located = [_locate(error, data) for error in exc.errors()]
    errors = _without_union_noise(
        [error for error in located if not _refused(error.path, positions.refused)]
    )
    top = "the forms file" if model is FormFile else "the workflow"
    words = _Words(data, top, model)
    misspelt = {  # a missing key that an unknown key beside it is a typo of: report the typo
        (*error.path[:-1], closest(str(error.path[-1]), _fields_at(model, error.path[:-1])))
        for error in errors
        if error.kind == "extra_forbidden"
    }
    errors = [e for e in errors if e.kind != "missing" or e.path not in misspelt]
    problems: dict[tuple[int, int, str], None] = {}
    expected: dict[PathKey, list[str]] = {}
    for error in errors:
        if error.kind in _EXPECTED and error.union is not None:
            expected.setdefault(error.path, []).append(_EXPECTED[error.kind])
            continue
        line, column = _where_error(error, positions)
        problems[(line, column, words.message(error))] = None
    for path, kinds in expected.items():
        line, column = positions.value(path)
        problems[(line, column, words.wrong_type(path, kinds))] = None
    return [Problem(file, line, column, message) for line, column, message in problems]


def _refused(path: PathKey, refused: set[PathKey]) -> bool:
    return any(path[: len(done)] == done for done in refused)


def _where_error(error: _Error, positions: Positions) -> Position:
    if error.on_key or error.kind == "extra_forbidden":
        return positions.key(error.path)
    if error.kind == "missing":
        return positions.value(error.path[:-1])
    return positions.value(error.path)


class _Words:
    """Names the place an error is about (step, form, field, key) and words its message."""

    def __init__(self, data: Any, top: str, model: type[BaseModel]) -> None:
        self.data, self.top, self.model = data, top, model

    def where(self, path: PathKey) -> tuple[str, int]:
        """The innermost step, form or field around ``path``, and how much of it names that."""
        where, end = self.top, 0
        for index in range(1, len(path) + 1):
            named = self._named(path[:index])
            if named is not None:
                where, end = named, index
        return where, end

    def _named(self, prefix: PathKey) -> str | None:
        last, item = prefix[-1], _get(self.data, prefix)
        if _is_step(prefix) and isinstance(last, int):
            ident = item.get("id") if isinstance(item, dict) else None
            return f"step '{ident}'" if isinstance(ident, str) and ident else f"step {last + 1}"
        if len(prefix) == 2 and prefix[0] == "forms":
            return f"form '{last}'"
        if len(prefix) == 4 and prefix[0] == "forms" and prefix[2] == "fields":
            name = item.get("name") if isinstance(item, dict) else None
            field = f"field '{name}'" if isinstance(name, str) and name else f"field {last + 1}"
            return f"{field} of form '{prefix[1]}'"
        return None

    def subject(self, path: PathKey) -> str:
        where, end = self.where(path)
        label = _label(path[end:])
        if not label:
            return where
        return label if where == self.top else f"{label} of {where}"

    def message(self, error: _Error) -> str:
        path, kind = error.path, error.kind
        if kind == "extra_forbidden":
            return self.unknown_key(path)
        if kind == "missing":
            return f"{self.subject(path[:-1])} is missing '{path[-1]}'"
        if error.on_key:
            return f"{self.subject(path[:-1])}: {_key_message(error)}"
        if kind in _EXPECTED:
            return self.wrong_type(path, [_EXPECTED[kind]])
        if kind in ("value_error", "assertion_error"):
            return self.validator_message(path, error.message)
        value = _get(self.data, path)
        if kind == "too_short":
            count = error.context.get("min_length", 1)
            unit = ("entry", "entries") if isinstance(value, dict) else ("item", "items")
            return f"{self.subject(path)} needs at least {count} {unit[count != 1]}"
        return f"{self.subject(path)}: {_constraint(error, value)}"

    def unknown_key(self, path: PathKey) -> str:
        key, parent = str(path[-1]), path[:-1]
        container = self.subject(parent)
        text = f"unknown key '{key}'" + ("" if container == self.top else f" in {container}")
        hint = did_you_mean(key, _fields_at(self.model, parent))
        if not hint and _is_step(parent):
            hint = f": a step has an 'id' and one type, one of {', '.join(STEP_TYPES)}"
        return text + hint

    def wrong_type(self, path: PathKey, kinds: list[str]) -> str:
        wanted = list(dict.fromkeys(kinds))
        if "a number" in wanted and "a whole number" in wanted:
            wanted.remove("a whole number")
        options = _or(wanted)
        value = _get(self.data, path)
        if value is None:
            return f"{self.subject(path)} is empty (expected {options})"
        return f"{self.subject(path)} must be {options}, not {_describe(value)}"

    def validator_message(self, path: PathKey, message: str) -> str:
        where, end = self.where(path)
        if end == len(path) and (where == self.top or where in message):
            return message
        return f"{self.subject(path)}: {message}"


def _constraint(error: _Error, value: Any) -> str:
    context, kind = error.context, error.kind
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(context.get("expected", "")))
        return f"{_quote(value)} is not one of: {', '.join(options)}" + did_you_mean(
            str(value), options
        )
    if kind == "string_pattern_mismatch":
        rule = _PATTERNS.get(str(context.get("pattern")), f"it must match {context.get('pattern')}")
        noun = "step id" if error.path and error.path[-1] in _STEP_KEYS else "name"
        return f"{_quote(value)} is not a valid {noun}: {rule}"
    if kind == "string_too_long":
        return f"{_quote(value)} is longer than {context.get('max_length')} characters"
    if kind == "string_too_short":
        return f"{_quote(value)} is shorter than {context.get('min_length')} characters"
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        return f"{_quote(value)} is too {'small' if 'greater' in kind else 'large'}: " + (
            f"it must be {words} {context.get(name)}"
        )
    return error.message


def _key_message(error: _Error) -> str:
    key = error.path[-1] if error.path else "?"
    if error.kind == "string_pattern_mismatch":
        rule = _PATTERNS.get(str(error.context.get("pattern")), "")
        return f"'{key}' is not a valid name: {rule}".rstrip(": ")
    return f"'{key}': {error.message}"


def _is_step(path: PathKey) -> bool:
    if len(path) == 2:
        return path[0] == "steps" and isinstance(path[1], int)
    return (
        len(path) > 5
        and isinstance(path[-1], int)
        and path[-4:-2] == ("parallel", "branches")
        and _is_step(path[:-4])
    )


def _label(rel: PathKey) -> str:
    keys = [part for part in rel if isinstance(part, str)]
    if not rel:
        return ""
    if isinstance(rel[-1], int):
        return f"item {rel[-1] + 1} of '{keys[-1]}'" if keys else f"item {rel[-1] + 1}"
    return f"'{keys[-1]}'"


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        if not _has(data, part):
            return None
        data = data[part]
    return data


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return isinstance(part, str) and part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _or(options: list[str]) -> str:
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"


def _quote(value: Any) -> str:
    return f"'{_short(value)}'" if isinstance(value, str) else _describe(value)


def _short(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the value {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{_short(value)}'"
    if isinstance(value, (datetime, date)):
        kind = "time" if isinstance(value, datetime) else "date"
        return f"the {kind} {value.isoformat()} (put it in quotes to make it text)"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, dict) else type(value).__name__


def _fields_at(model: type[BaseModel], path: PathKey) -> set[str]:
    """The keys the model accepts at ``path`` (for "did you mean"), aliases included."""
    types: list[Any] = [model]
    for part in path:
        types = [inner for annotation in types for inner in _step_into(annotation, part)]
    names: set[str] = set()
    for annotation in (t for each in types for t in _flatten(each)):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, info in annotation.model_fields.items():
                names.add(info.alias or name)
    return names


def _flatten(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _flatten(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return [inner for arg in get_args(annotation) for inner in _flatten(arg)]
    return [annotation]


def _step_into(annotation: Any, part: str | int) -> list[Any]:
    found: list[Any] = []
    for option in _flatten(annotation):
        origin = get_origin(option)
        if isinstance(option, type) and issubclass(option, BaseModel) and isinstance(part, str):
            found += [
                info.annotation
                for name, info in option.model_fields.items()
                if part in (name, info.alias)
            ]
        elif origin is list and isinstance(part, int):
            found.append(get_args(option)[0])
        elif origin is dict and isinstance(part, str):
            found.append(get_args(option)[1])
    return found
