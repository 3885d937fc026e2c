"""Administration: workflows (versions, diagram, problems, deploy), schedules, people, teams."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
