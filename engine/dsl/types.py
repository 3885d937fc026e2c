"""Field types shared by the workflow and form models: names, durations, expressions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

from engine.dsl.durations import format_duration, parse_duration
from engine.dsl.expressions import ExpressionError, check_condition, check_template, is_template

NAME_PATTERN = r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$"
IDENT_PATTERN = r"^[a-z_][a-z0-9_]*$"

Name = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        max_length=64,
        description="lower-case letters, digits, '_' and '-', starting with a letter",
    ),
]
"""The name of a workflow, form or team slug."""

Ident = Annotated[
    str,
    Field(
        pattern=IDENT_PATTERN,
        max_length=64,
        description="lower-case letters, digits and '_', not starting with a digit",
    ),
]
"""A step id, field name or variable: usable as a name inside expressions."""

ActionName = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
        max_length=100,
        description="a namespaced action such as helpdesk.escalate",
    ),
]


def _condition(text: str) -> str:
    try:
        check_condition(text)
    except ExpressionError as exc:  # pydantic reports ValueError, and lets others escape
        raise ValueError(str(exc)) from None
    return text


def _template(text: str) -> str:
    if is_template(text):
        try:
            check_template(text)
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None
    return text


Condition = Annotated[
    str,
    AfterValidator(_condition),
    Field(description="a Jinja2 expression without {{ }}, e.g. outcome == 'resolved'"),
]
Template = Annotated[
    str,
    AfterValidator(_template),
    Field(description="text with {{ expression }} placeholders"),
]

_DURATION_PATTERN = r"^\s*(\d+\s*[smhdwSMHDW]\s*)+$"

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": _DURATION_PATTERN, "examples": ["30s", "15m", "4h", "1h30m"]}
    ),
]
"""A positive duration such as ``4h`` (stored as a ``timedelta``)."""


def _duration_or_template(value: object) -> object:
    if isinstance(value, str) and is_template(value):
        return _template(value)
    return format_duration(parse_duration(value))


DurationOrTemplate = Annotated[
    str,
    BeforeValidator(_duration_or_template),
    WithJsonSchema(
        {
            "type": "string",
            "description": "a duration such as 4h, or a {{ expression }} giving a time or duration",
        }
    ),
]
"""A due time: a fixed duration, or a template evaluated when the step runs."""
