"""Self-help in the portal: answers suggested as the requester types, and "This solved it".

:func:`intake_panels` (the ``tierflow_portal_intake_panels`` contribution)
adds "Answers that may help" to every intake form with a subject field
(``summary``, ``title`` or ``subject``): published public articles matching
what was typed. Without JavaScript its "Search answers" button shows the form
again with the suggestions; with it, ``static/self-help.js`` asks
``GET /api/kb/suggestions?q=`` as the requester types (debounced, the last
word as a prefix) and shows the same list. Each suggestion's "This solved it"
button sends the whole intake form (its CSRF token and idempotency key
included) to ``POST /kb/self-help/{type}``, which closes the request as
self-help (:mod:`plugins.helpdesk.kb.selfhelp`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from engine.contrib import IntakePanel, RequestType
from engine.dsl.forms import Form
from engine.intake import MAX_TYPE_NAME
from engine.web.access import Viewer, viewer_of
from engine.web.admin_support import as_id, read
from engine.web.errors import error_response
from engine.web.portal import KEY_FIELD
from plugins.helpdesk.kb.articles import KbError
from plugins.helpdesk.kb.search import Hit, Scope, Segment, search
from plugins.helpdesk.kb.selfhelp import (
    SUBJECT_FIELDS,
    SelfHelpInput,
    close_by_self_help,
    subject_field,
)

SCRIPT = Path(__file__).parent / "static" / "self-help.js"
SUGGESTIONS = 5


@dataclass(frozen=True)
class Suggestion:
    """A public article offered as an answer."""

    id: int
    title: str
    href: str
    excerpt: tuple[Segment, ...]


def suggestions(session: Session, text: str, *, prefix: bool) -> list[Suggestion]:
    """Published public articles matching ``text``, best first."""
    hits: list[Hit] = search(session, text, Scope.PUBLIC, prefix=prefix, limit=SUGGESTIONS)
    return [Suggestion(h.id, h.title, f"/kb/{h.id}", h.excerpt) for h in hits]


def intake_panels(
    request_type: RequestType,
    form: Form | None,
    answers: Mapping[str, str],
    viewer: Viewer,
    session: Session,
) -> list[IntakePanel]:
    """ "Answers that may help" on a form with a subject field, for what was typed in it."""
    field = subject_field(form)
    if field is None:
        return []
    typed = answers.get(field, "")
    context = {
        "field": field,
        "typed": typed,
        "suggestions": suggestions(session, typed, prefix=False) if typed.strip() else [],
        "source": "/api/kb/suggestions",
        "action": f"/kb/self-help/{request_type.name}",
        "script": "/kb/self-help.js",
    }
    return [IntakePanel("Answers that may help", "helpdesk/kb/intake_panel.html", context)]


# ------------------------------------------------------------------ routes ---


async def suggest(request: Request) -> Response:
    """GET /api/kb/suggestions?q=: public articles for what was typed, as JSON."""
    text = request.query_params.get("q", "")
    found = await read(request, lambda db: suggestions(db, text, prefix=True))
    return JSONResponse({"articles": [asdict(s) for s in found]})


async def self_help(request: Request) -> Response:
    """POST /kb/self-help/{request_type}: the intake form, closed because ``article`` solved it."""
    posted, viewer = await request.form(), viewer_of(request)
    assert viewer.person_id is not None, "the route is for signed-in people"
    name = request.path_params["request_type"][:MAX_TYPE_NAME]
    article_id = as_id(posted.get("article"))
    key = posted.get(KEY_FIELD)
    subject = next((v for f in SUBJECT_FIELDS if isinstance(v := posted.get(f), str) and v), "")
    if article_id is None:
        return error_response(request, 422, "Choose the article that solved it.")
    given = SelfHelpInput(
        viewer.person_id, name, key if isinstance(key, str) else "", article_id, subject
    )
    state = request.app.state
    try:
        item_id = await run_in_threadpool(
            close_by_self_help, state.sessions, state.pm, state.request_types, given
        )
    except KbError as exc:
        message = str(exc)
        return error_response(request, exc.status, f"{message[:1].upper()}{message[1:]}.")
    return RedirectResponse(f"/items/{item_id}?self_help=1", status_code=303)


async def script(request: Request) -> Response:
    """GET /kb/self-help.js: the suggestions as one types (the form works without it)."""
    return FileResponse(SCRIPT, media_type="text/javascript")
