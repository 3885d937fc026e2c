"""Expressions and templates in workflow files: Jinja2 in a sandbox, strict about names.

A *condition* is a bare Jinja2 expression (``item.priority <= 2 and outcome ==
'escalate'``); a *template* is text with ``{{ ... }}`` placeholders. Both run in
an immutable sandbox (no attribute starting with ``_``, no mutation, no Python
objects beyond plain data) with ``StrictUndefined``: a misspelt name is an error,
never a silent empty string. A template that is exactly one ``{{ expression }}``
keeps the expression's type (a number stays a number).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import TierflowError

_SINGLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)


class ExpressionError(TierflowError):
    """An expression or template failed to parse or to evaluate."""


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()  # no range(), lipsum(), dict(), cycler() ...: data only
    env.globals.update({"true": True, "false": False, "none": None})
    return env


ENV = _environment()


@dataclass(frozen=True)
class Reference:
    """A name an expression reads, with the attribute path after it (``steps.triage.data``)."""

    path: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.path)


def is_template(text: str) -> bool:
    """Whether ``text`` holds any Jinja2 syntax at all."""
    return "{{" in text or "{%" in text or "{#" in text


def check_condition(text: str) -> nodes.Expr:
    """Parse a condition; raises :class:`ExpressionError` (with the column) when it is not one."""
    if not text.strip():
        raise ExpressionError("the condition is empty")
    if is_template(text):
        bare = text.replace("{{", "").replace("}}", "").strip()
        raise ExpressionError(f"write the condition without {{{{ }}}}: {bare!r}")
    return _parse_expression(text)


def check_template(text: str) -> nodes.Template:
    """Parse a template; raises :class:`ExpressionError` when it does not parse."""
    try:
        return ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise ExpressionError(_syntax_message(exc, text)) from None


@lru_cache(maxsize=4096)
def _parse_expression(text: str) -> nodes.Expr:
    try:
        body = ENV.parse("{{ " + text + " }}").body
    except TemplateSyntaxError as exc:
        raise ExpressionError(_syntax_message(exc, text)) from None
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        raise ExpressionError(f"expression does not parse: {text.strip()!r} is not one expression")
    return body[0].nodes[0]


def _syntax_message(exc: TemplateSyntaxError, text: str) -> str:
    reason = (exc.message or "syntax error").replace("end of print statement", "end of expression")
    return f"expression does not parse: {reason} in {text.strip()!r}"


def references(tree: nodes.Node) -> Iterator[Reference]:
    """Every variable read in ``tree``, with constant attribute/item paths after it.

    ``steps.triage.data['urgency']`` gives ``("steps", "triage", "data", "urgency")``;
    names bound inside the expression (loop variables) are left out.
    """
    bound = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for node in _outermost_chains(tree):
        path = _path(node)
        if path and path[0] not in bound:
            yield Reference(path)


def _outermost_chains(tree: nodes.Node) -> Iterator[nodes.Node]:
    """Name nodes and the longest Getattr/Getitem chains built on them."""

    def visit(node: nodes.Node, parent_is_chain: bool) -> Iterator[nodes.Node]:
        is_chain = isinstance(node, (nodes.Getattr, nodes.Getitem)) and _path(node) is not None
        if (isinstance(node, nodes.Name) and node.ctx == "load" and not parent_is_chain) or (
            is_chain and not parent_is_chain
        ):
            yield node
        for child in node.iter_child_nodes():
            child_in_chain = is_chain and child is getattr(node, "node", None)
            yield from visit(child, child_in_chain)

    yield from visit(tree, False)


def _path(node: nodes.Node) -> tuple[str, ...] | None:
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, (str, int)):
                parts.append(str(node.arg.value))
            else:
                parts.clear()  # a computed key: only the part before it is known
            node = node.node
        elif isinstance(node, nodes.Name):
            parts.append(node.name)
            return tuple(reversed(parts))
        else:
            return None


def evaluate(condition: str, context: Mapping[str, Any]) -> Any:
    """Evaluate a condition over ``context``; raises :class:`ExpressionError`."""
    try:
        value = ENV.compile_expression(condition, undefined_to_none=False)(**context)
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        return value
    except (UndefinedError, SecurityError, TypeError, ValueError, ArithmeticError) as exc:
        raise ExpressionError(f"{condition.strip()!r}: {exc}") from None
    except TemplateSyntaxError as exc:
        raise ExpressionError(_syntax_message(exc, condition)) from None


def render(template: str, context: Mapping[str, Any]) -> Any:
    """Render a template; ``"{{ expr }}"`` alone returns the expression's value, not text."""
    single = _SINGLE.match(template)
    if single and "}}" not in single.group(1) and "{{" not in single.group(1):
        return evaluate(single.group(1), context)
    try:
        return ENV.from_string(template).render(**context)
    except (UndefinedError, SecurityError, TypeError, ValueError, ArithmeticError) as exc:
        raise ExpressionError(f"{template.strip()!r}: {exc}") from None
    except TemplateSyntaxError as exc:
        raise ExpressionError(_syntax_message(exc, template)) from None


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every template string inside ``value`` (dicts and lists are walked)."""
    if isinstance(value, str):
        return render(value, context) if is_template(value) else value
    if isinstance(value, Mapping):
        return {key: render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    return value
