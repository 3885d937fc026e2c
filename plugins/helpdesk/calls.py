"""Log a call: an agent takes a request by phone for the person on the line.

``GET /helpdesk/calls/new`` lists the request types that take phone calls;
``GET /helpdesk/calls/new/{type}`` shows one type's call form: the caller
(:mod:`plugins.helpdesk.callers`: found by e-mail or name, or added on the
spot), the type's own intake form (the one the portal shows) and, when that
form has a ``resolved_on_call`` field, "Resolved during the call" with what
was done (``resolution``), asked for here whatever the form says of them,
and the request's **category** (one of the help desk's categories, optional;
stored in ``custom.category`` as triage stores it, so the ticket's facts
carry it). ``POST`` submits it through :func:`engine.intake.submit_request` with channel
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
from functools import partial
from typing import Any

from sqlalchemy import select
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
from engine.web.forms import (
    TRUE_TEXTS,
    Option,
    Widget,
    field_errors,
    parse_submission,
    widgets,
)
from engine.web.portal import intake_by
from engine.workitems import update_work_item
from plugins.helpdesk import callers
from plugins.helpdesk.callers import Caller, text
from plugins.helpdesk.models import Category

CHANNEL = "phone"
KEY_FIELD = "idempotency_key"
RESOLVED = "resolved_on_call"
RESOLUTION = "resolution"
CATEGORY = "category"
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


def _categories(request: Request) -> dict[str, str]:
    """The active categories a call may be filed under: slug to name, by name."""
    with make_read_session_factory(request.app.state.db)() as db:
        query = select(Category.slug, Category.name).where(Category.active).order_by(Category.name)
        return dict(db.execute(query).tuples().all())


def _category_widget(
    posted: FormData | None, errors: dict[str, list[str]], categories: dict[str, str]
) -> Widget:
    chosen = "" if posted is None else text(posted, CATEGORY)
    options = [Option(f"field-{CATEGORY}-none", "", "Not known yet", selected=not chosen)]
    options += [
        Option(f"field-{CATEGORY}-{slug}", slug, name, selected=slug == chosen)
        for slug, name in categories.items()
    ]
    return Widget(CATEGORY, "Category", "What the request is about, as triage files it.",
                  False, "select", value=chosen, choices=tuple(options),
                  errors=tuple(errors.get(CATEGORY, ())))  # fmt: skip


def chosen_category(posted: FormData, categories: dict[str, str]) -> tuple[str | None, list[str]]:
    """The posted category's slug (``None``: not given) and the errors of the field."""
    chosen = text(posted, CATEGORY).strip()
    if not chosen:
        return None, []
    if chosen not in categories:
        known = ", ".join(categories) or "none are defined"
        return None, [f"there is no category '{chosen[:64]}'; choose one of: {known}"]
    return chosen, []


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
    categories: dict[str, str],
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
        "call": [
            *(_call_widgets(posted, errors) if _offers_resolution(intake) else []),
            *([_category_widget(posted, errors, categories)] if _asks_category(intake) else []),
        ],
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


def _asks_category(intake: Intake) -> bool:
    """Whether this page asks the category (the type's own form does not)."""
    return intake.form is None or intake.form.field(CATEGORY) is None


def _offers_resolution(intake: Intake) -> bool:
    return intake.form is not None and intake.form.field(RESOLVED) is not None


async def new_call(request: Request) -> Response:
    """GET /helpdesk/calls/new/{request_type}: the call form, with a fresh idempotency key."""
    intake = await _loaded(request)
    return _form_page(request, intake, await run_in_threadpool(_categories, request))


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
    categories = await run_in_threadpool(_categories, request)
    form_page = partial(_form_page, request, intake, categories)
    key = text(posted, KEY_FIELD) or uuid.uuid4().hex
    caller = await run_in_threadpool(_identify, request, posted)
    if text(posted, "find"):
        return form_page(posted=posted, caller=caller)
    posted = callers.as_found(posted, caller)
    data, errors = call_data(intake, posted)
    category, wrong = chosen_category(posted, categories) if _asks_category(intake) else (None, [])
    if wrong:
        errors = {**errors, CATEGORY: wrong}
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
        return form_page(problem=str(exc), status=exc.status, **again)
    if errors or caller.errors:
        return form_page(errors=errors, status=422, **again)
    state = request.app.state
    try:
        client = await state.temporal.client()  # before adding a caller: Temporal may be down
        if caller.new is not None:
            caller = await run_in_threadpool(callers.add_caller, state.sessions, caller)
            again = {"posted": callers.as_found(posted, caller), "caller": caller}
            if caller.errors:
                return form_page(status=422, **again)
            submission = replace(submission, requester_id=caller.person_id)
        runtime = Runtime(client, state.settings.task_queue)
        done = await submit_request(
            state.sessions, state.pm, runtime, state.request_types, submission
        )
    except IntakeInvalid as exc:
        return form_page(errors=field_errors(exc.errors), status=422, **again)
    except IntakeError as exc:
        return form_page(problem=str(exc), status=exc.status, **again)
    except TemporalError:
        return form_page(problem=TEMPORAL_DOWN, status=503, **again)
    if category is not None:
        agent = viewer_of(request).person_id
        await run_in_threadpool(categorise, state, done.work_item_id, category, agent)
    await _visible(request, done.work_item_id)
    return RedirectResponse(f"/items/{done.work_item_id}?done=call_logged", status_code=303)


def categorise(state: Any, item_id: int, category: str, agent_id: int | None) -> None:
    """File the logged call under ``category`` (``custom.category``, as triage does), once."""
    with state.sessions.begin() as session:
        update_work_item(
            session, state.pm, item_id, {"custom": {CATEGORY: category}},
            key=f"helpdesk.call/{item_id}/category", actor_id=agent_id,
        )  # fmt: skip


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
