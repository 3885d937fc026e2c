"""The satisfaction survey: who may answer, the signed link in the resolution mail, the answer.

A requester rates a resolved or closed ticket once, from 1 (poor) to 5
(excellent), with an optional comment: signed in, on the ticket's page, or
from the link in the resolution mail (signed with the site's secret key, so
it works without signing in and only for that ticket and that requester).
Every answer is also an event (``rated``) on the ticket; a low one (1 or 2)
also tells the ticket's owner team (a ``notified`` event, as
:func:`plugins.helpdesk.ownership.notify_owner` records them), so that the
help desk's lead follows it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.config import Settings, secret_key
from engine.errors import TierflowError
from engine.events import record_event
from engine.model import WorkItem
from engine.model.base import utcnow
from engine.plugins import PluginManager
from plugins.helpdesk.kb.models import SelfHelp
from plugins.helpdesk.models import Ticket
from plugins.helpdesk.ownership import notify_owner
from plugins.helpdesk.survey.models import SurveyResponse

RATINGS = {1: "Poor", 2: "Fair", 3: "Good", 4: "Very good", 5: "Excellent"}
ANSWERABLE = frozenset({"resolved", "closed"})
"""Statuses in which a request can be rated (unless it was closed by self-help)."""
LOW = 2
"""A rating of at most this needs follow-up: the ticket's owner team is told of it."""
LINK_DAYS = 60
"""How long the link in a resolution mail keeps working."""
MAX_COMMENT = 4000
_SALT = "helpdesk-survey"


class SurveyError(TierflowError):
    """An answer that cannot be taken; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class Invitation:
    """What the rating page shows about the ticket."""

    work_item_id: int
    reference: str
    title: str
    answered: SurveyResponse | None
    answerable: bool
    """Whether it can be rated now (it is resolved or closed)."""


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def link_token(secret: str, item: WorkItem) -> str:
    """The token that lets ``item``'s requester rate it without signing in."""
    return _serializer(secret).dumps([item.id, item.requester_id])


def survey_url(settings: Settings, item: WorkItem, base_url: str, rating: int | None = None) -> str:
    """The absolute link to rate ``item`` (optionally with a rating chosen), for a mail."""
    query = {"t": link_token(secret_key(settings), item)}
    if rating is not None:
        query["rating"] = str(rating)
    return f"{base_url.rstrip('/')}/survey/{item.id}?{urlencode(query)}"


def respondent(secret: str, item: WorkItem, token: str, person_id: int | None) -> int:
    """Who answers for ``item``: its requester, signed in or holding a valid link; else refuse."""
    if item.requester_id is None:
        raise SurveyError("this request has no requester to ask", 404)
    if person_id is not None and person_id == item.requester_id:
        return item.requester_id
    if token:
        try:
            signed = _serializer(secret).loads(token, max_age=LINK_DAYS * 86400)
        except BadSignature:
            raise SurveyError(
                "this rating link is not valid or has expired; sign in to rate the request",
                403,
            ) from None
        if signed == [item.id, item.requester_id]:
            return item.requester_id
    raise SurveyError("only the requester can rate this request", 403)


def answerable(session: Session, item: WorkItem) -> bool:
    """Whether ``item`` can be rated: resolved or closed by someone (not by self-help)."""
    if item.status not in ANSWERABLE:
        return False
    return session.scalars(select(SelfHelp.id).filter_by(work_item_id=item.id)).first() is None


def invitation(session: Session, item: WorkItem) -> Invitation:
    """The ticket to rate, with its answer if there is one."""
    answered = session.scalars(select(SurveyResponse).filter_by(work_item_id=item.id)).first()
    return Invitation(
        item.id, item.reference or f"#{item.id}", item.title, answered, answerable(session, item)
    )


def check_answer(rating: str, comment: str) -> tuple[int, str]:
    """The rating (1-5) and the comment as posted, or a :class:`SurveyError` naming the field."""
    if rating.strip() not in {str(value) for value in RATINGS}:
        raise SurveyError("choose a rating from 1 (poor) to 5 (excellent)", 422, "rating")
    if "\x00" in comment:
        raise SurveyError("the comment contains a NUL character", 422, "comment")
    if len(comment) > MAX_COMMENT:
        raise SurveyError(f"keep the comment under {MAX_COMMENT} characters", 422, "comment")
    return int(rating), comment.strip()


def record_answer(
    session: Session,
    pm: PluginManager,
    item: WorkItem,
    *,
    rating: int,
    comment: str,
    by: int,
) -> SurveyResponse:
    """Store the one answer for ``item`` and its ``rated`` event; a second answer is refused."""
    if not answerable(session, item):
        raise SurveyError("a request can be rated once someone has resolved it", 409)
    facts = session.get(Ticket, item.id)
    answer = SurveyResponse(
        work_item_id=item.id,
        rating=rating,
        comment=comment,
        respondent_id=by,
        team_id=facts.resolving_team_id if facts else item.current_team_id,
        agent_id=facts.resolved_by_id if facts else item.assignee_id,
        answered_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(answer)
            session.flush()
    except IntegrityError:
        raise SurveyError("this request has already been rated; thank you", 409) from None
    data: dict[str, Any] = {"rating": rating, "commented": bool(comment)}
    record_event(session, pm, work_item_id=item.id, type="rated", data=data, actor_id=by)
    if rating <= LOW:
        _tell_owner(session, pm, item, answer)
    return answer


def _tell_owner(
    session: Session, pm: PluginManager, item: WorkItem, answer: SurveyResponse
) -> None:
    """The owner team hears of a low rating, with the comment, to follow it up."""
    reference = item.reference or f"#{item.id}"
    words = f"{answer.rating} of 5 ({RATINGS[answer.rating]})"
    lines = [f"The requester rated {reference} ({item.title}) {words}."]
    if answer.comment:
        lines.append(f"Their comment: {answer.comment}")
    lines += ["", f"Follow it up with them: see /items/{item.id}",
              "Every rating to follow up: /helpdesk/satisfaction"]  # fmt: skip
    subject = f"[{reference}] Rated {words}: needs follow-up"[:300]
    key = f"helpdesk/survey/low-rating/{item.id}"
    notify_owner(session, pm, item, subject=subject, body="\n".join(lines), key=key)
