"""The Starlette application factory. It wires; it does not decide."""

from __future__ import annotations

from pathlib import Path

import jinja2
from markupsafe import Markup
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from engine.config import Settings, secret_key
from engine.contrib import NavItem, RequestType
from engine.db import make_session_factory
from engine.plugins import PluginManager, unique_by
from engine.web import admin, errors, item_signals, items, openapi, portal, tasks, views
from engine.web import api as json_api
from engine.web.access import (
    SIGN_IN_PATH,
    Viewer,
    api,
    mount,
    page,
    viewer_of,
    visible_navigation,
)
from engine.web.auth import AuthMiddleware
from engine.web.csrf import FIELD as CSRF_FIELD
from engine.web.csrf import CSRFMiddleware, csrf_token
from engine.web.hygiene import HygieneMiddleware
from engine.web.temporal import TemporalLink

HERE = Path(__file__).parent
ENGINE_NAVIGATION = (
    NavItem("My tasks", "/tasks", roles=frozenset({"agent", "manager"}), order=10),
    NavItem("Requests", "/portal", order=20),
    NavItem("Admin", "/admin", roles=frozenset({"admin"}), order=90),
)


def create_app(
    settings: Settings,
    pm: PluginManager,
    *,
    db: Engine,
    temporal: TemporalLink,
) -> Starlette:
    """Build the web app for ``settings`` with the routes and pages plugins contribute."""
    routes: list[BaseRoute] = [
        page("/", views.home, allow="public", name="home"),
        api("/healthz", views.healthz, allow="public", name="healthz"),
        page(SIGN_IN_PATH, views.sign_in_page, allow="public", name="sign_in"),
        page(
            SIGN_IN_PATH,
            views.sign_in_submit,
            allow="public",
            methods=("POST",),
            name="sign_in.submit",
        ),
        page(
            "/sign-out", views.sign_out_submit, allow="public", methods=("POST",), name="sign_out"
        ),
        page("/tasks", tasks.inbox_view, allow="signed_in", name="tasks"),
        api(
            "/api/requests",
            json_api.submit,
            allow="signed_in",
            methods=("POST",),
            name="api.requests.submit",
        ),
        api(
            "/api/work-items/{item_id:int}",
            json_api.work_item,
            allow="signed_in",
            name="api.work_item",
        ),
        api(
            "/api/work-items/{item_id:int}/comments",
            json_api.comment,
            allow="signed_in",
            methods=("POST",),
            name="api.work_item.comment",
        ),
        api(
            "/api/work-items/{item_id:int}/signals/{signal}",
            json_api.signal,
            allow="signed_in",
            methods=("POST",),
            name="api.work_item.signal",
        ),
        api("/api/tasks", json_api.tasks, allow="agent", name="api.tasks"),
        api(
            "/api/tasks/{task_id:int}/complete",
            json_api.complete,
            allow="agent",
            methods=("POST",),
            name="api.tasks.complete",
        ),
        page("/tasks/{task_id:int}", tasks.task_page, allow="signed_in", name="task"),
        page(
            "/tasks/{task_id:int}",
            tasks.task_submit,
            allow="signed_in",
            methods=("POST",),
            name="task.submit",
        ),
        page(
            "/tasks/{task_id:int}/claim",
            tasks.claim_task,
            allow="agent",
            methods=("POST",),
            name="task.claim",
        ),
        page(
            "/tasks/{task_id:int}/unassign",
            tasks.unassign_task,
            allow="agent",
            methods=("POST",),
            name="task.unassign",
        ),
        api("/api/request-types", views.request_types, allow="public", name="api.request_types"),
        api("/api/openapi.json", openapi.openapi_json, allow="public", name="api.openapi"),
        mount("/static", StaticFiles(directory=HERE / "static"), allow="public", name="static"),
        *portal.ROUTES,
        *items.ROUTES,
        *item_signals.ROUTES,
        *admin.ROUTES,
    ]
    routes += [route for _, route in pm.collect("tierflow_register_routes", expect=BaseRoute)]
    middleware = [
        Middleware(HygieneMiddleware),
        Middleware(AuthMiddleware, db=db, settings=settings, skip=("/static/",)),
        Middleware(CSRFMiddleware, secret=secret_key(settings), settings=settings),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=errors.HANDLERS,
        lifespan=temporal.lifespan,
    )
    app.state.settings = settings
    app.state.pm = pm
    app.state.db = db
    app.state.sessions = make_session_factory(db)
    app.state.temporal = temporal
    app.state.templates = _templates(settings, pm)
    app.state.navigation = sorted(
        [
            *ENGINE_NAVIGATION,
            *(item for _, item in pm.collect("tierflow_register_navigation", expect=NavItem)),
        ],
        key=lambda item: (item.order, item.label),
    )
    app.state.request_types = unique_by(
        pm, "tierflow_register_request_types", "name", expect=RequestType
    )
    return app


def _templates(settings: Settings, pm: PluginManager) -> Jinja2Templates:
    folders = [settings.data_dir / "templates", HERE / "templates"]
    folders += [
        Path(path) for _, path in pm.collect("tierflow_register_template_dirs", expect=(str, Path))
    ]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals |= {
        "path_for": _path_for,
        "viewer": _viewer,
        "nav_items": _nav_items,
        "csrf_token": _csrf_token,
        "csrf_field": _csrf_field,
    }
    return Jinja2Templates(env=env)


@jinja2.pass_context
def _path_for(context: jinja2.runtime.Context, name: str, /, **params: object) -> str:
    """The path (not an absolute URL built from the Host header) of route ``name``."""
    return str(context["request"].app.url_path_for(name, **params))


@jinja2.pass_context
def _viewer(context: jinja2.runtime.Context) -> Viewer:
    """Who is looking at the page (``viewer().is_anonymous`` when nobody is signed in)."""
    return viewer_of(context["request"])


@jinja2.pass_context
def _nav_items(context: jinja2.runtime.Context) -> list[NavItem]:
    """The navigation links the viewer may see."""
    request = context["request"]
    return visible_navigation(viewer_of(request), request.app.state.navigation)


@jinja2.pass_context
def _csrf_token(context: jinja2.runtime.Context) -> str:
    """The CSRF token every state-changing form of this page sends."""
    return csrf_token(context["request"])


@jinja2.pass_context
def _csrf_field(context: jinja2.runtime.Context) -> Markup:
    """The hidden ``csrf_token`` input to put in every ``<form method="post">``."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, csrf_token(context["request"])
    )


__all__ = ["NavItem", "create_app"]
