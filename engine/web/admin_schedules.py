"""Administration of schedules: the Temporal Schedules of scheduled workflows, pause and resume.

The page reads Temporal directly (the schedules live there, not in the
database). When Temporal does not answer, the page says so with a 503;
a schedule id that is not a Tierflow schedule, or no longer exists, is a 404.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute
from temporalio.client import Client
from temporalio.service import RPCError

from engine.errors import TemporalError
from engine.runtime.schedules import PREFIX, ScheduleNotFound, list_schedules, pause, resume
from engine.web.access import page, viewer_of
from engine.web.errors import error_response

NEXT_RUNS_SHOWN = 3
MAX_NOTE = 500
TIMEOUT = 15
NAME = re.compile(r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$")
DOWN = (
    "The workflow engine (Temporal) cannot be reached just now, so the schedules cannot be "
    "shown or changed. Check that 'tierflow serve' or the Temporal server is running, then "
    "reload this page."
)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class ScheduleView:
    """One schedule as the page shows it."""

    id: str
    name: str
    cron: str
    timezone: str
    overlap: str
    paused: bool
    note: str
    next_runs: list[str]
    last_run: str


async def _client(request: Request) -> Client:
    return await request.app.state.temporal.client(timeout=5)


async def _rows(request: Request) -> list[ScheduleView]:
    async with asyncio.timeout(TIMEOUT):
        rows = await list_schedules(await _client(request))
    return [
        ScheduleView(
            id=PREFIX + row.name,
            name=row.name,
            cron=row.cron,
            timezone=row.timezone,
            overlap=row.overlap,
            paused=row.paused,
            note=row.note or "",
            next_runs=[_when(moment) for moment in row.next_runs[:NEXT_RUNS_SHOWN]],
            last_run=_when(row.last_run) if row.last_run else "never",
        )
        for row in rows
    ]


def _render(
    request: Request,
    rows: list[ScheduleView],
    *,
    notice: str = "",
    problem: str = "",
    status: int = 200,
) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "engine/admin/schedules.html",
        {"rows": rows, "notice": notice, "problem": problem, "max_note": MAX_NOTE},
        status_code=status,
    )


async def schedules_page(request: Request) -> Response:
    """GET /admin/schedules: each schedule's cron, time zone, state, next and last runs."""
    notice = ""
    for key, verb in (("paused", "Paused"), ("resumed", "Resumed")):
        name = request.query_params.get(key, "")
        if NAME.match(name) and len(name) <= 64:
            notice = f"{verb} the schedule of {name}."
    try:
        rows = await _rows(request)
    except (TemporalError, RPCError, TimeoutError):
        return _render(request, [], problem=DOWN, status=503)
    return _render(request, rows, notice=notice)


Change = Callable[[Client, str, str], Awaitable[None]]


async def _change(request: Request, change: Change, done: str) -> Response:
    schedule_id = request.path_params["schedule_id"]
    name = schedule_id.removeprefix(PREFIX)
    if not schedule_id.startswith(PREFIX) or not NAME.match(name) or len(name) > 64:
        return error_response(
            request,
            404,
            f"There is no schedule '{schedule_id[:100]}': Tierflow's schedules are named "
            f"'{PREFIX}<workflow name>' (see the Schedules page).",
        )
    form = await request.form()
    note = " ".join(str(form.get("note", "")).split())
    if len(note) > MAX_NOTE:
        return error_response(
            request,
            422,
            f"The note is {len(note)} characters long; keep it to {MAX_NOTE}. Nothing was changed.",
        )
    note = note or f"{done} by {viewer_of(request).name} on the Schedules page"
    try:
        async with asyncio.timeout(TIMEOUT):
            await change(await _client(request), name, note)
    except ScheduleNotFound as exc:
        return error_response(request, 404, str(exc))
    except (TemporalError, RPCError, TimeoutError):
        return _render(request, [], problem=f"Nothing was changed. {DOWN}", status=503)
    target = request.app.url_path_for("admin.schedules") + "?" + urlencode({done: name})
    return RedirectResponse(target, status_code=303)


async def pause_schedule(request: Request) -> Response:
    """POST /admin/schedules/{id}/pause: start no runs until resumed (the note says why)."""
    return await _change(request, pause, "paused")


async def resume_schedule(request: Request) -> Response:
    """POST /admin/schedules/{id}/resume: start runs on the schedule again."""
    return await _change(request, resume, "resumed")


ROUTES: list[BaseRoute] = [
    page("/admin/schedules", schedules_page, allow="admin", name="admin.schedules"),
    page(
        "/admin/schedules/{schedule_id:path}/pause",
        pause_schedule,
        allow="admin",
        methods=("POST",),
        name="admin.schedules.pause",
    ),
    page(
        "/admin/schedules/{schedule_id:path}/resume",
        resume_schedule,
        allow="admin",
        methods=("POST",),
        name="admin.schedules.resume",
    ),
]
