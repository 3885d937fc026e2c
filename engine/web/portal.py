"""The request portal: pick a request type, fill its intake form, follow one's own requests."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
