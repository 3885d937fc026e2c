"""What the people and team admin pages share: reading posts, transactions, redirects, widgets.

Forms are declared as data (:class:`Field`) and turned into
:class:`engine.web.forms.Widget` values with what was typed or stored and
their errors (:func:`widgets`); the macros of ``templates/engine/_form.html``
print them with labels, fieldsets and legends, errors linked to their control.
Passwords are never sent back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from engine.db import make_read_session_factory
from engine.people import EmailTaken, Invalid, PeopleError
from engine.web.errors import error_response
from engine.web.forms import Option, Widget

MAX_ID = 2**31 - 1
"""Ids above this are nobody's (and would overflow PostgreSQL's ``integer``)."""

T = TypeVar("T")
R = TypeVar("R")
Values = Mapping[str, str | list[str]]
Errors = Mapping[str, str]


# ----------------------------------------------------------------- posts ---


def text(form: FormData, name: str) -> str:
    """The posted text of ``name`` (``""`` when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def texts(form: FormData, name: str) -> list[str]:
    """Every posted text of ``name`` (ticked checkboxes)."""
    return [value for value in form.getlist(name) if isinstance(value, str)]


def submitted(form: FormData, *lists: str) -> dict[str, str | list[str]]:
    """What was posted, as widgets show it again (the ``lists`` fields as lists)."""
    values: dict[str, str | list[str]] = {name: text(form, name) for name in form}
    return values | {name: texts(form, name) for name in lists}


def as_id(value: object) -> int | None:
    """``value`` as a row id, or ``None`` if it cannot be one."""
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        return as_id(int(value))
    return None


def errors_of(exc: PeopleError) -> dict[str, str]:
    """A refused change as field errors (``""``: not about one field)."""
    if isinstance(exc, Invalid):
        return exc.errors
    if isinstance(exc, EmailTaken):
        return {"email": f"{exc.email} is someone else's e-mail already; each needs their own"}
    return {exc.field: str(exc)}


# ---------------------------------------------------------- transactions ---


async def read(request: Request, load: Callable[[Session], T]) -> T:
    """``load(db)`` in a read-only session, in a thread."""

    def run() -> T:
        with make_read_session_factory(request.app.state.db)() as db:
            return load(db)

    return await run_in_threadpool(run)


async def write(request: Request, change: Callable[[Session], T]) -> T:
    """``change(db)`` in one transaction, in a thread: committed if it returns, else rolled back."""

    def run() -> T:
        with request.app.state.sessions.begin() as db:
            return change(db)

    return await run_in_threadpool(run)


async def apply(
    request: Request, find: Callable[[Session], R | None], change: Callable[[Session, R], object]
) -> bool | dict[str, str]:
    """Find a row and ``change(db, row)`` in one transaction.

    ``True`` when done, ``False`` when there was no such row, else the errors of
    the refused change (nothing was written).
    """

    def run(db: Session) -> bool:
        row = find(db)
        if row is None:
            return False
        change(db, row)
        return True

    try:
        return await write(request, run)
    except PeopleError as exc:
        return errors_of(exc)


def redirect(request: Request, name: str, done: str = "", **params: int) -> Response:
    """303 to route ``name``, with ``?done=`` saying what was done."""
    path = request.app.url_path_for(name, **params)
    return RedirectResponse(f"{path}?{urlencode({'done': done})}" if done else path, 303)


def missing(request: Request, what: str, where: str) -> Response:
    """404 for an id that is nobody's, pointing at the list."""
    return error_response(request, 404, f"There is no {what}; the list is at {where}.")


def notice(request: Request, notices: Mapping[str, str]) -> str:
    """The confirmation for ``?done=`` (only known ones: nothing posted is echoed)."""
    return notices.get(request.query_params.get("done", ""), "")


# --------------------------------------------------------------- widgets ---


@dataclass(frozen=True)
class Field:
    """One control of an admin form: ``control`` as :class:`Widget` names them, or ``password``."""

    name: str
    label: str
    control: str = "text"
    required: bool = False
    help: str = ""
    attrs: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    """``(value, label)`` of a select or checkboxes."""


class _Secret(Widget):
    """A password input: never filled in, whatever was posted."""

    @property
    def input_type(self) -> str:
        return "password"


def widgets(fields: Sequence[Field], values: Values, errors: Errors) -> list[Widget]:
    """``fields`` as widgets holding ``values`` and ``errors`` (by field name)."""
    return [_widget(field, values, errors) for field in fields]


def _widget(field: Field, values: Values, errors: Errors) -> Widget:
    message = errors.get(field.name, "")
    problems = (message[:1].upper() + message[1:],) if message else ()
    raw = values.get(field.name, "")
    value = raw if isinstance(raw, str) else ""
    chosen = set(raw) if isinstance(raw, list) else {raw}
    kind = _Secret if field.control == "password" else Widget
    return kind(
        name=field.name,
        label=field.label,
        help=field.help,
        required=field.required,
        control=field.control,
        value="" if field.control == "password" else value,
        checked=field.control == "checkbox" and bool(value),
        choices=tuple(
            Option(f"field-{field.name}-{n}", option, label, option in chosen)
            for n, (option, label) in enumerate(field.options)
        ),
        errors=problems,
        attrs=field.attrs,
    )
