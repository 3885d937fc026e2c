"""Read YAML with the line and column of every key and value.

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
the 1-based ``(line, column)`` of that key and of its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

from engine.dsl.problems import Problem, WorkflowFileError

MAX_FILE_BYTES = 1024 * 1024
"""Files larger than this are refused before parsing."""
MAX_NODES = 100_000
"""The most values a file may expand to (aliases included): stops alias bombs."""
MAX_DEPTH = 100
"""The deepest nesting of mappings and lists a file may have."""

PathKey = tuple[str | int, ...]
Position = tuple[int, int]


@dataclass(frozen=True)
class Origin:
    """Where the values below a path came from when it is not the file itself.

    A workflow's steps taken from a fragment are positioned in the fragments
    ``file``; ``note`` says which workflow used the fragment, and where.
    """

    file: str
    note: str


@dataclass
class Positions:
    """Where each key and value of a file is: path (keys and list indexes) → (line, col)."""

    keys: dict[PathKey, Position] = field(default_factory=dict)
    values: dict[PathKey, Position] = field(default_factory=dict)
    refused: set[PathKey] = field(default_factory=set)
    """Values already reported (a tag, an unreadable scalar): their type is not checked again."""
    origins: dict[PathKey, Origin] = field(default_factory=dict)
    """Paths whose values came from another file (a fragment's steps), and from where."""

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

    def origin(self, path: PathKey) -> Origin | None:
        """The origin of the value at ``path`` (the nearest enclosing one), if from elsewhere."""
        if not self.origins:
            return None
        for end in range(len(path), 0, -1):
            found = self.origins.get(path[:end])
            if found is not None:
                return found
        return None

    def problem(self, file: str, path: PathKey, message: str, *, key: bool = False) -> Problem:
        """A problem at ``path`` of ``file``: in the file the value came from, if another one."""
        line, column = self.key(path) if key else self.value(path)
        origin = self.origin(path)
        if origin is None:
            return Problem(file, line, column, message)
        return Problem(origin.file, line, column, message + origin.note, via=file)

    def where(self, path: PathKey, file: str, beside: PathKey | None = None) -> str:
        """``line N`` of the value at ``path`` of ``file``; ``file:line:col`` if another file.

        Another file: not the one the value at ``beside`` is in (a fragment's).
        """
        line, column = self.value(path)
        here, there = self.origin(path), self.origin(beside) if beside is not None else None
        here_file = here.file if here is not None else file
        if here_file == (there.file if there is not None else file):
            return f"line {line}"
        return f"{here_file}:{line}:{column}"


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
