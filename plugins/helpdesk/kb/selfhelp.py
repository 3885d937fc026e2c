"""Self-help at intake: a requester whose question an article answered closes it themselves.

The request is still recorded, so that reports count what the knowledge base
spared the help desk: a work item of the request type being filled in, by the
portal, created already closed (``custom.resolution`` saying which article
solved it, in the words of the intake forms' "What fixed it"), linked
to the article, with its events (``created``; ``status_changed`` closed, which
the requester sees; ``closed`` by ``self_help`` with the article;
``article_linked``) and a :class:`~plugins.helpdesk.kb.models.SelfHelp` row.

No workflow run is started: a run would only open the triage task and close
it again, costing a Temporal history per deflection and letting the item show
as open meanwhile. The intake form's idempotency key makes a double click (or
a resubmitted form) one record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.contrib import RequestType
from engine.dsl.forms import Form
from engine.events import record_event
from engine.intake import MAX_KEY, IntakeError, channel_intake, reference_for
from engine.model import WorkItem, utcnow
from engine.plugins import PluginManager
from plugins.helpdesk.kb.articles import KbError, link
from plugins.helpdesk.kb.models import Article, SelfHelp

CHANNEL = "portal"
RESOLUTION = "self_help"
SUBJECT_FIELDS = ("summary", "title", "subject")
"""Intake form fields that hold a request's subject, the first one present wins."""
MAX_SUBJECT = 300


def subject_field(form: Form | None) -> str | None:
    """The intake form's subject field, whose text is searched; ``None`` if it has none."""
    names = {field.name for field in form.fields} if form is not None else set()
    return next((name for name in SUBJECT_FIELDS if name in names), None)


@dataclass(frozen=True)
class SelfHelpInput:
    """What the intake form sends with "This solved it"."""

    requester_id: int
    request_type: str
    key: str
    article_id: int
    subject: str


def close_by_self_help(
    sessions: sessionmaker[Session],
    pm: PluginManager,
    request_types: dict[str, RequestType],
    given: SelfHelpInput,
) -> int:
    """Record the request closed by self-help (once per key); return its work item's id."""
    if not 0 < len(given.key) <= MAX_KEY or "\x00" in given.key:
        raise KbError(
            "the form's idempotency key is missing or malformed: open the request form again"
        )
    try:
        with sessions.begin() as session:
            return _record(session, pm, request_types, given)
    except IntegrityError:  # the same key at the same moment: the first one wins
        with sessions() as session:
            found = _existing(session, given)
            assert found is not None, "an integrity error without a self-help row"
            return found


def _existing(session: Session, given: SelfHelpInput) -> int | None:
    return session.scalar(
        select(SelfHelp.work_item_id).filter_by(requester_id=given.requester_id, key=given.key)
    )


def _record(
    session: Session,
    pm: PluginManager,
    request_types: dict[str, RequestType],
    given: SelfHelpInput,
) -> int:
    found = _existing(session, given)
    if found is not None:
        return found
    try:  # the request type must be one the requester may send from the portal
        intake = channel_intake(session, request_types, given.request_type, CHANNEL)
    except IntakeError as exc:
        raise KbError(str(exc), exc.status) from exc
    field = subject_field(intake.form)
    if field is None:
        raise KbError(
            f"request type '{given.request_type}' asks for no subject ({', '.join(SUBJECT_FIELDS)})"
            ", so no article answers it: send the request form instead",
            422,
        )
    article = session.get(Article, given.article_id)
    if article is None or not article.is_public:
        raise KbError(f"there is no published public article {given.article_id}", 404)
    subject = given.subject.replace("\x00", "").strip()[:MAX_SUBJECT] or article.title
    now = utcnow()
    item = WorkItem(
        kind=intake.workflow.kind, type=intake.request_type.name, title=subject,
        status="closed", requester_id=given.requester_id, channel=CHANNEL,
        definition_id=intake.definition.id, closed_at=now,
        custom={field: subject, "resolution": f"Self-help with the article “{article.title}”"},
    )  # fmt: skip
    session.add(item)
    session.flush()
    item.reference = reference_for(item.kind, item.id)
    session.add(SelfHelp(requester_id=given.requester_id, key=given.key, work_item_id=item.id,
                         article_id=article.id, request_type=item.type))  # fmt: skip
    session.flush()
    _events(session, pm, item, article, given.requester_id)
    link(session, pm, article, item, by=given.requester_id, how="self_help")
    return item.id


def _events(session: Session, pm: PluginManager, item: WorkItem, article: Article, by: int) -> None:
    """What the audit trail says: created by the portal, then closed by self-help."""
    base = f"kb/self-help/{item.id}"
    steps = (
        ("created", {"channel": CHANNEL, "request_type": item.type, "resolution": RESOLUTION}),
        ("status_changed", {"field": "closed", "from": False, "to": True}),
        ("closed", {"by": RESOLUTION, "article": article.id, "title": article.title}),
    )
    for type_, data in steps:
        record_event(
            session, pm, work_item_id=item.id, type=type_, data=data, actor_id=by,
            key=f"{base}/{type_}",
        )  # fmt: skip


# ---------------------------------------------------------------- counting ---


@dataclass(frozen=True)
class Deflections:
    """Requests closed by self-help in a period, in all and per article (most first)."""

    total: int
    by_article: tuple[tuple[int, str, int], ...]


def deflections(session: Session, since: datetime, until: datetime) -> Deflections:
    """How many requests self-help closed from ``since`` up to ``until``, per article."""
    count = func.count(SelfHelp.id)
    rows = session.execute(
        select(Article.id, Article.title, count)
        .join(SelfHelp, SelfHelp.article_id == Article.id)
        .where(SelfHelp.created_at >= since, SelfHelp.created_at < until)
        .group_by(Article.id, Article.title)
        .order_by(count.desc(), Article.id)
    ).all()
    total = session.scalar(
        select(func.count(SelfHelp.id)).where(
            SelfHelp.created_at >= since, SelfHelp.created_at < until
        )
    )
    return Deflections(int(total or 0), tuple((i, t, int(n)) for i, t, n in rows))
