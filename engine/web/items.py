"""The work item page: fields, status, ownership, timeline, comments, open tasks and actions.

``GET /items/{id}`` shows the item to whoever may see it (anyone else gets the
same 404 as for an item that does not exist); ``POST /items/{id}/comments``
adds a comment; ``POST /items/{id}/cancel`` stops the item's workflow run (its
open tasks are closed as cancelled) and marks the item cancelled;
``POST /items/{id}/withdraw`` does the same for the requester of an item that
is not resolved yet ("Withdraw my request"). What the page shows is computed
in :mod:`engine.web.item_page`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from engine.comments import CommentError, is_staff, post_comment
from engine.db import make_read_session_factory
from engine.errors import TemporalError
from engine.events import record_event
from engine.model import Event, WorkItem
from engine.runtime.client import Runtime
from engine.web.access import can_view_work_item, page, viewer_of
from engine.web.errors import error_response
from engine.web.item_page import (
    MAX_ID,
    ItemPage,
    SignalView,
    is_closed,
    load_item_page,
    signal_views,
)
from engine.workitems import update_work_item

MAX_REASON = 2_000
CANCEL_TIMEOUT = 10.0
"""Seconds to wait for Temporal to accept a cancellation before answering 503."""
RUN_END_WAIT = 3.0
"""Seconds to wait for a cancelled run to close its tasks, so the page shows them closed."""
VISIBILITIES = {"internal": False, "public": True}
NOTICES = {
    "commented": "Your comment was added.",
    "cancelled": "The work item is cancelled; its open tasks were closed.",
    "call_logged": "The call was logged.",
    "submitted": "Your request was received. You can follow it here and under Requests.",
    "signalled": "Sent. We have your reply.",
    "withdrawn": "Your request is withdrawn; nothing more will be done on it.",
}
TEMPORAL_DOWN = (
    "The workflow engine cannot be reached just now, so the work item was not cancelled and "
    "nothing was changed. Try again in a minute; if it keeps failing, tell an administrator."
)


@dataclass(frozen=True)
class CommentForm:
    """The comment form as typed, with each field's errors (``body``, ``public``)."""

    body: str = ""
    public: bool = False
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class CancelForm:
    """The cancel form as typed, with each field's errors (``confirm``, ``reason``)."""

    reason: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)


# ------------------------------------------------------------------- page ---


async def work_item_page(request: Request) -> Response:
    """GET /items/{id}: the work item, if the viewer may see it."""
    found = await _page(request)
    if isinstance(found, Response):
        return found
    done = (
        "submitted" if request.query_params.get("submitted") else request.query_params.get("done")
    )
    return _render(request, found, notice=NOTICES.get(done or "", ""))


async def _page(request: Request) -> ItemPage | Response:
    item_id: int = request.path_params["item_id"]
    viewer = viewer_of(request)
    now = datetime.now(UTC)

    def load() -> ItemPage | None:
        with make_read_session_factory(request.app.state.db)() as db:
            return load_item_page(db, item_id, viewer, now, request.app.state.pm)

    found = await run_in_threadpool(load)
    if found is None:
        return _not_found(request, item_id)
    return found


def _not_found(request: Request, item_id: int) -> Response:
    return error_response(
        request,
        404,
        f"There is no work item {item_id}, or it is not one you may see. "
        "Check the link, or find the item in your tasks or your requests.",
    )


def _render(
    request: Request,
    found: ItemPage,
    *,
    notice: str = "",
    problem: str = "",
    comment: CommentForm | None = None,
    cancel: CancelForm | None = None,
    withdraw: CancelForm | None = None,
    signals: list[SignalView] | None = None,
    status: int = 200,
) -> Response:
    shown = signals if signals is not None else signal_views(found.signals)
    return request.app.state.templates.TemplateResponse(
        request,
        "engine/work_item.html",
        {
            "item": found,
            "notice": notice,
            "problem": problem,
            "comment": comment or CommentForm(),
            "cancel": cancel or CancelForm(),
            "withdraw": withdraw or CancelForm(),
            "signals": shown,
            "signals_heading": shown[0].label if len(shown) == 1 else "Reply",
        },
        status_code=status,
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _done(item_id: int, what: str, anchor: str = "") -> Response:
    return RedirectResponse(f"/items/{item_id}?done={what}{anchor}", status_code=303)


# --------------------------------------------------------------- comments ---


async def comment_submit(request: Request) -> Response:
    """POST /items/{id}/comments: add a comment; the page again with the error on a mistake."""
    form = await request.form()
    viewer = viewer_of(request)
    item_id: int = request.path_params["item_id"]
    staff = is_staff(viewer.roles)
    body = _text(form, "body")
    visibility = _text(form, "visibility") or "internal"
    public: object = VISIBILITIES.get(visibility, visibility) if staff else True
    state = request.app.state

    def write() -> None:
        with state.sessions.begin() as db:
            post_comment(
                db,
                state.pm,
                item_id,
                body=body,
                public=public,
                author_id=viewer.person_id,
                staff=staff,
                visible=functools.partial(can_view_work_item, viewer),
            )

    if not 0 < item_id <= MAX_ID:
        return _not_found(request, item_id)
    try:
        await run_in_threadpool(write)
    except CommentError as exc:
        if exc.status == 404:
            return _not_found(request, item_id)
        found = await _page(request)
        if isinstance(found, Response):
            return found
        errors: dict[str, list[str]] = {}
        for error in exc.errors or [{"field": "body", "message": str(exc)}]:
            errors.setdefault(error["field"], []).append(_message(error))
        kept = CommentForm(body=body, public=public is True, errors=errors)
        return _render(request, found, comment=kept, status=exc.status)
    return _done(item_id, "commented", "#comments")


def _message(error: dict[str, str]) -> str:
    if error["field"] == "public":
        return "Choose whether the comment is internal or public."
    return error["message"][:1].upper() + error["message"][1:] + "."


# ----------------------------------------------------------------- cancel ---


async def cancel_submit(request: Request) -> Response:
    """POST /items/{id}/cancel: stop the item's run and mark it cancelled (owner team, admins)."""
    found = await _page(request)
    if isinstance(found, Response):
        return found
    if not found.may_cancel:
        return error_response(
            request,
            403,
            f"Only administrators and members of the owner team ({found.owner_team}) may "
            f"cancel {found.reference}. Ask one of them, or leave a comment.",
        )
    if found.is_closed:
        problem = f"{found.reference} is already {found.status}; there is nothing to cancel."
        return _render(request, found, problem=problem, status=409)
    return await _cancel(request, found, "cancelled")


async def withdraw_submit(request: Request) -> Response:
    """POST /items/{id}/withdraw: the requester cancels their own request before it is resolved."""
    found = await _page(request)
    if isinstance(found, Response):
        return found
    if not found.is_requester:
        return error_response(
            request,
            403,
            f"Only the person who asked for {found.reference} ({found.requester}) may withdraw "
            "it. Leave a comment instead.",
        )
    if not found.can_withdraw:
        problem = (
            f"{found.reference} is already {found.status}, so it can no longer be withdrawn. "
            "Leave a comment if something is still wrong."
        )
        return _render(request, found, problem=problem, status=409)
    return await _cancel(request, found, "withdrawn")


async def _cancel(request: Request, found: ItemPage, done: str) -> Response:
    """Check the cancel (or withdraw) form, stop the run, record who and why; ``done``: notice."""
    form = await request.form()
    viewer = viewer_of(request)
    withdraw = done == "withdrawn"
    reason = _text(form, "reason").strip()
    errors: dict[str, list[str]] = {}
    if _text(form, "confirm") != "yes":
        what = "your request is withdrawn" if withdraw else "the work item should be cancelled"
        errors["confirm"] = [f"Tick the box to confirm that {what}."]
    if "\x00" in reason:
        errors["reason"] = ["Remove the NUL character (\\0) from the reason: it cannot be stored."]
    elif len(reason) > MAX_REASON:
        errors["reason"] = [f"Keep the reason to {MAX_REASON} characters at most."]
    kept = CancelForm(reason=reason, errors=errors)
    if errors:
        return _render_cancel(request, found, kept, withdraw, status=422)
    state = request.app.state
    runtime = None
    try:
        if found.workflow_id:
            runtime = Runtime(await state.temporal.client(), state.settings.task_queue)
            await _stop_run(runtime, found.workflow_id)
    except TemporalError:
        down = TEMPORAL_DOWN.replace("cancelled", "withdrawn") if withdraw else TEMPORAL_DOWN
        return _render_cancel(request, found, kept, withdraw, problem=down, status=503)
    recorded = await run_in_threadpool(
        _record_cancel, request, found.id, viewer.person_id, kept.reason, withdraw
    )
    if not recorded:  # closed by someone else meanwhile: the page says how it ended
        return RedirectResponse(f"/items/{found.id}", status_code=303)
    if runtime is not None and found.workflow_id:
        await _wait_for_end(runtime, found.workflow_id)
    return _done(found.id, done)


def _render_cancel(
    request: Request, found: ItemPage, kept: CancelForm, withdraw: bool, **rest: Any
) -> Response:
    """The page again with the cancel or the withdraw form as posted."""
    if withdraw:
        return _render(request, found, withdraw=kept, **rest)
    return _render(request, found, cancel=kept, **rest)


async def _stop_run(runtime: Runtime, workflow_id: str) -> None:
    """Ask Temporal to cancel the run; a run that has already ended needs nothing."""
    try:
        async with asyncio.timeout(CANCEL_TIMEOUT):
            await runtime.cancel(workflow_id)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return
        raise TemporalError(f"cannot cancel workflow run {workflow_id}: {exc}") from exc
    except TimeoutError as exc:
        raise TemporalError(
            f"cannot cancel workflow run {workflow_id}: no answer within {CANCEL_TIMEOUT:g} s"
        ) from exc


async def _wait_for_end(runtime: Runtime, workflow_id: str) -> None:
    """Give the cancelled run a moment to close its tasks; it ends cancelled (a failure)."""
    handle = runtime.client.get_workflow_handle(workflow_id)
    # however it ends, or if it takes longer, the cancellation itself is already recorded
    with contextlib.suppress(WorkflowFailureError, RPCError, TimeoutError):
        async with asyncio.timeout(RUN_END_WAIT):
            await handle.result()


def _record_cancel(
    request: Request, item_id: int, actor_id: int | None, reason: str, withdrawn: bool = False
) -> bool:
    """Mark the item cancelled and closed, with a ``cancelled`` event; ``False`` if already over.

    ``withdrawn``: the requester withdrew it (the event says so, with who and why).
    """
    state = request.app.state
    with state.sessions.begin() as db:
        item = db.get(WorkItem, item_id, with_for_update=True)
        if item is None or is_closed(item):
            return False
        count = select(func.count()).where(Event.work_item_id == item_id, Event.type == "cancelled")
        key = f"item/{item_id}/cancel/{db.scalar(count) or 0}"
        record_event(
            db,
            state.pm,
            work_item_id=item_id,
            type="cancelled",
            data={"reason": reason, "status": item.status}
            | ({"withdrawn": True} if withdrawn else {}),
            actor_id=actor_id,
            team_id=item.current_team_id,
            key=key,
        )
        changes = {"status": "cancelled", "closed": True}
        update_work_item(db, state.pm, item_id, changes, key=f"{key}/item", actor_id=actor_id)
    return True


ROUTES: list[BaseRoute] = [
    page("/items/{item_id:int}", work_item_page, allow="signed_in", name="work_item"),
    page(
        "/items/{item_id:int}/comments",
        comment_submit,
        allow="signed_in",
        methods=("POST",),
        name="work_item.comment",
    ),
    page(
        "/items/{item_id:int}/cancel",
        cancel_submit,
        allow="signed_in",
        methods=("POST",),
        name="work_item.cancel",
    ),
    page(
        "/items/{item_id:int}/withdraw",
        withdraw_submit,
        allow="signed_in",
        methods=("POST",),
        name="work_item.withdraw",
    ),
]
