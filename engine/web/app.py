"""The Starlette application factory. It wires; it does not decide."""

from __future__ import annotations

from pathlib import Path

import jinja2
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from engine.config import Settings
from engine.contrib import NavItem, RequestType
from engine.db import make_session_factory
from engine.plugins import PluginManager, unique_by
from engine.web import errors, views
from engine.web.temporal import TemporalLink

HERE = Path(__file__).parent


def create_app(
    settings: Settings,
    pm: PluginManager,
    *,
    db: Engine,
    temporal: TemporalLink,
) -> Starlette:
    """Build the web app for ``settings`` with the routes and pages plugins contribute."""
    routes: list[BaseRoute] = [
        Route("/", views.home, name="home"),
        Route("/healthz", views.healthz, name="healthz"),
        Route("/api/request-types", views.request_types, name="api.request_types"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    routes += [route for _, route in pm.collect("tierflow_register_routes", expect=BaseRoute)]
    app = Starlette(
        routes=routes,
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
        (item for _, item in pm.collect("tierflow_register_navigation", expect=NavItem)),
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
    env.globals["path_for"] = _path_for
    return Jinja2Templates(env=env)


@jinja2.pass_context
def _path_for(context: jinja2.runtime.Context, name: str, /, **params: object) -> str:
    """The path (not an absolute URL built from the Host header) of route ``name``."""
    return str(context["request"].app.url_path_for(name, **params))


__all__ = ["NavItem", "create_app"]
