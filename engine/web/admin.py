"""Administration: workflows (versions, diagram, problems, deploy), schedules, people, teams."""

from __future__ import annotations

from starlette.routing import BaseRoute

from engine.web import admin_people, admin_workflows

ROUTES: list[BaseRoute] = [*admin_workflows.ROUTES, *admin_people.ROUTES]
