"""Administration of workflows: the overview, the deployed workflows and their problems,
deploying, and one workflow's versions, diagram and source. Schedules: :mod:`admin_schedules`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute
from temporalio.service import RPCError

from engine.db import make_read_session_factory
from engine.dsl.describe import plural
from engine.dsl.diagram import mermaid
from engine.dsl.problems import Problem
from engine.dsl.suggest import did_you_mean
from engine.errors import TemporalError, TierflowError
from engine.runtime.schedules import desired_schedules, sync_once
from engine.web import admin_schedules
from engine.web.access import page, viewer_of
from engine.web.admin_diagram import Diagram, OutlineStep, graph_of, layout, outline
from engine.web.errors import error_response
from engine.workflows import (
    WORKFLOWS_DIR,
    WorkflowNotFound,
    check_all,
    deploy_all,
    find_version,
    stored_workflow,
    summaries,
    versions,
)

NAMES = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
"""What a workflow name in a query parameter may look like (anything else is dropped)."""
SYNC_TIMEOUT = 30
SECTIONS = (
    ("Workflows", "/admin/workflows", "Deployed workflows, their versions, diagrams and problems."),
    ("Schedules", "/admin/schedules", "The schedules of scheduled workflows: pause and resume."),
    ("People", "/admin/people", "Who may sign in, their roles, level and teams."),
    ("Teams", "/admin/teams", "The teams and who belongs to them."),
)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "—"


async def overview(request: Request) -> Response:
    """GET /admin: where each part of the administration is."""
    return request.app.state.templates.TemplateResponse(
        request, "engine/admin/overview.html", {"sections": SECTIONS}
    )


# ------------------------------------------------------------- workflows ---


@dataclass(frozen=True)
class WorkflowRow:
    name: str
    kind: str
    versions: int
    active: str
    deployed: str


@dataclass(frozen=True)
class Listing:
    rows: list[WorkflowRow]
    problems: list[str]
    files: int
    trouble: str = ""
    warnings: tuple[str, ...] = ()
    """Site workflows that replace a plugin's workflow of the same name."""


def _listing(request: Request) -> Listing:
    """The deployed workflows, and the problems in the workflow files (reads files: a thread)."""
    state = request.app.state
    with make_read_session_factory(state.db)() as session:
        rows = []
        for summary in summaries(session):
            active = summary.active
            rows.append(
                WorkflowRow(
                    name=summary.name,
                    kind=summary.kind,
                    versions=summary.versions,
                    active=f"{active.version} ({active.content_hash[:8]})" if active else "",
                    deployed=(
                        f"{_when(active.deployed_at)} by {active.deployed_by or 'unknown'}"
                        if active
                        else ""
                    ),
                )
            )
        try:
            checked = check_all(session, state.pm, WORKFLOWS_DIR)
        except TierflowError as exc:
            return Listing(rows, [], 0, f"The workflow files could not be checked: {exc}")
    problems = [str(problem) for problem in checked.problems]
    warnings = tuple(f"Note: {warning}." for warning in checked.warnings)
    return Listing(rows, problems, len(checked.files), warnings=warnings)


def _render_list(
    request: Request, listing: Listing, notices: list[str], *, status: int = 200, failed: str = ""
) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "engine/admin/workflows.html",
        {
            "rows": listing.rows,
            "problems": listing.problems,
            "files": plural(listing.files, "file"),
            "trouble": listing.trouble,
            "notices": [*notices, *listing.warnings],
            "failed": failed,
        },
        status_code=status,
    )


async def workflows_page(request: Request) -> Response:
    """GET /admin/workflows: every deployed workflow, and every problem in the files."""
    listing = await run_in_threadpool(_listing, request)
    return _render_list(request, listing, _notices(request.query_params))


def _names(value: str) -> list[str]:
    return [name for name in value[:4000].split(",") if NAMES.match(name)]


def _notices(params: QueryParams) -> list[str]:
    """The status lines a deploy redirected back with (built here: the query holds only names)."""
    get = params.get
    if get("deployed") is None:
        return []
    created, reactivated = _names(get("created", "")), _names(get("reactivated", ""))
    unchanged = int(get("unchanged", "0")) if get("unchanged", "0").isdigit() else 0
    parts = [f"created {', '.join(created)}"] if created else []
    parts += [f"reactivated {', '.join(reactivated)}"] if reactivated else []
    parts += [f"{plural(unchanged, 'workflow')} unchanged"] if unchanged else []
    lines = [f"Deployed: {'; '.join(parts)}." if parts else "No workflow files found: nothing."]
    schedules = get("schedules", "")
    failed = _names(get("schedules_failed", ""))
    if schedules == "synced":
        lines.append("The schedules now match the deployed workflows (synced with Temporal).")
    elif schedules == "down":
        lines.append(
            "The schedules were not synced: Temporal cannot be reached just now. The worker of "
            "'tierflow serve' syncs them every 30 seconds once it runs."
        )
    if failed:
        lines.append(
            f"These schedules could not be synced: {', '.join(failed)}. "
            "Run 'tierflow schedules sync' to see why."
        )
    return lines


async def deploy_page(request: Request) -> Response:
    """POST /admin/workflows/deploy: deploy every workflow file, or nothing if any has a problem."""
    state = request.app.state
    by = viewer_of(request).email or viewer_of(request).name

    def run() -> tuple[list[Problem], dict[str, list[str]]]:
        with state.sessions.begin() as session:
            done = deploy_all(session, state.pm, by=by, workflows_dir=WORKFLOWS_DIR)
        found: dict[str, list[str]] = {"created": [], "reactivated": [], "unchanged": []}
        for result in done.results:
            found[result.status].append(result.name)
        return done.problems, found

    try:
        problems, found = await run_in_threadpool(run)
    except TierflowError as exc:
        listing = await run_in_threadpool(_listing, request)
        return _render_list(request, listing, [], status=422, failed=f"Nothing was deployed: {exc}")
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return error_response(request, 503, f"Nothing was deployed: the database said {cause}")
    if problems:
        listing = await run_in_threadpool(_listing, request)
        failed = f"Nothing was deployed: fix the {plural(len(problems), 'problem')} below first."
        return _render_list(request, listing, [], status=422, failed=failed)
    query = {
        "deployed": "1",
        "created": ",".join(found["created"]),
        "reactivated": ",".join(found["reactivated"]),
        "unchanged": str(len(found["unchanged"])),
        **await _sync_schedules(request),
    }
    target = request.app.url_path_for("admin.workflows") + "?" + urlencode(query)
    return RedirectResponse(target, status_code=303)


async def _sync_schedules(request: Request) -> dict[str, str]:
    """Make the schedules match what was deployed, when Temporal answers; say how it went."""
    state = request.app.state

    def read() -> dict:
        with make_read_session_factory(state.db)() as session:
            return desired_schedules(session)

    try:
        client = await state.temporal.client(timeout=5)
        async with asyncio.timeout(SYNC_TIMEOUT):
            report = await sync_once(client, state.settings.task_queue, read)
    except (TemporalError, RPCError, TimeoutError):
        return {"schedules": "down"}
    return {"schedules": "synced", "schedules_failed": ",".join(report.failed)}


# -------------------------------------------------------------- workflow ---


@dataclass(frozen=True)
class VersionRow:
    hash: str
    version: str
    deployed: str
    active: bool
    shown: bool
    url: str


@dataclass(frozen=True)
class Shown:
    """One version of a workflow as its page shows it."""

    name: str
    title: str
    description: str
    kind: str
    versions: list[VersionRow]
    version: VersionRow
    source: str
    diagram: Diagram | None = None
    steps: list[OutlineStep] = field(default_factory=list)
    mermaid: str = ""
    trouble: str = ""


def _shown(request: Request, name: str, prefix: str | None) -> Shown:
    """The versions of ``name`` and the one asked for; :class:`WorkflowNotFound` if none."""
    with make_read_session_factory(request.app.state.db)() as session:
        rows = versions(session, name)
        if not rows:
            known = [summary.name for summary in summaries(session)]
            hint = did_you_mean(name, known) or (
                f"; deployed: {', '.join(known)}" if known else "; none is deployed yet"
            )
            raise WorkflowNotFound(f"No workflow named '{name[:64]}' is deployed{hint}.")
        if prefix is None and not any(row.active for row in rows):
            row = rows[-1]
        else:
            row = find_version(session, name, prefix)
    path = request.app.url_path_for("admin.workflow", name=name)
    table = [
        VersionRow(
            hash=each.content_hash[:8],
            version=each.version,
            deployed=f"{_when(each.deployed_at)} by {each.deployed_by or 'unknown'}",
            active=each.active,
            shown=each is row,
            url=f"{path}?{urlencode({'version': each.content_hash[:12]})}",
        )
        for each in reversed(rows)
    ]
    shown = Shown(name, "", "", row.kind, table, next(v for v in table if v.shown), row.source)
    try:
        workflow = stored_workflow(row)
    except TierflowError as exc:
        return replace(shown, trouble=f"This version no longer loads: {exc}")
    graph = graph_of(workflow)
    return replace(
        shown,
        title=workflow.title,
        description=workflow.description,
        diagram=layout(graph),
        steps=outline(graph),
        mermaid=mermaid(workflow),
    )


async def workflow_page(request: Request) -> Response:
    """GET /admin/workflows/{name}: its versions, the diagram and the source of one version."""
    name = request.path_params["name"]
    prefix = (request.query_params.get("version") or "").strip()[:64] or None
    try:
        shown = await run_in_threadpool(_shown, request, name, prefix)
    except WorkflowNotFound as exc:
        return error_response(request, 404, str(exc))
    return request.app.state.templates.TemplateResponse(
        request, "engine/admin/workflow.html", {"shown": shown}
    )


ROUTES: list[BaseRoute] = [
    page("/admin", overview, allow="admin", name="admin"),
    page("/admin/workflows", workflows_page, allow="admin", name="admin.workflows"),
    page(
        "/admin/workflows/deploy",
        deploy_page,
        allow="admin",
        methods=("POST",),
        name="admin.workflows.deploy",
    ),
    page("/admin/workflows/{name}", workflow_page, allow="admin", name="admin.workflow"),
    *admin_schedules.ROUTES,
]
