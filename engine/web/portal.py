"""The request portal: pick a request type, fill its intake form, follow one's own requests.

``GET /portal`` lists the request types and the viewer's own requests (open,
closed or all; newest first, 25 a page). Pages are cut by keyset on
``(created_at, id)``: the ``after`` cursor is the last row's creation time (in
microseconds since 1970) and id. It needs no signature: the query always keeps
to the viewer's own requests, so an altered cursor can only move within them.

``GET /portal/new/{type}`` shows the type's intake form (from its deployed
workflow) with a fresh idempotency key in a hidden field; ``POST`` submits it
through :func:`engine.intake.submit_request`, so a double click or a resubmit
of the same form makes one request. Plugins add panels to the form
(``tierflow_portal_intake_panels``: suggested answers, known outages …); a
``POST`` carrying :data:`REFRESH_FIELD` only shows the form again with the
answers so far and the panels computed for them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from engine.contrib import IntakePanel
from engine.db import make_read_session_factory
from engine.errors import TemporalError
from engine.intake import (
    MAX_KEY,
    Intake,
    IntakeError,
    IntakeInvalid,
    Submission,
    channel_intake,
    check_submission,
    submit_request,
)
from engine.model import WorkItem
from engine.runtime.client import Runtime
from engine.web.access import page, viewer_of
from engine.web.forms import field_errors, parse_submission, widgets

PAGE_SIZE = 25
SHOWS = ("open", "closed", "all")
MAX_ID = 2**31 - 1
KEY_FIELD = "idempotency_key"
REFRESH_FIELD = "intake_refresh"
"""A submit button of this name shows the form again with its answers, submitting nothing."""
CHANNEL = "portal"
TEMPORAL_DOWN = (
    "The workflow engine cannot be reached just now, so your request could not be started. "
    "Your answers are kept below: send the form again in a minute (it still makes one request)."
)
STATUS_WORDS = {
    "new": "Received",
    "open": "Being worked on",
    "in_progress": "Being worked on",
    "escalated": "With a specialist team",
    "waiting": "Waiting for your answer",
    "waiting_vendor": "Waiting for a supplier",
    "resolved": "Resolved",
    "closed": "Closed",
    "done": "Done",
    "rejected": "Declined",
    "cancelled": "Cancelled",
}
"""A work item's status as a requester reads it; others are shown as written, in words."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(\d{1,17})\.(\d{1,10})")


class BadListing(ValueError):
    """A filter or cursor of the list of one's requests is not one the page makes."""


# ------------------------------------------------------------- page state ---


@dataclass(frozen=True)
class TypeCard:
    """A request type as the portal offers it."""

    name: str
    title: str
    description: str
    href: str


@dataclass(frozen=True)
class RequestRow:
    """One of the viewer's requests in "My requests"."""

    href: str
    reference: str
    title: str
    status: str
    updated_iso: str
    updated_text: str


@dataclass(frozen=True)
class Listing:
    """A page of the viewer's requests and the link to the next page (``""`` on the last)."""

    rows: tuple[RequestRow, ...]
    next_url: str


def status_words(status: str) -> str:
    """``escalated`` as ``With a specialist team``; an unknown ``on_hold`` as ``On hold``."""
    return STATUS_WORDS.get(status) or status.replace("_", " ").strip().capitalize() or "Unknown"


def type_cards(request: Request) -> list[TypeCard]:
    """Every request type, by title, each linking to its form."""
    types = sorted(request.app.state.request_types.values(), key=lambda t: (t.title, t.name))
    return [
        TypeCard(t.name, t.title, t.description, _path(request, "portal.new", request_type=t.name))
        for t in types
    ]


def _path(request: Request, name: str, **params: Any) -> str:
    return str(request.app.url_path_for(name, **params))


# ---------------------------------------------------------- my requests ---


def encode_cursor(created_at: datetime, item_id: int) -> str:
    """The cursor of the page after the row ``(created_at, item_id)``."""
    return f"{(created_at - _EPOCH) // timedelta(microseconds=1)}.{item_id}"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """``(created_at, id)`` from ``cursor``; :class:`BadListing` if the page did not make it."""
    found = _CURSOR.fullmatch(cursor)
    if found is None or int(found.group(2)) > MAX_ID:
        shown = repr(cursor[:40]) + ("..." if len(cursor) > 40 else "")
        raise BadListing(
            f"the page cursor {shown} is not one this page makes; start again from the first page"
        )
    return _EPOCH + timedelta(microseconds=int(found.group(1))), int(found.group(2))


def my_requests(
    db: Session, person_id: int, show: str, after: str | None, *, limit: int = PAGE_SIZE
) -> tuple[list[RequestRow], str | None]:
    """The page of ``person_id``'s requests after cursor ``after``, and the next page's cursor."""
    if show not in SHOWS:
        raise BadListing(f"cannot show {show[:40]!r} requests; choose one of {', '.join(SHOWS)}")
    query = select(
        WorkItem.id, WorkItem.reference, WorkItem.title, WorkItem.status,
        WorkItem.updated_at, WorkItem.created_at,
    ).where(WorkItem.requester_id == person_id)  # fmt: skip
    if show == "open":
        query = query.where(WorkItem.closed_at.is_(None))
    elif show == "closed":
        query = query.where(WorkItem.closed_at.is_not(None))
    if after is not None:
        created, item_id = decode_cursor(after)
        query = query.where(
            or_(
                WorkItem.created_at < created,
                and_(WorkItem.created_at == created, WorkItem.id < item_id),
            )
        )
    query = query.order_by(WorkItem.created_at.desc(), WorkItem.id.desc()).limit(limit + 1)
    found = list(db.execute(query))
    rows = [
        RequestRow(
            href=f"/items/{item_id}",
            reference=reference or f"#{item_id}",
            title=title,
            status=status_words(status),
            updated_iso=updated.isoformat(),
            updated_text=updated.strftime("%Y-%m-%d %H:%M UTC"),
        )
        for item_id, reference, title, status, updated, _ in found[:limit]
    ]
    last = found[limit - 1] if len(found) > limit else None
    return rows, None if last is None else encode_cursor(last.created_at, last.id)


def _notice(db: Session, person_id: int, submitted: str) -> str:
    """ "Your request INC-00012 was received." for ``?submitted=<id>`` of one's own request."""
    if not submitted.isdigit() or not 0 < int(submitted) <= MAX_ID:
        return ""
    item = db.get(WorkItem, int(submitted))
    if item is None or item.requester_id != person_id:
        return ""
    return f"Your request {item.reference or f'#{item.id}'} was received."


async def portal(request: Request) -> Response:
    """GET /portal: the request types and the viewer's own requests."""
    person_id = viewer_of(request).person_id
    assert person_id is not None, "the route is for signed-in people"
    params = request.query_params
    show = params.get("show") or "open"
    after = params.get("after") or None

    def load() -> tuple[Listing, str, str]:
        with make_read_session_factory(request.app.state.db)() as db:
            notice = _notice(db, person_id, params.get("submitted", ""))
            try:
                rows, cursor = my_requests(db, person_id, show, after)
            except BadListing as exc:
                return Listing((), ""), notice, str(exc)
        next_url = "?" + urlencode({"show": show, "after": cursor}) if cursor else ""
        return Listing(tuple(rows), next_url), notice, ""

    listing, notice, problem = await run_in_threadpool(load)
    return request.app.state.templates.TemplateResponse(
        request,
        "engine/portal.html",
        {
            "types": type_cards(request),
            "listing": listing,
            "show": show if show in SHOWS else "",
            "shows": [(name, f"?show={name}") for name in SHOWS],
            "paged": after is not None,
            "notice": notice,
            "problem": problem,
        },
        status_code=400 if problem else 200,
    )


# ----------------------------------------------------------- the form ---


@dataclass(frozen=True)
class Panel:
    """A plugin's panel on the intake form, as the template prints it."""

    heading_id: str
    title: str
    template: str
    context: Mapping[str, Any]


def intake_panels(request: Request, intake: Intake, posted: FormData | None) -> list[Panel]:
    """The plugins' panels for the viewer on ``intake``'s form with the answers ``posted``."""
    state = request.app.state
    names = {field.name for field in intake.form.fields} if intake.form is not None else set()
    answers = {
        name: value
        for name, value in (posted.multi_items() if posted is not None else ())
        if name in names and isinstance(value, str)
    }
    with make_read_session_factory(state.db)() as db:
        found = state.pm.collect(
            "tierflow_portal_intake_panels", expect=IntakePanel,
            request_type=intake.request_type, form=intake.form, answers=answers,
            viewer=viewer_of(request), session=db,
        )  # fmt: skip
    ordered = sorted((panel for _, panel in found), key=lambda p: (p.order, p.title))
    return [
        Panel(f"intake-panel-{n}", p.title, p.template, p.context)
        for n, p in enumerate(ordered, start=1)
    ]


def intake_by(request: Request, name: str, channel: str) -> Intake:
    """The intake of request type ``name`` if it takes requests by ``channel`` (IntakeError)."""
    state = request.app.state
    with make_read_session_factory(state.db)() as db:
        return channel_intake(db, state.request_types, name, channel)


async def _loaded(request: Request) -> Intake:
    """The path's request type ready for the portal; the 404 page saying why not otherwise."""
    try:
        name = request.path_params["request_type"]
        return await run_in_threadpool(intake_by, request, name, CHANNEL)
    except IntakeError as exc:
        message = str(exc)
        raise HTTPException(
            404, f"{message[:1].upper()}{message[1:]}. The Requests page lists every request type."
        ) from None


def _key(posted: FormData) -> str | None:
    """The form's idempotency key as posted (``None``: none, so the request gets a fresh one)."""
    key = posted.get(KEY_FIELD)
    return key if isinstance(key, str) and key else None


async def _form_page(
    request: Request,
    intake: Intake,
    *,
    key: str | None = None,
    posted: FormData | None = None,
    errors: list[dict[str, Any]] | None = None,
    problem: str = "",
    status: int = 200,
) -> Response:
    form = intake.form.for_channel(CHANNEL) if intake.form is not None else None
    grouped = field_errors(errors or [])
    names = {field.name for field in form.fields} if form is not None else set()
    problems = [problem] if problem else []
    problems += [
        f"{field}: {message}" if field else message
        for field, messages in grouped.items()
        if field not in names
        for message in messages
    ]
    kind = intake.request_type
    panels = await run_in_threadpool(intake_panels, request, intake, posted)
    return request.app.state.templates.TemplateResponse(
        request,
        "engine/portal_new.html",
        {
            "type": kind,
            "heading": (form.title if form is not None else "") or kind.title,
            "intro": (form.description if form is not None else "") or kind.description,
            "widgets": widgets(form, submitted=posted, errors=grouped) if form else [],
            "key_field": KEY_FIELD,
            "key": key if key and len(key) <= MAX_KEY else uuid.uuid4().hex,
            "problems": problems,
            "panels": panels,
            "refresh_field": REFRESH_FIELD,
        },
        status_code=status,
    )


async def new_request(request: Request) -> Response:
    """GET /portal/new/{request_type}: the type's intake form, with a fresh idempotency key."""
    return await _form_page(request, await _loaded(request))


async def submit(request: Request) -> Response:
    """POST /portal/new/{request_type}: the request made; the form again on a mistake."""
    posted = await request.form()
    intake = await _loaded(request)
    key = _key(posted)
    submission = Submission(
        request_type=intake.request_type.name,
        data=parse_submission(intake.form.for_channel(CHANNEL), posted) if intake.form else {},
        requester_id=viewer_of(request).person_id,
        channel=CHANNEL,
        key=key,
    )
    state = request.app.state
    again: dict[str, Any] = {"key": key, "posted": posted}
    if posted.get(REFRESH_FIELD):
        return await _form_page(request, intake, **again)
    try:
        check_submission(intake, submission)  # before connecting: mistakes need no Temporal
        runtime = Runtime(await state.temporal.client(), state.settings.task_queue)
        done = await submit_request(
            state.sessions, state.pm, runtime, state.request_types, submission
        )
    except IntakeInvalid as exc:
        return await _form_page(request, intake, errors=exc.errors, status=422, **again)
    except IntakeError as exc:
        return await _form_page(request, intake, problem=str(exc), status=exc.status, **again)
    except TemporalError:
        return await _form_page(request, intake, problem=TEMPORAL_DOWN, status=503, **again)
    return RedirectResponse(f"/items/{done.work_item_id}?submitted=1", status_code=303)


ROUTES: list[BaseRoute] = [
    page("/portal", portal, allow="signed_in", name="portal"),
    page("/portal/new/{request_type}", new_request, allow="signed_in", name="portal.new"),
    page(
        "/portal/new/{request_type}",
        submit,
        allow="signed_in",
        methods=("POST",),
        name="portal.submit",
    ),
]
