"""The engine's own pages and endpoints (health, home, request types)."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.db import ping
from engine.errors import TierflowError

HEALTH_TIMEOUT = 3.0


async def _probe(check, timeout: float) -> str:
    try:
        await asyncio.wait_for(check(), timeout)
    except TimeoutError:
        return f"error: no answer within {timeout:g} s"
    except TierflowError as exc:
        return f"error: {exc}"
    return "ok"


async def healthz(request: Request) -> Response:
    """200 with ``{"database": "ok", "temporal": "ok"}``, or 503 naming the failing part."""
    state = request.app.state
    database, temporal = await asyncio.gather(
        _probe(lambda: run_in_threadpool(ping, state.db), HEALTH_TIMEOUT),
        _probe(lambda: state.temporal.check(timeout=HEALTH_TIMEOUT - 0.5), HEALTH_TIMEOUT),
    )
    body = {"database": database, "temporal": temporal}
    healthy = database == "ok" and temporal == "ok"
    return JSONResponse(body, status_code=200 if healthy else 503)


async def home(request: Request) -> Response:
    state = request.app.state
    return state.templates.TemplateResponse(
        request,
        "engine/home.html",
        {
            "navigation": state.navigation,
            "request_types": sorted(state.request_types.values(), key=lambda t: t.title),
        },
    )


async def request_types(request: Request) -> Response:
    types = sorted(request.app.state.request_types.values(), key=lambda t: t.name)
    return JSONResponse(
        [
            {
                "name": t.name,
                "title": t.title,
                "description": t.description,
                "category": t.category,
                "workflow": t.workflow,
            }
            for t in types
        ]
    )
