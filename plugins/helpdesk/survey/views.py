"""The rating page (``/survey/{id}``), the ticket page's panel, and the results for managers.

``GET /survey/{id}?t=TOKEN&rating=N`` shows the form (a mail's link may choose
a rating; following a link stores nothing, so mail scanners that open links
rate nothing). ``POST`` stores the answer, once. A requester who is signed in
needs no token. ``GET /helpdesk/satisfaction`` shows results by team and
agent, the response rate and the low ratings to follow up: all of them to
managers and administrators, their own teams' and people's to team leads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from engine.config import secret_key
from engine.contrib import ItemSection, NavItem
from engine.model import Team, WorkItem
from engine.web.access import Viewer, page, sign_in_url, viewer_of
from engine.web.admin_support import read, text, write
from engine.web.errors import error_response
from engine.web.item_page import MAX_ID
from plugins.helpdesk.survey.results import PERIODS, Results, results, scope_for, since
from plugins.helpdesk.survey.service import (
    ANSWERABLE,
    RATINGS,
    Invitation,
    SurveyError,
    check_answer,
    invitation,
    record_answer,
    respondent,
)

RATE = "helpdesk/survey/rate.html"
RESULTS = "helpdesk/survey/results.html"
RESULTS_PATH = "/helpdesk/satisfaction"
NOT_FOUND = "There is no request {id} to rate. Check the link in your e-mail."
THANKS = "Thank you: your rating was recorded."
NOT_LEAD = (
    "Satisfaction results are for team leads, managers and administrators; "
    "you lead no team. Ask the lead of your team."
)


def _item(db: Session, item_id: int) -> WorkItem:
    item = db.get(WorkItem, item_id) if 0 < item_id <= MAX_ID else None
    if item is None:
        raise SurveyError(NOT_FOUND.format(id=item_id), 404)
    return item


def _open(db: Session, item_id: int, token: str, viewer: Viewer, secret: str) -> Invitation:
    item = _item(db, item_id)
    respondent(secret, item, token, viewer.person_id)
    return invitation(db, item)


async def _render(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, RATE, {"ratings": RATINGS, **context}, status_code=status
    )


def _rating(value: str) -> str:
    return value if value in {str(rating) for rating in RATINGS} else ""


async def rate_page(request: Request) -> Response:
    """GET /survey/{item_id}: the rating form, or the answer already given."""
    item_id: int = request.path_params["item_id"]
    token = request.query_params.get("t", "")[:500]
    secret, viewer = secret_key(request.app.state.settings), viewer_of(request)
    if viewer.is_anonymous and not token:
        return RedirectResponse(sign_in_url(request), 303)
    try:
        invite = await read(request, lambda db: _open(db, item_id, token, viewer, secret))
    except SurveyError as exc:
        return error_response(request, exc.status, str(exc))
    chosen = _rating(request.query_params.get("rating", ""))
    thanks = THANKS if request.query_params.get("done") == "rated" else ""
    context = {
        "invite": invite,
        "token": token,
        "values": {"rating": chosen},
        "errors": {},
        "thanks": thanks,
    }
    return await _render(request, context)


async def rate_save(request: Request) -> Response:
    """POST /survey/{item_id}: store the answer (422 per field, 409 if answered or not resolved)."""
    item_id: int = request.path_params["item_id"]
    form = await request.form()
    token, rating, comment = text(form, "t")[:500], text(form, "rating"), text(form, "comment")
    secret, viewer, pm = (
        secret_key(request.app.state.settings),
        viewer_of(request),
        request.app.state.pm,
    )

    def answer(db: Session) -> None:
        item = _item(db, item_id)
        by = respondent(secret, item, token, viewer.person_id)
        score, remark = check_answer(rating, comment)
        record_answer(db, pm, item, rating=score, comment=remark, by=by)

    try:
        await write(request, answer)
    except SurveyError as exc:
        if exc.status != 422:
            return error_response(request, exc.status, str(exc))
        invite = await read(request, lambda db: invitation(db, _item(db, item_id)))
        values = {"rating": _rating(rating), "comment": comment[:5000]}
        errors = {exc.field: str(exc)}
        context = {
            "invite": invite,
            "token": token,
            "values": values,
            "errors": errors,
            "thanks": "",
        }
        return await _render(request, context, 422)
    query = f"?t={token}&done=rated" if token else "?done=rated"
    return RedirectResponse(f"/survey/{item_id}{query}", 303)


def _scoped(db: Session, viewer: Viewer, period: str) -> tuple[Results, str] | None:
    """The results ``viewer`` may see and whose they are; ``None``: none."""
    scope = scope_for(db, viewer)
    if scope is None:
        return None
    found = results(db, since(period), scope=scope)
    if scope.everything:
        return found, ""
    led = db.scalars(select(Team.name).where(Team.id.in_(scope.team_ids)).order_by(Team.name))
    return found, f"The teams you lead ({', '.join(led)}) and the people in them."


async def results_page(request: Request) -> Response:
    """GET /helpdesk/satisfaction?period=90: ratings overall, by team, by agent, to follow up.

    Managers and administrators see every line, team leads their teams' and
    their people's; other agents are refused.
    """
    period = request.query_params.get("period", "90")
    period = period if period in PERIODS else "90"
    viewer = viewer_of(request)
    found = await read(request, lambda db: _scoped(db, viewer, period))
    if found is None:
        return error_response(request, 403, NOT_LEAD)
    shown, whose = found
    return request.app.state.templates.TemplateResponse(
        request,
        RESULTS,
        {"results": shown, "whose": whose, "period": period, "periods": tuple(PERIODS),
         "ratings": RATINGS},
    )  # fmt: skip


def sections(item: WorkItem, viewer: Viewer, session: Session) -> list[ItemSection]:
    """On a resolved ticket's page, its requester is asked to rate it (or sees their rating)."""
    if item.kind != "ticket" or item.status not in ANSWERABLE:
        return []
    if viewer.person_id is None or viewer.person_id != item.requester_id:
        return []
    invite = invitation(session, item)
    if not invite.answerable:
        return []
    return [
        ItemSection(
            "How did we do?",
            "helpdesk/survey/panel.html",
            {"invite": invite, "ratings": RATINGS},
            order=5,
        )
    ]


ROUTES: list[BaseRoute] = [
    page("/survey/{item_id:int}", rate_page, allow="public", name="helpdesk.survey"),
    page(
        "/survey/{item_id:int}",
        rate_save,
        allow="public",
        methods=("POST",),
        name="helpdesk.survey.save",
    ),
    page(
        RESULTS_PATH,
        results_page,
        allow=("agent", "manager", "admin"),  # agents who lead no team: refused by the view
        name="helpdesk.satisfaction",
    ),
]

NAVIGATION = [
    NavItem("Satisfaction", RESULTS_PATH, roles=frozenset({"manager", "admin"}), order=96)
]
