"""The web layer's one error path: JSON for the API, HTML for pages."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

log = logging.getLogger("tierflow.web")


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    as_json: bool | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Answer ``message`` with ``status`` in the form the client asked for.

    ``as_json`` overrides the choice (``None``: JSON for ``/api/`` paths and
    clients that accept JSON but not HTML).
    """
    if as_json if as_json is not None else wants_json(request):
        return JSONResponse(
            {"error": message, "status": status}, status_code=status, headers=headers
        )
    templates = getattr(request.app.state, "templates", None)
    if templates is None:
        return PlainTextResponse(message, status_code=status, headers=headers)
    return templates.TemplateResponse(
        request,
        "engine/error.html",
        {"status": status, "message": message},
        status_code=status,
        headers=headers,
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(request, exc.status_code, exc.detail)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        request, 500, "Something went wrong on our side; it has been logged. Please try again."
    )


HANDLERS = {HTTPException: http_error, Exception: server_error}
