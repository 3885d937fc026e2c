"""Administration of people (roles, level, teams, sign-in) and teams (memberships)."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
