"""The JSON API: submitting requests, reading work items, the task inbox, completing, commenting.

Every error answers ``{"error": message, "status": n}`` (with ``"errors"``, a
list of ``{field, message}``, when the input does not fit a form).
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.comments import CommentError, is_staff, post_comment
from engine.completion import (
    CompletionError,
    CompletionInvalid,
    check_completion,
    complete_task,
    task_form,
)
from engine.completion import TaskNotFound as CompletionTaskNotFound
from engine.config import secret_key
from engine.db import make_read_session_factory
from engine.errors import TemporalError
from engine.intake import (
    IntakeError,
    IntakeInvalid,
    Submission,
    check_submission,
    intake_for,
    submit_request,
)
from engine.model import Task, Team, WorkItem
from engine.runtime.client import Runtime
from engine.signals import Checked, SignalError, check_signal, deliver, record_signal
from engine.web import inbox
from engine.web.access import (
    can_act_on_task,
    can_view_work_item,
    own_request_refusal,
    viewer_of,
)
from engine.web.item_page import shown_comments, shown_events

MAX_ID = 2**31 - 1
TEMPORAL_DOWN = "The workflow engine cannot be reached just now; try again."


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def _error(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"error": message, "status": status}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if b"\\u0000" in raw:
        raise ApiError(400, "the request body may not contain NUL characters (\\u0000)")
    try:
        parsed = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:  # a lone surrogate parses, but can be neither stored nor answered
        json.dumps(parsed, ensure_ascii=False).encode()
    except (UnicodeEncodeError, RecursionError):
        raise ApiError(400, "the request body has a lone surrogate (\\ud800 to \\udfff)") from None
    return parsed


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large")
    return value


def _number(text: str) -> int | None:
    """``text`` as an id, if it is one: ASCII digits (not ``²`` or ``٣``), at most ``MAX_ID``."""
    if re.fullmatch(r"[0-9]{1,10}", text) is None or int(text) > MAX_ID:
        return None
    return int(text)


def _id(request: Request, name: str, what: str) -> int:
    value = request.path_params[name]
    if not 0 < value <= MAX_ID:
        raise ApiError(404, f"there is no {what} {value}")
    return value


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _handled(endpoint: Any) -> Any:
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as exc:
            return _error(exc.status, exc.message, exc.errors)

    run.__name__ = endpoint.__name__
    run.__doc__ = endpoint.__doc__
    return run


async def _runtime(request: Request) -> Runtime:
    state = request.app.state
    return Runtime(await state.temporal.client(), state.settings.task_queue)


# ---------------------------------------------------------------- requests ---


@_handled
async def submit(request: Request) -> Response:
    """POST /api/requests: ``{"type", "data"}`` becomes a work item and its run."""
    body = await _body(request)
    kind, data = body.get("type"), body.get("data", {})
    errors = []
    if not isinstance(kind, str) or not kind:
        errors.append({"field": "type", "message": "give the request type's name"})
    if not isinstance(data, dict):
        errors.append({"field": "data", "message": "must be an object"})
    if errors:
        raise ApiError(422, "the request is incomplete", errors)
    state = request.app.state
    submission = Submission(
        request_type=kind,
        data=data,
        requester_id=viewer_of(request).person_id,
        channel="api",
        key=request.headers.get("idempotency-key"),
    )
    try:
        await run_in_threadpool(_precheck, request, submission)  # mistakes need no Temporal
        runtime = await _runtime(request)
        done = await submit_request(
            state.sessions, state.pm, runtime, state.request_types, submission
        )
    except IntakeInvalid as exc:
        raise ApiError(422, str(exc), exc.errors) from None
    except IntakeError as exc:
        raise ApiError(exc.status, str(exc)) from None
    except TemporalError:
        raise ApiError(503, TEMPORAL_DOWN) from None
    status = await run_in_threadpool(_status_of, request, done.work_item_id)
    return JSONResponse(
        {"id": done.work_item_id, "reference": done.reference, "status": status,
         "created": done.created},
        status_code=201 if done.created else 200,
    )  # fmt: skip


def _precheck(request: Request, submission: Submission) -> None:
    state = request.app.state
    with make_read_session_factory(state.db)() as db:
        check_submission(intake_for(db, state.request_types, submission.request_type), submission)


def _status_of(request: Request, item_id: int) -> str:
    with make_read_session_factory(request.app.state.db)() as db:
        item = db.get(WorkItem, item_id)
        return item.status if item is not None else "new"


# -------------------------------------------------------------- work items ---


@_handled
async def work_item(request: Request) -> Response:
    """GET /api/work-items/{id}: the item and its history, if the viewer may see it."""
    item_id = _id(request, "item_id", "work item")
    viewer = viewer_of(request)

    def load() -> dict[str, Any] | None:
        with make_read_session_factory(request.app.state.db)() as db:
            item = db.get(WorkItem, item_id)
            if item is None or not can_view_work_item(viewer, item):
                return None
            staff = is_staff(viewer.roles)
            return {
                "id": item.id,
                "reference": item.reference,
                "kind": item.kind,
                "type": item.type,
                "title": item.title,
                "description": item.description,
                "fields": item.custom,
                "status": item.status,
                "priority": item.priority,
                "owner_team": item.owner_team.slug if item.owner_team else None,
                "current_team": item.current_team.slug if item.current_team else None,
                "assignee": _person(item.assignee),
                "requester": _person(item.requester),
                "created_at": _iso(item.created_at),
                "due_at": _iso(item.due_at),
                "closed_at": _iso(item.closed_at),
                "events": [
                    {"type": e.type, "occurred_at": _iso(e.occurred_at), "data": e.data}
                    for e in shown_events(db, item, staff)
                ],
                "comments": [
                    {
                        "id": c.id,
                        "author": _person(c.author),
                        "body": c.body,
                        "public": c.public,
                        "created_at": _iso(c.created_at),
                    }
                    for c in shown_comments(item, staff)
                ],
            }

    found = await run_in_threadpool(load)
    if found is None:
        raise ApiError(404, f"there is no work item {item_id}")
    return JSONResponse(found)


def _person(person: Any) -> dict[str, Any] | None:
    return None if person is None else {"id": person.id, "name": person.name}


@_handled
async def comment(request: Request) -> Response:
    """POST /api/work-items/{id}/comments: ``{"body", "public"}``; a requester's must be public."""
    item_id = _id(request, "item_id", "work item")
    viewer = viewer_of(request)
    body = await _body(request)
    state = request.app.state

    def write() -> dict[str, Any]:
        with state.sessions.begin() as db:
            try:
                row = post_comment(
                    db, state.pm, item_id, body=body.get("body"),
                    public=body.get("public", False), author_id=viewer.person_id,
                    staff=is_staff(viewer.roles),
                    visible=functools.partial(can_view_work_item, viewer),
                )  # fmt: skip
            except CommentError as exc:
                raise ApiError(exc.status, str(exc), exc.errors) from None
            return {"id": row.id, "work_item": item_id, "body": row.body, "public": row.public,
                    "created_at": _iso(row.created_at)}  # fmt: skip

    return JSONResponse(await run_in_threadpool(write), status_code=201)


@_handled
async def signal(request: Request) -> Response:
    """POST /api/work-items/{id}/signals/{signal}: ``{"data"}`` sends the run a signal."""
    item_id = _id(request, "item_id", "work item")
    name: str = request.path_params["signal"]
    viewer = viewer_of(request)
    body = await _body(request)
    state = request.app.state

    def check() -> Checked:
        with make_read_session_factory(state.db)() as db:
            item = db.get(WorkItem, item_id)
            if item is None or not can_view_work_item(viewer, item):
                raise ApiError(404, f"there is no work item {item_id}")
            return check_signal(db, item, viewer, name, body.get("data", {}))

    try:
        checked = await run_in_threadpool(check)
        await deliver(await _runtime(request), checked)
    except SignalError as exc:
        raise ApiError(exc.status, str(exc), exc.errors or None) from None
    except TemporalError:
        raise ApiError(503, TEMPORAL_DOWN) from None

    def write() -> None:
        with state.sessions.begin() as db:
            record_signal(db, state.pm, checked, viewer)

    await run_in_threadpool(write)
    return JSONResponse(
        {"work_item": item_id, "signal": name, "data": checked.data,
         "commented": bool(checked.comment)}
    )  # fmt: skip


# ------------------------------------------------------------------- tasks ---


def _filter(db: Any, viewer: Any, params: dict[str, str]) -> inbox.InboxFilter:
    team = params.get("team") or ""
    if team:
        found = db.scalars(select(Team.id).where(Team.slug == team)).first()
        if found is None and _number(team) is not None:
            found = db.scalars(select(Team.id).where(Team.id == _number(team))).first()
        if found is None:
            raise inbox.BadFilter(f"there is no team {team!r}")
        if not viewer.is_admin and found not in viewer.team_ids:
            raise inbox.BadFilter(f"you are not a member of team {team!r}")
        teams: tuple[int, ...] | None = (found,)
    else:
        teams = None if viewer.is_admin else tuple(sorted(viewer.team_ids))
    assignee = params.get("assignee") or ""
    assignee_id, unassigned = None, False
    if assignee == "me":
        assignee_id = viewer.person_id
    elif assignee == "none":
        unassigned = True
    elif assignee:
        assignee_id = _number(assignee)
        if assignee_id is None:
            raise inbox.BadFilter(f"assignee {assignee!r} is not a person id, 'me' or 'none'")
    if assignee_id is not None and not viewer.is_admin and not team and assignee == "me":
        teams = None  # one's own tasks, whichever team they belong to
    return inbox.InboxFilter(
        team_ids=teams,
        assignee_id=assignee_id,
        unassigned=unassigned,
        status=params.get("status") or "open",
        sort=params.get("sort") or "due",
    )


@_handled
async def tasks(request: Request) -> Response:
    """GET /api/tasks: a page of tasks of the viewer's teams (any team's for admins)."""
    viewer = viewer_of(request)
    params = dict(request.query_params)  # NUL in a query never gets here (engine.web.hygiene)
    key = secret_key(request.app.state.settings).encode()
    now = datetime.now(UTC)

    def load() -> dict[str, Any]:
        with make_read_session_factory(request.app.state.db)() as db:
            try:
                query = _filter(db, viewer, params)
                found = inbox.inbox_page(
                    db, query, after=params.get("after") or None, now=now, key=key
                )
            except (inbox.BadFilter, inbox.BadCursor) as exc:
                raise ApiError(400, str(exc)) from None
            return {
                "items": [
                    {"id": r.task_id, "title": r.task_title, "step": r.step_id, "form": r.form,
                     "status": r.status, "due_at": _iso(r.due_at), "overdue": r.overdue,
                     "work_item": {"id": r.work_item_id, "reference": r.reference,
                                   "title": r.title, "priority": r.priority, "kind": r.kind},
                     "team": r.team_slug,
                     "assignee": None if r.assignee_id is None
                     else {"id": r.assignee_id, "name": r.assignee_name},
                     "created_at": _iso(r.created_at)}
                    for r in found.rows
                ],
                "next": found.next_cursor,
            }  # fmt: skip

    return JSONResponse(await run_in_threadpool(load))


@_handled
async def complete(request: Request) -> Response:
    """POST /api/tasks/{id}/complete: ``{"outcome", "data"}`` completes the task."""
    task_id = _id(request, "task_id", "task")
    viewer = viewer_of(request)
    body = await _body(request)
    outcome, data = body.get("outcome", ""), body.get("data", {})
    errors = []
    if not isinstance(outcome, str):
        errors.append({"field": "outcome", "message": "must be a string"})
    if not isinstance(data, dict):
        errors.append({"field": "data", "message": "must be an object"})

    def check() -> str:
        with make_read_session_factory(request.app.state.db)() as db:
            task = db.get(Task, task_id)
            if task is None or not can_act_on_task(viewer, task):
                if task is not None and can_view_work_item(viewer, task.work_item):
                    raise ApiError(
                        403, "This task is neither yours nor your team's, so you cannot work on it."
                    )
                raise ApiError(404, f"there is no task {task_id}")
            if task.status != "open":
                raise ApiError(409, f"task {task_id} is already {task.status}")
            refusal = own_request_refusal(viewer, task)
            if refusal:
                raise ApiError(403, refusal)
            if errors:
                raise ApiError(422, "the completion is not valid", errors)
            check_completion(task_form(db, task_id).form, outcome, data)
            return task.step_id

    state = request.app.state
    try:
        step = await run_in_threadpool(check)
    except CompletionInvalid as exc:
        raise ApiError(422, str(exc), exc.errors) from None
    try:
        runtime = await _runtime(request)
        await complete_task(
            state.sessions, runtime, task_id, outcome=outcome, data=data,
            actor_id=viewer.person_id,
        )  # fmt: skip
    except CompletionInvalid as exc:
        raise ApiError(422, str(exc), exc.errors) from None
    except CompletionTaskNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except CompletionError as exc:
        raise ApiError(exc.status, str(exc)) from None
    except TemporalError:
        raise ApiError(503, TEMPORAL_DOWN) from None
    return JSONResponse({"task": task_id, "step": step, "outcome": outcome})
