"""The work item page: fields, status, ownership, timeline, comments, open tasks and actions."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
