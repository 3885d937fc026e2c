"""The engine's own pages and endpoints: health, home, request types, signing in and out."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from engine.db import ping
from engine.errors import TierflowError
from engine.web import throttle
from engine.web.access import safe_next, viewer_of
from engine.web.auth import (
    SESSION_COOKIE,
    SignIn,
    clear_session_cookie,
    set_session_cookie,
    sign_in,
    sign_out,
)
from engine.web.csrf import token_was_checked

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
        {"request_types": sorted(state.request_types.values(), key=lambda t: t.title)},
    )


async def sign_in_page(request: Request) -> Response:
    """The sign-in form; someone already signed in goes straight on to ``next``."""
    target = safe_next(request.query_params.get("next"))
    if not viewer_of(request).is_anonymous:
        return RedirectResponse(target, status_code=303)
    return _sign_in_form(request, target)


async def sign_in_submit(request: Request) -> Response:
    """Check the e-mail and password; on success a new session cookie and on to ``next``."""
    form = await request.form()
    email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
    target = safe_next(form.get("next"))
    if not token_was_checked(request):
        return _sign_in_form(request, target, email, NO_FORM_COOKIE, status=403)
    if not email or not password:
        return _sign_in_form(request, target, email, "Enter your e-mail and your password.")
    state = request.app.state

    def attempt() -> SignIn:
        with state.sessions() as db:
            return sign_in(
                db,
                email,
                password,
                user_agent=request.headers.get("user-agent", ""),
                replacing=request.cookies.get(SESSION_COOKIE),
                address=request.client.host if request.client else "",
                limits=throttle.Limits.of(state.settings),
            )

    outcome = await run_in_threadpool(attempt)
    if outcome.retry_after is not None:
        response = _sign_in_form(request, target, email, outcome.problem, status=429)
        response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    if outcome.session_id is None:
        return _sign_in_form(request, target, email, outcome.problem)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, state.settings, outcome.session_id)
    return response


async def sign_out_submit(request: Request) -> Response:
    """End this browser's session and forget its cookie."""
    state = request.app.state

    def end() -> None:
        with state.sessions() as db:
            sign_out(db, request.cookies.get(SESSION_COOKIE))

    await run_in_threadpool(end)
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, request, state.settings)
    return response


NO_FORM_COOKIE = (
    "Your browser did not send back the sign-in page's cookie. "
    "Allow cookies for this site, reload the page and try again."
)


def _sign_in_form(
    request: Request, target: str, email: str = "", problem: str = "", *, status: int | None = None
) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "engine/sign_in.html",
        {"next": target, "email": email, "problem": problem},
        status_code=status or (400 if problem else 200),
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
