"""Refuse, before anything runs, a request whose path or query string cannot be text.

A NUL character (``%00``) in a path or query parameter is never meaningful,
and PostgreSQL refuses it in any string, so it would surface as a database
error deep inside a page; nor is a query string that is not UTF-8. Both
answer 400 naming the problem here, in one place, for every page and API.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.web.errors import error_response

NUL = "The address contains a NUL character (%00), which no page or parameter accepts."
NOT_TEXT = "The query string of the address is not valid UTF-8 text."


class HygieneMiddleware:
    """Pure ASGI: a 400 for a NUL in the path or query, or a query that is not UTF-8."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = _problem(scope)
            if problem:
                request = Request(scope, receive)
                await error_response(request, 400, problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _problem(scope: Scope) -> str:
    query = unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" "))
    if "\x00" in scope.get("path", "") or b"\x00" in query:
        return NUL
    try:
        query.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_TEXT
    return ""
