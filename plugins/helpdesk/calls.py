"""Log a call: an agent takes a request by phone for the person on the line.

``GET /helpdesk/calls/new`` lists the request types that take phone calls;
``GET /helpdesk/calls/new/{type}`` shows one type's call form: the caller
(:mod:`plugins.helpdesk.callers`: found by e-mail or name, or added on the
spot), the type's own intake form (the one the portal shows) and, when that
form has a ``resolved_on_call`` field, "Resolved during the call" with what
was done (``resolution``), asked for here whatever the form says of them.
``POST`` submits it through :func:`engine.intake.submit_request` with channel
``phone``, the caller as the requester and the agent as ``logged_by`` (the
actor of the ``created`` event); its "Find caller" button only looks the
caller up.

As in the portal, each rendered form carries an idempotency key, so a double
click makes one ticket; mistakes come back 422 with every field's error and
the input kept, a Temporal outage 503 with the input kept. A new caller is
added only once the whole form is right and Temporal answers; the form then
finds them instead of adding them again.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from engine.contrib import NavItem
from engine.db import make_read_session_factory
from engine.errors import TemporalError
from engine.intake import (
    MAX_KEY,
    Intake,
    IntakeError,
    IntakeInvalid,
    Submission,
    check_submission,
    submit_request,
)
from engine.model import WorkItem
from engine.runtime.client import Runtime
from engine.web.access import can_view_work_item, page, viewer_of
from engine.web.forms import TRUE_TEXTS, Widget, field_errors, parse_submission, widgets
from engine.web.portal import intake_by
from plugins.helpdesk import callers
from plugins.helpdesk.callers import Caller, text

CHANNEL = "phone"
KEY_FIELD = "idempotency_key"
RESOLVED = "resolved_on_call"
RESOLUTION = "resolution"
CALL_FIELDS = (RESOLVED, RESOLUTION)
"""Intake fields this page asks for itself, in its "During the call" section."""
VISIBLE_WAIT = 5.0
"""Seconds to wait for the run to give the ticket to a team, so the agent may open its page."""
TEMPORAL_DOWN = (
    "The workflow engine cannot be reached just now, so the call could not be logged. "
    "Everything is kept below: send the form again in a minute (it still makes one ticket)."
)
NAVIGATION = [NavItem("Log a call", "/helpdesk/calls/new", roles=frozenset({"agent"}), order=15)]


@dataclass(frozen=True)
class TypeLink:
    """A request type a call can be logged as."""

    href: str
    title: str
    description: str


# ------------------------------------------------------------ the pages ---


async def _loaded(request: Request) -> Intake:
    """The path's request type if it takes calls; the 404 page saying why not otherwise."""
    try:
        name = request.path_params["request_type"]
        return await run_in_threadpool(intake_by, request, name, CHANNEL)
    except IntakeError as exc:
        message = str(exc)
        raise HTTPException(
            404, f"{message[:1].upper()}{message[1:]}. Log a call lists the types that take calls."
        ) from None


async def call_types(request: Request) -> Response:
    """GET /helpdesk/calls/new: the request types a call can be logged as, by title."""

    def load() -> list[TypeLink]:
        offered = []
        for kind in sorted(request.app.state.request_types.values(), key=lambda t: t.title):
            try:
                intake_by(request, kind.name, CHANNEL)
            except IntakeError:
                continue
            href = str(request.app.url_path_for("helpdesk.call", request_type=kind.name))
            offered.append(TypeLink(href, kind.title, kind.description))
        return offered

    return request.app.state.templates.TemplateResponse(
        request, "helpdesk/calls.html", {"types": await run_in_threadpool(load)}
    )


def _ticked(posted: FormData | None) -> bool:
    return posted is not None and text(posted, RESOLVED).strip().lower() in TRUE_TEXTS


def _call_widgets(posted: FormData | None, errors: dict[str, list[str]]) -> list[Widget]:
    typed = "" if posted is None else text(posted, RESOLUTION)
    return [
        Widget(RESOLVED, "Resolved during the call", "", False, "checkbox",
               checked=_ticked(posted), errors=tuple(errors.get(RESOLVED, ()))),
        Widget(RESOLUTION, "What was done", "Needed when it was resolved during the call.",
               False, "textarea", value=typed, errors=tuple(errors.get(RESOLUTION, ()))),
    ]  # fmt: skip


def _form_page(
    request: Request,
    intake: Intake,
    *,
    posted: FormData | None = None,
    caller: Caller | None = None,
    errors: dict[str, list[str]] | None = None,
    problem: str = "",
    status: int = 200,
) -> Response:
    form, errors, caller = intake.form, errors or {}, caller or Caller()
    asked = widgets(form, submitted=posted, errors=errors) if form is not None else []
    groups = {
        "caller": callers.caller_widgets(posted, caller),
        "new_caller": callers.new_caller_widgets(posted, caller.errors),
        "request": [w for w in asked if w.name not in CALL_FIELDS],
        "call": _call_widgets(posted, errors) if _offers_resolution(intake) else [],
    }
    shown = {w.name for group in groups.values() for w in group}
    problems = [problem] if problem else []
    problems += [
        f"{name}: {message}" if name else message
        for name, messages in errors.items()
        if name not in shown
        for message in messages
    ]
    key = "" if posted is None else text(posted, KEY_FIELD)
    return request.app.state.templates.TemplateResponse(
        request,
        "helpdesk/call_new.html",
        {
            "type": intake.request_type,
            "heading": (form.title if form is not None else "") or intake.request_type.title,
            "widgets": groups,
            "every_widget": [w for group in groups.values() for w in group],
            "key_field": KEY_FIELD,
            "key": key if 0 < len(key) <= MAX_KEY else uuid.uuid4().hex,
            "problems": problems,
        },
        status_code=status,
    )


def _offers_resolution(intake: Intake) -> bool:
    return intake.form is not None and intake.form.field(RESOLVED) is not None


async def new_call(request: Request) -> Response:
    """GET /helpdesk/calls/new/{request_type}: the call form, with a fresh idempotency key."""
    return _form_page(request, await _loaded(request))


# ----------------------------------------------------------- submitting ---


def call_data(intake: Intake, posted: FormData) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The intake data of the post (the call's own fields as this page asks them), and errors.

    ``resolved_on_call`` is true or false when the form has it; ``resolution``
    is required when it is true and left out when it is false.
    """
    form = intake.form
    if form is None:
        return {}, {}
    data = parse_submission(form, posted)
    for name in CALL_FIELDS:
        data.pop(name, None)
    if not _offers_resolution(intake):
        return data, {}
    data[RESOLVED] = resolved = _ticked(posted)
    resolution = text(posted, RESOLUTION).strip()
    if resolved and not resolution:
        return data, {RESOLUTION: ["say what was done to resolve it during the call"]}
    if resolved and form.field(RESOLUTION) is not None:
        data[RESOLUTION] = resolution
    return data, {}


def _identify(request: Request, posted: FormData) -> Caller:
    with make_read_session_factory(request.app.state.db)() as db:
        return callers.identify_caller(db, posted)


async def _visible(request: Request, item_id: int) -> None:
    """Wait (:data:`VISIBLE_WAIT` at most) until the agent may open the new ticket's page."""
    viewer = viewer_of(request)

    def sees() -> bool:
        with make_read_session_factory(request.app.state.db)() as db:
            item = db.get(WorkItem, item_id)
            return item is not None and can_view_work_item(viewer, item)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + VISIBLE_WAIT
    while not await run_in_threadpool(sees) and loop.time() < deadline:
        await asyncio.sleep(0.1)


async def submit_call(request: Request) -> Response:
    """POST /helpdesk/calls/new/{request_type}: the ticket logged; the form again on a mistake."""
    posted = await request.form()
    intake = await _loaded(request)
    key = text(posted, KEY_FIELD) or uuid.uuid4().hex
    caller = await run_in_threadpool(_identify, request, posted)
    if text(posted, "find"):
        return _form_page(request, intake, posted=posted, caller=caller)
    posted = callers.as_found(posted, caller)
    data, errors = call_data(intake, posted)
    submission = Submission(
        request_type=intake.request_type.name,
        data=data,
        requester_id=caller.person_id,
        channel=CHANNEL,
        key=key,
        logged_by_id=viewer_of(request).person_id,
    )
    again: dict[str, Any] = {"posted": posted, "caller": caller}
    try:
        check_submission(intake, submission)  # before connecting: mistakes need no Temporal
    except IntakeInvalid as exc:
        errors = field_errors(exc.errors) | errors
    except IntakeError as exc:
        return _form_page(request, intake, problem=str(exc), status=exc.status, **again)
    if errors or caller.errors:
        return _form_page(request, intake, errors=errors, status=422, **again)
    state = request.app.state
    try:
        client = await state.temporal.client()  # before adding a caller: Temporal may be down
        if caller.new is not None:
            caller = await run_in_threadpool(callers.add_caller, state.sessions, caller)
            again = {"posted": callers.as_found(posted, caller), "caller": caller}
            if caller.errors:
                return _form_page(request, intake, status=422, **again)
            submission = replace(submission, requester_id=caller.person_id)
        runtime = Runtime(client, state.settings.task_queue)
        done = await submit_request(
            state.sessions, state.pm, runtime, state.request_types, submission
        )
    except IntakeInvalid as exc:
        return _form_page(request, intake, errors=field_errors(exc.errors), status=422, **again)
    except IntakeError as exc:
        return _form_page(request, intake, problem=str(exc), status=exc.status, **again)
    except TemporalError:
        return _form_page(request, intake, problem=TEMPORAL_DOWN, status=503, **again)
    await _visible(request, done.work_item_id)
    return RedirectResponse(f"/items/{done.work_item_id}?done=call_logged", status_code=303)


ROUTES: list[BaseRoute] = [
    page("/helpdesk/calls/new", call_types, allow="agent", name="helpdesk.calls"),
    page("/helpdesk/calls/new/{request_type}", new_call, allow="agent", name="helpdesk.call"),
    page(
        "/helpdesk/calls/new/{request_type}",
        submit_call,
        allow="agent",
        methods=("POST",),
        name="helpdesk.call.submit",
    ),
]
