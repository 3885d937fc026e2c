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
from engine.contrib import NavItem
from engine.db import make_session_factory
from engine.plugins import PluginManager
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
    routes += [route for _, route in pm.collect("tierflow_register_routes")]
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
        (item for _, item in pm.collect("tierflow_register_navigation")),
        key=lambda item: (item.order, item.label),
    )
    app.state.request_types = {
        item.name: item for _, item in pm.collect("tierflow_register_request_types")
    }
    return app


def _templates(settings: Settings, pm: PluginManager) -> Jinja2Templates:
    folders = [settings.data_dir / "templates", HERE / "templates"]
    folders += [Path(path) for _, path in pm.collect("tierflow_register_template_dirs")]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return Jinja2Templates(env=env)


__all__ = ["NavItem", "create_app"]
