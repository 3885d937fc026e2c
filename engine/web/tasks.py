"""The task pages: "My tasks", the team queues, "For my role", claiming, and completing a task.

Anyone signed in may open them; which tasks they list and which task a person
may work is decided per task (:func:`engine.web.access.can_act_on_task`): a
manager finds the approvals addressed to the manager role under "For my role".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import Row, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine.completion import (
    CompletionError,
    CompletionInvalid,
    TaskNotOpen,
    check_completion,
    complete_task,
    task_form,
)
from engine.completion import TaskNotFound as CompletionTaskNotFound
from engine.config import secret_key
from engine.db import make_read_session_factory
from engine.dsl.forms import Form
from engine.errors import TemporalError
from engine.model import ROLES, Task, Team
from engine.runtime.client import Runtime
from engine.web import inbox
from engine.web.access import Viewer, can_act_on_task, own_request_refusal, viewer_of
from engine.web.errors import error_response
from engine.web.forms import field_errors, outcome_buttons, parse_submission, widgets

VIEWS = ("mine", "team", "role")
TITLES = {"mine": "My tasks", "team": "Team queues", "role": "For my role"}
NOT_YOURS = "This task is neither yours nor your team's, so you cannot work on it."
KEPT = ("view", "team", "unassigned", "overdue", "q", "sort")
"""The inbox's query parameters that a claim or unassign carries back (not the cursor)."""

CLAIM_STATUS: dict[type[Exception], int] = {
    inbox.TaskNotFound: 404,
    inbox.TaskNotOpen: 409,
    inbox.AlreadyClaimed: 409,
    inbox.NotYourTeam: 403,
    inbox.NotYourTask: 403,
}


# ------------------------------------------------------------------ inbox ---


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "on", "yes")


def _view(viewer: Viewer, params: dict[str, str]) -> str:
    """The view asked for; by default "My tasks", or "For my role" for someone in no team."""
    default = "mine" if viewer.team_ids or viewer.is_agent else "role"
    return params.get("view") or default


def _tabs(viewer: Viewer, view: str) -> list[tuple[str, str, bool]]:
    """``(view, label, current)`` of the views offered: team queues only to team members."""
    offered = [v for v in VIEWS if v != "team" or viewer.team_ids or viewer.is_agent]
    return [(v, TITLES[v], v == view) for v in offered]


def _filter(viewer: Viewer, params: dict[str, str]) -> inbox.InboxFilter:
    """The inbox filter the query parameters ask for; :class:`inbox.BadFilter` if they are wrong."""
    view = _view(viewer, params)
    if view not in VIEWS:
        raise inbox.BadFilter(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    search = (params.get("q") or "").strip() or None
    common: dict[str, Any] = {
        "overdue_only": _flag(params.get("overdue")),
        "search": search,
        "sort": params.get("sort") or "due",
    }
    if view == "mine":
        return inbox.InboxFilter(
            assignee_id=viewer.person_id, unassigned=_flag(params.get("unassigned")), **common
        )
    if view == "role":
        roles = ROLES if viewer.is_admin else tuple(sorted(viewer.roles))
        return inbox.InboxFilter(team_ids=None, roles=roles, **common)
    team = params.get("team") or ""
    if team:
        try:
            team_id = int(team)
        except ValueError:
            raise inbox.BadFilter(f"team {team!r} is not a team id") from None
        if team_id not in viewer.team_ids:
            raise inbox.BadFilter(f"you are not a member of team {team_id}")
        teams: tuple[int, ...] = (team_id,)
    else:
        teams = tuple(sorted(viewer.team_ids))
    return inbox.InboxFilter(team_ids=teams, unassigned=_flag(params.get("unassigned")), **common)


def _kept(params: dict[str, str]) -> dict[str, str]:
    return {name: params[name] for name in KEPT if params.get(name)}


@dataclass(frozen=True)
class InboxLine:
    """One row of the inbox table with its links; ``action`` is "Claim", "Give back" or ""."""

    row: inbox.InboxRow
    item_path: str
    task_path: str
    action: str
    action_path: str


def _path_maker(request: Request, name: str) -> Callable[..., str]:
    """``app.url_path_for(name, ...)`` with the route found once, not once per row.

    The app's lookup tries every route in turn; a page of 50 rows with three
    links each spent more time there than in its queries.
    """
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.name == name:
            return lambda **params: str(route.url_path_for(name, **params))
    return lambda **params: str(request.app.url_path_for(name, **params))


def _lines(request: Request, viewer: Viewer, rows: Sequence[inbox.InboxRow]) -> list[InboxLine]:
    item, task = _path_maker(request, "work_item"), _path_maker(request, "task")
    claim, give_back = _path_maker(request, "task.claim"), _path_maker(request, "task.unassign")
    lines = []
    for row in rows:
        action, action_path = "", ""
        if row.status == "open" and row.assignee_id is None and row.team_id in viewer.team_ids:
            action, action_path = "Claim", claim(task_id=row.task_id)
        elif row.status == "open" and row.assignee_id == viewer.person_id:
            action, action_path = "Give back", give_back(task_id=row.task_id)
        lines.append(
            InboxLine(
                row=row,
                item_path=item(item_id=row.work_item_id),
                task_path=task(task_id=row.task_id),
                action=action,
                action_path=action_path,
            )
        )
    return lines


async def inbox_view(request: Request) -> Response:
    """GET /tasks: the viewer's tasks or their teams' queues, one page at a time."""
    viewer = viewer_of(request)
    state = request.app.state
    params = dict(request.query_params)
    key = secret_key(state.settings).encode()
    now = datetime.now(UTC)

    def load() -> tuple[Sequence[Row[tuple[int, str]]], inbox.InboxPage | None, str]:
        with make_read_session_factory(state.db)() as db:
            teams: Sequence[Row[tuple[int, str]]] = ()
            if params.get("view") == "team":  # only the team view offers a choice of team
                teams = db.execute(
                    select(Team.id, Team.name)
                    .where(Team.id.in_(viewer.team_ids))
                    .order_by(Team.name)
                ).all()
            try:
                query = _filter(viewer, params)
                found = inbox.inbox_page(
                    db, query, after=params.get("after") or None, now=now, key=key
                )
            except (inbox.BadFilter, inbox.BadCursor) as exc:
                return teams, None, str(exc)
            return teams, found, ""

    teams, found, problem = await run_in_threadpool(load)
    kept = _kept(params)
    next_url = None
    if found is not None and found.next_cursor:
        next_url = "?" + urlencode(kept | {"after": found.next_cursor})
    notice = ""
    if params.get("done"):
        notice = f"Task completed for {params['done'][:64]}."
    elif params.get("claimed", "").isdigit():
        notice = f"You claimed task {params['claimed']}."
    elif params.get("unassigned_task", "").isdigit():
        notice = f"Task {params['unassigned_task']} is back in its team's queue."
    return state.templates.TemplateResponse(
        request,
        "engine/inbox.html",
        {
            "lines": _lines(request, viewer, found.rows) if found is not None else (),
            "next_url": next_url,
            "problem": problem,
            "notice": notice,
            "view": _view(viewer, params),
            "title": TITLES.get(_view(viewer, params), TITLES["mine"]),
            "tabs": _tabs(viewer, _view(viewer, params)),
            "team": params.get("team") or "",
            "teams": teams,
            "unassigned": _flag(params.get("unassigned")),
            "overdue": _flag(params.get("overdue")),
            "q": params.get("q") or "",
            "sort": params.get("sort") or "due",
            "sorts": [(s, s) for s in inbox.SORTS]
            + [(f"-{s}", f"{s}, descending") for s in inbox.SORTS],
            "back": urlencode(kept),
        },
        status_code=400 if problem else 200,
    )


async def _change(request: Request, action: Any, notice: str) -> Response:
    viewer = viewer_of(request)
    state = request.app.state
    task_id = request.path_params["task_id"]
    form = await request.form()

    def run() -> None:
        with state.sessions.begin() as db:
            task = db.get(Task, task_id)
            if task is not None and not can_act_on_task(viewer, task):
                raise inbox.NotYourTeam(NOT_YOURS)
            action(db, task_id, viewer.person_id, pm=state.pm)

    try:
        await run_in_threadpool(run)
    except inbox.InboxError as exc:
        return error_response(request, CLAIM_STATUS.get(type(exc), 400), str(exc))
    back = dict(parse_qsl(str(form.get("back", ""))))
    target = "/tasks?" + urlencode(_kept(back) | {notice: str(task_id)})
    return RedirectResponse(target, status_code=303)


async def claim_task(request: Request) -> Response:
    """POST /tasks/{id}/claim: take a task of one of the viewer's teams."""
    return await _change(request, inbox.claim, "claimed")


async def unassign_task(request: Request) -> Response:
    """POST /tasks/{id}/unassign: give the viewer's task back to its team's queue."""
    return await _change(request, inbox.unassign, "unassigned_task")


# ------------------------------------------------------------------- task ---


@dataclass(frozen=True)
class _Loaded:
    """What the task page shows, read in one session."""

    allowed: bool
    task: dict[str, Any]
    item: dict[str, Any]
    form: Form | None
    closed: str
    refusal: str = ""
    """Why the viewer may see but not complete the task (their own request), or ``""``."""
    teams: tuple[tuple[str, str], ...] = ()
    """``(slug, name)`` of the active teams, for the form's team fields."""


def _load(request: Request, task_id: int) -> _Loaded:
    viewer = viewer_of(request)
    with make_read_session_factory(request.app.state.db)() as db:
        found = task_form(db, task_id)
        task, item = found.task, found.item
        closed = ""
        if task.status != "open":
            by = f" by {task.completed_by.name}" if task.completed_by is not None else ""
            closed = f"This task is already {task.status}{by}."
        return _Loaded(
            allowed=can_act_on_task(viewer, task),
            refusal=own_request_refusal(viewer, task),
            task={
                "id": task.id,
                "title": task.title or task.step_id,
                "step": task.step_id,
                "status": task.status,
                "due_at": task.due_at,
                "overdue": task.status == "open"
                and task.due_at is not None
                and _aware(task.due_at) < datetime.now(UTC),
                "team": task.team.name if task.team else None,
                "role": task.role.replace("_", " ") if task.role else None,
                "assignee": task.assignee.name if task.assignee else None,
            },
            item={
                "id": item.id,
                "reference": item.reference,
                "title": item.title,
                "kind": item.kind,
                "type": item.type,
                "status": item.status,
                "priority": item.priority,
                "description": item.description,
            },
            form=found.form,
            closed=closed,
            teams=_team_choices(db, found.form),
        )


def _team_choices(db: Session, form: Form | None) -> tuple[tuple[str, str], ...]:
    if form is None or not any(field.type == "team" for field in form.fields):
        return ()
    rows = db.execute(select(Team.slug, Team.name).where(Team.active).order_by(Team.name))
    return tuple((slug, name) for slug, name in rows)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _render(
    request: Request,
    loaded: _Loaded,
    *,
    submitted: FormData | None = None,
    errors: list[dict[str, Any]] | None = None,
    problem: str = "",
    status: int = 200,
) -> Response:
    grouped = field_errors(errors or [])
    form = loaded.form
    names = {field.name for field in form.fields} if form is not None else set()
    general = [
        f"{'Choose an outcome' if field == 'outcome' else field}: {message}"
        for field, messages in grouped.items()
        if field not in names
        for message in messages
    ]
    return request.app.state.templates.TemplateResponse(
        request,
        "engine/task.html",
        {
            "task": loaded.task,
            "item": loaded.item,
            "closed": loaded.closed or loaded.refusal,
            "widgets": widgets(form, submitted=submitted, errors=grouped, teams=loaded.teams)
            if form
            else [],
            "buttons": outcome_buttons(form, default="Complete") if form else [("", "Complete")],
            "general": general,
            "problem": problem,
        },
        status_code=status,
    )


async def _loaded(request: Request) -> _Loaded | Response:
    task_id = request.path_params["task_id"]
    try:
        loaded = await run_in_threadpool(_load, request, task_id)
    except CompletionTaskNotFound as exc:
        return error_response(request, 404, str(exc))
    if not loaded.allowed:
        return error_response(request, 403, NOT_YOURS)
    return loaded


async def task_page(request: Request) -> Response:
    """GET /tasks/{id}: the task's form and its work item."""
    loaded = await _loaded(request)
    if isinstance(loaded, Response):
        return loaded
    return _render(request, loaded)


async def task_submit(request: Request) -> Response:
    """POST /tasks/{id}: complete the task; the form again with every error on a mistake."""
    submitted = await request.form()
    loaded = await _loaded(request)
    if isinstance(loaded, Response):
        return loaded
    if loaded.closed:
        return _render(request, loaded, status=409)
    if loaded.refusal:
        return error_response(request, 403, loaded.refusal)
    form = loaded.form
    data = parse_submission(form, submitted) if form is not None else {}
    outcome = str(submitted.get("outcome", ""))
    state = request.app.state
    try:
        check_completion(form, outcome, data)  # before connecting: mistakes need no Temporal
        runtime = Runtime(await state.temporal.client(), state.settings.task_queue)
        await complete_task(
            state.sessions,
            runtime,
            loaded.task["id"],
            outcome=outcome,
            data=data,
            actor_id=viewer_of(request).person_id,
        )
    except CompletionInvalid as exc:
        return _render(request, loaded, submitted=submitted, errors=exc.errors, status=422)
    except TaskNotOpen as exc:
        now = await run_in_threadpool(_load, request, loaded.task["id"])
        return _render(request, now, problem="" if now.closed else str(exc), status=409)
    except CompletionError as exc:
        return _render(request, loaded, submitted=submitted, problem=str(exc), status=exc.status)
    except TemporalError:
        problem = "The workflow engine cannot be reached just now; nothing was saved. Try again."
        return _render(request, loaded, submitted=submitted, problem=problem, status=503)
    done = loaded.item["reference"] or f"task {loaded.task['id']}"
    return RedirectResponse("/tasks?" + urlencode({"done": done}), status_code=303)
