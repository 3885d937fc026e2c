"""Administration of workflows (versions, diagram, problems, deploy) and schedules."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
