"""Forms on web pages: widgets for the templates, and posted text back to form data.

:func:`widgets` turns a :class:`~engine.dsl.forms.Form` into one :class:`Widget`
per field: the HTML control that fits the field's type, its label, help,
current value (what was posted, kept on error; else saved data; else the
default), its errors, and which buttons need it (``required_for``).
``templates/engine/_form.html`` only prints them.

:func:`parse_submission` turns an HTML form post (text, repeated keys for
multi-choice fields, absent checkboxes) into the data
:func:`~engine.dsl.forms.validate_submission` expects, so a page submission is
checked by the same model as an API call; :func:`field_errors` groups that
function's errors by field.

Times: a ``datetime-local`` control has no zone, so posted times are read in
the person's ``timezone`` and saved times shown in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from engine.dsl.durations import format_duration
from engine.dsl.forms import Form, FormField

RADIO_MAX = 5
"""A required choice of up to this many options is radio buttons; longer or optional, a select."""
DURATION_PATTERN = r"\s*(\d+\s*[smhdwSMHDW]\s*)+"
DURATION_HINT = "A duration such as 30m, 4h, 2d or 1h30m."
TRUE_TEXTS = ("on", "true", "yes", "1")

_INPUT_TYPES = {
    "text": "text",
    "number": "number",
    "date": "date",
    "datetime-local": "datetime-local",
    "email": "email",
    "duration": "text",
}


class FormInput(Protocol):
    """What a posted form offers: Starlette's ``FormData``, any multidict, or a plain dict."""

    def __contains__(self, key: object) -> bool: ...
    def get(self, key: str, default: Any = None) -> Any: ...


@dataclass(frozen=True)
class Option:
    """One radio button, checkbox or select option of a field."""

    id: str
    value: str
    label: str
    selected: bool = False


@dataclass(frozen=True)
class Widget:
    """One form field as a template prints it.

    ``control`` is one of ``text``, ``textarea``, ``number``, ``date``,
    ``datetime-local``, ``email``, ``duration`` (a text input with a
    pattern), ``select``, ``radio``, ``checkbox`` (a yes/no field) and
    ``checkboxes`` (a multi-choice field). ``attrs`` are extra HTML attributes
    of the control (``min``, ``maxlength``, ``pattern`` ...).
    """

    name: str
    label: str
    help: str
    required: bool
    control: str
    value: str = ""
    checked: bool = False
    choices: tuple[Option, ...] = ()
    errors: tuple[str, ...] = ()
    attrs: tuple[tuple[str, str], ...] = ()
    shown_when: str = ""
    required_for: str = ""
    """For a field only some buttons need: ``required to escalate`` (shown by its label)."""

    @property
    def id(self) -> str:
        return f"field-{self.name}"

    @property
    def help_id(self) -> str:
        return f"{self.id}-help" if self.help else ""

    @property
    def error_id(self) -> str:
        return f"{self.id}-error" if self.errors else ""

    @property
    def described_by(self) -> str:
        """The ``aria-describedby`` ids: help, then errors (empty when neither)."""
        return " ".join(part for part in (self.help_id, self.error_id) if part)

    @property
    def input_type(self) -> str:
        """The ``type`` of an ``<input>`` control (``text`` for a duration)."""
        return _INPUT_TYPES.get(self.control, "text")

    @property
    def is_group(self) -> bool:
        """Radio buttons and checkboxes: a fieldset with a legend."""
        return self.control in ("radio", "checkboxes")

    @property
    def focus_id(self) -> str:
        """Where a link to this field should lead: its control, or a group's first option."""
        return self.choices[0].id if self.is_group and self.choices else self.id


def widgets(
    form: Form,
    *,
    submitted: FormInput | None = None,
    data: Mapping[str, Any] | None = None,
    errors: Mapping[str, Sequence[str]] | None = None,
    timezone: str = "UTC",
    teams: Sequence[tuple[str, str]] | None = None,
) -> list[Widget]:
    """The widgets of ``form``'s fields, in order.

    Values come from ``submitted`` (a post that failed validation, kept as
    typed), else ``data`` (saved values, e.g. a task's), else each field's
    default. ``errors`` is :func:`field_errors`' result. ``teams`` as
    ``(slug, name)`` pairs makes team fields a select instead of a text box.
    """
    zone = ZoneInfo(timezone)
    return [
        replace(
            _widget(field, _current(field, submitted, data, zone), (errors or {}), zone, teams),
            required_for=form.required_note(field),
        )
        for field in form.fields
    ]


def _widget(
    field: FormField,
    value: str | list[str] | bool,
    errors: Mapping[str, Sequence[str]],
    zone: ZoneInfo,
    teams: Sequence[tuple[str, str]] | None,
) -> Widget:
    control = _control(field, teams)
    help_text = field.help
    if control == "duration":
        help_text = f"{help_text} {DURATION_HINT}".strip()
    elif control == "datetime-local":
        help_text = f"{help_text} Times are in {zone.key}.".strip()
    text = value if isinstance(value, str) else ""
    selected = set(value) if isinstance(value, list) else {text}
    options: list[tuple[str, str]] = [(c.value, c.text) for c in field.choices]
    if field.type == "team" and teams is not None:
        options = list(teams)
    if control == "select":
        options.insert(0, ("", "Choose…" if field.required else "(none)"))
    return Widget(
        name=field.name,
        label=field.title,
        help=help_text,
        # a conditional field is required only when shown; the server decides that
        required=field.required and field.shown_when is None and control != "checkbox",
        control=control,
        value=text,
        checked=value is True,
        choices=tuple(
            Option(f"field-{field.name}-{n}", v, label, v in selected)
            for n, (v, label) in enumerate(options)
        ),
        errors=tuple(errors.get(field.name, ())),
        attrs=_attrs(field, control, zone),
        shown_when=field.shown_when or "",
    )


def _control(field: FormField, teams: Sequence[tuple[str, str]] | None) -> str:
    kind = field.type
    if kind == "choice":
        few = len(field.choices) <= RADIO_MAX
        return "radio" if field.required and field.shown_when is None and few else "select"
    if kind == "team":
        return "select" if teams is not None else "text"
    return {
        "multi-choice": "checkboxes",
        "boolean": "checkbox",
        "datetime": "datetime-local",
        "person": "email",
    }.get(kind, kind)


def _attrs(field: FormField, control: str, zone: ZoneInfo) -> tuple[tuple[str, str], ...]:
    attrs: list[tuple[str, str]] = []
    low, high = field.min, field.max
    if control in ("text", "textarea") and field.type in ("text", "textarea"):
        for name, bound in (("minlength", low), ("maxlength", high)):
            if bound is not None:
                attrs.append((name, str(int(float(bound)))))
    elif control in ("number", "date", "datetime-local"):
        for name, bound in (("min", low), ("max", high)):
            if bound is not None:
                attrs.append((name, _text(field, bound, zone)))
        if control == "number":
            attrs.append(("step", "any"))
    elif control == "duration":
        attrs += [("pattern", DURATION_PATTERN), ("autocomplete", "off")]
    elif control == "email":
        attrs.append(("autocomplete", "off"))
    return tuple(attrs)


def _current(
    field: FormField, submitted: FormInput | None, data: Mapping[str, Any] | None, zone: ZoneInfo
) -> str | list[str] | bool:
    """The field's value as its control shows it: text, the chosen values, or ticked or not."""
    if submitted is not None:
        if field.type == "multi-choice":
            return [str(v) for v in _getlist(submitted, field.name)]
        if field.type == "boolean":
            return str(submitted.get(field.name, "")).strip().lower() in TRUE_TEXTS
        raw = submitted.get(field.name)
        return raw if isinstance(raw, str) else ""
    value = data.get(field.name) if data is not None else field.default
    if field.type == "multi-choice":
        items = value if isinstance(value, (list, tuple)) else [] if value is None else [value]
        return [str(item) for item in items]
    if field.type == "boolean":
        return value is True or str(value).strip().lower() in TRUE_TEXTS
    return "" if value is None else _text(field, value, zone)


def _text(field: FormField, value: Any, zone: ZoneInfo) -> str:
    """``value`` as an HTML control holds it (a datetime in ``zone``, to the minute)."""
    if field.type == "datetime":
        moment = value
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(moment, datetime):
            local = moment.astimezone(zone) if moment.tzinfo else moment
            return local.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------- posting --


def parse_submission(form: Form, submitted: FormInput, *, timezone: str = "UTC") -> dict[str, Any]:
    """The data of ``form``'s fields in an HTML form post, for ``validate_submission``.

    Only the form's fields are read (a CSRF token or the ``outcome`` button are
    not form data). A multi-choice field is the list of its repeated key; a
    checkbox is True when posted, False when absent; a field missing from the
    post is left out, so its default applies. A ``datetime-local`` value gets
    ``timezone``. Values are not checked here: that is the validator's job.
    """
    data: dict[str, Any] = {}
    zone = ZoneInfo(timezone)
    for field in form.fields:
        if field.type == "multi-choice":
            data[field.name] = [v for v in _getlist(submitted, field.name) if v != ""]
        elif field.type == "boolean":
            raw = submitted.get(field.name) if field.name in submitted else False
            data[field.name] = True if str(raw).strip().lower() in TRUE_TEXTS else raw
        elif field.name in submitted:
            raw = submitted.get(field.name)
            data[field.name] = _moment(raw, zone) if field.type == "datetime" else raw
    return data


def _moment(raw: Any, zone: ZoneInfo) -> Any:
    """A ``datetime-local`` text as an aware datetime in ``zone``; anything else as it came."""
    if not isinstance(raw, str) or not raw.strip():
        return raw
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return raw
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _getlist(submitted: FormInput, name: str) -> list[Any]:
    getlist = getattr(submitted, "getlist", None)
    if getlist is not None:
        return list(getlist(name))
    value = submitted.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def field_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """``validate_submission``'s ``[{"field", "message"}]`` as ``{field: [messages]}``, in order."""
    grouped: dict[str, list[str]] = {}
    for error in errors:
        grouped.setdefault(str(error.get("field", "")), []).append(str(error["message"]))
    return grouped


def outcome_buttons(form: Form, *, default: str = "Submit") -> list[tuple[str, str]]:
    """``(value, label)`` of each outcome button; without outcomes, one: ``("", default)``."""
    return [(o.value, o.text) for o in form.outcomes] or [("", default)]
