"""Cross-site request forgery protection: pure ASGI middleware, no token storage.

A request that changes something (POST, PUT, PATCH, DELETE) passes when:

- it is an API call authenticated by ``Authorization: Bearer`` and carries no
  session cookie (nothing a browser sends by itself, so nothing to forge); or
- it does not come from another site (an ``Origin`` header naming another host,
  or ``Sec-Fetch-Site: cross-site``, is refused) **and** it carries the token
  bound to the browser's cookie, as the form field ``csrf_token`` or the
  header ``X-CSRF-Token``.

The token is an HMAC, keyed with the app's secret key, of the session id
(``tierflow_session``) when signed in. Signed out, it is bound to the
pre-session cookie ``tierflow_csrf``, a random value set the first time a page
renders a form (``csrf_field()``) for a browser that has neither cookie; that
is what protects the sign-in form against login CSRF. A request with neither
cookie holds no credentials a forger could ride on: only the cross-site check
applies to it, and the sign-in page itself insists on a bound token
(:func:`token_was_checked`).

A refused request gets 403 (HTML or JSON) before any endpoint runs. Form
bodies are read here to find the field and replayed to the endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.config import Settings
from engine.web.auth import SESSION_COOKIE, bearer_token, cookie_is_secure
from engine.web.errors import error_response

PRE_SESSION_COOKIE = "tierflow_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

CROSS_SITE = "Refused: this request came from another site. Use the form on this site instead."
MISSING = (
    "Refused: the form's security token is missing. Reload the page and submit the form "
    "again; API clients send a personal API token as 'Authorization: Bearer <token>'."
)
WRONG = (
    "Refused: the form's security token does not match your session (it may have been "
    "opened before you signed in or out). Reload the page and submit the form again."
)


class CsrfState:
    """The token of one request, kept in ``scope["state"]["csrf"]`` for templates and views."""

    def __init__(self, secret: str, session_id: str | None, pre_session: str | None) -> None:
        self._secret = secret
        self.session_id = session_id
        self.pre_session = pre_session
        self.new_pre_session: str | None = None
        self.checked = False

    def expected(self) -> str | None:
        """The token this request must carry, or ``None`` when it has no cookie to bind to."""
        if self.session_id:
            return session_token(self._secret, self.session_id)
        if self.pre_session:
            return _sign(self._secret, "pre-session", self.pre_session)
        return None

    def token(self) -> str:
        """The token for forms on this page (making a pre-session cookie if there is none)."""
        expected = self.expected()
        if expected is not None:
            return expected
        self.pre_session = self.new_pre_session = secrets.token_urlsafe(32)
        return _sign(self._secret, "pre-session", self.pre_session)


def session_token(secret: str, session_id: str) -> str:
    """The token forms send along with the session cookie ``session_id``."""
    return _sign(secret, "session", session_id)


def _sign(secret: str, purpose: str, value: str) -> str:
    message = f"tierflow-csrf:{purpose}:{value}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def csrf_token(request: HTTPConnection) -> str:
    """The token a form on this page must send (the ``csrf_token()`` template global)."""
    state = request.scope.get("state", {}).get("csrf")
    if not isinstance(state, CsrfState):
        raise RuntimeError("csrf_token() needs CSRFMiddleware in the app's middleware")
    return state.token()


def token_was_checked(request: HTTPConnection) -> bool:
    """Whether this request carried a valid token bound to one of the browser's cookies."""
    state = request.scope.get("state", {}).get("csrf")
    return isinstance(state, CsrfState) and state.checked


def is_cross_site(connection: HTTPConnection) -> bool:
    """Whether the browser says the request comes from another site (or host)."""
    if connection.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    origin = connection.headers.get("origin")
    if origin is None:
        return False
    ours = {connection.headers.get("host", "").lower()}
    if "x-forwarded-host" in connection.headers:  # a proxy that does not pass Host on
        ours.add(connection.headers["x-forwarded-host"].split(",")[0].strip().lower())
    return origin == "null" or urlsplit(origin).netloc.lower() not in ours


class CSRFMiddleware:
    """Refuses forged state-changing requests (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, secret: str, settings: Settings) -> None:
        self.app = app
        self.secret = secret
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        cookies = connection.cookies
        state = CsrfState(self.secret, cookies.get(SESSION_COOKIE), cookies.get(PRE_SESSION_COOKIE))
        scope.setdefault("state", {})["csrf"] = state
        if scope["method"] not in SAFE_METHODS and not (
            bearer_token(connection) is not None and state.session_id is None
        ):
            receive, problem = await self._check(connection, state, receive)
            if problem:
                await error_response(Request(scope), 403, problem)(scope, receive, send)
                return
        await self.app(scope, receive, self._with_cookie(connection, state, send))

    async def _check(
        self, connection: HTTPConnection, state: CsrfState, receive: Receive
    ) -> tuple[Receive, str]:
        """A ``receive`` for the endpoint and the reason to refuse (``""``: none)."""
        if is_cross_site(connection):
            return receive, CROSS_SITE
        expected = state.expected()
        if expected is None:
            return receive, ""
        given = connection.headers.get(HEADER)
        content_type = connection.headers.get("content-type", "").lower()
        if given is None and content_type.startswith(FORM_TYPES):
            body = await _read_body(receive)
            given = await _form_field(connection.scope, _replay(body, receive))
            receive = _replay(body, receive)
        if not given:
            return receive, MISSING
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return receive, WRONG
        state.checked = True
        return receive, ""

    def _with_cookie(
        self, connection: HTTPConnection, state: CsrfState, send: Send
    ) -> Callable[[Message], Awaitable[None]]:
        """``send``, adding the pre-session cookie if a page made one."""

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and state.new_pre_session:
                headers = MutableHeaders(scope=message)
                headers.append("set-cookie", self._cookie(connection, state.new_pre_session))
            await send(message)

        return sending

    def _cookie(self, connection: HTTPConnection, value: str) -> str:
        secure = "; Secure" if cookie_is_secure(connection, self.settings) else ""
        return f"{PRE_SESSION_COOKIE}={value}; HttpOnly; Path=/; SameSite=Lax{secure}"


async def _form_field(scope: Scope, receive: Receive) -> str | None:
    """The ``csrf_token`` field of the form ``receive`` gives (``None`` if absent or unreadable)."""
    try:
        form = await Request(scope, receive).form()
    except HTTPException:  # a malformed multipart body
        return None
    try:
        field = form.get(FIELD)
    finally:
        await form.close()
    return field if isinstance(field, str) else None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever ``receive`` gives (a disconnect)."""
    pending: list[dict[str, Any]] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay
