"""Form definitions, and the pydantic model each becomes at load time.

That one model validates a portal submission, an API submission and a task
completion alike, so a form means the same thing everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from engine.dsl.durations import parse_duration
from engine.dsl.expressions import ExpressionError, evaluate
from engine.dsl.types import ActionName, Condition, Ident, Name

FieldType = Literal[
    "text",
    "textarea",
    "number",
    "date",
    "datetime",
    "choice",
    "multi-choice",
    "boolean",
    "person",
    "team",
    "duration",
]

CHOICE_TYPES = ("choice", "multi-choice")
RANGE_TYPES = ("number", "date", "datetime", "duration", "text", "textarea", "multi-choice")

Options = dict[str, list[list[str]]]
"""Choice lists' options as a task keeps them: ``{list name: [[value, label], ...]}``."""


class Strict(BaseModel):
    """Every language model refuses unknown keys, so a typo is an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Choice(Strict):
    """One option of a choice field: the stored ``value`` and the ``label`` people see."""

    value: str = Field(min_length=1, max_length=100)
    label: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, (str, int)) and not isinstance(data, bool):
            return {"value": str(data)}
        return data

    @property
    def text(self) -> str:
        return self.label or self.value


class FormField(Strict):
    """One field of a form."""

    name: Ident
    type: FieldType = "text"
    label: str = ""
    help: str = ""
    required: bool = False
    default: Any = None
    min: int | float | str | None = Field(
        default=None,
        description="smallest number, date, duration; or shortest text / fewest choices",
    )
    max: int | float | str | None = Field(
        default=None, description="largest number, date, duration; or longest text / most choices"
    )
    pattern: str | None = Field(default=None, description="a regular expression text must match")
    choices: list[Choice] = Field(default_factory=list)
    choices_from: ActionName | None = Field(
        default=None,
        description="the choice list (contributed by a plugin) the options come from, "
        "instead of 'choices'",
    )
    shown_when: Condition | None = Field(
        default=None, description="show (and require) the field only when this holds"
    )
    required_for: list[Ident] = Field(
        default_factory=list,
        description="the outcomes (buttons) that need this field filled; others do not",
    )
    channels: list[Literal["portal", "api", "email", "phone"]] = Field(
        default_factory=list,
        description="the intake channels that show and take this field (empty: every channel)",
    )

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        if self.choices and self.choices_from:
            raise ValueError(
                "give either 'choices' or 'choices_from', not both: 'choices_from' takes "
                f"the options from the list '{self.choices_from}'"
            )
        if self.type in CHOICE_TYPES and not (self.choices or self.choices_from):
            raise ValueError(f"a {self.type} field needs choices (or choices_from)")
        if (self.choices or self.choices_from) and self.type not in CHOICE_TYPES:
            which = "choices_from only applies" if self.choices_from else "choices only apply"
            raise ValueError(f"{which} to choice and multi-choice fields, not {self.type}")
        values = [choice.value for choice in self.choices]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise ValueError(f"choice {duplicates[0]!r} is listed twice")
        if self.required and self.required_for:
            raise ValueError(
                "'required: true' needs the field for every outcome already: "
                "drop 'required' to need it only for those in 'required_for'"
            )
        if self.required_for and self.type == "boolean":
            raise ValueError("a boolean field is always answered: 'required_for' does not apply")
        if self.pattern is not None and self.type not in ("text", "textarea"):
            raise ValueError("pattern only applies to text and textarea fields")
        if (self.min is not None or self.max is not None) and self.type not in RANGE_TYPES:
            raise ValueError(f"min and max do not apply to {self.type} fields")
        low, high = (_bound(self, self.min, "min"), _bound(self, self.max, "max"))
        if low is not None and high is not None and low > high:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.default is not None:
            try:
                value = _convert(self, self.default)
                if not self.choices_from:  # its options are known once the list is read
                    _check_value(self, value)
            except ValueError as exc:
                raise ValueError(f"default {self.default!r} is not valid: {exc}") from None
        return self


class Outcome(Strict):
    """A button that completes a task; the workflow branches on ``outcome``."""

    value: Ident
    label: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"value": data} if isinstance(data, str) else data

    @property
    def text(self) -> str:
        return self.label or self.value.replace("_", " ").capitalize()


class Form(Strict):
    """A form: its fields and, for task forms, the outcomes that complete the task."""

    title: str = ""
    description: str = ""
    fields: list[FormField] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Form:
        for kind, names in (
            ("field", [f.name for f in self.fields]),
            ("outcome", [o.value for o in self.outcomes]),
        ):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{kind} '{twice[0]}' is defined twice")
        return self

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)

    def for_channel(self, channel: str) -> Form:
        """This form as ``channel`` shows it: without the fields other channels only take."""
        fields = [f for f in self.fields if not f.channels or channel in f.channels]
        if len(fields) == len(self.fields):
            return self
        shown = self.model_copy(update={"fields": fields})
        shown.__dict__.pop("model", None)  # the cached submission model is the whole form's
        return shown

    def channel_errors(self, data: Any, channel: str) -> list[dict[str, Any]]:
        """``{"field", "message"}`` for each field in ``data`` that ``channel`` does not take."""
        given = data if isinstance(data, dict) else {}
        return [
            {"field": f.name, "message": f"is only taken by {', '.join(f.channels)}, not {channel}"}
            for f in self.fields
            if f.channels and channel not in f.channels and not _empty(given.get(f.name))
        ]

    def required_note(self, field: FormField, outcome: str | None = None) -> str:
        """``required to escalate`` for a field only some outcomes need ("" for none).

        With ``outcome``, the note names that one only (an error's words).
        """
        wanted = [outcome] if outcome is not None else field.required_for
        labels = {o.value: o.text for o in self.outcomes}
        names = [_lower_first(labels.get(value, value)) for value in wanted]
        if not names:
            return ""
        return "required to " + (
            names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        )

    @cached_property
    def model(self) -> type[BaseModel]:
        """The pydantic model that validates submissions of this form."""
        return build_model(self)


def choice_list_names(form: Form) -> list[str]:
    """The choice lists ``form``'s fields take their options from, each once, in order."""
    return list(dict.fromkeys(f.choices_from for f in form.fields if f.choices_from))


def with_choices(form: Form, options: Mapping[str, Sequence[Sequence[str]]]) -> Form:
    """``form`` with each ``choices_from`` field's options filled in from ``options``.

    ``options`` maps a list's name to ``[value, label]`` pairs (what
    :func:`engine.choices.load_choices` read). A list missing from
    ``options`` leaves its fields as they are, and a value submitted for them
    is refused. A form without such fields is returned as it is.
    """
    if not any(f.choices_from in options for f in form.fields if f.choices_from):
        return form
    fields = [
        field.model_copy(
            update={
                "choices_from": None,
                "choices": [
                    Choice(value=v, label=label) for v, label in options[field.choices_from]
                ],
            }
        )
        if field.choices_from in options
        else field
        for field in form.fields
    ]
    values = {name: getattr(form, name) for name in type(form).model_fields}
    return type(form).model_construct(**{**values, "fields": fields})  # checked when loaded


def _lower_first(text: str) -> str:
    """``Escalate further`` → ``escalate further``; ``VPN access`` stays as it is."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _bound(field: FormField, value: float | str | None, which: str) -> Any:
    if value is None:
        return None
    try:
        if field.type == "date":
            return date.fromisoformat(str(value))
        if field.type == "datetime":
            return datetime.fromisoformat(str(value))
        if field.type == "duration":
            return parse_duration(value)
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{which} {value!r} does not fit a {field.type} field: {exc}") from None


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("expected text")
    return str(value).strip()


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return int(number) if number == number.to_integral_value() else float(number)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "on", "yes", "1"):
        return True
    if text in ("false", "off", "no", "0", ""):
        return False
    raise ValueError(f"{value!r} is not yes or no")


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return date.fromisoformat(str(value).strip())


def _datetime(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    if moment.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-11-23T09:00+01:00")
    return moment


_CONVERTERS: dict[str, Any] = {
    "text": _text,
    "person": _text,
    "team": _text,
    "choice": _text,
    "textarea": lambda value: _text(value) and str(value),
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "duration": parse_duration,
    "multi-choice": lambda value: [str(v) for v in (value if isinstance(value, list) else [value])],
}


def _convert(field: FormField, value: Any) -> Any:
    """Turn submitted ``value`` (form text, JSON) into the field's Python value."""
    return _CONVERTERS[field.type](value)


def _check_value(field: FormField, value: Any) -> None:
    low, high = _bound(field, field.min, "min"), _bound(field, field.max, "max")
    if field.choices_from:
        raise ValueError(
            f"the options of the list '{field.choices_from}' were not read, so no value "
            "can be checked; this is a bug of the caller, not of the submission"
        )
    allowed = [choice.value for choice in field.choices]
    given = value if field.type == "multi-choice" else [value]
    wrong = [item for item in given if item not in allowed] if field.type in CHOICE_TYPES else []
    if wrong:
        if not allowed:
            raise ValueError(f"{wrong[0]!r} is not an option: there are none to choose from")
        raise ValueError(f"{wrong[0]!r} is not one of {', '.join(allowed)}")
    measure = len(value) if field.type in ("text", "textarea", "multi-choice") else value
    unit = {"text": " characters", "textarea": " characters", "multi-choice": " choices"}.get(
        field.type, ""
    )
    if low is not None and measure < low:
        raise ValueError(f"must be at least {field.min}{unit}")
    if high is not None and measure > high:
        raise ValueError(f"must be at most {field.max}{unit}")
    if field.pattern is not None and not re.fullmatch(field.pattern, value):
        raise ValueError(f"must match the pattern {field.pattern}")


def _empty(value: Any) -> bool:
    return value is None or value in ("", [])


class Submission(BaseModel):
    """Base of every form model: unknown keys are refused; hidden fields are dropped."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _validate(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        form: Form = cls.__tierflow_form__  # type: ignore[attr-defined]
        outcome = (info.context or {}).get("outcome")
        if not isinstance(data, dict):
            raise ValueError("expected an object of field values")
        values = dict(data)
        errors: list[dict[str, Any]] = []
        unknown = sorted(set(values) - {f.name for f in form.fields})
        result: dict[str, Any] = {}
        for field in form.fields:
            raw = values.get(field.name)
            if _empty(raw):
                result[field.name] = None if field.type != "multi-choice" else []
                if field.default is not None and field.name not in values:
                    result[field.name] = _convert(field, field.default)
                continue
            try:
                value = _convert(field, raw)
                _check_value(field, value)
                result[field.name] = value
            except ValueError as exc:
                errors.append({"field": field.name, "message": str(exc)})
        for field in form.fields:
            shown = _shown(field, result)
            if not shown:
                result[field.name] = None if field.type != "multi-choice" else []
                errors = [e for e in errors if e["field"] != field.name]
            elif (
                (field.required or outcome in field.required_for)
                and _empty(result.get(field.name))
                and not any(e["field"] == field.name for e in errors)
            ):
                note = "required" if field.required else form.required_note(field, outcome)
                errors.append({"field": field.name, "message": f"this field is {note}"})
        for name in unknown:
            errors.append({"field": name, "message": "is not a field of this form"})
        if errors:
            raise FormErrors(errors)
        return handler(result)


def _shown(field: FormField, values: dict[str, Any]) -> bool:
    if field.shown_when is None:
        return True
    try:
        return bool(evaluate(field.shown_when, values))
    except ExpressionError:
        return False


class FormErrors(ValueError):
    """Per-field errors of a submission: a list of ``{"field", "message"}``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


_PY_TYPES: dict[str, Any] = {
    "text": str,
    "textarea": str,
    "number": float | int,
    "date": date,
    "datetime": datetime,
    "choice": str,
    "multi-choice": list[str],
    "boolean": bool,
    "person": str,
    "team": str,
    "duration": timedelta,
}


def build_model(form: Form, name: str = "Form") -> type[BaseModel]:
    """A pydantic model for ``form``; ``Model.model_validate(data)`` checks a submission.

    Errors are raised as :class:`FormErrors` (wrapped in pydantic's
    ``ValidationError``): use :func:`validate_submission` for a plain list.
    """
    fields: dict[str, Any] = {
        field.name: (Annotated[_PY_TYPES[field.type] | None, Field(title=field.title)], None)
        for field in form.fields
    }
    model = create_model(f"{name}Submission", __base__=Submission, **fields)
    model.__tierflow_form__ = form  # type: ignore[attr-defined]
    return model


def validate_submission(
    form: Form, data: Any, outcome: str | None = None
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Check ``data`` against ``form``: ``(clean values, [])`` or ``(None, field errors)``.

    ``outcome`` is the button a task is completed with: the fields whose
    ``required_for`` names it are required too (``None``: an intake or a
    signal's form, which has no outcomes). A text holding a NUL character is
    refused in every field (no database stores one in text; PostgreSQL
    refuses it outright).
    """
    errors: list[dict[str, Any]] = _nul_errors(data)
    try:
        clean = form.model.model_validate(data, context={"outcome": outcome})
    except ValidationError as exc:
        seen = {error["field"] for error in errors}
        for error in exc.errors():
            cause = error.get("ctx", {}).get("error")
            found = (
                cause.errors
                if isinstance(cause, FormErrors)
                else [{"field": ".".join(map(str, error["loc"])), "message": error["msg"]}]
            )
            errors.extend(e for e in found if e["field"] not in seen)
        return None, errors
    return (None, errors) if errors else (clean.model_dump(), [])


NUL_MESSAGE = "contains a NUL character, which no field accepts; remove it"


def _nul_errors(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        return []
    return [
        {"field": str(name), "message": NUL_MESSAGE}
        for name, value in data.items()
        if any("\x00" in text for text in _texts(value))
    ]


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


__all__ = [
    "Choice",
    "Form",
    "FormErrors",
    "FormField",
    "Name",
    "Options",
    "Outcome",
    "choice_list_names",
    "validate_submission",
    "with_choices",
]
